"""The run page at any size: param_pairs for near misses, metric ranks and children by index.

- ``param_pairs``: every param again as a 64-bit hash of its (key, normalised value) pair with
  the run's project and start time (see cairn.store.sql.similar), filled for existing runs;
- ``metric_summaries.project_id`` and ``ix_metric_summaries_project_key_last``: a run's rank in
  its project by a metric is a count over one index range, filled for existing summaries;
- ``ix_runs_parent``: a run's children, newest first, without walking every run of the project.

About 20 s per million params on SQLite (the hashes are computed here, in Python).

Revision ID: 0007_param_pairs_and_ranks
Revises: 0006_server_secrets
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from cairn.core.params import decode_param

# The store's own hash: rows written later must match rows written here.
from cairn.store.sql.similar import pair_hash

revision = "0007_param_pairs_and_ranks"
down_revision = "0006_server_secrets"
branch_labels = None
depends_on = None

#: Runs whose pairs are computed and inserted at a time.
_BATCH_RUNS = 2_000


def upgrade() -> None:
    pairs = op.create_table(
        "param_pairs",
        sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("pair", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("start_time", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sqlite_with_rowid=False,
    )
    _fill_pairs(pairs)
    op.create_index("ix_param_pairs_run", "param_pairs", ["run_id", "pair"])

    # A plain ADD COLUMN (batch mode would rebuild the table and lose WITHOUT ROWID on SQLite),
    # with a default that only the rows already there ever take, and only until the UPDATE.
    op.add_column("metric_summaries", sa.Column("project_id", sa.String(32), nullable=False, server_default=""))
    op.execute(
        "UPDATE metric_summaries SET project_id = "
        "(SELECT runs.project_id FROM runs WHERE runs.id = metric_summaries.run_id)"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("metric_summaries", "project_id", server_default=None)
    op.create_index("ix_metric_summaries_project_key_last", "metric_summaries", ["project_id", "key", "last_value"])
    op.create_index("ix_runs_parent", "runs", ["parent_id", "project_id", "deleted", "start_time", "id"])


def _fill_pairs(pairs: sa.Table) -> None:
    conn = op.get_bind()
    runs = sa.table("runs", sa.column("id"), sa.column("project_id"), sa.column("start_time"))
    params = sa.table("params", sa.column("run_id"), sa.column("key"), sa.column("value_type"), sa.column("value_text"))
    last = ""
    while True:
        batch = conn.execute(
            sa.select(runs.c.id, runs.c.project_id, runs.c.start_time)
            .where(runs.c.id > last)
            .order_by(runs.c.id)
            .limit(_BATCH_RUNS)
        ).all()
        if not batch:
            return
        last = batch[-1].id
        where = {row.id: row for row in batch}
        rows = [
            {
                "project_id": where[run_id].project_id,
                "pair": pair_hash(key, decode_param(kind, text)),
                "start_time": where[run_id].start_time,
                "run_id": run_id,
            }
            for run_id, key, kind, text in conn.execute(
                sa.select(params.c.run_id, params.c.key, params.c.value_type, params.c.value_text).where(
                    params.c.run_id.in_(list(where))
                )
            )
        ]
        if rows:
            conn.execute(pairs.insert(), rows)


def downgrade() -> None:
    op.drop_index("ix_runs_parent", "runs")
    op.drop_index("ix_metric_summaries_project_key_last", "metric_summaries")
    op.drop_column("metric_summaries", "project_id")
    op.drop_index("ix_param_pairs_run", "param_pairs")
    op.drop_table("param_pairs")
