"""``cairn.monitor`` on the embedded store: rows logged from frames, dicts and Tables land as
prediction log files per UTC hour; bad times are refused in the caller; columns off the
signature are kept and counted; odd values come back as they went (docs/prediction-logs.md)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.contract.test_registry import trained_run

import cairn
from cairn.client.connect import connect
from cairn.core.errors import (
    AliasNotFound,
    InvalidPredictionTime,
    InvalidValue,
    ModelVersionNotFound,
    UnknownPredictionIds,
)
from cairn.core.prediction_logs import HOUR_MS, ColumnMismatch, hour_of
from cairn.service.interface import Tracking

NOW_HOUR = hour_of(pd.Timestamp.now(tz="UTC").value // 1_000_000)
EARLIER = NOW_HOUR - 5 * HOUR_MS  # a whole hour, safely in the past


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[str, Tracking]]:
    """An embedded store with the model "scorer": version 1 (signature: x, double), version 2
    @champion."""
    uri = str(tmp_path / "store.db")
    tracking = connect(uri)
    for weights in (b"w1", b"w2"):
        tracking.register_model(f"runs:/{trained_run(tracking, tmp_path, weights)}/model", "scorer")
    tracking.set_model_alias("scorer", "champion", 2)
    try:
        yield uri, tracking
    finally:
        tracking.close()


def read_back(tracking: Tracking, version: int | None = None) -> list[pa.Table]:
    files = tracking.list_prediction_logs("scorer", version).items
    return [pq.read_table(io.BytesIO(tracking.read_prediction_log("scorer", f.version, f.id))) for f in files]


def test_rows_land_in_the_store_a_file_per_hour(store: tuple[str, Tracking]) -> None:
    uri, tracking = store
    times = [EARLIER + HOUR_MS + 5, EARLIER + 10, EARLIER + HOUR_MS + 1, EARLIER + 20]  # out of order
    with cairn.monitor("scorer", 1, uri=uri) as monitor:
        ids = monitor.log(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]}), np.array([0, 1, 1, 0]), timestamps=times)
        assert monitor.flush() is True
        assert (monitor.rows_sent, monitor.rows_dropped, monitor.backlog) == (4, 0, 0)
        assert monitor.mismatches == [] and monitor.rows_mismatched == 0
    assert len(ids) == 4 and len(set(ids)) == 4 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)

    files = tracking.list_prediction_logs("scorer", 1).items
    assert [(f.hour_ms, f.rows) for f in files] == [(EARLIER, 2), (EARLIER + HOUR_MS, 2)]
    first, second = read_back(tracking, 1)
    assert first.column("timestamp_ms").to_pylist() == [EARLIER + 10, EARLIER + 20]  # sorted in its file
    assert first.column("x").to_pylist() == [2.0, 4.0] and first.column("prediction").to_pylist() == [1, 0]
    assert first.column("request_id").to_pylist() == [ids[1], ids[3]]
    assert second.column("request_id").to_pylist() == [ids[2], ids[0]]
    assert set(first.column("model_version").to_pylist()) == {1}
    assert first.schema.metadata[b"cairn.inputs"] == b'["x"]'
    assert first.schema.metadata[b"cairn.outputs"] == b'["prediction"]'
    assert first.schema.metadata[b"cairn.model"] == b"scorer"


def test_the_version_comes_from_an_alias_or_champion(store: tuple[str, Tracking]) -> None:
    uri, tracking = store
    with cairn.monitor("scorer", uri=uri) as champion:  # neither: @champion, version 2
        assert champion.version == 2
        champion.log({"x": [0.5]}, [1], ids=["req-1"])
    tracking.set_model_alias("scorer", "shadow", 1)
    with cairn.monitor("scorer", alias="shadow", uri=uri) as shadow:
        assert shadow.version == 1
    assert [t.column("request_id").to_pylist() for t in read_back(tracking, 2)] == [["req-1"]]
    with pytest.raises(AliasNotFound):
        cairn.monitor("scorer", alias="nobody", uri=uri)
    with pytest.raises(ModelVersionNotFound):
        cairn.monitor("scorer", 7, uri=uri)
    with pytest.raises(InvalidValue, match="not both"):
        cairn.monitor("scorer", 1, alias="shadow", uri=uri)


def test_columns_off_the_signature_are_kept_and_counted(store: tuple[str, Tracking]) -> None:
    uri, tracking = store
    with cairn.monitor("scorer", 1, uri=uri) as monitor:
        monitor.log(pa.table({"x": ["a", "b"], "color": ["red", "blue"]}), pd.Series([0.1, 0.2]))
        monitor.log({"y": [1.0, 2.0, 3.0]}, [1, 2, 3], timestamps=[EARLIER] * 3)
        assert monitor.flush() is True
        assert monitor.rows_sent == 5 and monitor.rows_dropped == 0 and monitor.rows_mismatched == 5
        assert set(monitor.mismatches) == {
            ColumnMismatch("x", "type", "double", "string"),
            ColumnMismatch("color", "extra", None, "string"),
            ColumnMismatch("x", "missing", "double", None),
            ColumnMismatch("y", "extra", None, "float"),
        }
    files = tracking.list_prediction_logs("scorer", 1).items
    assert sum(f.rows for f in files) == 5 and all(f.mismatched_rows == f.rows for f in files)


def test_times_that_are_not_times_are_refused_in_the_caller(store: tuple[str, Tracking]) -> None:
    uri, tracking = store
    later = NOW_HOUR + 3 * HOUR_MS
    with cairn.monitor("scorer", 1, uri=uri) as monitor:
        for bad in (["yesterday", "today"], [EARLIER, float("nan")], [later, EARLIER], [-1, EARLIER]):
            with pytest.raises(InvalidPredictionTime) as refused:
                monitor.log({"x": [1.0, 2.0]}, [0, 1], timestamps=bad)
            assert refused.value.code == "invalid_prediction_time"
            assert refused.value.details == {"column": "timestamp_ms"}
        with pytest.raises(InvalidValue, match="3 rows for 2"):
            monitor.log({"x": [1.0, 2.0]}, [0, 1, 2])
        with pytest.raises(InvalidValue, match="ids has 1"):
            monitor.log({"x": [1.0, 2.0]}, [0, 1], ids=["only-one"])
        # Datetimes are times too.
        stamps = pd.to_datetime([EARLIER + 7, EARLIER + 8], unit="ms", utc=True)
        monitor.log({"x": [1.0, 2.0]}, [0, 1], timestamps=pd.Series(stamps))
        assert monitor.flush() and monitor.rows_sent == 2
    assert read_back(tracking, 1)[0].column("timestamp_ms").to_pylist() == [EARLIER + 7, EARLIER + 8]


def test_odd_values_come_back_as_they_went(store: tuple[str, Tracking]) -> None:
    uri, tracking = store
    inputs = {
        "x": [float("nan"), -0.0, 1e308],
        "big": np.array([np.iinfo(np.uint64).max, 0, 1], dtype=np.uint64),
        "small": np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, 0], dtype=np.int64),
        "text": ["nul\x00inside", "", "ünï\u2028code"],
    }
    with cairn.monitor("scorer", 1, uri=uri) as monitor:
        monitor.log(inputs, np.array([[0.1, 0.9], [0.5, 0.5], [1.0, 0.0]]), timestamps=[EARLIER] * 3)
        assert monitor.flush() and monitor.rows_sent == 3
        with pytest.raises(InvalidValue, match="Arrow"):
            monitor.log({"x": [2**70]}, [0])  # no integer column holds it
    (table,) = read_back(tracking, 1)
    x = table.column("x").to_pylist()
    assert np.isnan(x[0]) and x[1:] == [-0.0, 1e308]
    assert table.column("big").to_pylist() == [2**64 - 1, 0, 1]
    assert table.column("small").to_pylist() == [-(2**63), 2**63 - 1, 0]
    assert table.column("text").to_pylist() == inputs["text"]
    assert table.column("prediction").to_pylist() == [[0.1, 0.9], [0.5, 0.5], [1.0, 0.0]]


def test_names_the_format_takes_are_kept_as_input_names(store: tuple[str, Tracking]) -> None:
    uri, tracking = store
    with cairn.monitor("scorer", 1, uri=uri) as monitor:
        monitor.log({"x": [1.0], "timestamp_ms": [3]}, {"label": [1], "score": [0.7]}, timestamps=[EARLIER])
    (table,) = read_back(tracking, 1)
    assert table.column("input.timestamp_ms").to_pylist() == [3]
    assert table.column("prediction.label").to_pylist() == [1]
    assert table.column("prediction.score").to_pylist() == [0.7]
    assert table.schema.metadata[b"cairn.outputs"] == b'["prediction.label","prediction.score"]'


def test_a_batch_beyond_the_queue_bound_is_dropped_and_counted(store: tuple[str, Tracking]) -> None:
    uri, tracking = store
    with cairn.monitor("scorer", 1, uri=uri, max_queued_rows=10) as monitor:
        ids = monitor.log({"x": np.arange(11, dtype=float)}, np.zeros(11))
        assert len(ids) == 11
        monitor.log({"x": np.arange(10, dtype=float)}, np.zeros(10))
        assert monitor.flush()
        assert (monitor.rows_sent, monitor.rows_dropped) == (10, 11)


def test_big_batches_are_cut_into_files_of_batch_rows(store: tuple[str, Tracking]) -> None:
    uri, tracking = store
    with cairn.monitor("scorer", 1, uri=uri, batch_rows=1000) as monitor:
        for _ in range(3):
            monitor.log({"x": np.random.default_rng(0).random(1500)}, np.zeros(1500), timestamps=[EARLIER] * 1500)
        assert monitor.flush()
        assert monitor.rows_sent == 4500
    rows = sorted(f.rows for f in tracking.list_prediction_logs("scorer", 1).items)
    assert sum(rows) == 4500 and max(rows) <= 1000


def test_closed_monitors_take_no_more(store: tuple[str, Tracking]) -> None:
    uri, _ = store
    monitor = cairn.monitor("scorer", 1, uri=uri)
    monitor.log({"x": [1.0]}, [1])
    assert monitor.close() is True and monitor.rows_sent == 1
    with pytest.raises(InvalidValue, match="closed"):
        monitor.log({"x": [1.0]}, [1])


def test_labels_sent_later_give_accuracy_per_window(store: tuple[str, Tracking]) -> None:
    uri, tracking = store
    with cairn.monitor("scorer", 1, uri=uri) as monitor:
        ids = monitor.log({"x": [1.0, 2.0, 3.0, 4.0]}, [0, 1, 1, 0], timestamps=[EARLIER + i for i in range(4)])
        labelled = monitor.log_labels(ids, [0, 1, 0, 0])  # flushes first: ids logged a moment ago are known
        assert labelled.rows == 4
        with pytest.raises(UnknownPredictionIds):
            monitor.log_labels(["never-logged"], [1])
    report = tracking.performance_report("scorer", 1, "1h", EARLIER, EARLIER + HOUR_MS)
    (window,) = report["windows"]
    assert (window["rows"], window["labelled"]) == (4, 4)
    assert window["metrics"]["accuracy"] == pytest.approx(0.75)
