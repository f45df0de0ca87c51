"""The bounded near-miss search against the plain one it stands in for.

:func:`cairn.store.sql.similar.nearest_runs` scores a bounded set of candidates; the plain
:func:`~cairn.store.sql.similar.nearest_statement` scores every earlier run. Hypothesis builds
small projects (params from a few values each, some logged after the run started, some runs
deleted) and asks both, with candidate lists cut short enough (1–3 runs per pair at first,
0–12 entries read in all, 1–4 runs kept from the count) that the fast path often cannot prove
its answer: every distance it returns must be the plain one's,
its order the plain order, and when it says it is exact, its answer must be the plain answer.
"""

from __future__ import annotations

import math
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select

from cairn.core.entities import ParamValue
from cairn.store.sql import SqlStore
from cairn.store.sql import schema as t
from cairn.store.sql.similar import RECENT, nearest_runs, nearest_statement, pair_hash, pair_rows

VALUES: list[ParamValue] = [0, 1, 1.0, 0.5, 2.5, -0.0, math.nan, math.inf, True, False, "a", "b", None, "1"]
KEYS = ["a", "b", "c", "d", "e"]

configs = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=len(KEYS))
runs_of = st.lists(
    st.tuples(configs, configs, st.booleans(), st.integers(0, 3)),  # at start, later, deleted, start
    min_size=1,
    max_size=14,
)


def _fill(store: SqlStore, runs: list[tuple[dict[str, ParamValue], dict[str, ParamValue], bool, int]]) -> list[Any]:
    project = store.create_project(uuid.uuid4().hex)
    other = store.create_project(uuid.uuid4().hex)
    created = []
    for i, (config, later, deleted, start) in enumerate(runs):
        # Equal start times happen (ties go by id), and runs of another project never count.
        run = store.create_run(
            project.id, name=f"r{i}", user="u", start_time=start, parent_id=None, notes="", tags={}, params=config
        )
        store.log_params(run.id, {k: v for k, v in later.items() if k not in config})
        if deleted:
            store.set_run_deleted(run.id, True)
        created.append(run)
    store.create_run(other.id, name="x", user="u", start_time=0, parent_id=None, notes="", tags={}, params=runs[0][0])
    return created


@pytest.fixture(scope="module")
def shared_store() -> Iterator[SqlStore]:
    """One store for every example: each example fills projects of its own."""
    with tempfile.TemporaryDirectory() as folder:
        opened = SqlStore(str(Path(folder) / "s.db"))
        try:
            yield opened
        finally:
            opened.close()


@settings(max_examples=80, deadline=None)
@given(
    runs=runs_of,
    per_pair=st.integers(1, 3),
    recent=st.integers(1, 3),
    counted=st.integers(0, 12),
    scored=st.integers(1, 4),
    limit=st.integers(1, 4),
)
def test_the_fast_path_agrees_with_the_plain_statement(
    shared_store: SqlStore,
    runs: list[tuple[dict[str, ParamValue], dict[str, ParamValue], bool, int]],
    per_pair: int,
    recent: int,
    counted: int,
    scored: int,
    limit: int,
) -> None:
    created = _fill(shared_store, runs)
    with shared_store._engines.read.connect() as conn:
        for run in created:
            plain = [
                (row.id, int(row.distance))
                for row in conn.execute(nearest_statement(run.id, run.project_id, run.start_time, limit=1000))
            ]
            fast, exact = nearest_runs(
                conn,
                run.id,
                run.project_id,
                run.start_time,
                limit=limit,
                per_pair=per_pair,
                recent=recent,
                counted=counted,
                scored=scored,
            )
            distance = dict(plain)
            order = [run_id for run_id, _ in plain]
            assert all(distance[run_id] == d for run_id, d in fast), (fast, plain)
            assert [order.index(run_id) for run_id, _ in fast] == sorted(order.index(r) for r, _ in fast)
            if exact:
                assert fast == plain[:limit]
            # With room for every earlier run, the fast path is the plain one.
            assert nearest_runs(conn, run.id, run.project_id, run.start_time, limit=limit) == (plain[:limit], True)


