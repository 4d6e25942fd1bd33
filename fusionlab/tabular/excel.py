"""Read spreadsheets and run the tabular detector on them in one call."""

from __future__ import annotations

import csv
import inspect
import os
import warnings
import zipfile
from pathlib import Path

import pandas as pd

from .detector import TabularAnomalyDetector
from .save_folder import CONFIG_FILE as _CONFIG_FILE

__all__ = ["read_table", "detect_anomalies_in_excel", "SUPPORTED_EXTENSIONS"]

#: File extensions :func:`read_table` accepts.
SUPPORTED_EXTENSIONS = (".xlsx", ".xlsm", ".csv")
_INSTALL_HINT = 'pip install "fusionlab-learn[excel]"'
# Encrypted (password-protected) Office files are OLE compound documents, not
# zip archives; they hold a stream named "EncryptedPackage" (UTF-16 name).
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
# Cell texts read as missing values in CSV files. pandas' default list also
# holds "NA" (Namibia's country code) and "None", which are real values.
_CSV_MISSING_VALUES = ("", "NaN", "nan", "NULL", "null", "N/A", "#N/A")
# Separators recognised in CSV files: Excel writes ";" in locales whose
# decimal separator is ",".
_CSV_SEPARATORS = ",;\t"
# Bytes read to recognise the separator.
_SNIFF_BYTES = 64 * 1024


def _require_openpyxl():
    try:
        import openpyxl  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "Reading .xlsx files needs the optional dependency openpyxl; install "
            f"it with: {_INSTALL_HINT}"
        ) from exc


def _check_workbook_bytes(path: Path) -> None:
    with open(path, "rb") as handle:
        head = handle.read(8)
        if head == _OLE_MAGIC:
            handle.seek(0)
            if _ENCRYPTED_STREAM in handle.read():
                raise ValueError(
                    f"{path} is a password-protected (encrypted) workbook, which "
                    "cannot be read; remove the password in Excel (File > Info > "
                    "Protect Workbook) or export the sheet to .csv."
                )
            raise ValueError(
                f"{path} is a legacy binary (OLE) file, not an .xlsx workbook; "
                "save it as .xlsx or .csv."
            )
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} is not a readable .xlsx workbook (an .xlsx file is a zip "
            "archive); check that the file is complete and really is .xlsx."
        )


