"""Reviews: protected aliases with their checks, reviews of a version for an alias, the checks'
results, each reviewer's vote, and the thread of comments (docs/registry.md, "Reviews").

Revision ID: 0011_reviews
Revises: 0010_webhooks
Create Date: 2026-12-12
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_reviews"
down_revision = "0010_webhooks"
branch_labels = None
depends_on = None

_NO_ROWID = {"sqlite_with_rowid": False}
# INTEGER PRIMARY KEY AUTOINCREMENT on SQLite: the rowid, never reused after a delete.
_SERIAL = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "alias_protections",
        sa.Column(
            "model_id",
            sa.String(32),
            sa.ForeignKey("registered_models.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        ),
        sa.Column("alias", sa.String(250), primary_key=True),
        sa.Column("required_approvals", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(250), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(250), nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_table(
        "alias_protection_checks",
        sa.Column("model_id", sa.String(32), primary_key=True),
        sa.Column("alias", sa.String(250), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("check_text", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id", "alias"],
            ["alias_protections.model_id", "alias_protections.alias"],
            ondelete="CASCADE",
            name="fk_alias_protection_checks_protection",
        ),
        **_NO_ROWID,
    )
    op.create_table(
        "reviews",
        sa.Column("id", _SERIAL, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.String(32), sa.ForeignKey("registered_models.id", ondelete="CASCADE"), nullable=False),
        sa.Column("alias", sa.String(250), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("base_version", sa.BigInteger, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("author", sa.String(250), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("required_approvals", sa.Integer, nullable=False),
        sa.Column("checks_ran_at", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("merged_by", sa.String(250), nullable=True),
        sa.Column("merged_at", sa.BigInteger, nullable=True),
        sa.Column("merged_from_version", sa.BigInteger, nullable=True),
        sa.Column("closed_by", sa.String(250), nullable=True),
        sa.Column("closed_at", sa.BigInteger, nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id", "version"],
            ["model_versions.model_id", "model_versions.version"],
            ondelete="CASCADE",
            name="fk_reviews_version",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_reviews_model_state", "reviews", ["model_id", "state", "id"])
    op.create_index("ix_reviews_state", "reviews", ["state", "id"])
    op.create_table(
        "review_check_results",
        sa.Column("review_id", sa.BigInteger, sa.ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("check_text", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("observed", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        **_NO_ROWID,
    )
    op.create_table(
        "review_votes",
        sa.Column("review_id", sa.BigInteger, sa.ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("reviewer", sa.String(250), primary_key=True),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("voted_at", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_table(
        "review_comments",
        sa.Column("id", _SERIAL, primary_key=True, autoincrement=True),
        sa.Column("review_id", sa.BigInteger, sa.ForeignKey("reviews.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author", sa.String(250), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("mentions", sa.Text, nullable=False),
        sa.Column("reply_to", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_review_comments_review", "review_comments", ["review_id", "id"])


def downgrade() -> None:
    for table in (
        "review_comments",
        "review_votes",
        "review_check_results",
        "reviews",
        "alias_protection_checks",
        "alias_protections",
    ):
        op.drop_table(table)
