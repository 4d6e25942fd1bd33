"""``/api/series``: live series, their pushed points scored as they arrive.

``POST /api/series/{series_id}/points`` pushes points of a series (the first
push names its ``model_id``); they are scored with the series' earlier
points by the model's streaming detector, and the answer says what became
known: how many points were accepted, how many scores became final, the
records stored (new or updated) and the points refused, each with its
reason. See :mod:`fusionlab.service.streams`.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select

from ..auth import ReadAccess, WriteAccess
from ..state import StateDep
from ..streams import IngestError
from ..tables import Series

router = APIRouter(prefix="/api/series", tags=["streaming"])

_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {
            "type": "object",
            "properties": {
                "model_id": {"type": "string", "description": "needed on the first push"},
                "points": {"type": "array", "items": {"type": "object", "properties": {
                    "timestamp": {"description": "epoch milliseconds or ISO 8601 text"},
                    "values": {"description": "one number per feature (or {name: number}); "
                                              "null for a missing value"}}}},
                "include_scores": {"type": "boolean", "default": False},
            },
            "required": ["points"],
        }}},
    },
}


def _view(row: Series, live: dict | None) -> dict:
    return {"series_id": row.id, "model_id": row.model_id, "n_points": row.n_points,
            "last_timestamp": row.last_timestamp, "time_unit": row.time_unit,
            "model_version": row.model_version, "updated_at": row.updated_at,
            "live": live}


@router.post("/{series_id}/points", summary="Push points of a live series",
             openapi_extra=_BODY)
async def push_points(series_id: str, request: Request, identity: WriteAccess,
                      state: StateDep):
    """Score pushed points (see the module); ``{"accepted", "n_points",
    "final_points", "delay", "model_version", "anomalies", "errors"}``."""
    # Read no more than a push of stream_max_points points can need.
    limit = min(state.settings.max_upload_bytes, max(2**20, 512 * state.settings.stream_max_points))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"The body is over {limit} bytes, the most a push of "
                                     f"{state.settings.stream_max_points} points may take.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        body = json.loads(raw)
    except ValueError:
        raise HTTPException(422, "The body must be JSON: {\"model_id\": ..., \"points\": "
                                 "[{\"timestamp\": ..., \"values\": [...]}, ...]}.") from None
    try:
        return await state.streams.ingest(series_id, body)
    except IngestError as exc:
        raise HTTPException(exc.status, exc.detail) from None


@router.get("", summary="Live series")
async def list_series(identity: ReadAccess, state: StateDep):
    async with state.sessions() as session:
        rows = list(await session.scalars(select(Series).order_by(Series.id).limit(10_000)))
    return {"series": [_view(r, state.streams.describe(r.id)) for r in rows]}


@router.get("/{series_id}", summary="One live series")
async def get_series(series_id: str, identity: ReadAccess, state: StateDep):
    async with state.sessions() as session:
        row = await session.get(Series, series_id)
    if row is None:
        raise HTTPException(404, f"No live series with id {series_id!r}.")
    return _view(row, state.streams.describe(series_id))


@router.delete("/{series_id}", summary="End a live series")
async def end_series(series_id: str, identity: WriteAccess, state: StateDep):
    """Its last scores become final (as at the end of a batch), its open
    events are stored as final records, and its saved state is deleted."""
    try:
        return await state.streams.end(series_id)
    except IngestError as exc:
        raise HTTPException(exc.status, exc.detail) from None
