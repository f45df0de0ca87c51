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
    # A plain ADD COLUMN: batch mode would rebuild the table and lose WITHOUT ROWID on SQLite.
    op.add_column("runs", sa.Column("fingerprint", sa.String(64), nullable=True))
    op.create_index("ix_runs_project_fingerprint", "runs", ["project_id", "fingerprint"])
    op.create_index("ix_runs_project_end", "runs", ["project_id", "deleted", "end_time"])
    op.create_index("ix_params_key_number", "params", ["key", "value_number"])
    op.create_index("ix_params_key_text", "params", ["key", sa.text("substr(value_text, 1, 200)")])
    op.create_index("ix_tags_key_value", "tags", ["key", sa.text("substr(value, 1, 200)")])
    op.create_index("ix_metric_summaries_key_last", "metric_summaries", ["key", "last_value"])


def downgrade() -> None:
    op.drop_index("ix_metric_summaries_key_last", "metric_summaries")
    op.drop_index("ix_tags_key_value", "tags")
    op.drop_index("ix_params_key_text", "params")
    op.drop_index("ix_params_key_number", "params")
    op.drop_index("ix_runs_project_end", "runs")
    op.drop_index("ix_runs_project_fingerprint", "runs")
    op.drop_column("runs", "fingerprint")
