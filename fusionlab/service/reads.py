"""Fast reads of plain rows: the listing, one record, the export pages.

On PostgreSQL they go through the async engine (asyncpg is asynchronous all
the way down). On SQLite the async driver (aiosqlite) runs every cursor call
as a separate hop to its own thread; a read of a page costs about half as
much CPU when the whole statement runs in one hop, through a synchronous
engine (the standard ``sqlite3`` module) in a small thread pool. Its
connections are opened read-only (``PRAGMA query_only``); writes keep going
through the async engine.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine

from .db import SQLITE_BUSY_MS

__all__ = ["Reader"]


def _read_only(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA query_only=1")
    cursor.close()


class Reader:
    """Runs read-only statements and returns their rows.

    Parameters
    ----------
    engine : AsyncEngine
        The server's engine (its URL chooses the path).
    threads : int
        Threads of the SQLite read pool.
    """

    def __init__(self, engine: AsyncEngine, threads: int = 4):
        self.engine = engine
        self._sync = None
        self._pool = None
        if engine.dialect.name == "sqlite":
            url = engine.url.set(drivername="sqlite")
            self._sync = create_engine(url, pool_size=threads, max_overflow=threads,
                                       pool_reset_on_return=None,
                                       connect_args={"check_same_thread": False})
            event.listen(self._sync, "connect", _read_only)
            self._pool = ThreadPoolExecutor(threads, thread_name_prefix="fusionlab-read")

    def _run(self, statement):
        with self._sync.connect() as connection:
            return connection.execute(statement).all()

    async def rows(self, statement) -> list:
        """All rows of ``statement``."""
        if self._sync is not None:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self._run,
                                                                    statement)
        async with self.engine.connect() as connection:
            return (await connection.execute(statement)).all()

    def close(self) -> None:
        """Stop the thread pool and close the read connections."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._sync.dispose()
