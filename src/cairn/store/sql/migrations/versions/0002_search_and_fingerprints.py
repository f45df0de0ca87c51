"""Search and fingerprints: runs.fingerprint, and indexes for looking runs up by values.

Revision ID: 0002_search_and_fingerprints
Revises: 0001_tracking_core
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_search_and_fingerprints"
down_revision = "0001_tracking_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(64), nullable=True))
    op.create_index("ix_runs_project_fingerprint", "runs", ["project_id", "fingerprint"])
    op.create_index("ix_params_key_number", "params", ["key", "value_number"])
    op.create_index("ix_tags_key", "tags", ["key"])
    op.create_index("ix_metric_summaries_key_last", "metric_summaries", ["key", "last_value"])


def downgrade() -> None:
    op.drop_index("ix_metric_summaries_key_last", "metric_summaries")
    op.drop_index("ix_tags_key", "tags")
    op.drop_index("ix_params_key_number", "params")
    op.drop_index("ix_runs_project_fingerprint", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("fingerprint")
