"""Read spreadsheets and run the tabular detector on them in one call."""

from __future__ import annotations

import csv
import inspect
import os
import re
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from .._validation import check_positive_int
from .column_typing import NOTES_KEY
from .detector import TabularAnomalyDetector
from .save_folder import CONFIG_FILE as _CONFIG_FILE
from .save_folder import owned_files
from .workbook import inspect_sheet

__all__ = ["read_table", "detect_anomalies_in_excel", "SUPPORTED_EXTENSIONS",
           "MAX_UNCOMPRESSED_BYTES", "MAX_ROWS", "MAX_CELLS"]

#: File extensions :func:`read_table` accepts.
SUPPORTED_EXTENSIONS = (".xlsx", ".xlsm", ".csv")
#: Largest total uncompressed size of a workbook's zip members, in bytes,
#: checked before parsing (a 5 MB file can hold a sheet of gigabytes).
MAX_UNCOMPRESSED_BYTES = 512 * 2**20
#: Most rows of data read from a file (a sheet holds at most 1 048 576 rows
#: in Excel; this limit matters for CSV files and crafted workbooks).
MAX_ROWS = 10_000_000
#: Most cells of data (rows times columns) read from a file: about 50 million
#: cells take a few GB as a DataFrame.
MAX_CELLS = 50_000_000
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
# Decimal commas (see read_table): "1,5" and integers are read as numbers;
# "1.000,5" (thousands separators) is reported, not converted, when such
# values are at least half of a column.
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_INTEGER = re.compile(r"[+-]?\d+")
_GROUPED = re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?")
_DECIMAL_SHARE = 0.5


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


def _limit(value, default, name):
    return default if value is None else check_positive_int(value, name)


def _check_csv_size(path, df, max_rows, max_cells):
    if len(df) > max_rows:
        raise ValueError(f"{path} has more than the limit of {max_rows:,} rows "
                         "(max_rows); raise the limit if the file is genuine.")
    if df.size > max_cells:
        raise ValueError(f"{path} has {df.size:,} cells of data ({df.shape[0]:,} rows "
                         f"of {df.shape[1]:,} columns), more than the limit of "
                         f"{max_cells:,} cells (max_cells); raise the limit if the "
                         "file is genuine.")


def _check_headers(path, header):
    """Refuse headers that pandas would rename (``amount``, ``amount.1``)."""
    cells = [str(c) for c in header if not (isinstance(c, float) and np.isnan(c))
             and c is not None and str(c) != ""]
    dupes = sorted({c for c in cells if cells.count(c) > 1})
    if dupes:
        raise ValueError(
            f"{path} has duplicated column headers {dupes}: pandas would rename the "
            f"repeats ({dupes[0]!r} to {dupes[0] + '.1'!r}) and their values could not "
            "be told apart in the results. Rename them in the file so that every "
            "column has its own header.")


def _text_columns(df):
    return [c for c in df.columns if pd.api.types.is_object_dtype(df[c])
            or pd.api.types.is_string_dtype(df[c])]


def _read_decimal_commas(path, df, notes):
    """Read the columns written with a decimal comma as numbers (see read_table)."""
    converted, kept = [], []
    for col in _text_columns(df):
        values = df[col].dropna()
        if values.empty or not all(isinstance(v, str) for v in values):
            continue
        values = values.str.strip()
        comma = values.str.fullmatch(_DECIMAL_COMMA)
        if comma.any() and (comma | values.str.fullmatch(_INTEGER)).all():
            df[col] = pd.to_numeric(df[col].str.strip().str.replace(",", ".", regex=False),
                                    errors="raise").astype("float64")
            converted.append(col)
            notes[col] = "numbers written with a decimal comma ('1,5' = 1.5), read as numbers"
        elif (comma | values.str.fullmatch(_GROUPED)).mean() >= _DECIMAL_SHARE:
            kept.append(col)
            notes[col] = ("numbers with a decimal comma and thousands separators "
                          "('1.000,5'), kept as text: a '.' can also be a decimal point")
    if converted:
        warnings.warn(f"{path}: the column(s) {converted} use a decimal comma ('1,5' for "
                      "1.5); they are read as numbers.", UserWarning, stacklevel=3)
    for col in kept:
        warnings.warn(
            f"{path}: the column {col!r} looks like numbers written with a decimal comma "
            "and thousands separators ('1.000,5'), which are not read as numbers (a '.' "
            "can also be a decimal point): it is kept as text. Convert it yourself, "
            "for example df[col].str.replace('.', '').str.replace(',', '.').astype(float).",
            UserWarning, stacklevel=3)


