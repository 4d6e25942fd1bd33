"""Reader for a local copy of the Numenta Anomaly Benchmark (NAB) corpus."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["load_nab", "list_nab", "NAB_ROOT_ENV"]

#: Environment variable read when ``root`` is not given.
NAB_ROOT_ENV = "FUSIONLAB_NAB_ROOT"
_LABELS = Path("labels") / "combined_windows.json"


def _root(root) -> Path:
    if root is None:
        root = os.environ.get(NAB_ROOT_ENV)
        if not root:
            raise ValueError(
                f"No NAB corpus given: pass `root=` or set the environment variable "
                f"{NAB_ROOT_ENV} to the folder holding `data/` and `labels/`. "
                "fusionlab never downloads it."
            )
    path = Path(root).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"NAB root {str(path)!r} does not exist or is not a folder.")
    return path


def _data_dir(root: Path) -> Path:
    # The NAB repository keeps the series under data/; accept a flat copy too.
    return root / "data" if (root / "data").is_dir() else root


def _windows(root: Path) -> dict:
    path = root / _LABELS
    if not path.is_file():
        raise FileNotFoundError(
            f"NAB label file {str(path)!r} not found; expected "
            f"<root>/{_LABELS.as_posix()}."
        )
    with open(path, encoding="utf-8") as handle:
        windows = json.load(handle)
    if not isinstance(windows, dict):
        raise ValueError(f"{str(path)!r} must map '<category>/<file>.csv' to windows.")
    return windows


def list_nab(root=None) -> list[str]:
    """Names (``'<category>/<file>.csv'``) of the series found under ``root``.

    Parameters
    ----------
    root : str, path or None, default=None
        NAB folder (holding ``data/<category>/*.csv``, or the category
        folders directly); None reads the ``FUSIONLAB_NAB_ROOT`` variable.

    Returns
    -------
    list of str
        Sorted names.

    Examples
    --------
    >>> from fusionlab.datasets import list_nab
    >>> list_nab("/no/such/folder")
    Traceback (most recent call last):
    ...
    FileNotFoundError: NAB root '/no/such/folder' does not exist or is not a folder.
    """
    data = _data_dir(_root(root))
    return sorted(p.relative_to(data).as_posix() for p in data.glob("*/*.csv"))


def _resolve(name: str, available: list[str]) -> str:
    if name in available:
        return name
    wanted = name if name.endswith(".csv") else f"{name}.csv"
    matches = [a for a in available if a == wanted or a.split("/", 1)[1] == wanted]
    if len(matches) == 1:
        return matches[0]
    listing = ", ".join(available) if available else "none"
    if matches:
        raise ValueError(
            f"NAB name {name!r} is ambiguous; use one of {', '.join(matches)}."
        )
    raise ValueError(f"NAB series {name!r} not found. Available: {listing}.")


def _read_series(data: Path, name: str, windows: dict) -> pd.DataFrame:
    path = data / name
    frame = pd.read_csv(path)
    if list(frame.columns[:2]) != ["timestamp", "value"]:
        raise ValueError(
            f"{str(path)!r} must have columns 'timestamp,value'; received "
            f"{list(frame.columns)}."
        )
    if name not in windows:
        raise ValueError(
            f"{name!r} has no entry in {_LABELS.as_posix()}; its labels are unknown."
        )
    timestamps = _timestamps(frame["timestamp"], path)
    values = pd.to_numeric(frame["value"], errors="coerce").astype(float)
    bad = ~np.isfinite(values.to_numpy())
    if bad.any():
        raise ValueError(
            f"{str(path)!r} has {int(bad.sum())} missing or non-numeric value(s) "
            f"(first at row {int(np.argmax(bad))})."
        )
    label = np.zeros(len(frame), dtype=np.int64)
    for start, end in _label_windows(windows[name], name):
        label[((timestamps >= start) & (timestamps <= end)).to_numpy()] = 1
    return pd.DataFrame({"timestamp": timestamps, "value": values, "label": label})


def _timestamps(column: pd.Series, path: Path) -> pd.Series:
    """The ``timestamp`` column as datetimes; a bad cell names file and row."""
    parsed = pd.to_datetime(column, format="ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(
            f"{str(path)!r} has {int(bad.sum())} missing or unparsable timestamp(s); "
            f"first at row {row} (0-based, after the header): {column.iloc[row]!r}. "
            "NAB timestamps are ISO 8601, e.g. '2014-04-01 00:00:00'."
        )
    return parsed


def _label_windows(entry, name: str) -> list:
    """The ``[start, end]`` windows of one file, parsed; errors name the entry."""
    where = f"{_LABELS.as_posix()} entry {name!r}"
    if not isinstance(entry, list):
        raise ValueError(
            f"{where} must be a list of [start, end] pairs; received "
            f"{type(entry).__name__}."
        )
    parsed = []
    for index, window in enumerate(entry):
        if not (isinstance(window, list) and len(window) == 2):
            raise ValueError(
                f"{where}, window {index}: expected a [start, end] pair of "
                f"timestamps; received {window!r}."
            )
        bounds = []
        for bound in window:
            try:
                value = pd.to_datetime(bound, format="ISO8601")
            except (TypeError, ValueError):
                value = None
            if value is None or pd.isna(value):  # None parses to None, '' to NaT
                raise ValueError(
                    f"{where}, window {index}: {bound!r} is not an ISO 8601 "
                    "timestamp."
                )
            bounds.append(value)
        parsed.append(tuple(bounds))
    return parsed


def load_nab(root=None, name=None) -> pd.DataFrame:
    """Load NAB series with point labels from a local copy of the corpus.

    The corpus is read as published by Numenta: ``timestamp,value`` CSV files
    in category folders under ``<root>/data/`` (or directly under ``root``),
    and ``<root>/labels/combined_windows.json`` mapping
    ``"<category>/<file>.csv"`` to ``[[start, end], ...]`` anomaly windows.
    A point is labelled 1 when its timestamp lies in one of its file's
    windows, ends included. Nothing is downloaded.

    Parameters
    ----------
    root : str, path or None, default=None
        NAB folder; None reads the ``FUSIONLAB_NAB_ROOT`` environment variable.
    name : str or None, default=None
        One series: ``'<category>/<file>.csv'``, or just the file name (with
        or without ``.csv``) when it is unique. None loads every series.

    Returns
    -------
    pandas.DataFrame
        Columns ``timestamp`` (datetime64), ``value`` (float) and ``label``
        (int 0/1) in file order. With ``name=None`` the series are stacked in
        sorted name order with a leading ``file`` column holding each row's
        ``'<category>/<file>.csv'``.

    Raises
    ------
    ValueError
        If no root is given, ``name`` is unknown or ambiguous (the message
        lists the available series), a file lacks a label entry or has
        missing values, or a timestamp or label window does not parse (the
        message names the file and the row, or the label entry and window).
    FileNotFoundError
        If the root or the label file does not exist.

    Examples
    --------
    >>> from fusionlab.datasets import load_nab
    >>> df = load_nab(name="art_daily_jumpsup")  # doctest: +SKIP
    >>> df.columns.tolist()  # doctest: +SKIP
    ['timestamp', 'value', 'label']
    """
    root = _root(root)
    data = _data_dir(root)
    available = list_nab(root)
    windows = _windows(root)
    if name is not None:
        if not isinstance(name, str):
            raise TypeError(f"`name` must be a string or None; received {type(name).__name__}.")
        return _read_series(data, _resolve(name, available), windows)
    if not available:
        raise ValueError(f"No '<category>/<file>.csv' series found under {str(data)!r}.")
    frames = []
    for item in available:
        frame = _read_series(data, item, windows)
        frame.insert(0, "file", item)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
