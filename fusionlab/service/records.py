"""From what a job found to the contract's anomaly record.

A job's worker returns *findings* (plain JSON: scores, indices, features);
:func:`build_record` turns one into the record of the wire contract (``id``,
``anomaly_type``, ``severity``, ``severity_score``, ``timestamp``,
``location``, ``layer``, ``model_id``, ``series_id``, ``dataset_id``,
``score``, ``description``, ``metadata``) and the indexed columns stored
beside it. The record's JSON text is stored once and served as is.
"""

from __future__ import annotations

import json
import math

from ..vocabulary import SEVERITY_BANDS, SEVERITY_RANKS, severity_from_ratio

__all__ = ["severity_score", "describe", "build_record", "CSV_COLUMNS", "csv_row"]


def severity_score(ratio) -> float:
    """A 0-100 score from ``peak score / threshold``, continuous across the
    severity bands: each band (low ``[1, 1.5)``, medium ``[1.5, 2.5)``, high
    ``[2.5, 4)``) spans 25 points and critical approaches 100 as the ratio
    grows. The threshold is a percentile of the training scores, so the
    score is calibrated on them; ``None`` (a zero threshold) gives 100.

    Examples
    --------
    >>> from fusionlab.service.records import severity_score
    >>> [round(severity_score(r), 1) for r in (1.0, 1.5, 2.5, 4.0, 8.0)]
    [0.0, 25.0, 50.0, 75.0, 87.5]
    """
    if ratio is None or not math.isfinite(ratio):
        return 100.0
    edges = (1.0, *SEVERITY_BANDS)
    if ratio <= edges[0]:
        return 0.0
    for band, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        if ratio < high:
            return 25.0 * band + 25.0 * (ratio - low) / (high - low)
    return min(100.0, 75.0 + 25.0 * (1.0 - edges[-1] / ratio))


def _when(finding) -> str:
    start, end = finding.get("start"), finding.get("end")
    if finding.get("row_index") is not None:
        sheet = finding.get("sheet_name")
        where = f"row {finding['row_index']}"
        return f"{where} of sheet {sheet!r}" if sheet not in (None, "") else where
    if start == end:
        return f"at {start}"
    return f"from {start} to {end}"


def describe(finding, severity: str, ratio) -> str:
    """One sentence a person can read: what, where, how strong, which feature."""
    times = f"{ratio:.1f}x the threshold" if ratio is not None else "above a zero threshold"
    kind = finding["anomaly_type"].replace("_", " ")
    features = finding.get("top_features") or []
    if finding.get("row_index") is not None:
        blamed = ", ".join(
            f"{f['feature_name']} ({f.get('actual_value')!r})"
            for f in (finding.get("anomalous_features") or [])[:2]
        )
        threshold = finding.get("threshold")
        versus = f" (threshold {threshold:.3g})" if threshold is not None else ""
        text = (f"{severity.capitalize()} anomalous {_when(finding)}: score "
                f"{finding['score']:.3g}{versus}")
        return text + (f"; most unusual: {blamed}." if blamed else ".")
    text = f"{severity.capitalize()} {kind} {_when(finding)}: peak score {times}"
    if features:
        name, share = features[0]
        text += f", mostly {name} ({share:.0%})"
    return text + "."


def build_record(finding: dict, *, seq: int, model_id, series_id, dataset_id) -> tuple[dict, dict]:
    """The contract's record and the indexed columns of one finding.

    Parameters
    ----------
    finding : dict
        What a job's worker found (see :mod:`fusionlab.service.jobs.tasks`).
    seq : int
        The record's number (also its ``id``).

    Returns
    -------
    record : dict
        The JSON record of the contract.
    columns : dict
        Values of the ``anomalies`` table's columns (``payload`` included).
    """
    threshold = finding.get("threshold")
    score = float(finding["score"])
    ratio = finding.get("ratio")
    if ratio is None and threshold:
        ratio = score / threshold if threshold > 0 else None
    severity = finding.get("severity") or severity_from_ratio(
        ratio if ratio is not None else math.inf)
    features = [list(pair) for pair in finding.get("top_features") or []]
    location = {
        "start": finding.get("start"),
        "end": finding.get("end"),
        "start_index": finding.get("start_index"),
        "end_index": finding.get("end_index"),
    }
    if finding.get("row_index") is not None:
        location["row_index"] = finding["row_index"]
        location["sheet_name"] = finding.get("sheet_name")
    metadata = {
        "mean_score": finding.get("mean_score"),
        "threshold": threshold,
        "score_ratio": ratio,
        "top_features": features,
        "interim": False,
        "time_unit": finding.get("time_unit", "ms"),
        **(finding.get("metadata") or {}),
    }
    if finding.get("row_index") is not None:
        metadata["raw_data"] = finding.get("raw_data")
        metadata["anomalous_features"] = finding.get("anomalous_features")
    layer = finding.get("layer") or (features[0][0] if features else None)
    record = {
        "id": seq,
        "seq": seq,
        "anomaly_type": finding["anomaly_type"],
        "severity": severity,
        "severity_score": round(severity_score(ratio), 3),
        "timestamp": int(finding["timestamp"]),
        "location": location,
        "layer": layer,
        "model_id": model_id,
        "series_id": series_id,
        "dataset_id": dataset_id,
        "score": score,
        "description": describe(finding, severity, ratio),
        "metadata": metadata,
    }
    columns = {
        "id": seq,
        "seq": seq,
        "timestamp": record["timestamp"],
        "severity": severity,
        "severity_rank": SEVERITY_RANKS[severity],
        "anomaly_type": record["anomaly_type"],
        "score": score,
        "ratio": ratio,
        "layer": layer,
        "layer_index": finding.get("layer_index"),
        "start_index": finding.get("start_index"),
        "end_index": finding.get("end_index"),
        "model_id": model_id,
        "series_id": series_id,
        "dataset_id": dataset_id,
        "payload": json.dumps(record, allow_nan=False, separators=(",", ":")),
    }
    return record, columns


#: Columns of a CSV export, in order (nested fields as JSON text).
CSV_COLUMNS = (
    "id", "seq", "timestamp", "severity", "severity_score", "anomaly_type", "score",
    "layer", "model_id", "series_id", "dataset_id", "start", "end", "start_index",
    "end_index", "row_index", "sheet_name", "description", "metadata",
)


def csv_row(record: dict) -> list:
    """One record flattened to :data:`CSV_COLUMNS`."""
    location = record.get("location") or {}
    flat = {**record, **{k: location.get(k) for k in (
        "start", "end", "start_index", "end_index", "row_index", "sheet_name")}}
    flat["metadata"] = json.dumps(record.get("metadata"), separators=(",", ":"))
    return [flat.get(column) for column in CSV_COLUMNS]
