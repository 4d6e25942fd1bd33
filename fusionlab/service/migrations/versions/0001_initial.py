"""The first schema: tokens, models, datasets, jobs, series, score series,
anomalies (with their seq counter) and per-token settings.

Revision ID: 0001
Revises:
Create Date: 2026-11-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("archive", sa.String(300)),
        sa.Column("detector_id", sa.String(200)),
        sa.Column("model_type", sa.String(100)),
        sa.Column("window", sa.Integer),
        sa.Column("threshold", sa.Float),
        sa.Column("feature_names", sa.JSON),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("fit_seconds", sa.Float),
        sa.Column("job_id", sa.String(40)),
        sa.Column("error_message", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.Integer),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("model_id", sa.String(40)),
        sa.Column("series_id", sa.String(200)),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("job_id", sa.String(40)),
        sa.Column("anomaly_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error_message", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("progress", sa.Float, nullable=False, server_default="0"),
        sa.Column("message", sa.Text),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("result", sa.JSON),
        sa.Column("error_message", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("dataset_id", sa.String(40)),
        sa.Column("model_id", sa.String(40)),
        sa.Column("anomaly_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.BigInteger),
        sa.Column("finished_at", sa.BigInteger),
    )
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_table(
        "series",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("model_id", sa.String(40)),
        sa.Column("n_points", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_timestamp", sa.BigInteger),
        sa.Column("state", sa.JSON),
        sa.Column("state_path", sa.String(300)),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "score_series",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("model_id", sa.String(40), nullable=False),
        sa.Column("dataset_id", sa.String(40)),
        sa.Column("series_id", sa.String(200)),
        sa.Column("n_points", sa.Integer, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("feature_names", sa.JSON, nullable=False),
        sa.Column("time_unit", sa.String(10), nullable=False),
        sa.Column("has_labels", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("has_contributions", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("score_seconds", sa.Float),
        sa.Column("job_id", sa.String(40)),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_score_series_model_id", "score_series", ["model_id"])
    op.create_table(
        "anomalies",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("severity_rank", sa.Integer, nullable=False),
        sa.Column("anomaly_type", sa.String(20), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("ratio", sa.Float),
        sa.Column("layer", sa.String(200)),
        sa.Column("layer_index", sa.Integer),
        sa.Column("start_index", sa.BigInteger),
        sa.Column("end_index", sa.BigInteger),
        sa.Column("model_id", sa.String(40)),
        sa.Column("series_id", sa.String(200)),
        sa.Column("dataset_id", sa.String(40)),
        sa.Column("job_id", sa.String(40)),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ix_anomalies_time", "anomalies", ["timestamp", "id"])
    op.create_index("ix_anomalies_severity_time", "anomalies",
                    ["severity_rank", "timestamp", "id"])
    op.create_index("ix_anomalies_model_time", "anomalies", ["model_id", "timestamp", "id"])
    op.create_index("ix_anomalies_series_time", "anomalies", ["series_id", "timestamp", "id"])
    op.create_index("ix_anomalies_dataset", "anomalies", ["dataset_id"])
    op.create_index("ix_anomalies_job", "anomalies", ["job_id"])
    op.create_table(
        "token_settings",
        sa.Column("token_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("filter", sa.JSON, nullable=False),
        sa.Column("theme", sa.String(20)),
        sa.Column("layout", sa.JSON),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    counters = op.create_table(
        "counters",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.bulk_insert(counters, [{"name": "anomaly_seq", "value": 0}])


def downgrade():
    for table in ("counters", "token_settings", "anomalies", "score_series", "series",
                  "jobs", "datasets", "models", "tokens"):
        op.drop_table(table)
