"""The files of ``fusionlab detect``: the series read in, the anomalies and plot written out.

Every check that can fail runs before any training: a bad output path is
reported at once, not after minutes of work. Problems are
:class:`CommandError` with one line that speaks the command line's words
(``--time-col``, ``--impute``...).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

__all__ = ["CommandError", "OUTPUT_SUFFIXES", "PLOT_SUFFIXES", "check_input", "check_output",
           "check_plot", "read_series_file", "write_events"]

#: Suffixes of ``--out`` and the format each writes.
OUTPUT_SUFFIXES = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".pq": "parquet",
                   ".xlsx": "xlsx"}
#: Suffixes of ``--plot``.
PLOT_SUFFIXES = (".png", ".pdf", ".svg")
# Bytes looked at to tell a text file from a binary one.
_SNIFF = 4096
_BINARY_MAGIC = {b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image",
                 b"%PDF": "a PDF document", b"PK\x03\x04": "a zip archive"}


class CommandError(Exception):
    """A problem of the user's command or files, told in one line (exit status 2)."""


def check_input(path):
    """Check that ``path`` is a non-empty text (or .xlsx) file before reading it."""
    path = Path(path)
    if not path.exists():
        raise CommandError(f"{path}: no such file.")
    if not path.is_file():
        raise CommandError(f"{path} is a folder, not a CSV file.")
    if path.stat().st_size == 0:
        raise CommandError(f"{path} is empty: give a CSV file with a header and one row per time step.")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return path
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF)
    for magic, kind in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise CommandError(f"{path} is not a text file (it looks like {kind}); give a CSV file.")
    if b"\x00" in head:
        raise CommandError(f"{path} is not a text file (it holds binary data); give a CSV file.")
    return path


def check_output(path):
    """Check ``--out`` before any work: a known suffix, its library, a folder to write in."""
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        raise CommandError(f"--out {path} is a folder; give a file name such as {path / 'anomalies.csv'}.")
    fmt = OUTPUT_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise CommandError(
            f"--out {path}: unknown suffix {path.suffix or '(none)'!r}; use one of "
            f"{', '.join(sorted(OUTPUT_SUFFIXES))}."
        )
    needs = {"parquet": ("pyarrow", "parquet"), "xlsx": ("openpyxl", "excel")}.get(fmt)
    if needs and importlib.util.find_spec(needs[0]) is None:
        raise CommandError(
            f"--out {path} needs {needs[0]}: pip install \"fusionlab-learn[{needs[1]}]\"."
        )
    _check_folder(path, "--out")
    return path


def check_plot(path):
    """Check ``--plot`` before any work."""
    if path is None:
        return None
    path = Path(path)
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise CommandError(
            f"--plot {path}: unknown suffix {path.suffix or '(none)'!r}; use one of "
            f"{', '.join(PLOT_SUFFIXES)}."
        )
    if path.is_dir():
        raise CommandError(f"--plot {path} is a folder; give a file name such as {path / 'anomalies.png'}.")
    _check_folder(path, "--plot")
    return path


def _check_folder(path, option):
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CommandError(f"{option} {path}: the folder {folder} does not exist.")
    if not os.access(folder, os.W_OK):
        raise CommandError(f"{option} {path}: the folder {folder} is not writable.")


def _times(column, name):
    """Times of ``--time-col``: numbers stay numbers, text is read as dates.

    Dates with offsets that change (a daylight-saving change) are read in UTC.
    """
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column):
        # Seconds or sample times: read as dates they would be nanoseconds since 1970.
        return column
    try:
        parsed = pd.to_datetime(column)
        if parsed.dtype != object:
            return parsed
    except (ValueError, TypeError):
        pass
    try:
        # Offsets that change (daylight saving time): one clock, UTC.
        return pd.to_datetime(column, utc=True)
    except (ValueError, TypeError) as exc:
        first = column.dropna().astype(str).head(1).tolist()
        raise CommandError(
            f"--time-col {name!r} holds values that are neither numbers nor dates "
            f"(such as {first[0] if first else 'empty cells'!r}): {exc}"
        ) from exc


def _check_order(timestamps, name):
    """Sorted, unique, complete times, checked before the backend starts."""
    from ..detection.inputs import check_timestamps

    try:
        check_timestamps(timestamps, None, len(timestamps))
    except ValueError as exc:
        raise CommandError(str(exc).replace("`timestamps`", f"--time-col {name!r}")) from exc


def _looks_like_times(column):
    import pandas as pd

    sample = column.dropna().astype(str).head(20)
    if sample.empty:
        return False
    try:
        pd.to_datetime(sample, utc=True, format="mixed")
    except (ValueError, TypeError):
        return False
    return True


def read_series_file(path, time_col=None, columns=None):
    """The feature columns of ``path`` (a frame) and the times of ``time_col`` (or None)."""
    import pandas as pd

    from ..tabular.excel import read_table

    try:
        frame = read_table(path)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    if frame.empty or len(frame) == 0:
        raise CommandError(f"{path} holds a header but no data rows.")
    timestamps = None
    if time_col is not None:
        if time_col not in frame.columns:
            raise CommandError(
                f"--time-col {time_col!r} is not a column of {path}; columns: {list(frame.columns)}."
            )
        timestamps = _times(frame.pop(time_col), time_col)
        _check_order(timestamps, time_col)
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise CommandError(
                f"--columns {missing} not in {path}; columns: {list(frame.columns)}."
            )
        frame = frame[list(columns)]
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            continue
        if _looks_like_times(column):
            instead = "" if time_col is None else f" (instead of --time-col {time_col})"
            raise CommandError(
                f"column {name!r} holds times, not numbers: pass --time-col {name}{instead}."
            )
        sample = column.dropna().astype(str).head(3).tolist()
        raise CommandError(
            f"column {name!r} is not numeric (values such as {sample}); choose the numeric "
            "columns with --columns."
        )
    if frame.shape[1] == 0:
        raise CommandError(f"{path} holds no numeric column besides --time-col {time_col!r}.")
    return frame, timestamps


def write_events(events, path):
    """Write the events in the format of ``path``'s suffix (checked by :func:`check_output`)."""
    fmt = OUTPUT_SUFFIXES[Path(path).suffix.lower()]
    if fmt == "json":
        events.to_json(path)
    elif fmt == "parquet":
        events.to_parquet(path)
    elif fmt == "xlsx":
        frame = events.to_frame()
        for column in ("start", "end"):
            # Excel has no time zones: write times as UTC text.
            if hasattr(frame[column].dtype, "tz") and frame[column].dtype.tz is not None:
                frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
        frame.to_excel(path, index=False)
    else:
        events.to_csv(path)
