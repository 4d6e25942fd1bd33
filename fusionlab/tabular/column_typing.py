"""Automatic column typing for tabular anomaly detection.

:func:`infer_column_types` decides, for every column of a DataFrame, whether
it is used as a ``"numeric"``, ``"categorical"``, ``"boolean"`` or
``"datetime"`` feature, or excluded (identifier-like, all missing, constant),
and says why. :func:`coerce_frame` then converts a frame to those types,
reporting the values it could not convert instead of losing them silently.

The module is named ``column_typing`` rather than ``typing`` so that it can
never shadow the standard library module of that name.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from datetime import datetime

import numpy as np
import pandas as pd
from dateutil import parser as dateutil_parser

__all__ = ["COLUMN_TYPES", "DATETIME_DTYPE", "NOTES_KEY", "infer_column_types",
           "coerce_frame", "check_frame", "check_cells"]

#: Key of ``DataFrame.attrs`` where :func:`~fusionlab.tabular.read_table` puts
#: its notes on the columns (``{column: note}``: formula cells read as missing,
#: decimal commas), which the detector adds to its own.
NOTES_KEY = "fusionlab.column_notes"
#: The feature types a column can be given; ``"exclude"`` drops it.
COLUMN_TYPES = ("numeric", "categorical", "boolean", "datetime", "exclude")

# An object column counts as numeric when at least this share of its
# non-missing values parse as numbers (the rest become missing, with a note).
_NUMERIC_SHARE = 0.9
# Same for strings that parse as dates.
_DATETIME_SHARE = 0.9
# How many values are tried when guessing whether strings are dates.
_DATETIME_SAMPLE = 500
# Text columns with more distinct values than this share of their rows (and
# more than ``max_categories``) look like identifiers or free text.
_ID_UNIQUE_SHARE = 0.5
# Below this many rows, uniqueness says nothing about a column being an id.
_ID_MIN_ROWS = 20
_ID_NAME = re.compile(r"(^|[_\s\-.])(id|uuid|guid|key)$|^(id|uuid|guid|key)([_\s\-.]|$)",
                      re.IGNORECASE)
_BOOL_TEXT = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0, "y": 1.0, "n": 0.0,
              "1": 1.0, "0": 0.0}
# Two parsing defaults differing in year and day: a text parsed to the same
# year and day under both gives them itself.
_DATE_DEFAULTS = (datetime(2001, 1, 1), datetime(2002, 2, 2))
#: Dtype of converted ``datetime`` columns: unlike ``datetime64[ns]`` (years
#: 1677 to 2262) it holds every date a spreadsheet can, placeholders such as
#: 9999-12-31 included.
DATETIME_DTYPE = "datetime64[us]"


def check_frame(df, name: str = "df", *, allow_empty: bool = False) -> pd.DataFrame:
    """Validate a DataFrame and return it with string column names.

    Column labels are converted with ``str`` because feature names in the
    output must be JSON keys; two labels that become the same string (``1``
    and ``"1"``), like plain duplicated labels, are an error because the
    blame for a feature could not be told apart.

    Raises
    ------
    TypeError
        If ``df`` is not a :class:`pandas.DataFrame`.
    ValueError
        If it has duplicated column names, or no rows or columns while
        ``allow_empty`` is false.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(
            f"`{name}` must be a pandas DataFrame; received {type(df).__name__}."
        )
    names = [str(c) for c in df.columns]
    seen, dupes = set(), []
    for label in names:
        if label in seen and label not in dupes:
            dupes.append(label)
        seen.add(label)
    if dupes:
        raise ValueError(
            f"`{name}` has duplicated column names {dupes}; rename them so that "
            "every column (and every blamed feature) has its own name."
        )
    if not allow_empty and (df.shape[0] == 0 or df.shape[1] == 0):
        raise ValueError(
            f"`{name}` is empty: expected at least one row and one column; "
            f"received shape {df.shape}."
        )
    if list(df.columns) != names:
        df = df.set_axis(names, axis=1)
    return df


_REFUSED_CELLS = (bytes, bytearray, complex, np.complexfloating)


