"""``/api/datasets`` (upload, look-up) and ``/api/jobs`` (status, cancel).

An upload is stored by id, checked (size, content, zip members, rows) and
queued as a job: a *scan* by the tabular detector, which stores each
anomalous row, or, with ``model_id``, *scoring* by a registered detector,
which stores the events and the score series.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from ..auth import ReadAccess, WriteAccess
from ..db import now_ms
from ..jobs.store import enqueue, fail_job, new_id
from ..schemas import DatasetParams, TableParams
from ..state import ServiceState, StateDep
from ..tables import Dataset, Job, Model
from ..uploads import check_zip, count_rows, read_upload, store_upload, table_format
from .common import dataset_view, get_or_404, job_view, parse_form

router = APIRouter(prefix="/api", tags=["datasets and jobs"])

JOB_STATUSES = ("queued", "processing", "completed", "failed", "cancelled")


async def receive_table(state: ServiceState, request: Request, field: str = "file"):
    """Receive, store and check an uploaded table.

    Returns
    -------
    dataset_id, path, fmt, size, rows, filename, fields
    """
    settings = state.settings
    files, fields = await read_upload(request, settings.max_upload_bytes, (field,))
    upload = files.get(field)
    if upload is None:
        raise HTTPException(400, f"The upload must carry the file in the multipart field "
                                 f"{field!r}.")
    fmt = table_format(upload.filename)
    dataset_id = new_id("ds")
    path = settings.folder("uploads") / f"{dataset_id}.{fmt}"
    try:
        size = await store_upload(upload, path, settings.max_upload_bytes)
        if fmt == "xlsx":
            check_zip(path, settings.max_uncompressed_bytes, settings.max_compression_ratio,
                      "workbook")
        rows = count_rows(path, fmt)
        if rows is not None and rows > settings.max_rows:
            raise HTTPException(413, f"The table has {rows} rows, more than the server's "
                                     f"limit of {settings.max_rows}.")
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    filename = Path(upload.filename or "upload").name[:300]
    return dataset_id, path, fmt, size, rows, filename, fields


def _scoring_model(model: Model | None, model_id: str) -> Model:
    if model is None:
        raise HTTPException(404, f"No model with id {model_id!r}.")
    if model.kind != "detector":
        raise HTTPException(409, f"Model {model_id!r} is a tabular detector trained by a "
                                 "scan; only time-series detectors score uploaded series.")
    if model.status != "ready":
        raise HTTPException(409, f"Model {model_id!r} is {model.status}; wait for its job "
                                 f"{model.job_id!r} to complete.")
    return model


@router.post("/datasets/upload", status_code=202,
             summary="Upload a .xlsx/.csv/.parquet file to scan (or score with model_id)")
async def upload_dataset(request: Request, identity: WriteAccess,
                         state: StateDep):
    """Multipart: ``file`` and optional text fields ``sheet_name``, ``model_id``,
    ``series_id``, ``time_column``, ``label_column``, ``columns`` (JSON list),
    ``params`` (JSON object: the tabular detector's ``method``,
    ``threshold_percentile``, ``random_state``, ``epochs``...). Returns
    ``{dataset_id, job_id, status}``."""
    dataset_id, path, fmt, size, rows, filename, fields = await receive_table(state, request)
    try:
        raw_params = fields.pop("params", None)
        options = parse_form(DatasetParams, fields)
        settings = state.settings
        score_id = new_id("sc")
        payload = {"dataset_id": dataset_id, "path": str(path), "format": fmt,
                   "sheet_name": options.sheet_name, "columns": options.columns,
                   "time_column": options.time_column, "label_column": options.label_column,
                   "series_id": options.series_id or dataset_id, "score_id": score_id,
                   "out_dir": str(settings.folder("arrays") / score_id),
                   "max_rows": settings.max_rows}
        async with state.sessions() as session:
            if options.model_id is not None:
                if raw_params is not None:
                    raise HTTPException(422, "form field `params` is for a scan by the tabular "
                                             "detector; a scoring upload (with `model_id`) "
                                             "takes none.")
                model = _scoring_model(await session.get(Model, options.model_id),
                                       options.model_id)
                kind, model_id = "score_series", model.id
                payload.update(model_id=model_id,
                               archive=str(settings.data_dir / model.archive))
            else:
                params = _table_params(raw_params)
                kind, model_id = "scan_table", new_id("mdl")
                payload.update(model_id=model_id, params=params)
                tabular = Model(id=model_id, name=(options.name or f"tabular {filename}")[:200],
                                kind="tabular", status="pending", params=params,
                                created_at=now_ms())
                session.add(tabular)
            job = enqueue(session, kind, payload, dataset_id=dataset_id, model_id=model_id)
            if kind == "scan_table":
                tabular.job_id = job.id
            session.add(Dataset(id=dataset_id, filename=filename, path=str(
                path.relative_to(settings.data_dir)), format=fmt, size_bytes=size, rows=rows,
                status="queued", model_id=model_id, series_id=payload["series_id"],
                params={"options": options.model_dump(), "kind": kind}, job_id=job.id,
                anomaly_count=0, created_at=now_ms()))
            await session.commit()
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    state.runner.wake()
    return {"dataset_id": dataset_id, "job_id": job.id, "status": "queued",
            "model_id": model_id}


def _table_params(raw) -> dict:
    import json

    from pydantic import ValidationError

    if raw is None:
        return TableParams().model_dump()
    try:
        value = json.loads(raw)
    except ValueError:
        raise HTTPException(422, f"form field `params` must be a JSON object; received "
                                 f"{raw[:60]!r}.") from None
    if not isinstance(value, dict):
        raise HTTPException(422, f"form field `params` must be a JSON object; received "
                                 f"{type(value).__name__}.")
    try:
        return TableParams(**value).model_dump()
    except ValidationError as exc:
        detail = "; ".join(
            f"form field `params.{'.'.join(str(p) for p in e['loc'])}`: {e['msg']}"
            + (f" (received {e['input']!r:.60})" if e["type"] != "missing" else "")
            for e in exc.errors())
        raise HTTPException(422, detail) from None


@router.get("/datasets", summary="Uploaded datasets, newest first")
async def list_datasets(
    identity: ReadAccess,
    state: StateDep,
    limit: int = Query(100, ge=1, le=1000),
):
    async with state.sessions() as session:
        rows = await session.scalars(select(Dataset).order_by(Dataset.created_at.desc())
                                     .limit(limit))
        return {"datasets": [dataset_view(d) for d in rows]}


@router.get("/datasets/{dataset_id}", summary="One dataset and its status")
async def get_dataset(dataset_id: str, identity: ReadAccess,
                      state: StateDep):
    async with state.sessions() as session:
        return dataset_view(await get_or_404(session, Dataset, dataset_id, "dataset"))


@router.get("/jobs", summary="Jobs, newest first")
async def list_jobs(
    identity: ReadAccess,
    state: StateDep,
    status: str | None = Query(None),
    limit: int = Query(100, ge=1, le=1000),
):
    if status is not None and status not in JOB_STATUSES:
        raise HTTPException(422, f"`status` must be one of {list(JOB_STATUSES)}; received "
                                 f"{status!r}.")
    async with state.sessions() as session:
        statement = select(Job).order_by(Job.created_at.desc()).limit(limit)
        if status is not None:
            statement = statement.where(Job.status == status)
        return {"jobs": [job_view(j) for j in await session.scalars(statement)]}


@router.get("/jobs/{job_id}", summary="A job's status, progress and error")
async def get_job(job_id: str, identity: ReadAccess,
                  state: StateDep):
    async with state.sessions() as session:
        return job_view(await get_or_404(session, Job, job_id, "job"))


@router.post("/jobs/{job_id}/cancel", summary="Cancel a queued or running job")
async def cancel_job(job_id: str, identity: WriteAccess,
                     state: StateDep):
    """A queued job is cancelled at once; a running one at its next progress
    step (nothing it found is stored). 409 for a finished job."""
    async with state.sessions() as session:
        job = await get_or_404(session, Job, job_id, "job")
        if job.status not in ("queued", "processing"):
            raise HTTPException(409, f"Job {job_id!r} is {job.status}; only queued or "
                                     "processing jobs can be cancelled.")
        job.cancel_requested = True
        await session.commit()
        if job.status == "queued":
            await fail_job(session, job, None, "cancelled", status="cancelled")
        else:
            await state.runner.cancel(job_id)
        await session.refresh(job)
        return JSONResponse(job_view(job), status_code=202 if job.status == "processing"
                            else 200)
