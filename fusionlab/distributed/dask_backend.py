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

from .workers import THREAD_VARIABLES, error_text, fit_one, limit_threads, score_chunk

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
    env = {name: str(threads) for name in THREAD_VARIABLES} if threads else {}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with distributed.LocalCluster(n_workers=n_workers or os.cpu_count() or 1,
                                  threads_per_worker=1, processes=True,
                                  dashboard_address=None, env=env) as cluster, \
            distributed.Client(cluster) as local:
        yield local


def _failed(task_ids, stage, exc):
    return [{"series_id": sid, "stage": stage, "reason": error_text(exc)} for sid in task_ids]


def _bounded(dask, submissions, limit):
    """Run ``(task id list, function, *args)`` submissions with at most ``limit`` in flight.

    Each result is yielded, then released on the cluster, so the memory
    held there is that of ``limit`` tasks, however many there are.
    """
    distributed = _distributed()
    submissions = iter(submissions)
    running = distributed.as_completed()
    owners = {}

    def submit_next():
        for ids, function, *args in submissions:
            future = dask.submit(function, *args, pure=False)
            owners[future.key] = ids
            running.add(future)
            return True
        return False

    for _ in range(limit):
        if not submit_next():
            break
    for future in running:
        ids = owners.pop(future.key)
        try:
            yield future.result()
        except Exception as exc:  # noqa: BLE001 - a lost worker: its series fail
            yield _failed(ids, "worker", exc)
        finally:
            future.release()
        submit_next()


def _workers(dask):
    return max(len(dask.scheduler_info().get("workers", {})), 1)


def score_on_dask(detector, items, chunk_size, batch_size, client, jit_compile=False):
    """Yield the rows of :func:`~fusionlab.distributed.workers.score_chunk`, chunk by chunk.

    A fitted detector (not a path) is saved to a temporary archive on this
    machine: workers on other machines need a path on storage they share.

    At most two chunks per worker are in flight at once.
    """
    with contextlib.ExitStack() as stack:
        if isinstance(detector, (str, os.PathLike)):
            archive = str(detector)
        else:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="fusionlab-"))
            archive = detector.save(str(Path(folder) / "detector.zip"))
        dask = stack.enter_context(dask_client(client))
        chunks = (items[i : i + chunk_size] for i in range(0, len(items), chunk_size))
        submissions = (([sid for sid, *_ in chunk], score_chunk, archive, chunk, batch_size,
                        jit_compile) for chunk in chunks)
        yield from _bounded(dask, submissions, 2 * _workers(dask))


def fit_on_dask(template, tasks, client, n_workers, threads):
    """Yield the rows of :func:`~fusionlab.distributed.workers.fit_one`, one per series.

    At most two fits per worker are in flight at once.
    """
    with dask_client(client, n_workers, threads) as dask:
        dask.run(limit_threads, threads)
        submissions = (([task[0]], fit_one, template, *task) for task in tasks)
        for rows in _bounded(dask, submissions, 2 * _workers(dask)):
            yield rows if isinstance(rows, dict) else rows[0]
