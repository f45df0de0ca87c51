"""The SQL a query compiles to selects and orders exactly what the reference evaluator says.

A fixed, varied set of runs is written once per backend (embedded SQLite, HTTP → server →
SQLite, PostgreSQL); hypothesis then writes queries and sort orders, and for each the runs the
backend returns — page by page — must equal ``cairn.core.query.evaluate`` applied in Python.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers import ThreadedServer, free_port

from cairn.client.http import HttpTracking
from cairn.core.artifacts import DatasetSpec
from cairn.core.entities import Run, RunStatus, RunUpdate
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.core.query.ast import Duration
from cairn.core.query.evaluate import field_value, matches, sort_runs
from cairn.core.query.parser import parse_field, parse_order, parse_query
from cairn.core.query.text import literal
from cairn.service.interface import Tracking
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.settings import ServerSettings
from cairn.store.sql import SqlStore

PROJECT = "reference"
BASE_TIME = 1_700_000_000_000
PARAM_KEYS = ["lr", "opt", "flag", "n", "model.depth"]
TEXTS = ["adam", "sgd", "Adam", "a_b", "50%", "x'y", "é", "ab"]
NUMBERS = [0, 1, 2, 10, 0.01, 0.1, 1.0, -2.5, 1e300, math.inf, -math.inf, 10**15]
TAG_KEYS = ["team", "data"]
METRIC_KEYS = ["acc", "loss"]
DATASET_NAMES = ["mnist", "Mnist", "cifar", "x'y"]
DIGESTS = ["a" * 64, "b" * 64, "0123" * 16]
CONTEXTS = ["train", "validation", "test"]
#: The datasets each populated run used, by run id: what the reference evaluator is given.
INPUTS: dict[str, list[dict[str, str]]] = {}


def _param_value(rng: random.Random) -> object:
    kind = rng.random()
    if kind < 0.45:
        return rng.choice(NUMBERS + [math.nan])
    if kind < 0.8:
        return rng.choice(TEXTS)
    if kind < 0.95:
        return rng.choice([True, False])
    return None


def _populate(tracking: Tracking) -> list[Run]:
    rng = random.Random(20261126)
    ids = []
    for _ in range(40):
        config = {key: _param_value(rng) for key in PARAM_KEYS if rng.random() < 0.75}
        tags = {key: rng.choice(TEXTS) for key in TAG_KEYS if rng.random() < 0.6}
        start = BASE_TIME + rng.choice([0, 1, 2, 5]) * 60_000  # equal times test the id tie-break
        run = tracking.create_run(
            PROJECT, name=rng.choice(["base-1", "base-2", "Tuned", "x_y", "other"]), config=config, tags=tags,
            start_time=start, user=rng.choice(["ann", "bob"]),
        )  # fmt: skip
        columns = []
        for key in METRIC_KEYS:
            if rng.random() < 0.7:
                values = [rng.choice([0.1, 0.5, 0.9, -1.0, math.nan, math.inf, 0.25]) for _ in range(rng.randint(1, 4))]
                steps = np.arange(len(values), dtype=np.int64)
                columns.append(MetricColumns(key, steps, steps + BASE_TIME, np.array(values)))
        if columns:
            tracking.log_metrics(run.id, MetricBatch("populate", 0, columns))
        inputs = INPUTS.setdefault(run.id, [])
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            used = {"name": rng.choice(DATASET_NAMES), "digest": rng.choice(DIGESTS), "context": rng.choice(CONTEXTS)}
            spec = DatasetSpec(name=used["name"], digest=used["digest"], source_uri="", source_kind="file")
            tracking.log_dataset(run.id, spec, used["context"])
            if used not in inputs:
                inputs.append(used)
        if rng.random() < 0.7:
            status = rng.choice([RunStatus.FINISHED, RunStatus.FAILED])
            tracking.update_run(run.id, RunUpdate(status=status, end_time=start + rng.choice([1000, 3_600_000])))
        ids.append(run.id)
    return [tracking.get_run(run_id) for run_id in ids]


@pytest.fixture(scope="module", params=["sqlite", "http", pytest.param("postgres", marks=pytest.mark.postgres)])
def populated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Tracking, list[Run]]]:
    folder: Path = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        tracking: Tracking = TrackingService(SqlStore(str(folder / "q.db")), Principal("t"))
        yield tracking, _populate(tracking)
        tracking.close()
    elif request.param == "http":
        settings_ = ServerSettings(store_uri=str(folder / "s.db"), blobs_uri=str(folder / "b"), port=free_port())
        with ThreadedServer(settings_) as server:
            client = HttpTracking(server.url)
            yield client, _populate(client)
            client.close()
    else:
        store = SqlStore(request.getfixturevalue("postgres_url"))
        tracking = TrackingService(store, Principal("t"))
        yield tracking, _populate(tracking)
        with store._engines.write.begin() as connection:
            connection.exec_driver_sql(
                "TRUNCATE snapshot_files, snapshots, blobs, ingest_batches, metric_summaries, metric_chunks, "
                "tags, params, runs, projects CASCADE"
            )
        tracking.close()


# -- writing queries -------------------------------------------------------------------------


param_fields = st.sampled_from([f"params.{k}" for k in PARAM_KEYS] + ['params."model.depth"', "params.missing"])
metric_fields = st.builds(
    lambda key, agg: f"metrics.{key}{agg}",
    st.sampled_from(METRIC_KEYS + ["gone"]),
    st.sampled_from(["", ".min", ".max", ".count", ".last"]),
)
tag_fields = st.sampled_from([f"tags.{k}" for k in TAG_KEYS] + ["tags.none"])
text_attributes = st.sampled_from(["name", "status", "user", "parent", "project"])
ops = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
numbers = st.sampled_from([0, 1, 2, 0.01, 0.1, 0.5, -1, 10**15, 1e300])
texts = st.sampled_from(TEXTS + ["finished", "failed", "base-1", "bob", "b"])
patterns = st.sampled_from(["a%", "%b", "_d%", "A%", "%", "50\\%", "x'%", "base%", "%e%"])
dataset_fields = st.sampled_from(["dataset.name", "dataset.digest", "dataset.context", "datasets.name"])
dataset_texts = st.sampled_from(DATASET_NAMES + DIGESTS + CONTEXTS + ["mn", "zzz"])


@st.composite
def predicates(draw: st.DrawFn) -> str:
    choice = draw(st.integers(0, 9))
    if choice == 9:
        field, kind = draw(dataset_fields), draw(st.integers(0, 3))
        if kind == 0:
            return f"{field} {draw(ops)} {literal(draw(dataset_texts))}"
        if kind == 1:
            values = draw(st.lists(dataset_texts, min_size=1, max_size=3))
            return f"{field} {draw(st.sampled_from(['', 'not ']))}in ({', '.join(literal(v) for v in values)})"
        if kind == 2:
            operator = draw(st.sampled_from(["like", "ilike", "not like", "not ilike"]))
            return f"{field} {operator} {literal(draw(st.sampled_from(['m%', '%a%', 'MN%', '%', 't_ain'])))}"
        return f"{field} is {draw(st.sampled_from(['', 'not ']))}null"
    if choice == 0:
        return f"{draw(param_fields)} {draw(ops)} {literal(draw(numbers))}"
    if choice == 1:
        return f"{draw(param_fields)} {draw(ops)} {literal(draw(texts))}"
    if choice == 2:
        return f"{draw(param_fields)} {draw(st.sampled_from(['=', '!=']))} {literal(draw(st.booleans()))}"
    if choice == 3:
        return f"{draw(metric_fields)} {draw(ops)} {literal(draw(numbers))}"
    if choice == 4:
        return f"{draw(st.one_of(tag_fields, text_attributes))} {draw(ops)} {literal(draw(texts))}"
    if choice == 5:
        field = draw(st.one_of(param_fields, tag_fields, text_attributes))
        negation = draw(st.sampled_from(["", "not "]))
        return f"{field} {negation}{draw(st.sampled_from(['like', 'ilike']))} {literal(draw(patterns))}"
    if choice == 6:
        field = draw(
            st.one_of(param_fields, metric_fields, tag_fields, st.sampled_from(["parent", "ended", "duration"]))
        )
        return f"{field} is {draw(st.sampled_from(['', 'not ']))}null"
    if choice == 7:
        values = draw(st.lists(st.one_of(numbers, texts, st.booleans()), min_size=1, max_size=3))
        negation = draw(st.sampled_from(["", "not "]))
        return f"{draw(param_fields)} {negation}in ({', '.join(literal(v) for v in values)})"
    return draw(
        st.sampled_from(
            [
                "duration > 60",
                "duration <= 1h",
                "created > '2023-11-14T22:14'",
                "created < -1d",
                "ended >= '2020-01-01'",
            ]
        )
    )


queries = st.recursive(
    predicates(),
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a}) and ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) or ({b})", inner, inner),
        st.builds(lambda a: f"not ({a})", inner),
    ),
    max_leaves=4,
)
sort_fields = st.sampled_from(
    [f"params.{k}" for k in PARAM_KEYS] + ["metrics.acc", "metrics.loss.min", "metrics.acc.count", "tags.team", "name",
     "created", "duration", "status", "params.missing"]
)  # fmt: skip
orders = st.lists(st.tuples(sort_fields, st.sampled_from(["", " asc", " desc"])), max_size=2).map(
    lambda keys: ", ".join(f + d for f, d in keys)
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.one_of(st.just(""), queries), order_by=orders, page=st.sampled_from([3, 7, 100]))
def test_search_equals_the_reference(
    populated: tuple[Tracking, list[Run]], where: str, order_by: str, page: int
) -> None:
    tracking, runs = populated
    now = time.time_ns() // 1_000_000
    query = parse_query(where)
    expected = sort_runs([r for r in runs if matches(query, r, now, INPUTS[r.id])], parse_order(order_by))
    found: list[str] = []
    token: str | None = None
    while True:
        result = tracking.list_runs(PROJECT, where=where, order_by=order_by, limit=page, page_token=token)
        found += [r.id for r in result.items]
        token = result.next_page_token
        if token is None:
            break
    assert found == [r.id for r in expected], f"where={where!r} order_by={order_by!r}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    where=st.one_of(st.just(""), queries),
    group_by=st.sampled_from(["params.opt", "params.flag", "tags.team", "status", "user"]),
    metric=st.sampled_from(["metrics.acc", "metrics.loss.max", "metrics.acc.count"]),
)
def test_groups_equal_the_reference(
    populated: tuple[Tracking, list[Run]], where: str, group_by: str, metric: str
) -> None:
    tracking, runs = populated
    now = time.time_ns() // 1_000_000
    query = parse_query(where)
    selected = [r for r in runs if matches(query, r, now, INPUTS[r.id])]
    group_field, metric_field = parse_field(group_by), parse_field(metric)
    expected: dict[object, list[float]] = {}
    counts: dict[object, int] = {}
    for run in selected:
        value = field_value(group_field, run)
        value = None if value.__class__ is object else value
        key = (type(value).__name__, value) if not isinstance(value, float) or not math.isnan(value) else ("nan",)
        counts[key] = counts.get(key, 0) + 1
        number = field_value(metric_field, run)
        bucket = expected.setdefault(key, [])
        if isinstance(number, int | float) and not math.isnan(number):
            bucket.append(float(number))
    groups = tracking.group_runs(PROJECT, group_by=group_by, metric=metric, where=where)
    got = {}
    for group in groups:
        value = group.value
        key = (type(value).__name__, value) if not isinstance(value, float) or not math.isnan(value) else ("nan",)
        got[key] = group
    assert set(got) == set(counts), f"where={where!r} group_by={group_by}"
    for key, group in got.items():
        assert group.count == counts[key]
        values = expected[key]
        assert group.min == (min(values) if values else None)
        assert group.max == (max(values) if values else None)
        finite = [v for v in values if math.isfinite(v)]
        if values and len(finite) == len(values):
            assert group.mean == pytest.approx(sum(values) / len(values))
    assert [g.count for g in groups] == sorted((g.count for g in groups), reverse=True)


def test_durations_read_as_written() -> None:
    assert parse_query("duration > 2h") is not None
    assert Duration(7_200_000, "2h") == parse_query("duration > 2h").value  # type: ignore[union-attr]
