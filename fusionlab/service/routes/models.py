"""``/api/models``: register a saved detector archive, or fit one in a job.

Either way the server records a model in state ``pending`` and queues a job:
``check_model`` loads an uploaded archive in a worker with the public loader
(:meth:`AnomalyDetector.load`; the archive holds no pickle, and its zip
members are checked before anything opens it); ``fit_model`` fits a detector
on an uploaded series (a dataset too), saves it and scores that series, so
the model has stored scores and anomalies at once. A model registered from
an archive has no data yet: score a series with it through
``POST /api/datasets/upload`` with ``model_id``.
"""

from __future__ import annotations

import contextlib
import json
import zipfile
from pathlib import Path

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import ValidationError
from sqlalchemy import select

from ..auth import ReadAccess, WriteAccess
from ..db import now_ms
from ..jobs.store import enqueue, new_id
from ..schemas import DatasetParams, DetectorParams
from ..state import StateDep
from ..tables import Dataset, Model
from ..uploads import check_zip, count_rows, read_upload, store_upload, table_format
from .common import get_or_404, model_view, parse_form

router = APIRouter(prefix="/api/models", tags=["models"])

_ARCHIVE_MEMBERS = {"config.json", "model.keras", "training_scores.npy"}


def _check_archive(path: Path, settings) -> None:
    names = set(check_zip(path, settings.max_uncompressed_bytes,
                          settings.max_compression_ratio, "model archive"))
    missing = _ARCHIVE_MEMBERS - names
    if missing:
        raise HTTPException(400, f"The model archive is not a saved AnomalyDetector "
                                 f"(AnomalyDetector.save): it lacks {sorted(missing)}.")
    # model.keras is itself a zip: check its members' sizes as well.
    with zipfile.ZipFile(path) as archive, archive.open("model.keras") as inner:
        try:
            nested = zipfile.ZipFile(inner)
        except zipfile.BadZipFile:
            raise HTTPException(400, "The archive's model.keras is not a Keras file.") from None
        with nested:
            total = sum(i.file_size for i in nested.infolist())
            if total > settings.max_uncompressed_bytes:
                raise HTTPException(413, f"The archive's model.keras expands to {total} "
                                         "bytes, more than the server's limit.")


def _detector_params(raw) -> dict:
    if raw is None:
        return DetectorParams().model_dump()
    try:
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise ValueError
    except ValueError:
        raise HTTPException(422, f"form field `params` must be a JSON object; received "
                                 f"{raw[:60]!r}.") from None
    try:
        return DetectorParams(**value).model_dump()
    except ValidationError as exc:
        detail = "; ".join(
            f"form field `params.{'.'.join(str(p) for p in e['loc'])}`: {e['msg']}"
            + (f" (received {e['input']!r:.60})" if e["type"] != "missing" else "")
            for e in exc.errors())
        raise HTTPException(422, detail) from None


