"""A run's rank in its project by a metric: counts over the project's summaries of one key."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.store.sql import SqlStore


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "postgresql":
        yield request.getfixturevalue("postgres_store")
        return
    opened = SqlStore(str(tmp_path / "rank.db"))
    try:
        yield opened
    finally:
        opened.close()


def _run(store: SqlStore, project_id: str, name: str, **last: float) -> str:
    run = store.create_run(project_id, name=name, user="u", start_time=1, parent_id=None, notes="", tags={}, params={})
    columns = [MetricColumns.from_lists(key, [0], [1], [value]) for key, value in last.items()]
    store.log_metrics(run.id, MetricBatch(client_id="c", seq=0, columns=columns))
    return run.id


def test_better_runs_are_counted_among_the_live_runs_of_the_project(store: SqlStore) -> None:
    project = store.create_project("p").id
    for i, acc in enumerate([0.9, 0.8, 0.8, 0.5, math.nan, math.inf]):
        _run(store, project, f"r{i}", acc=acc)
    _run(store, project, "no-acc", loss=1.0)
    gone = _run(store, project, "deleted", acc=0.99)
    store.set_run_deleted(gone, True)
    other = store.create_project("q").id
    _run(store, other, "elsewhere", acc=0.95)

    # Six runs have acc (NaN included: it has the key); inf and 0.9 beat 0.8, NaN beats nothing.
    assert store.metric_rank(project, "acc", 0.8, lower_is_better=False) == (2, 6)
    assert store.metric_rank(project, "acc", 0.8, lower_is_better=True) == (1, 6)
    assert store.metric_rank(project, "acc", math.inf, lower_is_better=False) == (0, 6)
    assert store.metric_rank(project, "missing", 0.8, lower_is_better=False) == (0, 0)
    store.set_run_deleted(gone, False)
    assert store.metric_rank(project, "acc", 0.8, lower_is_better=False) == (3, 7)