def _note_formulas(path, df, scan, notes):
    """Say which columns hold formula cells read as missing (no cached value)."""
    for number, (count, first) in sorted(scan.uncached.items()):
        if number - 1 >= len(df.columns):
            continue
        col = str(df.columns[number - 1])
        notes[col] = (f"{count} formula cell(s) without a cached value (the first at "
                      f"{first}), read as missing")
        warnings.warn(
            f"{path}: the column {col!r} has {count} formula cell(s) without a cached "
            f"value (the first at {first}), read as missing: the file was saved by a "
            "program that does not compute formulas. Open it in Excel or LibreOffice "
            "and save it again (or compute the values) to read them.",
            UserWarning, stacklevel=3)


def _read_excel(path, sheet_name, **options):
    try:
        return pd.read_excel(path, sheet_name=sheet_name, engine="openpyxl", **options)
    except (ValueError, IndexError) as exc:
        # pandas raises these for a sheet that does not exist.
        raise ValueError(f"`sheet_name={sheet_name!r}` could not be read from "
                         f"{path}: {exc}") from exc
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error,
            SyntaxError) as exc:
        # SyntaxError: XML cut short or malformed (ElementTree's and lxml's
        # parse errors derive from it).
        raise ValueError(f"{path} is not a readable .xlsx workbook: "
                         f"{type(exc).__name__}: {exc}") from exc


