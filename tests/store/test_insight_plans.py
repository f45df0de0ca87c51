"""The duplicate check and the near-miss query use the indexes they were designed around.

Query plans, not timings: SQLite, without statistics, once answered the duplicate check from
ix_runs_project_start (reading every run of the project, 90 ms at 100,000 runs instead of
1 ms), an earlier near-miss statement re-scanned a materialized subquery per candidate, and
a run's children and its rank by a metric read every run of the project.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from cairn.core.entities import RunStatus
from cairn.core.fingerprint import fingerprint
from cairn.core.query.parser import parse_query
from cairn.core.query.request import RunQuery
from cairn.store.sql import SqlStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = SqlStore(str(tmp_path / "plans.db"))
    project = opened.create_project("p")
    for i in range(20):
        opened.create_run(
            project.id,
            name=f"r{i}",
            user="u",
            start_time=1_000 + i,
            parent_id=None,
            notes="",
            tags={},
            params={"lr": 0.1 * i, "depth": i % 3},
        )
    try:
        yield opened
    finally:
        opened.close()


def plans(store: SqlStore, call: Any, marker: str) -> list[str]:
    """The query plan of every statement holding ``marker`` that ``call()`` sends to the read
    engine."""
    seen: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if marker in statement:
            seen.append((statement, parameters))

    engine = store._engines.read
    event.listen(engine, "before_cursor_execute", remember)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    with engine.connect() as conn:
        return [
            "\n".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all())
            for sql, params in seen
        ]


def test_the_duplicate_check_is_one_index_lookup(store: SqlStore) -> None:
    project_id = store.get_project("p").id
    digest = fingerprint({"lr": 0.1})
    [plan] = plans(store, lambda: store.runs_by_fingerprint(project_id, digest, status=RunStatus.FINISHED), "FROM runs")
    assert "ix_runs_project_fingerprint (project_id=? AND fingerprint=?)" in plan, plan
    assert "ix_runs_project_start" not in plan and "ix_runs_project_end" not in plan, plan


def test_the_near_miss_query_reads_each_candidate_once(store: SqlStore) -> None:
    with store._engines.read.connect() as conn:
        newest = conn.exec_driver_sql("SELECT id FROM runs WHERE start_time = 1019").scalar_one()
    [plan] = plans(store, lambda: store.similar_runs(newest, limit=3), "params AS other")
    # Candidates by primary key (never the project's runs one by one: see similar.py), each
    # one's params by primary key, each of those matched against the run's own by primary
    # key: nothing scanned whole, nothing per pair.
    assert "SEARCH runs USING PRIMARY KEY (id=?)" in plan, plan
    assert "SEARCH other USING PRIMARY KEY (run_id=?)" in plan, plan
    assert "SEARCH own USING PRIMARY KEY (run_id=? AND key=?)" in plan, plan
    assert not [line for line in plan.splitlines() if line.startswith("SCAN")], plan


def test_a_runs_children_come_from_the_parent_index(store: SqlStore) -> None:
    project_id = store.get_project("p").id
    query = RunQuery(where=parse_query("parent = 'x'"), where_text="parent = 'x'", limit=20)
    [plan] = plans(store, lambda: store.list_runs(project_id, query), "parent_id")
    assert "ix_runs_parent" in plan, plan


def test_the_rank_by_a_metric_counts_one_index_range(store: SqlStore) -> None:
    project_id = store.get_project("p").id
    calls = plans(store, lambda: store.metric_rank(project_id, "acc", 0.5, lower_is_better=False), "metric_summaries")
    assert "SEARCH metric_summaries USING COVERING INDEX ix_metric_summaries_project_key_last" in calls[0], calls
    assert not [line for plan in calls for line in plan.splitlines() if line.startswith("SCAN")], calls
