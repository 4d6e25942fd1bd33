"""Writing a job's outcome: all of it in one transaction, or nothing.

:func:`complete_job` stores the anomalies a job found (numbered from the
``anomaly_seq`` counter), its score series, and the new state of its
dataset or model, and marks the job completed, in one transaction, and only
if the job is still the attempt that produced the result (a job requeued
after a crash and run again cannot store its anomalies twice). A failure or
a cancellation leaves no anomaly behind.
"""

from __future__ import annotations

import secrets

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import next_seq, now_ms
from ..records import build_record
from ..tables import AnomalyRecord, Dataset, Job, Model, ScoreSeries

__all__ = ["new_id", "enqueue", "complete_job", "fail_job", "claim_job", "requeue_interrupted"]

# Rows per INSERT statement (SQLite allows 32,766 bound parameters).
_CHUNK = 500


def new_id(prefix: str) -> str:
    """A fresh identifier such as ``ds_3f9a0c1b2d4e``."""
    return f"{prefix}_{secrets.token_hex(6)}"


async def claim_job(session: AsyncSession, job_id: str) -> int | None:
    """Mark a queued job processing; return its attempt number, or None when
    another runner (or a cancellation) got there first."""
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "queued")
        .values(status="processing", attempts=Job.attempts + 1, started_at=now_ms(),
                progress=0.0, message="started")
        .returning(Job.attempts)
    )
    attempt = result.scalar_one_or_none()
    await session.commit()
    return attempt


async def requeue_interrupted(session: AsyncSession) -> list[str]:
    """Put back in the queue the jobs a crash left ``processing``."""
    result = await session.execute(
        update(Job).where(Job.status == "processing")
        .values(status="queued", progress=0.0, message="requeued after a restart")
        .returning(Job.id)
    )
    ids = list(result.scalars())
    await session.commit()
    return ids


async def complete_job(session: AsyncSession, job: Job, attempt: int, result: dict,
                       arrays_dir: str | None) -> list[dict]:
    """Store ``result`` of ``job`` (run as ``attempt``); return the stored records.

    Returns an empty list (and stores nothing) when the job is no longer
    this attempt's: cancelled, failed, or requeued and claimed again.
    """
    now = now_ms()
    marked = await session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == "processing", Job.attempts == attempt,
               Job.cancel_requested.is_(False))
        .values(status="completed", progress=1.0, message="completed", finished_at=now,
                result={k: v for k, v in result.items() if k != "anomalies"},
                anomaly_count=len(result.get("anomalies", [])))
    )
    if marked.rowcount != 1:
        await session.rollback()
        return []
    payload = job.payload
    model_id = payload.get("model_id")
    dataset_id = payload.get("dataset_id")
    series_id = payload.get("series_id")
    findings = result.get("anomalies", [])
    records = []
    if findings:
        first = await next_seq(session, len(findings))
        rows = []
        for offset, finding in enumerate(findings):
            record, columns = build_record(finding, seq=first + offset, model_id=model_id,
                                           series_id=series_id, dataset_id=dataset_id)
            columns["job_id"] = job.id
            rows.append(columns)
            records.append(record)
        for start in range(0, len(rows), _CHUNK):
            await session.execute(insert(AnomalyRecord), rows[start:start + _CHUNK])
    if "n_points" in result and model_id is not None:
        session.add(ScoreSeries(
            id=payload["score_id"], model_id=model_id, dataset_id=dataset_id,
            series_id=series_id, n_points=result["n_points"], threshold=result["threshold"],
            feature_names=result["feature_names"], time_unit=result["time_unit"],
            has_labels=bool(result.get("has_labels")),
            has_contributions=bool(result.get("has_contributions")),
            score_seconds=result.get("score_seconds"), job_id=job.id, created_at=now))
    if dataset_id is not None:
        await session.execute(
            update(Dataset).where(Dataset.id == dataset_id)
            .values(status="completed", anomaly_count=len(findings), rows=result.get("rows"),
                    error_message=None))
    info = result.get("model")
    if info is not None and model_id is not None:
        await session.execute(
            update(Model).where(Model.id == model_id)
            .values(status="ready", error_message=None, **{
                k: info[k] for k in ("detector_id", "model_type", "window", "threshold",
                                     "feature_names", "fit_seconds") if k in info}))
    await session.commit()
    return records


async def fail_job(session: AsyncSession, job: Job, attempt: int | None, error: str,
                   status: str = "failed") -> bool:
    """Record ``error`` on the job, its dataset and a model it was creating.

    ``status`` is ``'failed'`` or ``'cancelled'``. Returns False when the
    job had already finished (nothing changed).
    """
    conditions = [Job.id == job.id, Job.status.in_(("queued", "processing"))]
    if attempt is not None:
        conditions.append(Job.attempts == attempt)
    marked = await session.execute(
        update(Job).where(*conditions)
        .values(status=status, error_message=error, finished_at=now_ms(), message=status))
    if marked.rowcount != 1:
        await session.rollback()
        return False
    payload = job.payload
    if payload.get("dataset_id"):
        await session.execute(update(Dataset).where(Dataset.id == payload["dataset_id"])
                              .values(status=status, error_message=error))
    if payload.get("model_id") and job.kind in ("fit_model", "check_model", "scan_table"):
        await session.execute(update(Model).where(Model.id == payload["model_id"],
                                                  Model.status == "pending")
                              .values(status="failed", error_message=error))
    await session.commit()
    return True


def enqueue(session: AsyncSession, kind: str, payload: dict, *, job_id: str | None = None,
            dataset_id=None, model_id=None) -> Job:
    """Add a queued job to ``session`` (the caller commits)."""
    job = Job(id=job_id or new_id("job"), kind=kind, status="queued", progress=0.0,
              message="queued", payload=payload, attempts=0, cancel_requested=False,
              dataset_id=dataset_id, model_id=model_id, anomaly_count=0, created_at=now_ms())
    session.add(job)
    return job