def read_table(path, sheet_name=0, *, max_uncompressed_bytes=None, max_rows=None,
               max_cells=None) -> pd.DataFrame:
    """Read one sheet of an ``.xlsx``/``.xlsm`` workbook, or a ``.csv`` file.

    A CSV file's separator is recognised from its first lines (``,``, ``;``
    as Excel writes in locales with a decimal comma, or a tab; ``,`` when
    there is a single column). Only empty cells and the texts ``NaN``,
    ``nan``, ``NULL``, ``null``, ``N/A`` and ``#N/A`` are read as missing
    values: unlike pandas' default, ``NA`` (Namibia) and ``None`` are kept
    as text.

    Decimal commas: in a CSV file separated by ``;`` or a tab, a text column
    whose every value is an integer or digits, a comma and digits (``1,5``,
    ``-12,75``), at least one of them with the comma, is read as numbers
    (``1,5`` = 1.5). Nothing else is guessed: a value with both ``.`` and
    ``,`` (``1.000,5``: thousands separators) is not converted (a ``.`` can
    also be a decimal point), and a column where such values are at least
    half is kept as text with a warning; in a ``,``-separated file ``"1,5"``
    stays text (the comma is more likely a thousands separator there). Each
    converted column is named in a warning.

    Formula cells: a workbook stores each formula's last computed value; a
    file saved by a program that does not compute formulas (openpyxl, some
    exports) has none, and such cells are read as missing. The columns
    holding them are named in a warning.

    Notes on both are also put in ``df.attrs["fusionlab.column_notes"]``
    (``{column: note}``), which :meth:`TabularAnomalyDetector.fit` adds to
    its ``column_notes_`` (and ``excluded_columns_``).

    Limits: a workbook is refused, before it is parsed, when its zip members
    would expand beyond ``max_uncompressed_bytes`` (a decompression bomb),
    or when its sheet's extent (last used row and column; pandas pads every
    row to the widest) exceeds ``max_rows`` rows or ``max_cells`` cells of
    data; a CSV file is read up to ``max_rows`` rows and refused beyond
    either limit.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    sheet_name : str or int, default=0
        Sheet to read from a workbook (name or 0-based position); ignored for
        CSV.
    max_uncompressed_bytes : int, optional
        Default :data:`MAX_UNCOMPRESSED_BYTES` (read when called).
    max_rows : int, optional
        Most rows of data (below the header); default :data:`MAX_ROWS`.
    max_cells : int, optional
        Most cells of data (rows times columns); default :data:`MAX_CELLS`.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ImportError
        If openpyxl (the ``excel`` extra) is missing for a workbook.
    ValueError
        For an unsupported extension, an encrypted, corrupt, truncated or
        empty file, a sheet that does not exist, duplicated column headers,
        or a file beyond a limit.

    Examples
    --------
    >>> import pandas as pd
    >>> from fusionlab.tabular import read_table
    >>> pd.DataFrame({"a": [1, 2]}).to_csv("tiny.csv", index=False)
    >>> read_table("tiny.csv")["a"].tolist()
    [1, 2]
    >>> import warnings
    >>> with open("prices.csv", "w") as f:
    ...     _ = f.write("price;shop\\n1,5;a\\n12,25;b\\n")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     prices = read_table("prices.csv")
    >>> prices["price"].tolist(), "decimal comma" in str(caught[0].message)
    ([1.5, 12.25], True)
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"`path` must be a file path or a DataFrame; received "
                        f"{type(path).__name__}.")
    max_bytes = _limit(max_uncompressed_bytes, MAX_UNCOMPRESSED_BYTES,
                       "max_uncompressed_bytes")
    max_rows = _limit(max_rows, MAX_ROWS, "max_rows")
    max_cells = _limit(max_cells, MAX_CELLS, "max_cells")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise ValueError(
            f"`path` must end with one of {SUPPORTED_EXTENSIONS}; received "
            f"{path.name!r}. Legacy .xls files: save them as .xlsx or .csv."
        )
    if not path.is_file():
        raise FileNotFoundError(f"`path` does not exist or is not a file: {path}")
    notes = {}
    if suffix == ".csv":
        sep = _sniff_separator(path)
        options = {"sep": sep, "keep_default_na": False,
                   "na_values": list(_CSV_MISSING_VALUES)}
        try:
            header = pd.read_csv(path, header=None, nrows=1, dtype=str, **options)
            _check_headers(path, header.iloc[0].tolist() if len(header) else [])
            df = pd.read_csv(path, nrows=max_rows + 1, **options)
        except pd.errors.EmptyDataError as exc:
            raise ValueError(f"{path} is empty: no columns to read.") from exc
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path} could not be read as CSV: {exc}") from exc
        _check_csv_size(path, df, max_rows, max_cells)
        if sep != ",":
            _read_decimal_commas(path, df, notes)
    else:
        if not isinstance(sheet_name, str | int) or isinstance(sheet_name, bool):
            raise TypeError(f"`sheet_name` must be a sheet name (str) or a 0-based "
                            f"position (int); received {sheet_name!r}.")
        _require_openpyxl()
        _check_workbook_bytes(path)
        scan = inspect_sheet(path, sheet_name, max_bytes=max_bytes, max_rows=max_rows,
                             max_cells=max_cells)
        header = _read_excel(path, sheet_name, header=None, nrows=1)
        _check_headers(path, header.iloc[0].tolist() if len(header) else [])
        df = _read_excel(path, sheet_name)
        _note_formulas(path, df, scan, notes)
    if notes:
        df.attrs[NOTES_KEY] = notes
    return df


_INIT_PARAMS = set(inspect.signature(TabularAnomalyDetector.__init__).parameters) - {"self"}


def detect_anomalies_in_excel(df=None, model_path=None, train_if_needed=True,
                              sheet_name=0, *, max_uncompressed_bytes=None, max_rows=None,
                              max_cells=None, **detector_params):
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
        retrained). If it does not exist, or holds none of the files a save
        writes, one is trained on the data and saved there (atomically:
        see :meth:`TabularAnomalyDetector.save`). A directory whose detector
        cannot be loaded (damaged, or files of a save without its
        ``detector.json``) is never trained over: a :class:`ValueError`
        says so and its files are kept.
    train_if_needed : bool, default=True
        Train on the data when no saved detector exists. With ``False`` and
        no detector at ``model_path``, a :class:`FileNotFoundError` is raised.
    sheet_name : str or int, default=0
        Sheet of a workbook to read.
    max_uncompressed_bytes, max_rows, max_cells : int, optional
        Limits of :func:`read_table` on the file read (its defaults
        :data:`MAX_UNCOMPRESSED_BYTES`, :data:`MAX_ROWS`, :data:`MAX_CELLS`).
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
        df = read_table(df, sheet_name=sheet_name,
                        max_uncompressed_bytes=max_uncompressed_bytes,
                        max_rows=max_rows, max_cells=max_cells)

    folder = None if model_path is None else Path(model_path)
    saved = folder is not None and (folder / _CONFIG_FILE).is_file()
    if folder is not None and not saved and owned_files(folder):
        # Never trained over: the files may be all that is left of a
        # detector the user needs.
        names = [p.name for p in owned_files(folder)]
        raise ValueError(
            f"`model_path` {model_path} holds files of a saved detector ({names}) but no "
            f"{_CONFIG_FILE}: a damaged or interrupted save. It is not retrained over "
            "(its files are kept); remove them, or pass another `model_path`.")
    if saved:
        try:
            detector = TabularAnomalyDetector.load(model_path)
        except ValueError as exc:
            raise ValueError(
                f"{exc} The detector in `model_path` {model_path} cannot be loaded; it "
                "is not retrained over (its files are kept): fix or remove them, or "
                "pass another `model_path`.") from exc
        if detector_params:
            warnings.warn(
                f"A saved detector is loaded from {model_path}; the arguments "
                f"{sorted(detector_params)} are ignored.", UserWarning, stacklevel=2)
    elif not train_if_needed:
        if model_path is None:
            where = "no `model_path` was given"
        elif folder.exists():
            where = (f"`model_path` {model_path} holds no saved detector "
                     f"({folder / _CONFIG_FILE} does not exist)")
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
