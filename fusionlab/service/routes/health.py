"""``GET /health`` (no token needed) and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select

from ... import __version__
from ..auth import require
from ..db import ping
from ..metrics import CONTENT_TYPE_LATEST
from ..state import StateDep
from ..tables import AnomalyRecord, Job

router = APIRouter()


@router.get("/health", summary="Is the server up, and its database reachable?")
async def health(state: StateDep):
    """``{"status": "ok", "version", "database", "schema"}``; 503 when the
    database does not answer."""
    try:
        async with state.sessions() as session:
            await ping(session)
    except Exception as exc:
        return JSONResponse({"status": "error", "version": __version__,
                             "database": state.database,
                             "detail": f"database unreachable: {type(exc).__name__}"},
                            status_code=503)
    return {"status": "ok", "version": __version__, "database": state.database,
            "schema": state.revision,
            "auth": "token" if state.tokens.enabled else "local", "jobs": state.settings.jobs}


@router.get("/metrics", summary="Prometheus metrics", dependencies=[Depends(require("read"))])
async def metrics(state: StateDep):
    """Counters of requests, jobs, stored anomalies and WebSocket clients."""
    async with state.sessions() as session:
        for status, count in await session.execute(
                select(Job.status, func.count()).group_by(Job.status)):
            state.metrics.jobs_by_status.labels(status=status).set(count)
        state.metrics.anomalies_total.set(
            await session.scalar(select(func.count()).select_from(AnomalyRecord)) or 0)
    state.metrics.ws_clients.set(state.hub.client_count)
    state.metrics.ws_dropped.set(state.hub.dropped_total)
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
