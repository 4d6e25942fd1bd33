"""Where a job's task runs: a spawn process pool, or Celery workers.

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

__all__ = ["LocalBackend", "CeleryBackend", "make_backend", "WorkerLost"]


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


def make_backend(settings):
    """The backend ``settings.jobs`` names."""
    if settings.jobs == "celery":
        return CeleryBackend(settings.broker, settings.celery_queue, settings.job_poll_seconds)
    return LocalBackend(settings.workers)
