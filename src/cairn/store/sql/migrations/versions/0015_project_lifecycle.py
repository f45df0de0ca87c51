"""Projects can be deleted and restored, and carry tags (MLflow's experiment lifecycle and
experiment tags; docs/mlflow.md).

Revision ID: 0015_project_lifecycle
Revises: 0014_prediction_logs
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_project_lifecycle"
down_revision = "0014_prediction_logs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN with a default: SQLite fills existing rows without rebuilding the table.
    op.add_column("projects", sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "project_tags",
        sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("project_tags")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("deleted")
