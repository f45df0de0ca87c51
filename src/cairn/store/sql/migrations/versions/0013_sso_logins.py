"""Single sign-on: the sign-ins a browser has started at the identity provider and not yet
finished, each found by its ``state`` and taken once (docs/access.md, "Single sign-on").

Revision ID: 0013_sso_logins
Revises: 0012_access
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_sso_logins"
down_revision = "0012_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sso_logins",
        sa.Column("state_digest", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(100), nullable=False),
        sa.Column("code_verifier", sa.String(200), nullable=False),
        sa.Column("next_path", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_sso_logins_created", "sso_logins", ["created_at"])


def downgrade() -> None:
    op.drop_table("sso_logins")
