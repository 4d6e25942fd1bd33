"""What the routes share: one :class:`ServiceState` per running app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .auth import TokenCache
from .config import Settings
from .hub import Hub
from .metrics import Metrics

__all__ = ["ServiceState", "get_state", "get_session", "StateDep"]


@dataclass
class ServiceState:
    """The server's shared objects.

    Attributes
    ----------
    settings : Settings
    engine, sessions
        The database engine and its session factory.
    tokens : TokenCache
    hub : Hub
        WebSocket subscribers.
    metrics : Metrics
    runner : JobRunner or None
        Set once the app has started.
    token_settings : dict
        Cache of each token's saved filter/theme/layout (token id -> dict).
    streams : StreamService or None
        The online scoring of pushed points (:mod:`~fusionlab.service.streams`),
        set once the app has started.
    background : set
        Tasks started by the server that must not be garbage-collected.
    reader : Reader
        Runs the read-only listings (see :mod:`fusionlab.service.reads`).
    completed_hooks : list
        ``hook(state, job)`` functions run after a job's outcome is stored
        (the analyses' WebSocket updates).
    """

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    tokens: TokenCache = field(default_factory=TokenCache)
    hub: Hub = field(default_factory=Hub)
    metrics: Metrics = field(default_factory=Metrics)
    runner: Any = None
    revision: str | None = None
    token_settings: dict = field(default_factory=dict)
    streams: Any = None
    background: set = field(default_factory=set)
    reader: Any = None
    completed_hooks: list = field(default_factory=list)

    @property
    def database(self) -> str:
        """``'sqlite'`` or ``'postgresql'``."""
        return self.engine.dialect.name

    def on_job_completed(self, job) -> None:
        """Run the hooks of ``completed_hooks`` after a job's outcome is stored."""
        for hook in self.completed_hooks:
            hook(self, job)


async def get_state(request: Request) -> ServiceState:
    """FastAPI dependency: the app's :class:`ServiceState`."""
    return request.app.state.service


async def get_session(request: Request):
    """FastAPI dependency: an :class:`AsyncSession`, closed after the request."""
    async with request.app.state.service.sessions() as session:
        yield session


#: Route parameter type: the app's :class:`ServiceState`.
StateDep = Annotated[ServiceState, Depends(get_state)]
