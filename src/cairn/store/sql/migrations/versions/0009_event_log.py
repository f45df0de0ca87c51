"""The event log: every change to the registry and every run's lifecycle, append-only
(docs/events.md).

Revision ID: 0009_event_log
Revises: 0008_model_registry
Create Date: 2026-12-11
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_event_log"
down_revision = "0008_model_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        # INTEGER PRIMARY KEY on SQLite is the rowid, which counts up by itself.
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(1000), nullable=False),
        sa.Column("actor", sa.String(250), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index("ux_events_id", "events", ["id"], unique=True)
    op.create_index("ix_events_type_seq", "events", ["type", "seq"])
    op.create_index("ix_events_subject_seq", "events", ["subject", "seq"])


def downgrade() -> None:
    op.drop_table("events")
