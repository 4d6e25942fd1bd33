"""The app factory: :func:`create_app` builds a FastAPI app for one server.

At start (the lifespan) the schema is migrated and checked, jobs a crash
left behind are requeued and the job runner starts; at stop the runner and
the engine are closed. Errors are JSON ``{"detail": ...}`` with a 4xx status
that says what was wrong; an unexpected error is logged and answered 500
without internals.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from .config import Settings
from .db import make_engine, make_sessionmaker, migrate
from .jobs.backends import make_backend
from .jobs.runner import JobRunner
from .reads import Reader
from .state import ServiceState
from .streams import StreamService

__all__ = ["create_app"]

log = logging.getLogger("fusionlab.service")


def _location(loc) -> str:
    parts = [str(p) for p in loc]
    where = {"query": "query parameter", "path": "path parameter", "body": "body field",
             "header": "header"}.get(parts[0], parts[0]) if parts else "value"
    name = ".".join(parts[1:]) if len(parts) > 1 else ""
    return f"{where} `{name}`" if name else where


def _validation_detail(exc: RequestValidationError) -> str:
    messages = []
    for error in exc.errors():
        text = f"{_location(error.get('loc', ()))}: {error.get('msg', 'invalid')}"
        if "input" in error and error.get("type") != "missing":
            shown = repr(error["input"])
            text += f" (received {shown[:80]})"
        messages.append(text)
    return "; ".join(messages) or "invalid request"


class _MetricsMiddleware:
    """Counts and times every HTTP request (pure ASGI: no extra task per request)."""

    def __init__(self, app, metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = [500]

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], path, status[0], started)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A FastAPI app serving the wire contract of ``docs/user_guide/service.rst``.

    Parameters
    ----------
    settings : Settings, optional
        Defaults to ``Settings()`` (``./fusionlab-data``, SQLite).

    Returns
    -------
    fastapi.FastAPI
        Its ``state.service`` is the :class:`~fusionlab.service.state.ServiceState`.
    """
    settings = settings or Settings()
    engine = make_engine(settings.url)
    state = ServiceState(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
    state.hub.queue_size = settings.ws_queue_size
    state.reader = Reader(engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        state.revision = await migrate(engine)
        runner = JobRunner(state, make_backend(settings), capacity=settings.workers)
        state.runner = runner
        await runner.start()
        state.streams = StreamService(state)
        await state.streams.start()
        # Objects created at start live as long as the server: keep them out
        # of the garbage collector's generations (shorter, rarer pauses).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await state.streams.stop()
            await runner.stop()
            await state.reader.aclose()
            await engine.dispose()

    app = FastAPI(
        title="fusionlab anomaly service",
        version=__version__,
        lifespan=lifespan,
        description="Stored anomalies, analyses, uploads and jobs of fusionlab detectors.",
    )
    app.state.service = state

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        return JSONResponse({"detail": _validation_detail(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"Internal error ({type(exc).__name__}); see the "
                                       "server log."}, status_code=500)

    from .routes import (
        analysis,
        anomalies,
        dashboard,
        datasets,
        health,
        models,
        series,
        settings_,
        ws,
    )

    for module in (health, anomalies, settings_, models, datasets, analysis, series, ws,
                   dashboard):
        app.include_router(module.router)
    state.completed_hooks.append(analysis.publish_analyses)
    app.add_middleware(_MetricsMiddleware, metrics=state.metrics)
    return app
