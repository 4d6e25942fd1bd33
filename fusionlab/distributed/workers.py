"""What runs in a worker process (a local pool's or a Dask worker's).

Functions here are the tasks: they take plain values, catch each series'
errors (reported, never raised, so the other series of a task go on) and
return plain values. A detector used by several tasks is loaded once per
process from its archive (:func:`cached_detector`), never shipped inside
every task.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

__all__ = ["THREAD_VARIABLES", "limit_threads", "cached_detector", "compiled", "fit_one", "score_chunk",
           "error_text"]

_DETECTORS = {}
# Tasks of one Dask worker may run in several threads at once.
_LOCK = threading.Lock()
# Environment variables that bound the threads of the numeric libraries:
# several workers on one machine must not each take every core.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                     "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def limit_threads(threads):
    """Bound this process's numeric threads to ``threads`` (before Keras starts)."""
    if threads:
        for name in THREAD_VARIABLES:
            os.environ[name] = str(int(threads))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def error_text(exc):
    """One line: ``Type: message``."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def cached_detector(path, jit_compile=False):
    """The detector saved at ``path``, loaded once per process (reloaded if the file changed).

    With ``jit_compile`` its model's inference is compiled with XLA, once.
    """
    from ..detection import AnomalyDetector

    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size, bool(jit_compile))
    with _LOCK:
        detector = _DETECTORS.get(key)
        if detector is None:
            _DETECTORS.clear()
            detector = AnomalyDetector.load(path)
            if jit_compile:
                detector.model_.jit_compile = True
                detector.model_.predict_function = None
            _DETECTORS[key] = detector
    return detector


def fit_one(template, series_id, X, timestamps, archive):
    """Fit a clone of ``template`` on one series and save it to ``archive``.

    Returns
    -------
    dict
        ``{'series_id', 'archive', 'seconds'}`` or ``{'series_id', 'stage',
        'reason'}`` for a failure.
    """
    from sklearn.base import clone

    start = time.perf_counter()
    detector = clone(template)
    try:
        kwargs = {} if timestamps is None else {"timestamps": timestamps}
        detector.fit(X, **kwargs)
    except (ValueError, TypeError) as exc:
        return {"series_id": series_id, "stage": "input", "reason": error_text(exc)}
    except Exception as exc:  # noqa: BLE001 - reported per series; the others go on
        return {"series_id": series_id, "stage": "fit", "reason": error_text(exc)}
    try:
        detector.save(archive)
    except Exception as exc:  # noqa: BLE001
        return {"series_id": series_id, "stage": "fit", "reason": f"saving: {error_text(exc)}"}
    return {"series_id": series_id, "archive": str(archive),
            "seconds": time.perf_counter() - start}


@contextlib.contextmanager
def compiled(model, jit_compile):
    """The model's predict function compiled with XLA inside the block (when asked).

    The model is left as it was at the end (for a detector the caller owns).
    """
    if not jit_compile or model.jit_compile:
        yield
        return
    model.jit_compile = True
    model.predict_function = None
    try:
        yield
    finally:
        model.jit_compile = False
        model.predict_function = None


def score_chunk(detector, items, batch_size=None, jit_compile=False):
    """Scores of several series with one detector, their windows sharing model calls.

    Parameters
    ----------
    detector : AnomalyDetector or path
        A fitted detector, or the path of its archive (loaded once per
        process, see :func:`cached_detector`).
    items : list of (series_id, X, timestamps)
    batch_size : int, optional
        Windows per model call (default: the detector's ``predict_batch_size``).
    jit_compile : bool, default=False
        With an archive path: its cached detector's inference compiled with
        XLA (once per process). A detector object is scored as it is (see
        :func:`compiled`).

    Returns
    -------
    list of dict
        ``{'series_id', 'scores', 'index'}`` (``index``: the pandas index of
        ``X``, or None), or ``{'series_id', 'stage', 'reason'}``.
    """
    if isinstance(detector, (str, os.PathLike)):
        try:
            detector = cached_detector(detector, jit_compile)
        except Exception as exc:  # noqa: BLE001 - e.g. an archive this worker cannot read
            return [{"series_id": sid, "stage": "score",
                     "reason": f"the detector could not be loaded here: {error_text(exc)}"}
                    for sid, *_ in items]
    out, prepared, kept = [], [], []
    for series_id, X, timestamps in items:
        try:
            series, scaled = detector._prepare(X, timestamps)
        except (ValueError, TypeError) as exc:
            out.append({"series_id": series_id, "stage": "input", "reason": error_text(exc)})
            continue
        prepared.append((scaled, series.timestamps))
        kept.append((series_id, series.index if _is_pandas(X) else None))
    try:
        for position, contributions in detector._iter_contributions(prepared, batch_size):
            series_id, index = kept[position]
            out.append({"series_id": series_id, "scores": contributions.sum(axis=1),
                        "index": index})
    except Exception as exc:  # noqa: BLE001 - the chunk's remaining series fail together
        done = {row["series_id"] for row in out}
        out.extend({"series_id": sid, "stage": "score", "reason": error_text(exc)}
                   for sid, _ in kept if sid not in done)
    return out


def _is_pandas(X):
    import pandas as pd

    return isinstance(X, (pd.Series, pd.DataFrame))
