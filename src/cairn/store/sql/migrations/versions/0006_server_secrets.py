"""Server secrets: keys every server process of one store shares (the page-token key first).

Revision ID: 0006_server_secrets
Revises: 0005_discussion
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_server_secrets"
down_revision = "0005_discussion"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("server_secrets")
