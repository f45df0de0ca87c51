"""Snapshots: snapshots, snapshot_files, run_snapshots.

Revision ID: 0004_snapshots
Revises: 0003_artifacts_and_datasets
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_snapshots"
down_revision = "0003_artifacts_and_datasets"
branch_labels = None
depends_on = None

_NO_ROWID = {"sqlite_with_rowid": False}


def upgrade() -> None:
    op.create_table(
        "snapshots",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("parent_id", sa.String(64), nullable=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("meta", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_index("ix_snapshots_project_kind", "snapshots", ["project_id", "kind", "created_at"])
    op.create_table(
        "snapshot_files",
        sa.Column("snapshot_id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(32), primary_key=True),
        sa.Column("path", sa.String(1000), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_index("ix_snapshot_files_digest", "snapshot_files", ["digest"])
    op.create_table(
        "run_snapshots",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("snapshot_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_index("ix_run_snapshots_snapshot", "run_snapshots", ["snapshot_id"])


def downgrade() -> None:
    for table in ("run_snapshots", "snapshot_files", "snapshots"):
        op.drop_table(table)
