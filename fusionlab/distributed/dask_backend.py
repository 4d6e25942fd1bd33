"""Running :func:`~fusionlab.distributed.score_many` and ``fit_many`` on a Dask cluster.

Needs the ``dask`` extra (``pip install "fusionlab-learn[dask]"``). A task
is a chunk of series (scoring) or one series (fitting); the scoring detector
travels as the path of its archive and each worker loads it once
(:func:`~fusionlab.distributed.workers.cached_detector`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .workers import error_text, fit_one, limit_threads, score_chunk

__all__ = ["dask_client", "score_on_dask", "fit_on_dask"]

_INSTALL = 'pip install "fusionlab-learn[dask]"'


def _distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(f"backend='dask' needs dask.distributed: {_INSTALL}") from exc
    return distributed


@contextlib.contextmanager
def dask_client(client=None, n_workers=None, threads=1):
    """The client to use: ``client`` itself, one connected to an address, or a new ``LocalCluster``.

    A cluster started here (``client=None``) has ``n_workers`` single-threaded
    worker processes and is closed on exit.
    """
    distributed = _distributed()
    if isinstance(client, distributed.Client):
        yield client
        return
    if isinstance(client, str):
        with distributed.Client(client) as connected:
            yield connected
        return
    if client is not None:
        raise TypeError(f"`client` must be a distributed.Client, an address or None; "
                        f"received {type(client).__name__}.")
    env = {name: str(threads) for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                                           "TF_NUM_INTEROP_THREADS")} if threads else {}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with distributed.LocalCluster(n_workers=n_workers or os.cpu_count() or 1,
                                  threads_per_worker=1, processes=True,
                                  dashboard_address=None, env=env) as cluster, \
            distributed.Client(cluster) as local:
        yield local


def _failed(task_ids, stage, exc):
    return [{"series_id": sid, "stage": stage, "reason": error_text(exc)} for sid in task_ids]


def score_on_dask(detector, items, chunk_size, batch_size, client, jit_compile=False):
    """Yield the rows of :func:`~fusionlab.distributed.workers.score_chunk`, chunk by chunk."""
    distributed = _distributed()
    with contextlib.ExitStack() as stack:
        if isinstance(detector, (str, os.PathLike)):
            archive = str(detector)
        else:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="fusionlab-"))
            archive = detector.save(str(Path(folder) / "detector.zip"))
        dask = stack.enter_context(dask_client(client))
        futures = {
            dask.submit(score_chunk, archive, chunk, batch_size, jit_compile, pure=False):
                [sid for sid, *_ in chunk]
            for chunk in (items[i : i + chunk_size] for i in range(0, len(items), chunk_size))
        }
        for future in distributed.as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker: the chunk fails
                yield _failed(futures[future], "worker", exc)


def fit_on_dask(template, tasks, client, n_workers, threads):
    """Yield the rows of :func:`~fusionlab.distributed.workers.fit_one`, one per series."""
    distributed = _distributed()
    with dask_client(client, n_workers, threads) as dask:
        dask.run(limit_threads, threads)
        futures = {dask.submit(fit_one, template, *task, pure=False): task[0] for task in tasks}
        for future in distributed.as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker and the like
                yield _failed([futures[future]], "worker", exc)[0]
