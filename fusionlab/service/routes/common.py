"""Helpers the resource routes share: public views of rows, look-ups that 404."""

from __future__ import annotations

import json

from fastapi import HTTPException
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from ..tables import Dataset, Job, Model

__all__ = ["model_view", "dataset_view", "job_view", "get_or_404", "parse_form"]


def model_view(model: Model) -> dict:
    """A model row as the API shows it."""
    return {"model_id": model.id, "name": model.name, "kind": model.kind,
            "status": model.status, "detector_id": model.detector_id,
            "model_type": model.model_type, "window": model.window,
            "threshold": model.threshold, "feature_names": model.feature_names,
            "params": model.params, "fit_seconds": model.fit_seconds, "job_id": model.job_id,
            "error_message": model.error_message, "created_at": model.created_at}


def dataset_view(dataset: Dataset) -> dict:
    """A dataset row as the API shows it (never its path on disk)."""
    return {"dataset_id": dataset.id, "filename": dataset.filename,
            "format": dataset.format, "size_bytes": dataset.size_bytes, "rows": dataset.rows,
            "status": dataset.status, "model_id": dataset.model_id,
            "series_id": dataset.series_id, "job_id": dataset.job_id,
            "anomaly_count": dataset.anomaly_count, "error_message": dataset.error_message,
            "created_at": dataset.created_at}


def job_view(job: Job) -> dict:
    """A job row as the API shows it."""
    return {"job_id": job.id, "kind": job.kind, "status": job.status,
            "progress": job.progress, "message": job.message,
            "error_message": job.error_message, "attempts": job.attempts,
            "dataset_id": job.dataset_id, "model_id": job.model_id,
            "anomaly_count": job.anomaly_count, "result": job.result,
            "created_at": job.created_at, "started_at": job.started_at,
            "finished_at": job.finished_at}


async def get_or_404(session: AsyncSession, table, key: str, what: str):
    """The row of ``table`` with primary key ``key``, or a 404 naming it."""
    row = await session.get(table, key)
    if row is None:
        raise HTTPException(404, f"No {what} with id {key!r}.")
    return row


def parse_form(model_cls, fields: dict, json_fields=("columns", "params")):
    """Validate multipart text fields with a pydantic model (422 on error).

    Fields named in ``json_fields`` hold JSON text (a list or an object).
    """
    values = {}
    for key, value in fields.items():
        if key in json_fields:
            try:
                values[key] = json.loads(value)
            except ValueError:
                raise HTTPException(422, f"form field `{key}` must be JSON text; received "
                                         f"{value[:60]!r}.") from None
        elif key == "sheet_name" and value.isdigit():
            values[key] = int(value)
        else:
            values[key] = value
    try:
        return model_cls(**values)
    except ValidationError as exc:
        messages = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "form"
            shown = f" (received {error['input']!r:.60})" if "input" in error and \
                error["type"] != "missing" else ""
            messages.append(f"form field `{where}`: {error['msg']}{shown}")
        raise HTTPException(422, "; ".join(messages)) from None
