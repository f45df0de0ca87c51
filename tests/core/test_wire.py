"""The JSON wire format both ways: what the server writes, the client reads back unchanged."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.core.entities import IngestResult, MetricSummary, Project, Run, RunStatus
from cairn.core.errors import InvalidKey, InvalidRequest, InvalidValue
from cairn.core.limits import MAX_INT64, MIN_INT64, wire_float
from cairn.core.metrics import MetricBatch, MetricColumns, MetricHistory
from cairn.core.wire import (
    batch_from_wire,
    batch_to_wire,
    history_from_wire,
    history_to_wire,
    ingest_result_from_wire,
    ingest_result_to_wire,
    params_from_wire,
    params_to_wire,
    project_from_wire,
    project_to_wire,
    run_from_wire,
    run_to_wire,
)

FAST = settings(max_examples=50, deadline=None)
floats = st.floats(allow_nan=True, allow_infinity=True, width=64)


def _through_json(data: Any) -> Any:
    """What the other side decodes: real JSON text in between, as on the network."""
    return orjson.loads(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY))


def _same_floats(a: np.ndarray, b: np.ndarray) -> bool:
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    return bool(np.array_equal(nan_a, nan_b) and np.array_equal(a[~nan_a].view(np.uint64), b[~nan_b].view(np.uint64)))


def _summary(key: str, last: float, low: float | None, high: float | None) -> MetricSummary:
    return MetricSummary(key=key, last=last, last_step=9, last_timestamp=1_009, min=low, max=high, count=10)


def test_project_round_trip() -> None:
    for project in (
        Project(id="p1", name="mnist", description="digits", created_at=1, run_count=3, last_activity=99),
        Project(id="p2", name="empty", description="", created_at=2),
    ):
        assert project_from_wire(_through_json(project_to_wire(project))) == project


def test_run_round_trip_with_every_kind_of_value() -> None:
    run = Run(
        id="r1",
        project_id="p1",
        project="mnist",
        name="brave-otter-1",
        user="alice",
        status=RunStatus.FINISHED,
        start_time=1_000,
        end_time=4_000,
        parent_id="r0",
        notes="line\nline",
        deleted=False,
        params={
            "i": 2**63 - 1,
            "f": 0.1,
            "nan": math.nan,
            "inf": math.inf,
            "b": True,
            "s": "NaN",
            "n": None,
        },
        tags={"team": "vision"},
        metrics={
            "loss": _summary("loss", 0.25, -math.inf, math.inf),
            "gone": _summary("gone", math.nan, None, None),
        },
    )
    wire = _through_json(run_to_wire(run))
    assert wire["duration_ms"] == 3_000
    assert wire["params"]["nan"] == {"float": "NaN"}
    assert wire["metrics"]["gone"]["last"] == "NaN"
    back = run_from_wire(wire)

    assert back.status is RunStatus.FINISHED
    assert {k: type(v) for k, v in back.params.items()} == {k: type(v) for k, v in run.params.items()}
    assert math.isnan(back.params["nan"]) and back.params["inf"] == math.inf
    assert back.params["s"] == "NaN"  # the text "NaN" stays text
    assert {k: v for k, v in back.params.items() if k != "nan"} == {k: v for k, v in run.params.items() if k != "nan"}
    assert back.metrics["loss"] == run.metrics["loss"]
    gone = back.metrics["gone"]
    assert math.isnan(gone.last) and (gone.min, gone.max) == (None, None)
    assert (back.id, back.tags, back.notes, back.parent_id, back.end_time) == (
        "r1",
        {"team": "vision"},
        "line\nline",
        "r0",
        4_000,
    )


@FAST
@given(
    params=st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.one_of(floats, st.integers(MIN_INT64, MAX_INT64), st.booleans(), st.none(), st.text(max_size=8)),
    )
)
def test_params_round_trip(params: dict[str, Any]) -> None:
    back = params_from_wire(_through_json(params_to_wire(params)))
    assert back.keys() == params.keys()
    for key, value in params.items():
        assert type(back[key]) is type(value)
        if isinstance(value, float):
            assert _same_floats(np.array([back[key]]), np.array([value]))
        else:
            assert back[key] == value


def test_only_the_exact_tag_decodes_as_a_float() -> None:
    # A nested config that merely looks like the tag stays a config.
    assert params_from_wire({"a": {"float": "NaN", "other": 1}}) == {"a": {"float": "NaN", "other": 1}}
    assert params_from_wire({"a": {"float": "0.5"}}) == {"a": {"float": "0.5"}}
    assert params_from_wire({"a": {"float": "-Infinity"}}) == {"a": -math.inf}


@FAST
@given(values=st.lists(floats, max_size=40))
def test_history_round_trip(values: list[float]) -> None:
    n = len(values)
    history = MetricHistory(
        key="loss",
        steps=np.arange(n, dtype=np.int64) + MAX_INT64 - n,
        timestamps=np.arange(n, dtype=np.int64),
        values=np.array(values, dtype=np.float64),
        total=n + 5,
        downsampled=True,
        next_offset=None,
    )
    back = history_from_wire(_through_json(history_to_wire(history)))
    assert (back.key, back.total, back.downsampled, back.next_offset) == ("loss", n + 5, True, None)
    assert back.steps.dtype == np.int64 and back.steps.tolist() == history.steps.tolist()
    assert back.timestamps.tolist() == history.timestamps.tolist()
    assert back.values.dtype == np.float64
    assert _same_floats(back.values, history.values)


@FAST
@given(values=st.lists(floats, min_size=1, max_size=40), seq=st.integers(0, MAX_INT64))
def test_batch_round_trip(values: list[float], seq: int) -> None:
    n = len(values)
    columns = MetricColumns.from_lists("m", list(range(MIN_INT64, MIN_INT64 + n)), [0] * n, values)
    batch = MetricBatch(client_id="writer-1", seq=seq, columns=[columns, MetricColumns.from_lists("e", [], [], [])])
    back = batch_from_wire(_through_json(batch_to_wire(batch)))
    assert (back.client_id, back.seq, back.points) == ("writer-1", seq, n)
    got = back.columns[0]
    assert got.key == "m"
    assert got.steps.tolist() == columns.steps.tolist()
    assert _same_floats(got.values, columns.values)
    assert len(back.columns[1]) == 0


def test_ingest_result_round_trip() -> None:
    for result in (IngestResult(points=3), IngestResult(points=0, duplicate=True)):
        assert ingest_result_from_wire(_through_json(ingest_result_to_wire(result))) == result


def test_wire_float() -> None:
    assert wire_float(0.5) == 0.5
    assert (wire_float(math.nan), wire_float(math.inf), wire_float(-math.inf)) == (
        "NaN",
        "Infinity",
        "-Infinity",
    )
    assert math.isnan(float(wire_float(math.nan)))
    assert float(wire_float(-math.inf)) == -math.inf


GOOD = {"key": "m", "steps": [0], "timestamps": [0], "values": [1.0]}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ([], InvalidRequest),
        ({"client_id": "c", "seq": 0}, InvalidRequest),
        ({"client_id": "c", "seq": 0, "metrics": {}}, InvalidRequest),
        ({"client_id": 1, "seq": 0, "metrics": []}, InvalidRequest),
        ({"client_id": "c", "seq": True, "metrics": []}, InvalidRequest),
        ({"client_id": "c", "seq": 1.0, "metrics": []}, InvalidRequest),
        ({"client_id": "c", "seq": -1, "metrics": []}, InvalidRequest),
        ({"client_id": "c", "seq": 2**63, "metrics": []}, InvalidRequest),
        ({"client_id": "c", "seq": 0, "metrics": [], "more": 1}, InvalidRequest),
        ({"client_id": "c", "seq": 0, "metrics": [{**GOOD, "unit": "s"}]}, InvalidRequest),
        ({"client_id": "c", "seq": 0, "metrics": [{**GOOD, "steps": [0, 1]}]}, InvalidRequest),
        ({"client_id": "c", "seq": 0, "metrics": [{**GOOD, "values": "1.0"}]}, InvalidRequest),
        ({"client_id": "c", "seq": 0, "metrics": [{**GOOD, "key": ""}]}, InvalidKey),
        ({"client_id": "c", "seq": 0, "metrics": [{**GOOD, "key": 5}]}, InvalidKey),
        ({"client_id": "c", "seq": 0, "metrics": [{**GOOD, "values": ["inf"]}]}, InvalidValue),
        ({"client_id": "c", "seq": 0, "metrics": [{**GOOD, "steps": [0.5]}]}, InvalidValue),
        ({"client_id": "c", "seq": 0, "metrics": [{**GOOD, "timestamps": [-1]}]}, InvalidValue),
    ],
)
def test_bad_batches_are_refused_with_their_error(data: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        batch_from_wire(data)