def check_cells(name: str, column: pd.Series) -> None:
    """Refuse cells no column type can hold without losing them.

    Complex numbers would lose their imaginary part as numbers (NumPy only
    warns), and bytes have no text until decoded with their encoding
    (pandas would guess UTF-8 and fail, or give the ``b'...'`` repr).

    Raises
    ------
    TypeError
        Naming the column, what it holds and what to do.
    """
    if pd.api.types.is_complex_dtype(column):
        found = "complex"
    elif isinstance(column.dtype, pd.CategoricalDtype):
        found = pd.api.types.infer_dtype(column.cat.categories, skipna=True)
    elif pd.api.types.is_object_dtype(column):
        found = pd.api.types.infer_dtype(column, skipna=True)
        if found.startswith("mixed") and found != "mixed-integer-float":
            kinds = {type(v) for v in column.dropna()}
            found = next(("complex" if issubclass(k, complex | np.complexfloating)
                          else "bytes" for k in kinds if issubclass(k, _REFUSED_CELLS)),
                         found)
    else:
        return
    if found == "complex":
        raise TypeError(
            f"Column {name!r} holds complex numbers: as features their imaginary part "
            "would be lost. Give their real part, imaginary part or magnitude (np.abs) "
            "as columns of their own.")
    if found == "bytes":
        raise TypeError(
            f"Column {name!r} holds bytes, which have no text until decoded: decode "
            f"them first with their encoding, e.g. df[{name!r}] = "
            f"df[{name!r}].str.decode('utf-8').")


def _is_bool_value(value) -> bool:
    return isinstance(value, bool | np.bool_)


def _is_number_value(value) -> bool:
    return isinstance(value, int | float | np.number) and not _is_bool_value(value)


def _looks_like_id_name(name: str) -> bool:
    return bool(_ID_NAME.search(name.strip()))


def _names_year_and_day(text: str) -> bool:
    """Whether ``text`` parses as a date that states its year and day."""
    try:
        first = dateutil_parser.parse(text, default=_DATE_DEFAULTS[0])
        second = dateutil_parser.parse(text, default=_DATE_DEFAULTS[1])
    except (ValueError, OverflowError):
        return False
    return first.year == second.year and first.day == second.day


def _guess_datetime(values: pd.Series) -> bool:
    sample = values.iloc[:_DATETIME_SAMPLE].astype(str)
    # Pure numbers were already handled; a string of digits is not a date.
    # utc=True: strings with different UTC offsets would otherwise raise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed", utc=True)
    if parsed.notna().mean() < _DATETIME_SHARE:
        return False
    # pandas also reads month names ("Jan"), codes ("T1") and times ("12:30")
    # as dates, filling in year 1 or today: those are categories or times of
    # day, so only values stating their year and day count.
    dated = {text: _names_year_and_day(text) for text in sample[parsed.notna()].unique()}
    return sample.map(lambda text: dated.get(text, False)).mean() >= _DATETIME_SHARE