@router.post("", status_code=202, summary="Register a detector archive, or fit one")
async def create_model(request: Request, identity: WriteAccess,
                       state: StateDep):
    """Multipart with either ``file`` (an archive written by
    :meth:`AnomalyDetector.save`) or ``series`` (a .csv/.xlsx/.parquet series)
    with ``params`` (JSON: ``model``, ``window``, ``epochs``, ``contamination``...)
    and the fields of a dataset upload (``time_column``, ``columns``,
    ``label_column``, ``sheet_name``, ``series_id``, ``name``). Returns
    ``{model_id, job_id, status}`` (and ``dataset_id`` for a fit)."""
    settings = state.settings
    files, fields = await read_upload(request, settings.max_upload_bytes, ("file", "series"))
    if len(files) != 1:
        raise HTTPException(400, "Send exactly one of the multipart files `file` (a detector "
                                 "archive) or `series` (data to fit a detector on).")
    model_id = new_id("mdl")
    if "file" in files:
        upload = files["file"]
        extra = sorted(set(fields) - {"name"})
        if extra:
            raise HTTPException(422, f"An archive upload takes only the field `name`; "
                                     f"received {extra}.")
        if Path(upload.filename or "").suffix.lower() not in (".zip", ".fld"):
            raise HTTPException(415, "The detector archive must be the .zip file written by "
                                     f"AnomalyDetector.save; received {upload.filename!r}.")
        path = settings.folder("models") / f"{model_id}.zip"
        try:
            await store_upload(upload, path, settings.max_upload_bytes)
            _check_archive(path, settings)
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        async with state.sessions() as session:
            job = enqueue(session, "check_model", {"model_id": model_id, "archive": str(path)},
                          model_id=model_id)
            session.add(Model(id=model_id, name=(fields.get("name") or Path(
                upload.filename).stem)[:200], kind="detector", status="pending",
                archive=str(path.relative_to(settings.data_dir)), params={}, job_id=job.id,
                created_at=now_ms()))
            await session.commit()
        state.runner.wake()
        return {"model_id": model_id, "job_id": job.id, "status": "queued"}

    upload = files["series"]
    params = _detector_params(fields.pop("params", None))
    options = parse_form(DatasetParams, fields)
    fmt = table_format(upload.filename)
    dataset_id, score_id = new_id("ds"), new_id("sc")
    path = settings.folder("uploads") / f"{dataset_id}.{fmt}"
    archive = settings.folder("models") / f"{model_id}.zip"
    try:
        size = await store_upload(upload, path, settings.max_upload_bytes)
        if fmt == "xlsx":
            check_zip(path, settings.max_uncompressed_bytes, settings.max_compression_ratio,
                      "workbook")
        rows = count_rows(path, fmt)
        if rows is not None and rows > settings.max_rows:
            raise HTTPException(413, f"The series has {rows} rows, more than the server's "
                                     f"limit of {settings.max_rows}.")
        series_id = options.series_id or dataset_id
        payload = {"model_id": model_id, "dataset_id": dataset_id, "path": str(path),
                   "format": fmt, "sheet_name": options.sheet_name, "columns": options.columns,
                   "time_column": options.time_column, "label_column": options.label_column,
                   "series_id": series_id, "score_id": score_id,
                   "out_dir": str(settings.folder("arrays") / score_id),
                   "archive": str(archive), "params": params, "max_rows": settings.max_rows}
        async with state.sessions() as session:
            job = enqueue(session, "fit_model", payload, dataset_id=dataset_id,
                          model_id=model_id)
            session.add(Model(id=model_id, name=options.name or f"{params['model']} on "
                              f"{Path(upload.filename).name}"[:200], kind="detector",
                              status="pending", archive=str(archive.relative_to(
                                  settings.data_dir)), params=params, job_id=job.id,
                              model_type=params["model"], created_at=now_ms()))
            session.add(Dataset(id=dataset_id, filename=Path(upload.filename).name[:300],
                                path=str(path.relative_to(settings.data_dir)), format=fmt,
                                size_bytes=size, rows=rows, status="queued", model_id=model_id,
                                series_id=series_id, params={"options": options.model_dump(),
                                                             "kind": "fit_model"},
                                job_id=job.id, anomaly_count=0, created_at=now_ms()))
            await session.commit()
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    state.runner.wake()
    return {"model_id": model_id, "job_id": job.id, "status": "queued",
            "dataset_id": dataset_id}


@router.get("", summary="Registered models, newest first")
async def list_models(
    identity: ReadAccess,
    state: StateDep,
    kind: str | None = Query(None, pattern="^(detector|tabular)$"),
):
    async with state.sessions() as session:
        statement = select(Model).order_by(Model.created_at.desc())
        if kind is not None:
            statement = statement.where(Model.kind == kind)
        return {"models": [model_view(m) for m in await session.scalars(statement)]}


@router.get("/{model_id}", summary="One model")
async def get_model(model_id: str, identity: ReadAccess,
                    state: StateDep):
    async with state.sessions() as session:
        return model_view(await get_or_404(session, Model, model_id, "model"))
