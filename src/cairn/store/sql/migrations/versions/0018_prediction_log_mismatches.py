"""Prediction logs remember the input columns that do not match their version's signature
(missing, extra, of another type) and the rows those concern; such files are kept, and the
mismatch is counted (docs/prediction-logs.md).

Revision ID: 0018_prediction_log_mismatches
Revises: 0017_monitoring
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_prediction_log_mismatches"
down_revision = "0017_monitoring"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prediction_logs") as batch:
        batch.add_column(sa.Column("mismatches", sa.Text, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("mismatched_rows", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("prediction_logs") as batch:
        batch.drop_column("mismatched_rows")
        batch.drop_column("mismatches")
