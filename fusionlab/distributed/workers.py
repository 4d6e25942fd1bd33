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
import time
from pathlib import Path

__all__ = ["limit_threads", "cached_detector", "fit_one", "score_chunk", "error_text"]

_DETECTORS = {}
# Environment variables that bound the threads of the numeric libraries:
# several workers on one machine must not each take every core.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                     "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def limit_threads(threads):
    """Bound this process's numeric threads to ``threads`` (before Keras starts)."""
    if threads:
        for name in _THREAD_VARIABLES:
            os.environ[name] = str(int(threads))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def error_text(exc):
    """One line: ``Type: message``."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def cached_detector(path):
    """The detector saved at ``path``, loaded once per process (reloaded if the file changed)."""
    from ..detection import AnomalyDetector

    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
    detector = _DETECTORS.get(key)
    if detector is None:
        _DETECTORS.clear()
        detector = _DETECTORS[key] = AnomalyDetector.load(path)
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
def _compiled(model, jit_compile):
    """The model's predict function compiled with XLA inside the block (when asked)."""
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
        Compile the model's inference with XLA for this chunk.

    Returns
    -------
    list of dict
        ``{'series_id', 'scores', 'index'}`` (``index``: the pandas index of
        ``X``, or None), or ``{'series_id', 'stage', 'reason'}``.
    """
    if isinstance(detector, (str, os.PathLike)):
        detector = cached_detector(detector)
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
        with _compiled(detector.model_, jit_compile):
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
