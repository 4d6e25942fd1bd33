"""Streaming ingest: the live series' saved state (arrays, time unit, model version).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("series") as batch:
        batch.add_column(sa.Column("state_arrays", sa.LargeBinary))
        batch.add_column(sa.Column("time_unit", sa.String(10)))
        batch.add_column(sa.Column("model_version", sa.Integer, nullable=False,
                                   server_default="0"))
    op.create_index("ix_series_model", "series", ["model_id"])


def downgrade():
    op.drop_index("ix_series_model", "series")
    with op.batch_alter_table("series") as batch:
        batch.drop_column("model_version")
        batch.drop_column("time_unit")
        batch.drop_column("state_arrays")
