"""The anomaly service behind ``fusionlab serve`` (the ``service`` extra).

A FastAPI app over SQLAlchemy 2 (async; SQLite by default, PostgreSQL by
URL), serving stored anomalies, analyses of stored score series, uploads
scanned or scored by background jobs, and a WebSocket of live updates. The
wire contract is described in ``docs/user_guide/service.rst``; the client is
:mod:`fusionlab.client`.

Modules, one job each:

- :mod:`~fusionlab.service.config` -- :class:`Settings`;
- :mod:`~fusionlab.service.tables`, :mod:`~fusionlab.service.db` and the
  Alembic migrations in ``migrations/`` -- schema, engine, upgrades;
- :mod:`~fusionlab.service.auth` -- tokens and scopes;
- :mod:`~fusionlab.service.schemas` -- checked parameters;
- :mod:`~fusionlab.service.records` -- findings to the contract's records;
- :mod:`~fusionlab.service.queries` -- listing conditions, saved settings;
- :mod:`~fusionlab.service.uploads` -- capped, checked uploads;
- :mod:`~fusionlab.service.analysis` -- temporal patterns, correlations;
- :mod:`~fusionlab.service.hub` -- WebSocket subscribers and their queues;
- :mod:`~fusionlab.service.jobs` -- tasks, backends, storage, the runner;
- :mod:`~fusionlab.service.routes` -- one module per resource;
- :mod:`~fusionlab.service.app` -- :func:`create_app`;
- :mod:`~fusionlab.service.cli` -- ``fusionlab serve``.

``import fusionlab.service`` imports nothing heavy; :func:`create_app` and
:class:`Settings` are loaded on first use.
"""

__all__ = ["create_app", "Settings"]


def __getattr__(name):
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "Settings":
        from .config import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
