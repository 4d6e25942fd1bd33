"""Alembic environment: runs on the connection the server hands over.

:func:`fusionlab.service.db.migrate` opens an async connection and calls
Alembic inside ``run_sync``, passing the synchronous facade of that
connection as ``config.attributes["connection"]`` (Alembic's "sharing a
connection" recipe), so migrations work with the async drivers (aiosqlite,
asyncpg) from within the server's event loop. Run by hand (the ini file),
it opens its own async engine.
"""

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from fusionlab.service.tables import Base

target_metadata = Base.metadata


def _run(connection):
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_own_engine(url):
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_own_engine(context.config.get_main_option("sqlalchemy.url")))
