"""Logged models: the record of a model folder among a run's artifacts (MLflow 3's logged
models; docs/mlflow.md).

Revision ID: 0016_logged_models
Revises: 0015_project_lifecycle
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_logged_models"
down_revision = "0015_project_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "logged_models",
        sa.Column("id", sa.String(34), primary_key=True),
        sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("source_run_id", sa.String(32), nullable=True),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_message", sa.Text, nullable=False),
        sa.Column("model_type", sa.String(250), nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(250), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_logged_models_project", "logged_models", ["project_id", "deleted", "created_at"])
    op.create_index("ix_logged_models_run", "logged_models", ["run_id"])


def downgrade() -> None:
    op.drop_table("logged_models")
