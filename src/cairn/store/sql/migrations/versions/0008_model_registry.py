"""The model registry: registered models, versions with their lineage, tags, aliases and the
history of every alias move (docs/registry.md).

Revision ID: 0008_model_registry
Revises: 0007_param_pairs_and_ranks
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_model_registry"
down_revision = "0007_param_pairs_and_ranks"
branch_labels = None
depends_on = None

_NO_ROWID = {"sqlite_with_rowid": False}
_VERSION_FK = ("model_versions.model_id", "model_versions.version")


def _model_id(primary_key: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "model_id",
        sa.String(32),
        sa.ForeignKey("registered_models.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


def _version_of(*columns: sa.Column, name: str) -> tuple:  # type: ignore[type-arg]
    return (
        sa.Column("model_id", sa.String(32), primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True),
        *columns,
        sa.ForeignKeyConstraint(["model_id", "version"], list(_VERSION_FK), ondelete="CASCADE", name=name),
    )


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("latest_version", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_index("ux_registered_models_name", "registered_models", ["name"], unique=True)
    op.create_table(
        "registered_model_tags",
        _model_id(),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        **_NO_ROWID,
    )
    op.create_table(
        "model_versions",
        _model_id(),
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("source_path", sa.String(1000), nullable=False),
        sa.Column("tree_digest", sa.String(64), nullable=False),
        sa.Column("flavor", sa.String(250), nullable=False),
        sa.Column("signature", sa.Text, nullable=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(250), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_index("ix_model_versions_run", "model_versions", ["run_id"])
    op.create_index("ix_model_versions_stage", "model_versions", ["model_id", "stage"])
    op.create_table(
        "model_version_tags",
        *_version_of(
            sa.Column("key", sa.String(250), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
            name="fk_model_version_tags_version",
        ),
        **_NO_ROWID,
    )
    op.create_table(
        "model_version_datasets",
        *_version_of(
            sa.Column(
                "dataset_version_id",
                sa.String(32),
                sa.ForeignKey("dataset_versions.id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column("context", sa.String(64), primary_key=True),
            name="fk_model_version_datasets_version",
        ),
        **_NO_ROWID,
    )
    op.create_index("ix_model_version_datasets_dataset", "model_version_datasets", ["dataset_version_id"])
    op.create_table(
        "model_aliases",
        sa.Column("model_id", sa.String(32), primary_key=True),
        sa.Column("alias", sa.String(250), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id", "version"], list(_VERSION_FK), ondelete="CASCADE", name="fk_model_aliases_version"
        ),
        **_NO_ROWID,
    )
    op.create_index("ix_model_aliases_version", "model_aliases", ["model_id", "version"])
    op.create_table(
        "alias_history",
        sa.Column("id", sa.String(32), primary_key=True),
        _model_id(primary_key=False),
        sa.Column("alias", sa.String(250), nullable=False),
        sa.Column("from_version", sa.BigInteger, nullable=True),
        sa.Column("to_version", sa.BigInteger, nullable=True),
        sa.Column("moved_by", sa.String(250), nullable=False),
        sa.Column("moved_at", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_index("ix_alias_history_model_moved", "alias_history", ["model_id", "moved_at"])


def downgrade() -> None:
    for table in (
        "alias_history",
        "model_aliases",
        "model_version_datasets",
        "model_version_tags",
        "model_versions",
        "registered_model_tags",
        "registered_models",
    ):
        op.drop_table(table)