def _sniff_separator(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    # Decoding errors only matter to the reader, which reports them.
    text = head.decode("utf-8", errors="replace")
    if len(head) == _SNIFF_BYTES and "\n" in text:
        text = text[: text.rindex("\n")]  # drop a cut last line
    try:
        return csv.Sniffer().sniff(text, delimiters=_CSV_SEPARATORS).delimiter
    except csv.Error:  # a single column, or no consistent separator
        return ","


def read_table(path, sheet_name=0) -> pd.DataFrame:
    """Read one sheet of an ``.xlsx``/``.xlsm`` workbook, or a ``.csv`` file.

    A CSV file's separator is recognised from its first lines (``,``, ``;``
    as Excel writes in locales with a decimal comma, or a tab; ``,`` when
    there is a single column). Only empty cells and the texts ``NaN``,
    ``nan``, ``NULL``, ``null``, ``N/A`` and ``#N/A`` are read as missing
    values: unlike pandas' default, ``NA`` (Namibia) and ``None`` are kept
    as text. Numbers written with a decimal comma (``1,5``) are read as
    text.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    sheet_name : str or int, default=0
        Sheet to read from a workbook (name or 0-based position); ignored for
        CSV.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ImportError
        If openpyxl (the ``excel`` extra) is missing for a workbook.
    ValueError
        For an unsupported extension, an encrypted, corrupt or empty file,
        or a sheet that does not exist.

    Examples
    --------
    >>> import pandas as pd
    >>> from fusionlab.tabular import read_table
    >>> pd.DataFrame({"a": [1, 2]}).to_csv("tiny.csv", index=False)
    >>> read_table("tiny.csv")["a"].tolist()
    [1, 2]
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"`path` must be a file path or a DataFrame; received "
                        f"{type(path).__name__}.")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise ValueError(
            f"`path` must end with one of {SUPPORTED_EXTENSIONS}; received "
            f"{path.name!r}. Legacy .xls files: save them as .xlsx or .csv."
        )
    if not path.is_file():
        raise FileNotFoundError(f"`path` does not exist or is not a file: {path}")
    if suffix == ".csv":
        try:
            return pd.read_csv(path, sep=_sniff_separator(path), keep_default_na=False,
                               na_values=list(_CSV_MISSING_VALUES))
        except pd.errors.EmptyDataError as exc:
            raise ValueError(f"{path} is empty: no columns to read.") from exc
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path} could not be read as CSV: {exc}") from exc
    if not isinstance(sheet_name, str | int) or isinstance(sheet_name, bool):
        raise TypeError(f"`sheet_name` must be a sheet name (str) or a 0-based "
                        f"position (int); received {sheet_name!r}.")
    _require_openpyxl()
    _check_workbook_bytes(path)
    try:
        return pd.read_excel(path, sheet_name=sheet_name, engine="openpyxl")
    except (ValueError, IndexError) as exc:
        # pandas raises these for a sheet that does not exist.
        raise ValueError(f"`sheet_name={sheet_name!r}` could not be read from "
                         f"{path}: {exc}") from exc
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ValueError(f"{path} is not a readable .xlsx workbook: {exc}") from exc


_INIT_PARAMS = set(inspect.signature(TabularAnomalyDetector.__init__).parameters) - {"self"}


def detect_anomalies_in_excel(df=None, model_path=None, train_if_needed=True,
                              sheet_name=0, **detector_params):
    """Find anomalous rows of a spreadsheet (or DataFrame) in one call.

    Parameters
    ----------
    df : pandas.DataFrame, str or os.PathLike
        The data, or an ``.xlsx``/``.xlsm``/``.csv`` file (see
        :func:`read_table`); required. Also accepted under its former name,
        ``df_or_path``.
    model_path : str or os.PathLike, optional
        Directory of a saved detector. If it holds one (its
        ``detector.json``), the detector is loaded from it (and not
        retrained); otherwise, as for a missing, empty or half-written
        directory, one is trained on the data and saved there.
    train_if_needed : bool, default=True
        Train on the data when no saved detector exists. With ``False`` and
        no detector at ``model_path``, a :class:`FileNotFoundError` is raised.
    sheet_name : str or int, default=0
        Sheet of a workbook to read.
    **detector_params
        Parameters of :class:`TabularAnomalyDetector` (``method``,
        ``random_state``, and the training settings ``epochs``,
        ``batch_size``, ``validation_split``...). They are ignored, with a
        warning, when a saved detector is loaded.

    Returns
    -------
    anomalies : list of dict
        :meth:`TabularAnomalyDetector.detect_anomalies` of the data (call
        ``detector.detect(df)`` for :class:`~fusionlab.detection.Anomaly`
        records).
    detector : TabularAnomalyDetector
        The detector used.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from fusionlab.tabular import detect_anomalies_in_excel
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"price": rng.normal(20, 2, 100), "qty": rng.integers(1, 5, 100)})
    >>> df.loc[3, "price"] = 9_999
    >>> anomalies, det = detect_anomalies_in_excel(df=df, method="isolation_forest",
    ...                                            random_state=0)
    >>> anomalies[0]["row_index"]
    3
    """
    # `df_or_path` was the first parameter's name: calls using it still work.
    if "df_or_path" in detector_params:
        if df is not None:
            raise TypeError("Give the data once: as `df` (or positionally), or as "
                            "its former name `df_or_path`, not both.")
        df = detector_params.pop("df_or_path")
    if df is None:
        raise TypeError("detect_anomalies_in_excel() missing the data: pass `df` "
                        "(a DataFrame or the path of an .xlsx/.xlsm/.csv file).")
    unknown = sorted(set(detector_params) - _INIT_PARAMS)
    if unknown:
        raise TypeError(
            f"Unexpected keyword argument(s) {unknown}; expected parameters of "
            f"TabularAnomalyDetector: {sorted(_INIT_PARAMS)}."
        )
    if not isinstance(train_if_needed, bool):
        raise TypeError(f"`train_if_needed` must be True or False; received "
                        f"{train_if_needed!r}.")
    if not isinstance(df, pd.DataFrame):
        df = read_table(df, sheet_name=sheet_name)

    # The directory alone proves nothing (empty, or left by an interrupted
    # save): `save` writes detector.json last.
    saved = model_path is not None and (Path(model_path) / _CONFIG_FILE).is_file()
    if saved:
        if detector_params:
            warnings.warn(
                f"A saved detector is loaded from {model_path}; the arguments "
                f"{sorted(detector_params)} are ignored.", UserWarning, stacklevel=2)
        detector = TabularAnomalyDetector.load(model_path)
    elif not train_if_needed:
        if model_path is None:
            where = "no `model_path` was given"
        elif Path(model_path).exists():
            where = (f"`model_path` {model_path} holds no saved detector "
                     f"({Path(model_path) / _CONFIG_FILE} does not exist)")
        else:
            where = f"`model_path` {model_path} does not exist"
        raise FileNotFoundError(
            f"No trained detector to use: {where} and `train_if_needed=False`. "
            "Pass the directory of a saved detector or allow training.")
    else:
        detector = TabularAnomalyDetector(**detector_params).fit(df)
        if model_path is not None:
            detector.save(model_path)
    return detector.detect_anomalies(df), detector
