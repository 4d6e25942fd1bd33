"""The database tables (SQLAlchemy 2 declarative models).

The schema itself is created and upgraded by the Alembic migrations of
:mod:`fusionlab.service.migrations`; these classes describe it to the code.
Times are stored as epoch milliseconds (``BigInteger``) so that SQLite and
PostgreSQL compare and index them the same way.

Anomalies carry ``seq``, a number taken from the ``counters`` row
``anomaly_seq`` inside the transaction that stores them: on PostgreSQL the row
lock orders concurrent writers, so a reader who has seen ``seq <= n`` will
never later find a new record below ``n`` (what ``since_seq`` replay relies
on). The anomaly's ``id`` is the ``seq`` it was first stored with; a live
series' record that changes later (an interim alert upgraded, then made
final) keeps its ``id`` and takes a new ``seq`` each time, so a ``since_seq``
replay sends its newest version.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "Token",
    "Model",
    "Dataset",
    "Job",
    "Series",
    "ScoreSeries",
    "AnomalyRecord",
    "TokenSettings",
    "Counter",
    "ANOMALY_SEQ",
]

#: Name of the counter row that numbers stored anomalies.
ANOMALY_SEQ = "anomaly_seq"


class Base(DeclarativeBase):
    """Declarative base of the service's tables."""


class Token(Base):
    """An API token: only its SHA-256 digest is stored."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Model(Base):
    """A registered detector: an uploaded archive, a fit job's result, or the
    tabular detector a dataset scan trained."""

    __tablename__ = "models"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # detector | tabular
    status: Mapped[str] = mapped_column(String(20))  # pending | ready | failed
    archive: Mapped[str | None] = mapped_column(String(300), nullable=True)
    detector_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    model_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    window: Mapped[int | None] = mapped_column(Integer, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    feature_names: Mapped[list | None] = mapped_column(JSON, nullable=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    fit_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Dataset(Base):
    """An uploaded table or series, stored on disk under its id."""

    __tablename__ = "datasets"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    filename: Mapped[str] = mapped_column(String(300))  # as uploaded; never a path
    path: Mapped[str] = mapped_column(String(300))  # relative to the data folder
    format: Mapped[str] = mapped_column(String(10))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    model_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    series_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    job_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    anomaly_count: Mapped[int] = mapped_column(Integer, default=0)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Job(Base):
    """A background job (dataset scan, model fit, archive check, scoring)."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    dataset_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    model_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    anomaly_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    finished_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Series(Base):
    """A live series (streaming ingest): its model and the online scorer's
    state, saved with each push so that a restarted server resumes it.

    ``state`` is the JSON part of the series' streaming state
    (:func:`fusionlab.streaming.snapshot.series_state`) and the stored
    records of its open alerts; ``state_arrays`` its arrays as one ``.npz``
    (read back without pickle).
    """

    __tablename__ = "series"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    model_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    n_points: Mapped[int] = mapped_column(BigInteger, default=0)
    last_timestamp: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    state: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    state_path: Mapped[str | None] = mapped_column(String(300), nullable=True)
    state_arrays: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    time_unit: Mapped[str | None] = mapped_column(String(10), nullable=True)  # ms | index
    model_version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class ScoreSeries(Base):
    """Scores (and per-feature contributions) of one series by one model; the
    arrays are ``.npy`` files (no pickle) in ``arrays/<id>/``."""

    __tablename__ = "score_series"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(40), index=True)
    dataset_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    series_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    n_points: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float] = mapped_column(Float)
    feature_names: Mapped[list] = mapped_column(JSON)
    time_unit: Mapped[str] = mapped_column(String(10))  # ms | index
    has_labels: Mapped[bool] = mapped_column(Boolean, default=False)
    has_contributions: Mapped[bool] = mapped_column(Boolean, default=False)
    score_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class AnomalyRecord(Base):
    """One stored anomaly: its filterable fields as columns and the contract's
    record as JSON text (``payload``), served as is."""

    __tablename__ = "anomalies"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    severity: Mapped[str] = mapped_column(String(10))
    severity_rank: Mapped[int] = mapped_column(Integer)
    anomaly_type: Mapped[str] = mapped_column(String(20))
    score: Mapped[float] = mapped_column(Float)
    ratio: Mapped[float | None] = mapped_column(Float, nullable=True)
    layer: Mapped[str | None] = mapped_column(String(200), nullable=True)
    layer_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    start_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    end_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    model_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    series_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    dataset_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    payload: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_anomalies_time", "timestamp", "id"),
        Index("ix_anomalies_severity_time", "severity_rank", "timestamp", "id"),
        Index("ix_anomalies_model_time", "model_id", "timestamp", "id"),
        Index("ix_anomalies_series_time", "series_id", "timestamp", "id"),
        Index("ix_anomalies_dataset", "dataset_id"),
        Index("ix_anomalies_job", "job_id"),
    )


class TokenSettings(Base):
    """Saved filter, dashboard theme and layout of one token (0: no token)."""

    __tablename__ = "token_settings"
    token_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    filter: Mapped[dict] = mapped_column(JSON, default=dict)
    theme: Mapped[str | None] = mapped_column(String(20), nullable=True)
    layout: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class Counter(Base):
    """Named monotone counters (``anomaly_seq``)."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
