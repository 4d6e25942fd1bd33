"""Engine, sessions, migrations and the few statements every route shares.

SQLite (aiosqlite) is opened in WAL mode with a busy timeout, so that readers
never wait for the writer and a second writer (``fusionlab serve
create-token`` while the server runs) waits instead of failing; PostgreSQL is
reached with asyncpg. The schema is brought to the newest Alembic revision at
start (:func:`migrate`), and a database written by a newer fusionlab is
refused rather than misread (:func:`check_version`).
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import event, text, update
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from .tables import ANOMALY_SEQ, Counter

__all__ = [
    "DatabaseVersionError",
    "make_engine",
    "make_sessionmaker",
    "migrate",
    "check_version",
    "head_revision",
    "next_seq",
    "now_ms",
    "database_kind",
    "ping",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Milliseconds a SQLite writer waits for the lock before "database is locked".
SQLITE_BUSY_MS = 10_000


class DatabaseVersionError(RuntimeError):
    """The database's schema is not one this version of fusionlab knows."""


def now_ms() -> int:
    """The current time as epoch milliseconds."""
    return int(time.time() * 1000)


def database_kind(url: str) -> str:
    """``'sqlite'`` or ``'postgresql'`` (the dialect of a SQLAlchemy URL)."""
    return url.split(":", 1)[0].split("+", 1)[0]


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    # WAL with synchronous=NORMAL stays consistent after a crash (a kill -9
    # loses at most the last transactions, never corrupts); FULL is slower.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, pool_size: int = 20) -> AsyncEngine:
    """An async engine for ``url``, with SQLite's pragmas set on every connection.

    Raises
    ------
    ValueError
        For a dialect other than SQLite or PostgreSQL, or a sync driver.
    """
    kind = database_kind(url)
    if kind == "sqlite":
        if not url.startswith("sqlite+aiosqlite://"):
            raise ValueError(f"SQLite URLs must use the aiosqlite driver "
                             f"(sqlite+aiosqlite:///path); received {url!r}.")
        if url.rstrip("/").endswith(":memory:") or url == "sqlite+aiosqlite://":
            raise ValueError("An in-memory SQLite database is not shared between "
                             "connections; give a file path.")
        path = url.split("///", 1)[-1]
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Closing a connection already rolls back what it began; the pool's own
        # reset would be a second round trip to the driver's thread.
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size,
                                     pool_reset_on_return=None,
                                     connect_args={"timeout": SQLITE_BUSY_MS / 1000})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if kind == "postgresql":
        if not url.startswith("postgresql+asyncpg://"):
            raise ValueError(f"PostgreSQL URLs must use the asyncpg driver "
                             f"(postgresql+asyncpg://user@host/db); received {url!r}.")
        return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size,
                                   pool_pre_ping=True)
    raise ValueError(f"The database must be SQLite or PostgreSQL; received {url!r}.")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _alembic_config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest migration this package ships."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _current_revision(connection):
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _known_revisions():
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def _upgrade(connection):
    from alembic import command

    current = _current_revision(connection)
    if current is not None and current not in _known_revisions():
        raise DatabaseVersionError(
            f"The database is at schema revision {current!r}, unknown to this "
            f"fusionlab (newest known: {head_revision()!r}): it was written by a "
            "newer version. Upgrade fusionlab, or point --database elsewhere.")
    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> str:
    """Create or upgrade the schema to the newest revision; return it.

    Raises
    ------
    DatabaseVersionError
        If the database was written by a newer fusionlab.
    """
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
    return await check_version(engine)


async def check_version(engine: AsyncEngine) -> str:
    """The database's revision, checked to be this package's newest.

    Raises
    ------
    DatabaseVersionError
        If the schema is missing or at another revision.
    """
    async with engine.connect() as connection:
        current = await connection.run_sync(_current_revision)
    head = head_revision()
    if current != head:
        raise DatabaseVersionError(
            f"The database is at schema revision {current!r}; this fusionlab needs "
            f"{head!r}. Start `fusionlab serve` once to migrate it.")
    return current


async def next_seq(session: AsyncSession, n: int) -> int:
    """Reserve ``n`` anomaly numbers; return the first.

    Runs inside the caller's transaction: the counter row stays locked until
    it commits, so numbers become visible in the order they were taken.
    """
    result = await session.execute(
        update(Counter)
        .where(Counter.name == ANOMALY_SEQ)
        .values(value=Counter.value + n)
        .returning(Counter.value)
    )
    last = result.scalar_one()
    return last - n + 1


async def ping(session: AsyncSession) -> None:
    """Raise if the database cannot answer a trivial query."""
    await session.execute(text("SELECT 1"))
