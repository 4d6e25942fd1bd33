"""Tables, filters and files (CSV, JSON, Parquet) of anomaly records."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from .events import ANOMALY_TYPES, SEVERITIES, Anomaly, AnomalyList

__all__ = ["anomalies_to_frame", "filter_anomalies", "to_csv", "to_json", "to_parquet"]

_COLUMNS = [
    "start", "end", "start_index", "end_index", "length", "peak_score", "mean_score",
    "severity", "anomaly_type", "top_features", "model_id", "metadata",
]


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value).isoformat()
    return value


def anomalies_to_frame(anomalies):
    """A DataFrame with one row per event, columns in a fixed order.

    ``top_features`` and ``metadata`` are JSON strings so the table can be
    written to any format; ``length`` is added.

    Examples
    --------
    >>> from fusionlab.detection import Anomaly, AnomalyList
    >>> events = AnomalyList([Anomaly(3, 5, 3, 5, 2.0, 1.5, "medium", "spike",
    ...                               (("x", 1.0),), "m")])
    >>> events.to_frame()[["start", "end", "length", "severity"]]
       start  end  length severity
    0      3    5       3   medium
    """
    rows = []
    for item in anomalies:
        if not isinstance(item, Anomaly):
            raise TypeError(f"Expected Anomaly records; received {type(item).__name__}.")
        row = item.to_dict()
        row["top_features"] = json.dumps(_jsonable(row["top_features"]))
        row["metadata"] = json.dumps(_jsonable(row["metadata"]))
        rows.append(row)
    return pd.DataFrame(rows, columns=_COLUMNS)


def filter_anomalies(anomalies, min_severity=None, types=None, start=None, end=None, limit=None):
    """Events matching every given criterion, as an :class:`AnomalyList`.

    Parameters
    ----------
    anomalies : iterable of Anomaly
    min_severity : {'low', 'medium', 'high', 'critical'}, optional
        Keep events at least this severe.
    types : str or iterable of str, optional
        Keep events of these types.
    start, end : optional
        Keep events that overlap ``[start, end]`` (compared with the events'
        ``start``/``end``: timestamps, or indices when there are none).
    limit : int, optional
        Keep at most ``limit`` events, the highest ``peak_score`` first;
        without ``limit`` the input order is kept.

    Examples
    --------
    >>> from fusionlab.detection import Anomaly, filter_anomalies
    >>> events = [Anomaly(0, 1, 0, 1, 2.0, 1.5, "medium", "spike"),
    ...           Anomaly(9, 9, 9, 9, 9.0, 9.0, "critical", "spike")]
    >>> [a.start for a in filter_anomalies(events, min_severity="high")]
    [9]
    """
    out = list(anomalies)
    if min_severity is not None:
        if min_severity not in SEVERITIES:
            raise ValueError(
                f"`min_severity` must be one of {SEVERITIES}; received {min_severity!r}."
            )
        rank = SEVERITIES.index(min_severity)
        out = [a for a in out if SEVERITIES.index(a.severity) >= rank]
    if types is not None:
        types = {types} if isinstance(types, str) else set(types)
        unknown = types - set(ANOMALY_TYPES)
        if unknown:
            raise ValueError(
                f"`types` must be among {ANOMALY_TYPES}; received {sorted(unknown)}."
            )
        out = [a for a in out if a.anomaly_type in types]
    if start is not None or end is not None:
        def convert(value, like):
            if isinstance(like, pd.Timestamp) and value is not None:
                return pd.Timestamp(value)
            return value

        kept = []
        for a in out:
            lo, hi = convert(start, a.start), convert(end, a.start)
            if (lo is None or a.end >= lo) and (hi is None or a.start <= hi):
                kept.append(a)
        out = kept
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0:
            raise ValueError(f"`limit` must be a non-negative integer; received {limit!r}.")
        out = sorted(out, key=lambda a: a.peak_score, reverse=True)[: int(limit)]
    return AnomalyList(out)


def to_csv(anomalies, path, **kwargs):
    """Write the events to CSV (one row per event); return ``path``."""
    anomalies_to_frame(anomalies).to_csv(path, index=False, **kwargs)
    return path


def to_json(anomalies, path=None, indent=2):
    """Events as a JSON array of objects; written to ``path`` when given, else returned."""
    records = [_jsonable(a.to_dict()) for a in anomalies]
    text = json.dumps(records, indent=indent)
    if path is None:
        return text
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def to_parquet(anomalies, path, **kwargs):
    """Write the events to Parquet (needs pyarrow); return ``path``.

    ``start``/``end`` are stored as strings when they mix types (e.g. an
    empty list), otherwise as they are.
    """
    frame = anomalies_to_frame(anomalies)
    for column in ("start", "end"):
        if frame[column].dtype == object:
            frame[column] = frame[column].astype(str)
    frame.to_parquet(path, index=False, **kwargs)
    return path