def _infer_one(name: str, column: pd.Series, max_categories: int):
    """Return ``(type, note)``; ``type == "exclude"`` makes ``note`` the reason."""
    check_cells(name, column)
    values = column.dropna()
    n_rows = len(column)
    if values.empty:
        return "exclude", "all values are missing"
    if pd.api.types.is_datetime64_any_dtype(column):
        kind = "datetime"
    elif pd.api.types.is_bool_dtype(column):
        kind = "boolean"
    elif pd.api.types.is_numeric_dtype(column):
        kind = "numeric"
    else:
        kind = None
    try:
        n_unique = values.nunique()
    except TypeError:  # unhashable cells (lists, dicts)
        values = values.astype(str)
        n_unique = values.nunique()
    if n_unique == 1:
        return "exclude", f"constant: a single distinct value ({values.iloc[0]})"
    if kind == "numeric":
        # One blank turns an integer column into floats: whole-number floats
        # count as integers so that such an id column is still recognised.
        whole = pd.api.types.is_integer_dtype(column) or (
            pd.api.types.is_float_dtype(column) and bool((values % 1 == 0).all()))
        unique_ints = (whole and n_unique == len(values)
                       and len(values) >= _ID_MIN_ROWS)
        if unique_ints and (values.is_monotonic_increasing or _looks_like_id_name(name)):
            rows = "row" if len(values) == n_rows else "non-missing row"
            return "exclude", f"identifier-like: a distinct integer on every {rows}"
        return "numeric", None
    if kind is not None:
        return kind, None

    # Object / string / category columns: look at what the cells hold.
    if isinstance(column.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    if values.map(_is_bool_value).all():
        return "boolean", None
    numbers = pd.to_numeric(values, errors="coerce")
    share = numbers.notna().mean()
    if share == 1.0:
        return "numeric", "numbers stored as text"
    if share >= _NUMERIC_SHARE:
        bad = int(numbers.isna().sum())
        return "numeric", (f"mixed types: {bad} non-numeric value(s) are treated "
                           "as missing")
    if values.map(_is_number_value).any():
        note = "mixed types: numbers and text, all values are compared as text"
    else:
        note = None
        if _guess_datetime(values):
            return "datetime", "dates stored as text"
    as_text = values.astype(str)
    n_unique = as_text.nunique()
    if (n_unique > max_categories and n_rows >= _ID_MIN_ROWS
            and n_unique > _ID_UNIQUE_SHARE * len(values)):
        return "exclude", (f"identifier-like or free text: {n_unique} distinct "
                           f"values in {len(values)} non-missing rows")
    if n_unique > max_categories:
        extra = (f"{n_unique} distinct values: the {max_categories} most frequent "
                 "are encoded, the others count as unseen")
        note = f"{note}; {extra}" if note else extra
    return "categorical", note


def infer_column_types(df: pd.DataFrame, overrides: Mapping | None = None, *,
                       max_categories: int = 50):
    """Decide how every column of ``df`` is used as a feature.

    Rules, in order (``overrides`` win over all of them):

    1. all values missing -> excluded;
    2. a single distinct value -> excluded (constant);
    3. ``datetime64`` dtype -> ``"datetime"``; ``bool`` dtype, or an object
       column holding only booleans -> ``"boolean"``;
    4. numeric dtype -> ``"numeric"``, except an integer column (or a float
       column holding only whole numbers, as an integer column with blanks
       becomes) with a distinct value on every non-missing row (at least 20)
       that is increasing or named like an id (``id``, ``*_id``, ``uuid``,
       ``key``...) -> excluded;
    5. text/object columns: numbers stored as text -> ``"numeric"`` (when at
       least 90 % parse; the rest become missing, with a note); dates stored
       as text, stating their year and day (month names such as ``"Jan"``,
       codes such as ``"T1"`` and times of day are not dates) ->
       ``"datetime"``; otherwise ``"categorical"``, unless more than
       ``max_categories`` distinct values cover more than half of the rows
       -> excluded as identifier-like or free text.

    Parameters
    ----------
    df : pandas.DataFrame
        The data (column names are converted to ``str``).
    overrides : mapping, optional
        ``{column: type}`` with a type in :data:`COLUMN_TYPES`.
    max_categories : int, default=50
        Largest number of categories a text column may have before it is
        considered identifier-like (when they also cover most rows).

    Returns
    -------
    types : dict
        ``{column: type}`` for the columns used, in frame order.
    excluded : dict
        ``{column: reason}`` for the columns left out.
    notes : dict
        ``{column: note}`` for used columns whose values needed a conversion.

    Raises
    ------
    TypeError
        For a column holding complex numbers or bytes (:func:`check_cells`).
    ValueError
        For duplicated column names or a bad ``overrides`` entry.

    Examples
    --------
    >>> import pandas as pd
    >>> from fusionlab.tabular.column_typing import infer_column_types
    >>> df = pd.DataFrame({"id": range(30), "amount": [1.5, 2.0, 3.5] * 10,
    ...                    "city": ["Paris", "Oslo", "Rome"] * 10,
    ...                    "paid": [True, False, True] * 10})
    >>> types, excluded, notes = infer_column_types(df)
    >>> types
    {'amount': 'numeric', 'city': 'categorical', 'paid': 'boolean'}
    >>> excluded
    {'id': 'identifier-like: a distinct integer on every row'}
    """
    df = check_frame(df)
    overrides = {} if overrides is None else {str(k): v for k, v in dict(overrides).items()}
    unknown = sorted(set(overrides) - set(df.columns))
    if unknown:
        raise ValueError(
            f"`column_types` names columns that are not in the data: {unknown}; "
            f"available columns are {list(df.columns)}."
        )
    for col, kind in overrides.items():
        if kind not in COLUMN_TYPES:
            raise ValueError(
                f"`column_types[{col!r}]` must be one of {COLUMN_TYPES}; "
                f"received {kind!r}."
            )
    types, excluded, notes = {}, {}, {}
    for name in df.columns:
        if name in overrides:
            kind = overrides[name]
            if kind == "exclude":
                excluded[name] = "excluded by the user (column_types)"
            else:
                types[name] = kind
            continue
        kind, note = _infer_one(name, df[name], max_categories)
        if kind == "exclude":
            excluded[name] = note
        else:
            types[name] = kind
            if note:
                notes[name] = note
    return types, excluded, notes


def _to_bool_float(column: pd.Series) -> pd.Series:
    def convert(value):
        if _is_bool_value(value):
            return float(value)
        if _is_number_value(value) and value in (0, 1):
            return float(value)
        if isinstance(value, str):
            return _BOOL_TEXT.get(value.strip().lower(), np.nan)
        return np.nan

    return column.astype(object).map(convert).astype("float64")


def _to_datetime_naive(column: pd.Series) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if pd.api.types.is_datetime64_any_dtype(column):
            out = column
        else:
            out = pd.to_datetime(column, errors="coerce", format="mixed", utc=True)
    if getattr(out.dt, "tz", None) is not None:
        # Compare instants, not wall-clock times, across time zones.
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out.astype(DATETIME_DTYPE)


def _category_label(value) -> str:
    # A blank turns an integer column into floats: 1.0 must give the same
    # label "1" as the integer 1, or training categories become unseen ones.
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _check_readable(col: str, kind: str, column: pd.Series, converted: pd.Series):
    if converted.notna().any():
        return
    present = column.dropna()
    if present.empty:
        found = "all its values are missing"
    else:
        found = (f"none of its {len(present)} non-missing value(s) could be read "
                 f"as {kind} (for example {present.iloc[0]!r})")
    accepted = (" (booleans are read from True/False, 1/0 and the texts true/false, "
                "yes/no, y/n, 1/0 in any case)" if kind == "boolean" else "")
    raise ValueError(
        f"Column {col!r} is typed {kind!r} (check `column_types`) but has no "
        f"value readable as {kind}{accepted}: {found}. Give it another type, "
        "such as 'categorical', or 'exclude' it."
    )


def coerce_frame(df: pd.DataFrame, types: Mapping, *, warn: bool = True,
                 name: str = "df", require_values: bool = False) -> pd.DataFrame:
    """Convert the typed columns of ``df`` to their canonical dtypes.

    ``numeric`` and ``boolean`` columns become ``float64`` (infinite values
    become missing; booleans are read from ``True``/``False``, ``1``/``0``
    and the texts true/false, yes/no, y/n, 1/0 in any case), ``datetime``
    columns ``datetime64[us]``, which holds placeholder dates such as
    9999-12-31 (UTC for time-zone-aware data), ``categorical`` columns text
    with missing values kept missing (a whole-number float is written as an
    integer, ``1.0`` as ``"1"``, so that the labels do not depend on whether
    the column had blanks). Values
    that cannot be converted become missing and, when ``warn`` is true, a
    :class:`UserWarning` names each column and how many values were
    affected, so nothing is lost silently; the imputers then fill them with
    the training statistics.

    Parameters
    ----------
    df : pandas.DataFrame
        The data.
    types : mapping
        ``{column: type}``; every column must be in ``df``.
    warn : bool, default=True
        Warn about values treated as missing.
    name : str, default="df"
        Name of ``df`` in the warning.
    require_values : bool, default=False
        Raise when a numeric, boolean or datetime column has no readable
        value at all (used on training data, where such a column can only
        come from a ``column_types`` override that does not fit it).

    Returns
    -------
    pandas.DataFrame
        A new frame holding exactly the columns of ``types``.

    Raises
    ------
    TypeError
        For a column holding complex numbers or bytes (:func:`check_cells`).
    ValueError
        With ``require_values``, naming the first column without any value
        readable as its type.
    """
    out = {}
    problems = []
    for col, kind in types.items():
        column = df[col]
        check_cells(col, column)
        present = column.notna()
        if kind == "numeric":
            if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
                converted = column.astype("float64")
            else:
                converted = pd.to_numeric(column, errors="coerce").astype("float64")
            lost = int((present & converted.isna()).sum())
            infinite = np.isinf(converted.to_numpy())
            if infinite.any():
                problems.append(f"{col!r}: {int(infinite.sum())} infinite value(s)")
                converted = converted.mask(infinite)
        elif kind == "boolean":
            converted = _to_bool_float(column)
            lost = int((present & converted.isna()).sum())
        elif kind == "datetime":
            converted = _to_datetime_naive(column)
            lost = int((present & converted.isna()).sum())
        else:  # categorical
            converted = (column.astype(object).map(_category_label)
                         .where(present, np.nan).astype(object))
            lost = 0
        if require_values and kind != "categorical":
            _check_readable(col, kind, column, converted)
        if lost:
            problems.append(f"{col!r}: {lost} value(s) not readable as {kind}")
        out[col] = converted
    if problems and warn:
        warnings.warn(
            f"In `{name}`, values were treated as missing and imputed with the "
            "training statistics: " + "; ".join(problems) + ".",
            UserWarning, stacklevel=3,
        )
    return pd.DataFrame(out, index=df.index)
