"""Artifacts and datasets: blobs, artifacts, datasets, dataset_versions, dataset_files, run_inputs.

Revision ID: 0003_artifacts_and_datasets
Revises: 0002_search_and_fingerprints
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_artifacts_and_datasets"
down_revision = "0002_search_and_fingerprints"
branch_labels = None
depends_on = None

_NO_ROWID = {"sqlite_with_rowid": False}


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_seen_at", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_table(
        "artifacts",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("path", sa.String(1000), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("media_type", sa.String(250), nullable=False),
        sa.Column("meta", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_index("ix_artifacts_digest", "artifacts", ["digest"])
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_index("ux_datasets_project_name", "datasets", ["project_id", "name"], unique=True)
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("dataset_id", sa.String(32), sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("source_uri", sa.Text, nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=True),
        sa.Column("columns", sa.Integer, nullable=True),
        sa.Column("schema", sa.Text, nullable=False),
        sa.Column("profile", sa.Text, nullable=False),
        sa.Column("stored", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_index("ux_dataset_versions_digest", "dataset_versions", ["dataset_id", "digest"], unique=True)
    op.create_table(
        "dataset_files",
        sa.Column(
            "version_id", sa.String(32), sa.ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("path", sa.String(1000), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_index("ix_dataset_files_digest", "dataset_files", ["digest"])
    op.create_table(
        "run_inputs",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column(
            "version_id", sa.String(32), sa.ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("context", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        **_NO_ROWID,
    )
    op.create_index("ix_run_inputs_version", "run_inputs", ["version_id"])


def downgrade() -> None:
    for table in ("run_inputs", "dataset_files", "dataset_versions", "datasets", "artifacts", "blobs"):
        op.drop_table(table)
