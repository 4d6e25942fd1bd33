"""Settings of one server: where its data live, what it accepts, how it runs jobs.

One frozen :class:`Settings` value is built from the command line (or by a
test) and handed to :func:`fusionlab.service.app.create_app`; nothing reads
the environment behind its back.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["Settings", "LOOPBACK_HOSTS", "is_loopback", "sqlite_url"]

#: Host names that only this machine can reach.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
#: Job runners a server can use.
JOB_RUNNERS = ("local", "celery", "dask")


def is_loopback(host: str) -> bool:
    """True when ``host`` can only be reached from this machine.

    Examples
    --------
    >>> from fusionlab.service.config import is_loopback
    >>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0")
    (True, False)
    """
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sqlite_url(data_dir) -> str:
    """The default database: ``fusionlab.sqlite`` in ``data_dir`` (aiosqlite)."""
    return f"sqlite+aiosqlite:///{Path(data_dir).resolve() / 'fusionlab.sqlite'}"


def _check_positive(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; received {value!r}.")


@dataclass(frozen=True)
class Settings:
    """Everything one server needs to know.

    Parameters
    ----------
    data_dir : path
        Folder of the SQLite file (by default), uploaded files (named by id),
        model archives, stored score arrays and exports. Created if needed.
    database_url : str, optional
        SQLAlchemy async URL; ``sqlite+aiosqlite:///<data_dir>/fusionlab.sqlite``
        by default, ``postgresql+asyncpg://user@host/db`` for a team server.
    host, port : str, int
        Where uvicorn listens. Without any token in the database the server
        refuses to listen anywhere but on the loopback interface.
    workers : int
        Processes of the job pool (each may train a TensorFlow model).
    jobs : {'local', 'celery', 'dask'}
        ``'local'``: a spawn process pool inside the server; ``'celery'``:
        tasks sent to Celery workers through ``broker``; ``'dask'``: tasks
        on the Dask cluster of ``dask_scheduler``.
    broker : str, optional
        Celery broker (and result back end) URL, e.g. ``redis://127.0.0.1:6379/0``.
    celery_queue : str
        Celery queue the tasks go to (``celery worker -Q`` must match).
    dask_scheduler : str, optional
        Address of the Dask scheduler (``tcp://host:8786``) for ``jobs='dask'``.
    max_upload_bytes : int
        Largest accepted upload (the request body), 413 beyond.
    max_rows : int
        Most rows of an uploaded table or series, 413 beyond.
    max_uncompressed_bytes : int
        Most bytes a spreadsheet or archive may expand to (its zip members'
        declared sizes), 413 beyond; also each member's ratio must stay under
        ``max_compression_ratio``.
    max_compression_ratio : float
        Largest uncompressed/compressed ratio of one zip member.
    max_page : int
        Largest ``limit`` of one page of anomalies.
    ws_queue_size : int
        Messages kept for one slow WebSocket client before low/medium ones
        are dropped (high/critical never are).
    job_poll_seconds : float
        How often the runner looks for queued jobs and reads progress.
    stream_batch_size : int
        Windows per model call of the online scoring (pushed points of all
        series of one model share the calls).
    stream_max_delay_ms : float
        Longest pushed points wait for others before they are scored.
    stream_min_severity : {'low', 'medium', 'high', 'critical'}
        Interim alerts (and the webhook) for events at least this severe.
    stream_max_points : int
        Most points in one push (413 beyond).
    stream_max_series : int
        Most live series per model kept in memory at once.
    webhook_url : str, optional
        Where alerts are POSTed in Alertmanager's webhook format (firing and
        resolved); none by default.
    external_url : str, optional
        This server's address as the alerts' receivers should link to it
        (``generatorURL``); ``http://<host>:<port>`` by default.
    """

    data_dir: Path = field(default_factory=lambda: Path("fusionlab-data"))
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    jobs: str = "local"
    broker: str | None = None
    celery_queue: str = "fusionlab"
    dask_scheduler: str | None = None
    max_upload_bytes: int = 100 * 1024 * 1024
    max_rows: int = 1_000_000
    max_uncompressed_bytes: int = 500 * 1024 * 1024
    max_compression_ratio: float = 200.0
    max_page: int = 1000
    ws_queue_size: int = 1000
    job_poll_seconds: float = 0.25
    stream_batch_size: int = 256
    stream_max_delay_ms: float = 20.0
    stream_min_severity: str = "high"
    stream_max_points: int = 10_000
    stream_max_series: int = 1000
    webhook_url: str | None = None
    external_url: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser().resolve())
        if self.jobs not in JOB_RUNNERS:
            raise ValueError(f"`jobs` must be one of {JOB_RUNNERS}; received {self.jobs!r}.")
        if self.jobs == "celery" and not self.broker:
            raise ValueError("`--jobs celery` needs `--broker URL` (e.g. redis://127.0.0.1:6379/0).")
        if self.jobs == "dask" and not self.dask_scheduler:
            raise ValueError("`--jobs dask` needs `--dask-scheduler ADDRESS` (e.g. "
                             "tcp://127.0.0.1:8786).")
        for name in ("port", "workers", "max_upload_bytes", "max_rows",
                     "max_uncompressed_bytes", "max_page", "ws_queue_size", "stream_batch_size",
                     "stream_max_points", "stream_max_series"):
            _check_positive(getattr(self, name), name)
        if isinstance(self.stream_max_delay_ms, bool) or not isinstance(
                self.stream_max_delay_ms, int | float) or not 0 <= self.stream_max_delay_ms <= 10_000:
            raise ValueError("`stream_max_delay_ms` must be a number of milliseconds in [0, 10000]; "
                             f"received {self.stream_max_delay_ms!r}.")
        if self.stream_min_severity not in ("low", "medium", "high", "critical"):
            raise ValueError("`stream_min_severity` must be low, medium, high or critical; "
                             f"received {self.stream_min_severity!r}.")
        for name in ("webhook_url", "external_url"):
            value = getattr(self, name)
            if value is not None and not value.startswith(("http://", "https://")):
                raise ValueError(f"`{name}` must be an http:// or https:// URL; received "
                                 f"{value!r}.")
        if not self.max_compression_ratio > 1:
            raise ValueError("`max_compression_ratio` must be > 1; received "
                             f"{self.max_compression_ratio!r}.")
        if self.database_url is not None and "://" not in self.database_url:
            raise ValueError("`database_url` must be a SQLAlchemy URL such as "
                             "postgresql+asyncpg://user@host/db; received "
                             f"{self.database_url!r}.")

    @property
    def url(self) -> str:
        """The database URL in use (the SQLite file by default)."""
        return self.database_url or sqlite_url(self.data_dir)

    @property
    def public_url(self) -> str:
        """The server's address for links in alerts (``external_url`` or host:port)."""
        return (self.external_url or f"http://{self.host}:{self.port}").rstrip("/")

    def folder(self, name: str) -> Path:
        """A subfolder of the data folder (``uploads``, ``models``, ``arrays``,
        ``exports``, ``jobs``), created on first use."""
        path = self.data_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def with_(self, **changes) -> Settings:
        """A copy with some fields changed."""
        return replace(self, **changes)
