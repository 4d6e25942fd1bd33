"""Where a job's task runs: a spawn process pool, Celery workers or a Dask cluster.

Both take the job kind, its payload as JSON text and the path of its
progress file, and give back the result as JSON text. TensorFlow is not
fork-safe, so the local pool *spawns* its workers; they are started on the
first job (start-up without a job costs nothing) and kept for the next ones.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import secrets

from .tasks import init_worker, run_task_json

__all__ = ["LocalBackend", "CeleryBackend", "DaskBackend", "make_backend", "WorkerLost"]


class WorkerLost(RuntimeError):
    """The worker process died while running the job (out of memory, killed)."""


class LocalBackend:
    """A process pool inside the server (``--jobs local``).

    Parameters
    ----------
    workers : int
        Processes of the pool.
    """

    name = "local"

    def __init__(self, workers: int = 1):
        self.workers = workers
        self._pool = None

    def _executor(self):
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker,
            )
        return self._pool

    async def run(self, job_id: str, kind: str, payload_json: str, progress_path: str) -> str:
        """Run the task in the pool; return its JSON result."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor(), run_task_json, kind, payload_json, progress_path)
        except concurrent.futures.process.BrokenProcessPool as exc:
            # The pool cannot run anything more: start a new one next time.
            self._pool = None
            raise WorkerLost("The worker process running the job died (out of memory "
                             "or killed).") from exc

    def cancel(self, job_id: str) -> None:
        """Nothing to do: the task sees the ``.cancel`` file at its next step."""

    def close(self) -> None:
        """Stop the pool, abandoning running tasks (their jobs are requeued at
        the next start)."""
        if self._pool is not None:
            processes = list((getattr(self._pool, "_processes", None) or {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.terminate()
            self._pool = None


class CeleryBackend:
    """Tasks sent to Celery workers (``--jobs celery --broker URL``).

    The workers must see the same data folder as the server (one machine or
    a shared volume): payloads name files in it. Start them with ``celery -A
    fusionlab.service.jobs.celery_app worker -Q <queue>`` and the same
    ``FUSIONLAB_BROKER``.
    """

    name = "celery"

    def __init__(self, broker: str, queue: str = "fusionlab", poll_seconds: float = 0.25):
        from .celery_app import make_celery

        self.app = make_celery(broker)
        self.queue = queue
        self.poll_seconds = poll_seconds
        self._results = {}

    async def run(self, job_id: str, kind: str, payload_json: str, progress_path: str) -> str:
        """Send the task; wait for its result without blocking the event loop."""
        result = await asyncio.to_thread(
            self.app.send_task, "fusionlab.run_task", args=(kind, payload_json, progress_path),
            queue=self.queue, task_id=f"{job_id}-{secrets.token_hex(4)}")
        self._results[job_id] = result
        try:
            while True:
                ready = await asyncio.to_thread(result.ready)
                if ready:
                    break
                await asyncio.sleep(self.poll_seconds)
            # propagate=True raises the task's exception here (as a Celery
            # error carrying the worker's message).
            return await asyncio.to_thread(result.get, propagate=True, disable_sync_subtasks=False)
        finally:
            self._results.pop(job_id, None)

    def cancel(self, job_id: str) -> None:
        """Revoke the task (a running one also sees the ``.cancel`` file)."""
        result = self._results.get(job_id)
        if result is not None:
            result.revoke()

    def close(self) -> None:
        """Close the broker connections."""
        self.app.close()


def _dask_task(kind, payload_json, progress_path):
    """:func:`run_task_json` on a Dask worker, after the worker's one-time set-up."""
    init_worker()
    return run_task_json(kind, payload_json, progress_path)


class DaskBackend:
    """Tasks sent to a Dask cluster (``--dask-scheduler ADDRESS``, the ``dask`` extra).

    The cluster the user already runs for :mod:`fusionlab.distributed`
    runs the service's jobs too. As with Celery, the workers must see the
    server's data folder (one machine or a shared volume): payloads name
    files in it. A task whose worker dies is retried by Dask; one that keeps
    losing its worker fails its job (requeued as a lost worker).
    """

    name = "dask"

    def __init__(self, scheduler: str):
        self.scheduler = scheduler
        self._client = None
        self._futures = {}

    def _connect(self):
        if self._client is None:
            try:
                from distributed import Client
            except ImportError as exc:
                raise RuntimeError(
                    '--dask-scheduler needs dask.distributed: pip install "fusionlab-learn[dask]"'
                ) from exc
            self._client = Client(self.scheduler, timeout="10s")
        return self._client

    async def run(self, job_id: str, kind: str, payload_json: str, progress_path: str) -> str:
        """Submit the task; wait for its result without blocking the event loop."""
        client = await asyncio.to_thread(self._connect)
        future = client.submit(_dask_task, kind, payload_json, progress_path, pure=False,
                               key=f"fusionlab-job-{job_id}-{secrets.token_hex(4)}")
        self._futures[job_id] = future
        try:
            return await asyncio.to_thread(future.result)
        except Exception as exc:
            if type(exc).__name__ == "KilledWorker":
                raise WorkerLost("The Dask worker running the job died (out of memory or "
                                 "killed) on every retry.") from exc
            raise
        finally:
            self._futures.pop(job_id, None)

    def cancel(self, job_id: str) -> None:
        """Cancel the task (a running one also sees the ``.cancel`` file)."""
        future = self._futures.get(job_id)
        if future is not None:
            future.cancel()

    def close(self) -> None:
        """Disconnect from the scheduler (the cluster keeps running)."""
        if self._client is not None:
            self._client.close()
            self._client = None


def make_backend(settings):
    """The backend ``settings.jobs`` names."""
    if settings.jobs == "celery":
        return CeleryBackend(settings.broker, settings.celery_queue, settings.job_poll_seconds)
    if settings.jobs == "dask":
        return DaskBackend(settings.dask_scheduler)
    return LocalBackend(settings.workers)
