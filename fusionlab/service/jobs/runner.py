"""The job loop: claim queued jobs, run them on a backend, store the outcome.

At start, jobs a crash left ``processing`` are put back in the queue
(:func:`~fusionlab.service.jobs.store.requeue_interrupted`); they run again
from the beginning, and the attempt check of
:func:`~fusionlab.service.jobs.store.complete_job` keeps a late result of the
earlier attempt from being stored too. While a job runs its progress file is
read and copied into the ``jobs`` row and to ``job_update`` subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path

from sqlalchemy import select

from ..tables import Job
from .store import claim_job, complete_job, fail_job, requeue_interrupted

__all__ = ["JobRunner"]

log = logging.getLogger("fusionlab.service.jobs")


def job_message(job: Job) -> dict:
    """The ``job_update`` envelope of a job row."""
    return {"type": "job_update", "data": {
        "job_id": job.id, "kind": job.kind, "status": job.status,
        "progress": job.progress, "message": job.message,
        "error_message": job.error_message, "anomaly_count": job.anomaly_count,
        "dataset_id": job.dataset_id, "model_id": job.model_id}}


class JobRunner:
    """Runs queued jobs, at most ``capacity`` at a time.

    Parameters
    ----------
    state : ServiceState
        The server's shared state (settings, sessions, hub, metrics).
    backend : LocalBackend or CeleryBackend
    capacity : int
        Jobs run at once.
    """

    def __init__(self, state, backend, capacity: int):
        self.state = state
        self.backend = backend
        self.capacity = capacity
        self._wake = asyncio.Event()
        self._running: dict[str, asyncio.Task] = {}
        self._loop_task = None
        self.requeued: list[str] = []

    async def start(self) -> None:
        """Requeue interrupted jobs and start the loop."""
        async with self.state.sessions() as session:
            self.requeued = await requeue_interrupted(session)
        if self.requeued:
            log.warning("requeued %d job(s) left processing: %s", len(self.requeued),
                        ", ".join(self.requeued))
        self._loop_task = asyncio.create_task(self._loop(), name="fusionlab-jobs")

    def wake(self) -> None:
        """Look for queued jobs now (a job was just created)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop the loop and the backend; running jobs stay ``processing`` and
        are requeued at the next start."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for task in list(self._running.values()):
            task.cancel()
        for task in list(self._running.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.backend.close()

    async def _loop(self) -> None:
        poll = self.state.settings.job_poll_seconds
        while True:
            try:
                await self._claim_some()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the loop alive whatever one pass hit
                log.exception("job loop pass failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(poll, 1.0))
            self._wake.clear()

    async def _claim_some(self) -> None:
        free = self.capacity - len(self._running)
        if free <= 0:
            return
        async with self.state.sessions() as session:
            ids = list(await session.scalars(
                select(Job.id).where(Job.status == "queued")
                .order_by(Job.created_at, Job.id).limit(free)))
            for job_id in ids:
                attempt = await claim_job(session, job_id)
                if attempt is None:
                    continue
                job = await session.get(Job, job_id)
                await session.refresh(job)
                self._running[job_id] = asyncio.create_task(self._run(job, attempt))
                self.state.hub.publish("jobs", job_message(job), model_id=job.model_id)

    def _progress_path(self, job_id: str) -> Path:
        return self.state.settings.folder("jobs") / f"{job_id}.progress"

    async def cancel(self, job_id: str) -> None:
        """Ask a running job to stop (its task sees the ``.cancel`` file)."""
        self._progress_path(job_id).with_suffix(".cancel").touch()
        self.backend.cancel(job_id)

    async def _run(self, job: Job, attempt: int) -> None:
        progress_path = self._progress_path(job.id)
        progress_path.with_suffix(".cancel").unlink(missing_ok=True)
        progress_path.unlink(missing_ok=True)
        metrics = self.state.metrics
        payload_json = json.dumps(job.payload)
        task = asyncio.create_task(
            self.backend.run(job.id, job.kind, payload_json, str(progress_path)))
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=self.state.settings.job_poll_seconds)
                await self._report_progress(job, progress_path)
            result = json.loads(task.result())
        except asyncio.CancelledError:
            task.cancel()
            raise
        except Exception as exc:
            await self._finish_failed(job, attempt, exc)
            metrics.jobs_finished.labels(kind=job.kind, status="failed").inc()
        else:
            async with self.state.sessions() as session:
                records = await complete_job(session, job, attempt, result, None)
                row = await session.get(Job, job.id)
                await session.refresh(row)
            if row.status == "completed":
                metrics.jobs_finished.labels(kind=job.kind, status="completed").inc()
                metrics.anomalies_stored.inc(len(records))
                self.state.hub.publish_anomalies(records)
                self.state.on_job_completed(row)
            self.state.hub.publish("jobs", job_message(row), model_id=row.model_id)
        finally:
            self._running.pop(job.id, None)
            for suffix in (".progress", ".cancel", ".tmp"):
                with contextlib.suppress(OSError):
                    os.unlink(progress_path.with_suffix(suffix))
            self.wake()

    async def _finish_failed(self, job: Job, attempt: int, exc: Exception) -> None:
        cancelled = "JobCancelled" in type(exc).__name__ or str(exc) == "cancelled"
        async with self.state.sessions() as session:
            row = await session.get(Job, job.id)
            if row is not None and row.cancel_requested:
                cancelled = True
            message = "cancelled" if cancelled else f"{type(exc).__name__}: {exc}"
            await fail_job(session, job, attempt, message,
                           status="cancelled" if cancelled else "failed")
            row = await session.get(Job, job.id)
            await session.refresh(row)
        if not cancelled:
            log.warning("job %s (%s) failed: %s", job.id, job.kind, message)
        self.state.hub.publish("jobs", job_message(row), model_id=row.model_id)

    async def _report_progress(self, job: Job, path: Path) -> None:
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        async with self.state.sessions() as session:
            row = await session.get(Job, job.id)
            if row is None or row.status != "processing":
                return
            if row.progress == info["progress"] and row.message == info["message"]:
                return
            row.progress = info["progress"]
            row.message = info["message"]
            await session.commit()
            self.state.hub.publish("jobs", job_message(row), model_id=row.model_id)
