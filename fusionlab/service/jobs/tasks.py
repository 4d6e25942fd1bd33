"""The work of each job kind, run in a worker process.

Every task takes a JSON payload (paths inside the server's data folder and
validated parameters) and returns a JSON result; score arrays are written as
``.npy`` files with ``allow_pickle=False``. :func:`run_task_json` is the one
entry point the process pool and Celery call, with JSON text both ways, so
nothing a client sent is ever pickled.

Kinds:

- ``scan_table``: train the tabular detector on an uploaded table and list
  its anomalous rows;
- ``score_series``: score an uploaded series with a registered detector;
- ``fit_model``: fit an :class:`~fusionlab.detection.AnomalyDetector` on an
  uploaded series, save its archive, then score that series;
- ``check_model``: load an uploaded detector archive and read what it is.

Progress and cancellation go through two small files next to the job
(``jobs/<id>.progress``, written atomically, and ``jobs/<id>.cancel``), which
the server reads and writes; they work the same for Celery workers that
share the data folder.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

__all__ = ["run_task_json", "run_task", "Progress", "JobCancelled", "TASKS", "read_frame"]


class JobCancelled(Exception):
    """The job was cancelled while it ran."""


class Progress:
    """Reports a job's progress to the server and notices a cancellation.

    Parameters
    ----------
    path : str, optional
        The ``.progress`` file; its ``.cancel`` sibling cancels the job.
        Without a path nothing is reported.
    """

    def __init__(self, path=None):
        self.path = Path(path) if path else None

    def __call__(self, fraction: float, message: str = "") -> None:
        if self.path is None:
            return
        if self.path.with_suffix(".cancel").exists():
            raise JobCancelled("cancelled")
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"progress": round(float(fraction), 4), "message": message}))
        os.replace(tmp, self.path)  # atomic: the reader never sees half a file


def read_frame(path, fmt, sheet_name=0, max_rows=None):
    """The uploaded table as a DataFrame (``.csv``, ``.xlsx``, ``.parquet``).

    Raises
    ------
    ValueError
        For an unreadable file or more than ``max_rows`` rows.
    """
    import pandas as pd

    from ...tabular import read_table

    if fmt == "parquet":
        frame = pd.read_parquet(path)
    else:
        frame = read_table(path, sheet_name=sheet_name if fmt == "xlsx" else 0)
    if max_rows is not None and len(frame) > max_rows:
        raise ValueError(f"The table has {len(frame)} rows, more than the server's "
                         f"limit of {max_rows}.")
    if len(frame) == 0:
        raise ValueError("The table has no rows.")
    return frame


def _json_value(value):
    """A JSON value for a cell or a label (dates as ISO text, NaN as None)."""
    import pandas as pd

    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def _timestamps(frame, time_column):
    """(timestamps for the detector or None, epoch ms or positions, unit)."""
    import pandas as pd

    n = len(frame)
    if time_column is None:
        return None, np.arange(n, dtype=np.int64), "index"
    if time_column not in frame.columns:
        raise ValueError(f"`time_column` {time_column!r} is not a column of the data; "
                         f"columns: {[str(c) for c in frame.columns]}.")
    raw = frame.pop(time_column)
    if pd.api.types.is_numeric_dtype(raw):
        return raw.to_numpy(), raw.to_numpy(dtype=np.float64).astype(np.int64), "index"
    stamps = pd.to_datetime(raw, utc=True)
    if stamps.isna().any():
        raise ValueError(f"`time_column` {time_column!r} has values that are not dates.")
    naive = pd.DatetimeIndex(stamps).tz_localize(None)
    ms = naive.to_numpy().astype("datetime64[ms]").astype(np.int64)
    return naive, ms, "ms"


def _save_arrays(folder, **arrays):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        if array is not None:
            np.save(folder / f"{name}.npy", np.asarray(array), allow_pickle=False)


def _series_findings(detector, frame, stamps, ms, unit, scores, contributions):
    """Findings of :meth:`AnomalyDetector.detect` events, with the peak time."""
    events = detector.detect(frame, timestamps=stamps)
    names = [str(n) for n in detector.feature_names_in_]
    findings = []
    for event in events:
        # The peak score's point, among the event's flagged points (as the stream).
        lo = event.metadata.get("flagged_start_index", event.start_index)
        hi = event.metadata.get("flagged_end_index", event.end_index)
        peak = lo + int(np.argmax(scores[lo:hi + 1]))
        top = [[str(name), float(share)] for name, share in event.top_features]
        layer = top[0][0] if top else None
        findings.append({
            "anomaly_type": event.anomaly_type,
            "severity": event.severity,
            "score": float(event.peak_score),
            "mean_score": float(event.mean_score),
            "threshold": float(detector.threshold_),
            "ratio": event.metadata.get("score_ratio"),
            "timestamp": int(ms[peak]),
            "time_unit": unit,
            "start": _json_value(event.start),
            "end": _json_value(event.end),
            "start_index": int(lo),
            "end_index": int(hi),
            "peak_index": int(peak),
            "top_features": top,
            "layer": layer,
            "layer_index": names.index(layer) if layer in names else None,
            "metadata": {k: _json_value(v) for k, v in event.metadata.items()
                         if k not in ("threshold", "score_ratio")},
        })
    return findings


def _feature_frame(frame, detector, columns):
    names = [str(n) for n in detector.feature_names_in_]
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"`columns` {missing} are not in the data; columns: "
                             f"{[str(c) for c in frame.columns]}.")
        frame = frame[columns]
    elif all(name in frame.columns for name in names):
        frame = frame[names]
    else:
        frame = frame.select_dtypes("number")
    if frame.shape[1] != len(names):
        raise ValueError(f"The model reads {len(names)} feature(s) {names}; the data "
                         f"has {frame.shape[1]} usable column(s) {list(frame.columns)}. "
                         "Name them with `columns`.")
    frame = frame.copy()
    frame.columns = names
    return frame


def _score(detector, frame, stamps, ms, unit, labels, out_dir, progress):
    start = time.perf_counter()
    contributions = detector.explain(frame, timestamps=stamps).to_numpy(dtype=np.float64)
    scores = contributions.sum(axis=1)
    progress(0.8, "scored")
    findings = _series_findings(detector, frame, stamps, ms, unit, scores, contributions)
    seconds = time.perf_counter() - start
    _save_arrays(out_dir, scores=scores, contributions=contributions.astype(np.float32),
                 timestamps=ms, labels=labels)
    return {
        "anomalies": findings,
        "n_points": int(len(scores)),
        "threshold": float(detector.threshold_),
        "feature_names": [str(n) for n in detector.feature_names_in_],
        "time_unit": unit,
        "has_labels": labels is not None,
        "has_contributions": True,
        "score_seconds": seconds,
    }


def _labels(frame, label_column):
    if label_column is None:
        return None
    if label_column not in frame.columns:
        raise ValueError(f"`label_column` {label_column!r} is not a column of the data.")
    labels = frame.pop(label_column).to_numpy()
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"`label_column` {label_column!r} must hold 0/1 values.")
    return labels.astype(np.int8)


def _model_info(detector):
    return {
        "detector_id": str(detector.model_id_),
        "model_type": detector.model if isinstance(detector.model, str) else type(
            detector.model_).__name__,
        "window": int(detector.window_),
        "threshold": float(detector.threshold_),
        "feature_names": [str(n) for n in detector.feature_names_in_],
    }


def check_model(payload, progress):
    """Load an uploaded archive with the public loader; describe the model."""
    from ...detection import AnomalyDetector

    progress(0.1, "loading the archive")
    detector = AnomalyDetector.load(payload["archive"])
    return {"model": _model_info(detector), "anomalies": []}


def score_series(payload, progress):
    """Score an uploaded series with a registered detector."""
    from ...detection import AnomalyDetector

    progress(0.05, "reading the data")
    frame = read_frame(payload["path"], payload["format"], payload.get("sheet_name", 0),
                       payload.get("max_rows"))
    stamps, ms, unit = _timestamps(frame, payload.get("time_column"))
    labels = _labels(frame, payload.get("label_column"))
    detector = AnomalyDetector.load(payload["archive"])
    progress(0.2, "scoring")
    frame = _feature_frame(frame, detector, payload.get("columns"))
    result = _score(detector, frame, stamps, ms, unit, labels, payload["out_dir"], progress)
    result["rows"] = int(len(frame))
    return result


def _epoch_callback(progress, epochs, low, high):
    import keras

    class EpochProgress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            progress(low + (high - low) * (epoch + 1) / max(1, epochs),
                     f"epoch {epoch + 1}/{epochs}")

    return EpochProgress()


def fit_model(payload, progress):
    """Fit a detector on an uploaded series, save it, then score the series."""
    from ...detection import AnomalyDetector

    progress(0.02, "reading the data")
    frame = read_frame(payload["path"], payload["format"], payload.get("sheet_name", 0),
                       payload.get("max_rows"))
    stamps, ms, unit = _timestamps(frame, payload.get("time_column"))
    labels = _labels(frame, payload.get("label_column"))
    columns = payload.get("columns")
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"`columns` {missing} are not in the data.")
        frame = frame[columns]
    else:
        frame = frame.select_dtypes("number")
    if frame.shape[1] == 0:
        raise ValueError("The data has no numeric column to learn from.")
    params = dict(payload.get("params") or {})
    epochs = int(params.get("epochs", 15))
    # Robust training fits two models, so each epoch is counted twice.
    total = epochs * (2 if params.get("robust", True) else 1)
    params["callbacks"] = [_epoch_callback(progress, total, 0.05, 0.7)]
    start = time.perf_counter()
    detector = AnomalyDetector(**params).fit(frame, timestamps=stamps)
    fit_seconds = time.perf_counter() - start
    progress(0.72, "saving the model")
    detector.callbacks = None
    detector.save(payload["archive"])
    result = _score(detector, frame, stamps, ms, unit, labels, payload["out_dir"], progress)
    result["model"] = {**_model_info(detector), "fit_seconds": fit_seconds}
    result["rows"] = int(len(frame))
    return result


def scan_table(payload, progress):
    """Train the tabular detector on an uploaded table; list its anomalous rows."""
    from ...tabular import TabularAnomalyDetector

    progress(0.05, "reading the table")
    sheet = payload.get("sheet_name", 0)
    frame = read_frame(payload["path"], payload["format"], sheet, payload.get("max_rows"))
    columns = payload.get("columns")
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"`columns` {missing} are not in the table; columns: "
                             f"{[str(c) for c in frame.columns]}.")
        frame = frame[columns]
    params = dict(payload.get("params") or {})
    train = {k: params.pop(k) for k in ("epochs", "batch_size", "validation_split")
             if k in params}
    progress(0.15, "training the tabular detector")
    start = time.perf_counter()
    detector = TabularAnomalyDetector(**params).train(frame, **train)
    fit_seconds = time.perf_counter() - start
    progress(0.7, "scoring the rows")
    start = time.perf_counter()
    scores = detector.score(frame).to_numpy(dtype=np.float64)
    rows = _table_rows(detector, frame)
    score_seconds = time.perf_counter() - start
    threshold = float(detector.threshold_)
    used = [str(c) for c in detector.column_types_]
    sheet_name = sheet if payload["format"] == "xlsx" else None
    if isinstance(sheet_name, int):
        sheet_name = _sheet_names(payload["path"])[sheet_name]
    # A row has no time of its own: its record is stamped with the time the
    # scan found it (the row's place is in its location).
    found_at = int(time.time() * 1000)
    findings = []
    for row in rows:
        layer = row["top"][0][0] if row["top"] else None
        findings.append({
            "anomaly_type": "row",
            "severity": row["severity"],
            "score": row["score"],
            "mean_score": row["score"],
            "threshold": threshold,
            "ratio": row["ratio"],
            "timestamp": found_at,
            "time_unit": "index",
            "start": row["label"],
            "end": row["label"],
            "start_index": row["position"],
            "end_index": row["position"],
            "row_index": row["label"],
            "sheet_name": sheet_name,
            "raw_data": row["raw_data"],
            "anomalous_features": row["anomalous_features"],
            "top_features": row["top"],
            "layer": layer,
            "layer_index": used.index(layer) if layer in used else None,
            "metadata": {"method": detector.method_},
        })
    _save_arrays(payload["out_dir"], scores=scores, timestamps=np.arange(len(scores)))
    return {
        "anomalies": findings,
        "rows": int(len(frame)),
        "n_points": int(len(scores)),
        "threshold": threshold,
        "feature_names": used,
        "time_unit": "index",
        "has_labels": False,
        "has_contributions": False,
        "score_seconds": score_seconds,
        "model": {"detector_id": f"tabular:{detector.method_}", "model_type": detector.method_,
                  "window": None, "threshold": threshold, "feature_names": used,
                  "fit_seconds": fit_seconds},
    }


def _table_rows(detector, frame):
    """The anomalous rows, from ``detect`` (records with severity) where the
    tabular detector has it, else from ``detect_anomalies``."""
    if hasattr(detector, "detect"):
        return [{"label": _json_value(a.start), "position": int(a.start_index),
                 "score": float(a.peak_score), "severity": a.severity,
                 "ratio": a.metadata.get("score_ratio"),
                 "top": [[str(n), float(share)] for n, share in a.top_features],
                 "raw_data": a.metadata.get("raw_data"),
                 "anomalous_features": a.metadata.get("anomalous_features")}
                for a in detector.detect(frame)]
    threshold = float(detector.threshold_)
    positions = {label: i for i, label in enumerate(frame.index)}
    rows = []
    for row in detector.detect_anomalies(frame):
        blame = row["anomalous_features"]
        total = sum(f["reconstruction_error"] for f in blame) or 1.0
        rows.append({"label": row["row_index"],
                     "position": int(positions.get(row["row_index"], 0)),
                     "score": float(row["anomaly_score"]), "severity": None,
                     "ratio": row["anomaly_score"] / threshold if threshold > 0 else None,
                     "top": [[f["feature_name"], f["reconstruction_error"] / total]
                             for f in blame],
                     "raw_data": row["raw_data"], "anomalous_features": blame})
    return rows


def _sheet_names(path):
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True)
    try:
        return workbook.sheetnames
    finally:
        workbook.close()


#: Job kind -> task function.
TASKS = {
    "scan_table": scan_table,
    "score_series": score_series,
    "fit_model": fit_model,
    "check_model": check_model,
}


def run_task(kind: str, payload: dict, progress_path=None) -> dict:
    """Run one task in this process; return its JSON result."""
    if kind not in TASKS:
        raise ValueError(f"Unknown job kind {kind!r}; known: {sorted(TASKS)}.")
    progress = Progress(progress_path)
    result = TASKS[kind](payload, progress)
    progress(1.0, "done")
    return result


def run_task_json(kind: str, payload_json: str, progress_path=None) -> str:
    """:func:`run_task` with JSON text in and out (what crosses processes)."""
    result = run_task(kind, json.loads(payload_json), progress_path)
    return json.dumps(result, allow_nan=False)


_INITIALISED = []


def init_worker() -> None:
    """Initialiser of a pool worker (once per process): quiet TensorFlow and
    lower the worker's priority, so that the server's event loop stays
    responsive while a model trains."""
    if _INITIALISED:
        return
    _INITIALISED.append(True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        os.nice(5)
    except OSError:  # pragma: no cover - not allowed on some systems
        pass
