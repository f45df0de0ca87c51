"""Access: users, API tokens, browser sessions, teams, role grants on projects and models,
sign-in attempts for the rate limit, and who may approve and merge a protected alias's review
(docs/access.md).

Revision ID: 0012_access
Revises: 0011_reviews
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_access"
down_revision = "0011_reviews"
branch_labels = None
depends_on = None

_NO_ROWID = {"sqlite_with_rowid": False}
_SERIAL = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("username", sa.String(100), nullable=False, unique=True),
        sa.Column("display_name", sa.String(250), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("is_service", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("external_id", sa.String(500), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_index("ux_users_external", "users", ["source", "external_id"], unique=True)
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("hint", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("last_used_at", sa.BigInteger, nullable=True),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        **_NO_ROWID,
    )
    op.create_index("ix_api_tokens_user", "api_tokens", ["user_id", "created_at"])
    op.create_table(
        "sessions",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_seen_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        **_NO_ROWID,
    )
    op.create_index("ix_sessions_user", "sessions", ["user_id"])
    op.create_table(
        "teams",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_table(
        "team_members",
        sa.Column("team", sa.String(100), sa.ForeignKey("teams.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        **_NO_ROWID,
    )
    op.create_index("ix_team_members_user", "team_members", ["user_id"])
    op.create_table(
        "grants",
        sa.Column("resource_kind", sa.String(16), primary_key=True),
        sa.Column("resource", sa.String(250), primary_key=True),
        sa.Column("subject_kind", sa.String(16), primary_key=True),
        sa.Column("subject", sa.String(100), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("granted_by", sa.String(250), nullable=False),
        sa.Column("granted_at", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_index("ix_grants_subject", "grants", ["subject_kind", "subject", "resource_kind"])
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", _SERIAL, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("attempted_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_sign_in_attempts_key", "sign_in_attempts", ["key", "attempted_at"])
    # A plain ADD COLUMN with a default: SQLite fills existing rows without rebuilding the table.
    op.add_column(
        "alias_protections", sa.Column("approve_role", sa.String(16), nullable=False, server_default="editor")
    )
    op.add_column(
        "alias_protections", sa.Column("merge_role", sa.String(16), nullable=False, server_default="maintainer")
    )


def downgrade() -> None:
    op.drop_column("alias_protections", "merge_role")
    op.drop_column("alias_protections", "approve_role")
    for table in ("sign_in_attempts", "grants", "team_members", "teams", "sessions", "api_tokens", "users"):
        op.drop_table(table)
