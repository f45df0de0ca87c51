"""Prediction logs: one row per Parquet file of a model version's sampled predictions within
one UTC hour, its bytes in the blob store (docs/prediction-logs.md).

Revision ID: 0014_prediction_logs
Revises: 0013_sso_logins
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_prediction_logs"
down_revision = "0013_sso_logins"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prediction_logs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("model_id", sa.String(32), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("hour_ms", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("first_ms", sa.BigInteger, nullable=False),
        sa.Column("last_ms", sa.BigInteger, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(250), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id", "version"],
            ["model_versions.model_id", "model_versions.version"],
            ondelete="CASCADE",
            name="fk_prediction_logs_version",
        ),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_prediction_logs_version_time", "prediction_logs", ["model_id", "version", "first_ms", "id"])
    op.create_index("ix_prediction_logs_model_time", "prediction_logs", ["model_id", "first_ms", "id"])
    op.create_index("ix_prediction_logs_digest", "prediction_logs", ["digest"])


def downgrade() -> None:
    op.drop_table("prediction_logs")
