"""Score and fit many series: in one process, a pool of processes, or a Dask cluster.

:func:`score_many` scores many series with one shared detector; the windows
of many series share each model call, each series keeping its own error
accumulator, so a fleet of short series costs as few model calls as one long
series. :func:`fit_many` fits one detector per series, in parallel worker
processes or Dask workers. Both return a :class:`ManyResult` keyed by series
id, with the series that failed (and why) apart: one bad series never stops
the others.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from .._validation import check_option, check_positive_int
from .results import ManyResult, SeriesFailure
from .series import as_series_map, file_names
from .workers import compiled, error_text, fit_one, limit_threads, score_chunk

__all__ = ["score_many", "fit_many"]

SCORE_BACKENDS = ("local", "dask")
FIT_BACKENDS = ("serial", "processes", "dask")


def _progress(total, desc, progress):
    if progress is None:
        progress = total > 1
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="series", disable=not progress, leave=False)


def _wrap(row):
    import pandas as pd

    if row["index"] is not None:
        return pd.Series(row["scores"], index=row["index"], name="score")
    return row["scores"]


def _chunks(items, size):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def score_many(detector, series, *, id_col=None, time_col=None, value_cols=None,
               chunk_size=256, batch_size=None, jit_compile=False, out_dir=None,
               backend="local", client=None, progress=None):
    """Scores of many series with one fitted detector.

    Parameters
    ----------
    detector : AnomalyDetector or path
        A fitted :class:`~fusionlab.detection.AnomalyDetector`, or the path
        of its archive (with ``backend='dask'`` each worker loads it once; a
        fitted detector is first saved to a temporary archive, which the
        workers must be able to read: on a multi-node cluster give a path
        on shared storage).
    series : mapping or DataFrame
        ``{series_id: frame or array}``, or a long table with ``id_col``
        (see :func:`~fusionlab.distributed.series.as_series_map`).
    id_col, time_col, value_cols : str, str, list of str, optional
        Columns of a long table.
    chunk_size : int, default=256
        Series prepared and scored together (the memory held at once is
        that of ``chunk_size`` series, whatever their number); with Dask,
        the series of one task.
    batch_size : int, optional
        Windows per model call (default: the detector's
        ``predict_batch_size``); windows of several series share a call.
    jit_compile : bool, default=False
        Compile the model's inference with XLA (TensorFlow; JAX always
        compiles): about twice as fast for the LSTM autoencoder on a CPU
        (``benchmarks/bench_distributed.py``), the scores then equal
        ``score_samples``'s to about 1e-6 relative instead of 1e-7.
    out_dir : str or path, optional
        Write each series' scores to ``<out_dir>/<series_id>.npy`` (ids made
        safe for file names) as soon as they are known, and return those
        paths instead of the scores: the memory held then stays that of one
        chunk, however many series there are.
    backend : {'local', 'dask'}, default='local'
    client : distributed.Client, str or None
        The Dask client, or a scheduler address; None starts a
        ``LocalCluster`` for the call (``backend='dask'`` only).
    progress : bool, optional
        A progress bar (default: when there is more than one series).

    Returns
    -------
    ManyResult
        ``{series_id: scores}``: the scores of
        ``detector.score_samples(X)``, by the same arithmetic (they may
        differ in the last float32 bits, about 1e-7 relative: the model's
        kernels may round a window another way at another place in a shared
        batch) (a Series with ``X``'s index for a
        pandas entry of a mapping, with a range index for a series of a long
        table, else an ndarray), or the paths of the ``.npy`` files
        with ``out_dir``; a series too short for the window,
        with NaN (and no ``impute``) or another feature count is in
        ``.failed`` with its reason.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection import AnomalyDetector
    >>> from fusionlab.distributed import score_many
    >>> rng = np.random.default_rng(0)
    >>> fleet = {f"pump-{i}": np.sin(np.arange(120) / 4) + rng.normal(0, 0.05, 120)
    ...          for i in range(3)}
    >>> fleet["broken"] = np.ones(5)          # shorter than a window
    >>> det = AnomalyDetector(model="conv_autoencoder", window=16, epochs=1, robust=False,
    ...                       validation_split=0, random_state=0).fit(fleet["pump-0"])
    >>> result = score_many(det, fleet, progress=False)
    >>> sorted(result), result["pump-1"].shape
    (['pump-0', 'pump-1', 'pump-2'], (120,))
    >>> result.failed["broken"].stage
    'input'
    >>> bool(np.allclose(result["pump-1"], det.score_samples(fleet["pump-1"]), rtol=1e-6))
    True
    """
    start = time.perf_counter()
    backend = check_option(backend, "backend", SCORE_BACKENDS)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    batch_size = check_positive_int(batch_size, "batch_size", allow_none=True)
    mapped = as_series_map(series, id_col=id_col, time_col=time_col, value_cols=value_cols)
    items = [(sid, X, stamps) for sid, (X, stamps) in mapped.items()]
    names = None
    if out_dir is not None:
        names = file_names(mapped)
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
    values, failed = {}, {}
    bar = _progress(len(items), "scoring", progress)

    def collect(rows):
        for row in rows:
            sid = row["series_id"]
            if "reason" in row:
                failed[sid] = SeriesFailure(sid, row["stage"], row["reason"])
            elif out_dir is not None:
                path = out_dir / f"{names[sid]}.npy"
                np.save(path, np.asarray(row["scores"]), allow_pickle=False)
                values[sid] = str(path)
            else:
                values[sid] = _wrap(row)
        bar.update(len(rows))

    try:
        if backend == "local":
            if isinstance(detector, (str, os.PathLike)):
                from ..detection import AnomalyDetector

                detector = AnomalyDetector.load(detector)
            # Compiled once for the call (each chunk would trace it again).
            with compiled(detector.model_, jit_compile):
                for chunk in _chunks(items, chunk_size):
                    collect(score_chunk(detector, chunk, batch_size))
        else:
            from .dask_backend import score_on_dask

            for rows in score_on_dask(detector, items, chunk_size, batch_size, client,
                                      jit_compile):
                collect(rows)
    finally:
        bar.close()
    return ManyResult(values, failed, time.perf_counter() - start, order=list(mapped))


def fit_many(detector, series, out_dir=None, *, id_col=None, time_col=None,
             value_cols=None, backend="processes", n_jobs=None, threads_per_job=1,
             client=None, progress=None):
    """Fit one detector per series, in parallel, and save each to an archive.

    Parameters
    ----------
    detector : estimator
        An unfitted detector used as a template: each series gets a clone
        (:func:`sklearn.base.clone`) fitted on it. Any detector of the
        contract with ``save`` (:class:`~fusionlab.detection.AnomalyDetector`).
    series : mapping or DataFrame
        As in :func:`score_many`.
    out_dir : str or path, optional
        Folder of the archives, ``<series_id>.zip`` (ids made safe for file
        names; two ids that would share a file are refused before any work);
        a new temporary folder when None -- on this machine, so with Dask
        workers on other machines give a folder on storage they share.
    backend : {'processes', 'dask', 'serial'}, default='processes'
        ``'processes'``: a pool of ``n_jobs`` spawned processes on this
        machine (TensorFlow is not fork-safe); ``'dask'``: tasks on a Dask
        cluster (``client``); ``'serial'``: one after the other here.
    n_jobs : int, optional
        Processes (or workers of the ``LocalCluster`` started when
        ``client`` is None); default: the CPU count.
    threads_per_job : int or None, default=1
        Numeric threads of each worker process (None: the library default,
        which lets each worker take every core).
    client : distributed.Client, str or None
        With ``backend='dask'``: the client or a scheduler address.
    progress : bool, optional
        A progress bar (default: when there is more than one series).

    Returns
    -------
    ManyResult
        ``{series_id: archive path}`` (load one with
        ``AnomalyDetector.load``); a series that could not be fitted, or
        whose worker process died, is in ``.failed`` with its reason.
    """
    start = time.perf_counter()
    backend = check_option(backend, "backend", FIT_BACKENDS)
    n_jobs = check_positive_int(n_jobs, "n_jobs", allow_none=True) or os.cpu_count() or 1
    threads = check_positive_int(threads_per_job, "threads_per_job", allow_none=True)
    if not hasattr(detector, "fit") or not hasattr(detector, "save"):
        raise TypeError(
            "`detector` must be an unfitted detector with fit and save (such as "
            f"AnomalyDetector(...)); received {type(detector).__name__}."
        )
    mapped = as_series_map(series, id_col=id_col, time_col=time_col, value_cols=value_cols)
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="fusionlab-fits-"))
    out.mkdir(parents=True, exist_ok=True)
    names = file_names(mapped)
    tasks = [(sid, X, stamps, str(out / f"{names[sid]}.zip"))
             for sid, (X, stamps) in mapped.items()]
    values, failed = {}, {}
    bar = _progress(len(tasks), "fitting", progress)

    def collect(row):
        sid = row["series_id"]
        if "reason" in row:
            failed[sid] = SeriesFailure(sid, row["stage"], row["reason"])
        else:
            values[sid] = row["archive"]
        bar.update(1)

    try:
        if backend == "serial":
            for sid, X, stamps, archive in tasks:
                collect(fit_one(detector, sid, X, stamps, archive))
        elif backend == "processes":
            _fit_in_processes(detector, tasks, n_jobs, threads, collect)
        else:
            from .dask_backend import fit_on_dask

            for row in fit_on_dask(detector, tasks, client, n_jobs, threads):
                collect(row)
    finally:
        bar.close()
    return ManyResult(values, failed, time.perf_counter() - start, order=list(mapped))


def _fit_in_processes(template, tasks, n_jobs, threads, collect):
    """Fit the tasks in a pool of spawned processes; a dead worker fails only its series.

    When a worker dies (killed, out of memory, a crash in native code) the
    pool breaks and every unfinished task with it. The unfinished tasks are
    run again in a fresh pool; if that one breaks too, each remaining task
    runs in a pool of its own, so that only the series whose process dies
    again is reported failed.
    """
    context = multiprocessing.get_context("spawn")

    def pool(size):
        return ProcessPoolExecutor(size, mp_context=context, initializer=limit_threads,
                                   initargs=(threads,))

    pending = {task[0]: task for task in tasks}
    for _ in range(2):
        if not pending:
            return
        with pool(min(n_jobs, len(pending))) as executor:
            futures = {executor.submit(fit_one, template, *task): sid
                       for sid, task in pending.items()}
            try:
                for future in as_completed(futures):
                    collect(future.result())
                    pending.pop(futures[future])
            except BrokenProcessPool:
                # Keep what finished before the pool broke.
                for future, sid in futures.items():
                    if sid in pending and future.done() and future.exception() is None:
                        collect(future.result())
                        pending.pop(sid)
    for sid, task in pending.items():
        with pool(1) as executor:
            try:
                collect(executor.submit(fit_one, template, *task).result())
            except BrokenProcessPool as exc:
                collect({"series_id": sid, "stage": "worker",
                         "reason": f"the worker process died ({error_text(exc)})"})
