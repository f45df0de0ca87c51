"""Discussion: comments on runs, saved views of a project's runs.

Revision ID: 0005_discussion
Revises: 0004_snapshots
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_discussion"
down_revision = "0004_snapshots"
branch_labels = None
depends_on = None

_NO_ROWID = {"sqlite_with_rowid": False}


def upgrade() -> None:
    op.create_table(
        "comments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author", sa.String(250), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("mentions", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=True),
        **_NO_ROWID,
    )
    op.create_index("ix_comments_run_created", "comments", ["run_id", "created_at"])
    op.create_table(
        "saved_views",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("order_by", sa.Text, nullable=False),
        sa.Column("columns", sa.Text, nullable=False),
        sa.Column("charts", sa.Text, nullable=False),
        sa.Column("group_by", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(250), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_index("ux_saved_views_project_name", "saved_views", ["project_id", "name"], unique=True)


def downgrade() -> None:
    for table in ("saved_views", "comments"):
        op.drop_table(table)
