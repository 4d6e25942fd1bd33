"""Tables and files (CSV, JSON, Parquet) of anomaly records.

The functions take any iterable of records with a ``to_dict()`` method
(:class:`~fusionlab.detection.Anomaly`), so this module imports none of them.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

__all__ = ["anomalies_to_frame", "to_csv", "to_json", "to_parquet"]

_COLUMNS = [
    "start", "end", "start_index", "end_index", "length", "peak_score", "mean_score",
    "severity", "anomaly_type", "top_features", "model_id", "metadata",
]


def _jsonable(value):
    """``value`` as JSON data; JSON has no NaN or infinity, so NaN becomes None
    and infinities the strings ``"inf"`` / ``"-inf"`` (the tabular records' rule)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None if np.isnan(value) else ("inf" if value > 0 else "-inf")
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
        if not callable(getattr(item, "to_dict", None)):
            raise TypeError(f"Expected Anomaly records; received {type(item).__name__}.")
        row = item.to_dict()
        row["top_features"] = json.dumps(_jsonable(row["top_features"]), allow_nan=False)
        row["metadata"] = json.dumps(_jsonable(row["metadata"]), allow_nan=False)
        rows.append(row)
    return pd.DataFrame(rows, columns=_COLUMNS)


def to_csv(anomalies, path, **kwargs):
    """Write the events to CSV (one row per event); return ``path``."""
    anomalies_to_frame(anomalies).to_csv(path, index=False, **kwargs)
    return path


def to_json(anomalies, path=None, indent=2):
    """Events as a JSON array of objects; written to ``path`` when given, else returned.

    Always valid JSON: NaN is written as ``null`` and infinities as the
    strings ``"inf"`` / ``"-inf"``.
    """
    records = [_jsonable(a.to_dict()) for a in anomalies]
    text = json.dumps(records, indent=indent, allow_nan=False)
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
