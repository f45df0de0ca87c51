"""Monitoring: labels that arrive after predictions, monitors with their leases, the windows
they evaluated and the alerts they opened (docs/monitoring.md).

Revision ID: 0017_monitoring
Revises: 0016_logged_models
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_monitoring"
down_revision = "0016_logged_models"
branch_labels = None
depends_on = None

_VERSION_FK = ["model_versions.model_id", "model_versions.version"]


def upgrade() -> None:
    op.create_table(
        "prediction_labels",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("model_id", sa.String(32), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("first_ms", sa.BigInteger, nullable=False),
        sa.Column("last_ms", sa.BigInteger, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(250), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id", "version"], _VERSION_FK, ondelete="CASCADE", name="fk_prediction_labels_version"
        ),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_prediction_labels_version_time", "prediction_labels", ["model_id", "version", "first_ms", "id"])
    op.create_index("ix_prediction_labels_digest", "prediction_labels", ["digest"])

    op.create_table(
        "monitors",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "model_id",
            sa.String(32),
            sa.ForeignKey("registered_models.id", ondelete="CASCADE", name="fk_monitors_model"),
            nullable=False,
        ),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("alias", sa.String(250), nullable=True),
        sa.Column("version", sa.BigInteger, nullable=True),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("schedule_s", sa.BigInteger, nullable=False),
        sa.Column("next_run_at", sa.BigInteger, nullable=False),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("lease_token", sa.String(32), nullable=True),
        sa.Column("last_run_at", sa.BigInteger, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_by", sa.String(250), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ux_monitors_model_name", "monitors", ["model_id", "name"], unique=True)
    op.create_index("ix_monitors_due", "monitors", ["next_run_at"])

    op.create_table(
        "monitor_windows",
        sa.Column(
            "monitor_id",
            sa.String(32),
            sa.ForeignKey("monitors.id", ondelete="CASCADE", name="fk_monitor_windows_monitor"),
            primary_key=True,
        ),
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("start_ms", sa.BigInteger, primary_key=True),
        sa.Column("end_ms", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("drifted_share", sa.Float, nullable=False),
        sa.Column("drifted", sa.Boolean, nullable=False),
        sa.Column("breached", sa.Boolean, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("evaluated_at", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "monitor_alerts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "monitor_id",
            sa.String(32),
            sa.ForeignKey("monitors.id", ondelete="CASCADE", name="fk_monitor_alerts_monitor"),
            nullable=False,
        ),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_window_ms", sa.BigInteger, nullable=False),
        sa.Column("last_window_ms", sa.BigInteger, nullable=False),
        sa.Column("breached_windows", sa.BigInteger, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("opened_at", sa.BigInteger, nullable=False),
        sa.Column("acknowledged_by", sa.String(250), nullable=True),
        sa.Column("acknowledged_at", sa.BigInteger, nullable=True),
        sa.Column("resolved_by", sa.String(250), nullable=True),
        sa.Column("resolved_at", sa.BigInteger, nullable=True),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_monitor_alerts_monitor", "monitor_alerts", ["monitor_id", "status", "opened_at"])


def downgrade() -> None:
    op.drop_table("monitor_alerts")
    op.drop_table("monitor_windows")
    op.drop_table("monitors")
    op.drop_table("prediction_labels")