def test_equal_params_hash_alike_and_different_ones_do_not() -> None:
    assert pair_hash("lr", 1) == pair_hash("lr", 1.0) == pair_hash("lr", 1.00)
    assert pair_hash("lr", 0.0) == pair_hash("lr", -0.0)
    assert pair_hash("lr", math.nan) == pair_hash("lr", float("nan"))
    different: list[ParamValue] = [1, True, "1", None, "None", "", 1.5, math.inf, -math.inf, math.nan]
    assert len({pair_hash("lr", v) for v in different}) == len(different)
    assert pair_hash("lr", 1) != pair_hash("lr2", 1)
    # The separator cannot be forged by a key or a text.
    assert pair_hash("a", "b\x00str\x00c") != pair_hash("a\x00str\x00b", "c")
    assert -(2**63) <= pair_hash("k", "v") < 2**63


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = SqlStore(str(tmp_path / "s.db"))
    try:
        yield opened
    finally:
        opened.close()


def _pairs(store: SqlStore, run_id: str) -> list[dict[str, Any]]:
    with store._engines.read.connect() as conn:
        query = select(t.param_pairs).where(t.param_pairs.c.run_id == run_id).order_by(t.param_pairs.c.pair)
        return [dict(row._mapping) for row in conn.execute(query)]


def test_pairs_are_written_with_the_params_and_go_with_the_run(store: SqlStore) -> None:
    project = store.create_project("p")
    run = store.create_run(
        project.id, name="r", user="u", start_time=5, parent_id=None, notes="", tags={}, params={"lr": 0.1}
    )
    store.log_params(run.id, {"lr": 0.1, "depth": 3})  # the repeated lr adds no second row
    expected = pair_rows(run.id, project.id, 5, {"lr": 0.1, "depth": 3})
    assert _pairs(store, run.id) == sorted(expected, key=lambda row: row["pair"])
    store.set_run_deleted(run.id, True)
    assert store.purge_run(run.id)
    assert _pairs(store, run.id) == []


def test_a_large_project_is_answered_from_a_bounded_candidate_set(store: SqlStore) -> None:
    """More earlier runs than the recent window: the scoring statement reads candidates by
    primary key, not the project's runs one after another (the plain statement's plan)."""
    project = store.create_project("p")
    for i in range(RECENT + 20):
        store.create_run(
            project.id,
            name=f"r{i}",
            user="u",
            start_time=i,
            parent_id=None,
            notes="",
            tags={},
            params={"seed": i, "lr": 0.1, "depth": i % 7},
        )
    run = store.create_run(
        project.id,
        name="run",
        user="u",
        start_time=10_000,
        parent_id=None,
        notes="",
        tags={},
        params={"seed": 3, "lr": 0.1, "depth": 3},
    )
    statements: list[str] = []

    def remember(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "params AS other" in statement:
            statements.append(statement)

    event.listen(store._engines.read, "before_cursor_execute", remember)
    try:
        similar = store.similar_runs(run.id, limit=2)
    finally:
        event.remove(store._engines.read, "before_cursor_execute", remember)
    # The run with seed 3 shares all three params; it is older than the recent window.
    # r3 shares all three params though it is older than the recent window; then, of the runs
    # one seed away (depth 3), the nearest seed: r10 (|3 - 10| / 13).
    assert [(s.run.name, s.distance) for s in similar] == [("r3", 0), ("r10", 1)]
    [statement] = statements
    assert "runs.id IN" in statement, statement


def test_a_run_left_out_of_the_count_keeps_the_answer_unproved(store: SqlStore) -> None:
    """Both earlier runs are in all four lists; only the newer is kept (one candidate). The
    older is nearer, so the answer must not claim to be exact."""
    project = store.create_project("p")
    config: dict[str, ParamValue] = {"a": 0, "b": 0, "c": 0, "d": 0}
    made = {}
    for name, start, params in (("twin", 1, config), ("newer", 2, {**config, "e": 1}), ("run", 3, config)):
        made[name] = store.create_run(
            project.id, name=name, user="u", start_time=start, parent_id=None, notes="", tags={}, params=params
        )
    run = made["run"]
    with store._engines.read.connect() as conn:
        fast = nearest_runs(conn, run.id, project.id, 3, limit=1, per_pair=1, recent=1, counted=100, scored=1)
        assert fast == ([(made["newer"].id, 1)], False)
        # With room for both, the twin is found, and the answer proved.
        assert nearest_runs(conn, run.id, project.id, 3, limit=1, per_pair=1, recent=1, counted=100, scored=2) == (
            [(made["twin"].id, 0)],
            True,
        )
