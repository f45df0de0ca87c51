"""A review's condition check passes exactly when a run search for the same condition, narrowed
to the candidate's source run, finds that run (docs/registry.md, "Reviews").

The check evaluates the condition with the query language's reference evaluator, in Python;
the search compiles it to SQL. Hypothesis writes the conditions, over runs with params, tags,
metrics (NaN included) and datasets, on an embedded SQLite store.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.core.artifacts import DatasetSpec
from cairn.core.clock import now_ms
from cairn.core.entities import Run
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.core.query.text import comparison
from cairn.core.registry import LineageDataset, ModelVersion, Stage
from cairn.core.review_checks import run_checks
from cairn.core.reviews import parse_check
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.store.sql import SqlStore

PROJECT = "checks"
NUMBERS = [0, 0.5, 0.9, 0.92, 1, 10, -1.5]
TEXTS = ["adam", "sgd", "Adam", "50%"]
OPS = ["=", "!=", "<", "<=", ">", ">="]


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TrackingService, list[Run]]]:
    folder: Path = tmp_path_factory.mktemp("checks")
    service = TrackingService(SqlStore(str(folder / "checks.db")), Principal("tester"))
    runs = []
    shapes = [
        ({"lr": 0.9, "opt": "adam"}, {"team": "a"}, {"acc": [0.5, 0.92], "loss": [1.0, 0.5]}, ["iris"]),
        ({"lr": 0.92, "opt": "sgd"}, {}, {"acc": [math.nan]}, []),
        ({"lr": "high", "opt": "Adam"}, {"team": "b"}, {"loss": [10.0]}, ["iris", "digits"]),
        ({}, {}, {"acc": [1.0, 0.9]}, ["digits"]),
    ]
    for params, tags, metrics, datasets in shapes:
        run = service.create_run(PROJECT, config=params, tags=tags)
        columns = [
            MetricColumns(key, np.arange(len(values)), np.arange(len(values)) + 1_000, np.array(values))
            for key, values in metrics.items()
        ]
        if columns:
            service.log_metrics(run.id, MetricBatch("checks", len(runs), columns))
        for name in datasets:
            spec = DatasetSpec(
                name=name, digest=("a" if name == "iris" else "b") * 64, source_uri=f"{name}.csv", source_kind="file"
            )
            service.log_dataset(run.id, spec)
        runs.append(service.get_run(run.id))
    try:
        yield service, runs
    finally:
        service.close()


_FIELDS = st.sampled_from(
    [
        ("metrics.acc", "number"),
        ("metrics.acc.min", "number"),
        ("metrics.loss", "number"),
        ("params.lr", "any"),
        ("params.opt", "text"),
        ("tags.team", "text"),
        ("dataset.name", "text"),
    ]
)


@st.composite
def _comparison(draw: st.DrawFn) -> str:
    field, kind = draw(_FIELDS)
    if kind == "number":
        value: object = draw(st.sampled_from(NUMBERS))
    elif kind == "text":
        value = draw(st.sampled_from([*TEXTS, "a", "b", "iris", "digits"]))
    else:
        value = draw(st.sampled_from([*NUMBERS, *TEXTS, "high"]))
    if draw(st.integers(0, 9)) == 0:
        return f"{field} is {'not ' if draw(st.booleans()) else ''}null"
    return comparison(field, draw(st.sampled_from(OPS)), value)


_CONDITIONS = st.recursive(
    _comparison(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        inner.map(lambda c: f"not ({c})"),
    ),
    max_leaves=4,
)


def _candidate(service: TrackingService, run: Run) -> ModelVersion:
    """A version from ``run``, with the lineage registering it would record."""
    datasets = tuple(
        LineageDataset(i.dataset.id, i.dataset.name, i.dataset.digest, i.context) for i in service.run_inputs(run.id)
    )
    return ModelVersion(
        model="m", version=1, run_id=run.id, source_path="model", tree_digest="0" * 64, flavor="sklearn",
        signature=None, stage=Stage.NONE, description="", aliases=(), tags={}, created_by="tester",
        created_at=0, updated_at=0, datasets=datasets,
    )  # fmt: skip


@given(condition=_CONDITIONS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_condition_check_passes_exactly_when_the_search_finds_the_run(
    populated: tuple[TrackingService, list[Run]], condition: str
) -> None:
    service, runs = populated
    check = parse_check(condition)
    for run in runs:
        (result,) = run_checks(
            [check], candidate=_candidate(service, run), run=run, holder=None, archived_duplicates=[], now_ms=now_ms()
        )
        found = service.list_runs(PROJECT, where=f"id = '{run.id}' and ({condition})").items
        assert result.passed == bool(found), (condition, run.params, run.metrics, result.message)
