"""Fast reads of plain rows: the listing, one record, the export pages.

On PostgreSQL they go through an async engine of their own (asyncpg is
asynchronous all the way down) in autocommit mode and without the server
engine's ping at every checkout: a read is then one round trip instead of
four (ping, begin, select, rollback); a connection found dead is replaced
and the read tried once more.

On SQLite the async driver (aiosqlite) runs every cursor call as a separate
hop to its own thread; a read of a page costs about half as much CPU when
the whole statement runs in one hop, through a synchronous engine (the
standard ``sqlite3`` module) in a one-thread pool. Its connections are
opened read-only (``PRAGMA query_only``); writes keep going through the
async engine. Short reads go through a memory map of the file, bulk reads
(exports, aggregates: ``bulk=True``) through plain reads in a thread of
their own.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .db import SQLITE_BUSY_MS

__all__ = ["Reader"]

_MMAP_BYTES = 1 << 30


def _read_only(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA query_only=1")
    cursor.close()


def _mapped(dbapi_connection, _record):
    _read_only(dbapi_connection, _record)
    cursor = dbapi_connection.cursor()
    # a listing touches ~100 rows scattered over the file: read from a memory
    # map they cost no read() call each (about a quarter of the server's CPU
    # per request on a 100,000-record database)
    cursor.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
    cursor.close()


class Reader:
    """Runs read-only statements and returns their rows.

    Parameters
    ----------
    engine : AsyncEngine
        The server's engine (its URL chooses the path).
    threads : int
        Threads of the SQLite pool of short reads. One by default: a page of
        a listing holds the GIL for most of its time, and several threads
        taking turns with it cost more CPU per read than they save in
        waiting. Bulk reads have a thread of their own.
    """

    def __init__(self, engine: AsyncEngine, threads: int = 1):
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"`threads` must be a positive integer; received {threads!r}.")
        self.engine = engine
        self._sync = self._bulk = self._auto = None
        self._pool = None
        if engine.dialect.name == "postgresql":
            # read-only sessions: a read is safe to try twice, and nothing
            # can write through this engine's autocommit connections
            self._auto = create_async_engine(
                engine.url, pool_size=20, max_overflow=20, isolation_level="AUTOCOMMIT",
                pool_reset_on_return=None,
                connect_args={"server_settings": {"default_transaction_read_only": "on"}})
        if engine.dialect.name == "sqlite":
            url = engine.url.set(drivername="sqlite")
            options = dict(pool_size=threads, max_overflow=threads, pool_reset_on_return=None,
                           connect_args={"check_same_thread": False})
            self._sync = create_engine(url, **options)
            event.listen(self._sync, "connect", _mapped)
            # bulk reads (exports) page through the whole table: through a
            # memory map they would leave all of it resident in the process
            self._bulk = create_engine(url, **options)
            event.listen(self._bulk, "connect", _read_only)
            self._pool = ThreadPoolExecutor(threads, thread_name_prefix="fusionlab-read")
            # bulk reads in their own thread: sqlite3 lets go of the GIL while
            # a long aggregate runs, and a listing need not wait behind it
            self._bulk_pool = ThreadPoolExecutor(1, thread_name_prefix="fusionlab-bulk-read")

    @staticmethod
    def _run(engine, statement):
        with engine.connect() as connection:
            return connection.execute(statement).all()

    async def rows(self, statement, bulk: bool = False) -> list:
        """All rows of ``statement``.

        Parameters
        ----------
        statement : sqlalchemy.sql.Select
            A read-only statement.
        bulk : bool
            True for one page of a read of many (an export): on SQLite it
            goes through connections without a memory map, so the server's
            memory does not grow with the size of the database.
        """
        if self._sync is not None:
            engine, pool = (self._bulk, self._bulk_pool) if bulk else (self._sync, self._pool)
            return await asyncio.get_running_loop().run_in_executor(pool, self._run, engine,
                                                                    statement)
        engine = self._auto or self.engine
        try:
            return await self._read(engine, statement)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            # the connection had dropped (the database restarted): once more, on a new one
            return await self._read(engine, statement)

    @staticmethod
    async def _read(engine, statement):
        async with engine.connect() as connection:
            return (await connection.execute(statement)).all()

    async def aclose(self) -> None:
        """Close the read connections and stop the thread pool."""
        if self._auto is not None:
            await self._auto.dispose()
        self.close()

    def close(self) -> None:
        """Stop the thread pools and close the SQLite read connections
        (:meth:`aclose` closes PostgreSQL's too)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._bulk_pool.shutdown(wait=True)
            self._sync.dispose()
            self._bulk.dispose()
