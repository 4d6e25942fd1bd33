"""``fusionlab serve``: run the server, and manage its tokens.

::

    fusionlab serve [--host 127.0.0.1] [--port 8080] [--data-dir DIR]
                    [--database URL] [--workers N] [--jobs local|celery|dask]
                    [--broker URL] [--dask-scheduler ADDRESS]
                    [--stream-batch-size N] [--stream-max-delay-ms MS]
                    [--stream-min-severity LEVEL] [--webhook URL] [--external-url URL]
    fusionlab serve create-token --scope read|write|admin [--name NAME]
    fusionlab serve list-tokens
    fusionlab serve revoke-token ID

Parsing imports nothing heavy (no FastAPI, no Keras): ``fusionlab serve
--help`` is instant.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

__all__ = ["main", "build_parser"]

_COMMANDS = ("create-token", "list-tokens", "revoke-token")


def _common(parser):
    parser.add_argument("--data-dir", default=os.environ.get("FUSIONLAB_DATA_DIR",
                                                             "fusionlab-data"),
                        help="data folder: SQLite file, uploads, models, exports "
                             "(default: ./fusionlab-data, or $FUSIONLAB_DATA_DIR)")
    parser.add_argument("--database", default=os.environ.get("FUSIONLAB_DATABASE"),
                        help="SQLAlchemy URL, e.g. postgresql+asyncpg://user@host/db "
                             "(default: SQLite in the data folder, or $FUSIONLAB_DATABASE)")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``fusionlab serve`` (the server's options)."""
    parser = argparse.ArgumentParser(
        prog="fusionlab serve",
        description="Run the fusionlab anomaly service (REST + WebSocket). Other commands: "
                    "create-token, list-tokens, revoke-token (see `fusionlab serve "
                    "create-token --help`).")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1; any other needs a "
                             "token to exist)")
    parser.add_argument("--port", type=int, default=8080)
    _common(parser)
    parser.add_argument("--workers", type=int, default=1,
                        help="processes of the job pool (default 1)")
    parser.add_argument("--jobs", choices=("local", "celery", "dask"), default=None,
                        help="run jobs in a local spawn process pool (default), on Celery "
                             "workers, or on a Dask cluster")
    parser.add_argument("--broker", default=os.environ.get("FUSIONLAB_BROKER"),
                        help="Celery broker URL for --jobs celery (e.g. redis://127.0.0.1:6379/0)")
    parser.add_argument("--celery-queue", default="fusionlab",
                        help="Celery queue of the tasks (default fusionlab)")
    parser.add_argument("--dask-scheduler", default=os.environ.get("FUSIONLAB_DASK_SCHEDULER"),
                        help="run the jobs on this Dask cluster (e.g. tcp://127.0.0.1:8786; "
                             "implies --jobs dask)")
    parser.add_argument("--max-upload-mb", type=float, default=100.0,
                        help="largest upload in MiB (default 100)")
    parser.add_argument("--max-rows", type=int, default=1_000_000,
                        help="most rows of an uploaded table (default 1,000,000)")
    parser.add_argument("--ws-queue-size", type=int, default=1000,
                        help="messages kept for a slow WebSocket client before low/medium "
                             "ones are dropped (default 1000; high/critical never are)")
    parser.add_argument("--stream-batch-size", type=int, default=256,
                        help="windows per model call of the online scoring (default 256)")
    parser.add_argument("--stream-max-delay-ms", type=float, default=20.0,
                        help="longest pushed points wait for others before scoring "
                             "(default 20 ms)")
    parser.add_argument("--stream-min-severity", default="high",
                        choices=("low", "medium", "high", "critical"),
                        help="interim alerts and webhook for events at least this severe "
                             "(default high)")
    parser.add_argument("--stream-max-series", type=int, default=1000,
                        help="most live series per model in memory (default 1000)")
    parser.add_argument("--webhook", default=os.environ.get("FUSIONLAB_WEBHOOK"),
                        help="POST alerts to this URL in Alertmanager's webhook format "
                             "(firing/resolved), or $FUSIONLAB_WEBHOOK")
    parser.add_argument("--external-url", default=None,
                        help="this server's address in the alerts' links (default "
                             "http://HOST:PORT)")
    parser.add_argument("--log-level", default="info",
                        choices=("critical", "error", "warning", "info", "debug"))
    return parser


def _token_parser(command):
    parser = argparse.ArgumentParser(prog=f"fusionlab serve {command}")
    _common(parser)
    if command == "create-token":
        parser.add_argument("--scope", required=True, choices=("read", "write", "admin"))
        parser.add_argument("--name", default="", help="a label to recognise the token by")
    if command == "revoke-token":
        parser.add_argument("token_id", type=int, help="id shown by list-tokens")
    return parser


def _settings(args, **extra):
    from .config import Settings

    return Settings(data_dir=args.data_dir, database_url=args.database, **extra)


async def _with_session(settings, action):
    from .db import make_engine, make_sessionmaker, migrate

    engine = make_engine(settings.url, pool_size=1)
    try:
        await migrate(engine)
        async with make_sessionmaker(engine)() as session:
            return await action(session)
    finally:
        await engine.dispose()


def _tokens(command, argv, out) -> int:
    args = _token_parser(command).parse_args(argv)
    settings = _settings(args)
    from sqlalchemy import select, update

    from .auth import create_token
    from .tables import Token

    if command == "create-token":
        token = asyncio.run(_with_session(settings, lambda s: create_token(s, args.scope,
                                                                           args.name)))
        print(token, file=out)
        print(f"Created a {args.scope} token; it is shown only now. Send it as "
              "'Authorization: Bearer <token>'.", file=sys.stderr)
        return 0
    if command == "list-tokens":
        async def rows(session):
            return list(await session.scalars(select(Token).order_by(Token.id)))

        for token in asyncio.run(_with_session(settings, rows)):
            state = "revoked" if token.revoked else "active"
            print(f"{token.id}\t{token.scope}\t{state}\t{token.name}", file=out)
        return 0

    async def revoke(session):
        result = await session.execute(update(Token).where(Token.id == args.token_id)
                                       .values(revoked=True))
        await session.commit()
        return result.rowcount

    if not asyncio.run(_with_session(settings, revoke)):
        print(f"fusionlab serve revoke-token: no token with id {args.token_id}",
              file=sys.stderr)
        return 1
    print(f"Revoked token {args.token_id}.", file=out)
    return 0


async def _has_token(settings) -> bool:
    from sqlalchemy import func, select

    from .tables import Token

    async def count(session):
        return await session.scalar(select(func.count()).select_from(Token)
                                    .where(Token.revoked.is_(False)))

    return bool(await _with_session(settings, count))


def serve(argv=None) -> int:
    """Parse the server's options and run it until interrupted."""
    args = build_parser().parse_args(argv)
    from .config import is_loopback

    try:
        settings = _settings(
            args, host=args.host, port=args.port, workers=args.workers,
            jobs=args.jobs or ("dask" if args.dask_scheduler else "local"),
            broker=args.broker, celery_queue=args.celery_queue,
            dask_scheduler=args.dask_scheduler,
            max_upload_bytes=int(args.max_upload_mb * 1024 * 1024), max_rows=args.max_rows,
            ws_queue_size=args.ws_queue_size, stream_batch_size=args.stream_batch_size,
            stream_max_delay_ms=args.stream_max_delay_ms,
            stream_min_severity=args.stream_min_severity, webhook_url=args.webhook,
            stream_max_series=args.stream_max_series,
            external_url=args.external_url)
    except ValueError as exc:
        print(f"fusionlab serve: error: {exc}", file=sys.stderr)
        return 2
    if not is_loopback(settings.host) and not asyncio.run(_has_token(settings)):
        print(f"fusionlab serve: error: refusing to listen on {settings.host} without a "
              "token: anyone who can reach it could read and change everything. Create one "
              "with `fusionlab serve create-token --scope admin` (same --data-dir/--database), "
              "or listen on 127.0.0.1.", file=sys.stderr)
        return 2
    import uvicorn

    from .app import create_app

    app = create_app(settings)
    print(f"fusionlab serve: http://{settings.host}:{settings.port} (data: "
          f"{settings.data_dir}, database: {settings.url.split('://')[0]}, jobs: "
          f"{settings.jobs})", file=sys.stderr, flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level,
                ws_max_size=4 * 1024 * 1024)
    return 0


def main(argv=None, out=None) -> int:
    """Entry point of ``fusionlab serve ...``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out = out or sys.stdout
    if argv and argv[0] in _COMMANDS:
        try:
            return _tokens(argv[0], argv[1:], out)
        except (ValueError, RuntimeError, OSError) as exc:
            print(f"fusionlab serve {argv[0]}: error: {exc}", file=sys.stderr)
            return 1
    return serve(argv)


if __name__ == "__main__":
    sys.exit(main())
