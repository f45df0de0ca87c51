"""Prediction logs through the tracking interface: files kept per model version and hour,
listed by time, read back byte for byte, and the bad files refused alike on every backend
(docs/prediction-logs.md)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.contract.helpers import author_of
from tests.contract.test_registry import trained_run

from cairn.core.clock import now_ms
from cairn.core.errors import (
    InvalidInput,
    InvalidPageToken,
    InvalidPredictionLog,
    InvalidPredictionTime,
    InvalidValue,
    ModelNotFound,
    ModelVersionNotFound,
    PredictionLogNotFound,
)
from cairn.core.prediction_logs import HOUR_MS, ColumnMismatch, hour_of
from cairn.service.interface import Tracking

HOUR = 1_767_225_600_000  # 2026-01-01T00:00Z
UNKNOWN_ID = "0" * 32


def log_file(version: int = 1, *, times: list[int] | None = None, rows: int = 3, **columns: Any) -> bytes:
    """A prediction log as ``cairn serve`` writes one: inputs, a prediction and the required
    columns; ``columns`` replace or add columns (None drops one)."""
    times = times if times is not None else [HOUR + 1000 * i for i in range(rows)]
    n = len(times)
    frame: dict[str, Any] = {
        "f0": [0.5 * i for i in range(n)],
        "city": ["oslo", "lima", "pune"][:n] + ["x"] * max(0, n - 3),
        "prediction": [i % 2 for i in range(n)],
        "request_id": [f"r{i}" for i in range(n)],
        "timestamp_ms": times,
        "latency_ms": [1.5] * n,
        "model_version": [version] * n,
    }
    for name, values in columns.items():
        if values is None:
            frame.pop(name)
        else:
            frame[name] = values
    buffer = io.BytesIO()
    pd.DataFrame(frame).to_parquet(buffer, index=False)
    return buffer.getvalue()


def empty_file() -> bytes:
    """A file of the right columns and types, without rows."""
    buffer = io.BytesIO()
    pq.write_table(pq.read_table(io.BytesIO(log_file())).slice(0, 0), buffer)
    return buffer.getvalue()


@pytest.fixture
def model(tracking: Tracking, tmp_path: Path) -> str:
    """A model "served" with versions 1 and 2."""
    for weights in (b"w1", b"w2"):
        tracking.register_model(f"runs:/{trained_run(tracking, tmp_path, weights)}/model", "served")
    return "served"


def test_a_file_is_kept_listed_and_read_back(tracking: Tracking, model: str) -> None:
    data = log_file(rows=3)
    logged = tracking.log_predictions(model, 1, HOUR, data)
    assert (logged.model, logged.version, logged.hour_ms, logged.rows) == (model, 1, HOUR, 3)
    assert (logged.first_ms, logged.last_ms, logged.size) == (HOUR, HOUR + 2000, len(data))
    assert logged.created_by == author_of(tracking) and len(logged.id) == 32 and len(logged.digest) == 64

    assert tracking.list_prediction_logs(model).items == [logged]
    assert tracking.list_prediction_logs(model, 1).items == [logged]
    assert tracking.list_prediction_logs(model, 2).items == []
    back = tracking.read_prediction_log(model, 1, logged.id)
    assert back == data
    frame = pd.read_parquet(io.BytesIO(back))
    assert list(frame["city"]) == ["oslo", "lima", "pune"] and list(frame["model_version"]) == [1, 1, 1]


def test_listings_select_by_version_and_window_oldest_first(tracking: Tracking, model: str) -> None:
    early = tracking.log_predictions(model, 1, HOUR, log_file(1, times=[HOUR + 10, HOUR + 20]))
    late = tracking.log_predictions(model, 1, HOUR, log_file(1, times=[HOUR + 5000, HOUR + 9000]))
    next_hour = tracking.log_predictions(model, 2, HOUR + HOUR_MS, log_file(2, times=[HOUR + HOUR_MS + 1]))

    assert tracking.list_prediction_logs(model).items == [early, late, next_hour]
    assert tracking.list_prediction_logs(model, 1).items == [early, late]
    # A file is in a window when any of its predictions is: [since, until).
    assert tracking.list_prediction_logs(model, since_ms=HOUR + 20).items == [early, late, next_hour]
    assert tracking.list_prediction_logs(model, since_ms=HOUR + 21).items == [late, next_hour]
    assert tracking.list_prediction_logs(model, until_ms=HOUR + 5000).items == [early]
    assert tracking.list_prediction_logs(model, since_ms=HOUR + HOUR_MS).items == [next_hour]
    assert tracking.list_prediction_logs(model, 1, since_ms=HOUR + 9001).items == []

    first = tracking.list_prediction_logs(model, limit=2)
    assert first.items == [early, late] and first.next_page_token is not None
    rest = tracking.list_prediction_logs(model, limit=2, page_token=first.next_page_token)
    assert rest.items == [next_hour] and rest.next_page_token is None


@pytest.mark.parametrize(
    ("data", "column"),
    [
        (b"not parquet at all", None),
        (b"PAR1" + b"\0" * 20 + b"PAR1", None),
        (log_file(request_id=None), "request_id"),
        (log_file(timestamp_ms=None), "timestamp_ms"),
        (log_file(latency_ms=["slow"] * 3), "latency_ms"),
        (log_file(model_version=[1.0, 1.0, 1.0]), "model_version"),
        (log_file(2), "model_version"),  # logged to version 1
        (log_file(times=[HOUR - 1, HOUR]), "timestamp_ms"),
        (log_file(times=[HOUR, HOUR + HOUR_MS]), "timestamp_ms"),
        (log_file(timestamp_ms=[HOUR, None, HOUR]), "timestamp_ms"),
        (empty_file(), None),
    ],
    ids=[
        "not-parquet",
        "truncated",
        "no-request-id",
        "no-timestamp",
        "latency-text",
        "version-float",
        "other-version",
        "before-the-hour",
        "after-the-hour",
        "missing-time",
        "no-rows",
    ],
)
def test_bad_files_are_refused_and_nothing_is_kept(
    tracking: Tracking, model: str, data: bytes, column: str | None
) -> None:
    with pytest.raises(InvalidPredictionLog) as refused:
        tracking.log_predictions(model, 1, HOUR, data)
    assert refused.value.details.get("column") == column
    assert tracking.list_prediction_logs(model).items == []


def test_a_column_twice_is_refused(tracking: Tracking, model: str) -> None:
    table = pq.read_table(io.BytesIO(log_file()))
    doubled = table.append_column("request_id", pa.array(["again"] * 3))
    buffer = io.BytesIO()
    pq.write_table(doubled, buffer)
    with pytest.raises(InvalidPredictionLog, match="more than one column 'request_id'"):
        tracking.log_predictions(model, 1, HOUR, buffer.getvalue())


def test_columns_off_the_signature_are_kept_and_counted(tracking: Tracking, model: str) -> None:
    # The versions' signature takes one column, x (double); this file has f0 and city instead.
    logged = tracking.log_predictions(model, 1, HOUR, log_file(rows=3))
    assert logged.mismatches == (
        ColumnMismatch("x", "missing", "double", None),
        ColumnMismatch("f0", "extra", None, "float"),
        ColumnMismatch("city", "extra", None, "string"),
    )
    assert logged.mismatched_rows == 3
    assert tracking.list_prediction_logs(model).items == [logged]  # kept, and the index says why

    wrong_type = tracking.log_predictions(model, 1, HOUR, log_file(x=["a", "b", "c"], f0=None, city=None))
    assert wrong_type.mismatches == (ColumnMismatch("x", "type", "double", "string"),)
    widened = tracking.log_predictions(model, 1, HOUR, log_file(x=[1, 2, 3], f0=None, city=None))
    assert (widened.mismatches, widened.mismatched_rows) == ((), 0)  # integers widen to double
    assert len(tracking.list_prediction_logs(model).items) == 3


def test_prediction_times_in_the_future_are_refused(tracking: Tracking, model: str) -> None:
    later = now_ms() + 2 * HOUR_MS
    with pytest.raises(InvalidPredictionTime) as refused:
        tracking.log_predictions(model, 1, hour_of(later), log_file(times=[later]))
    assert refused.value.details == {"column": "timestamp_ms"}
    # A few seconds ahead (the clocks of two machines) is fine.
    soon = now_ms() + 5_000
    assert tracking.log_predictions(model, 1, hour_of(soon), log_file(times=[soon])).rows == 1


def test_unknown_models_versions_and_files(tracking: Tracking, model: str) -> None:
    with pytest.raises(ModelNotFound):
        tracking.log_predictions("nobody", 1, HOUR, log_file())
    with pytest.raises(ModelVersionNotFound):
        tracking.log_predictions(model, 9, HOUR, log_file(9))
    with pytest.raises(ModelNotFound):
        tracking.list_prediction_logs("nobody")
    with pytest.raises(ModelVersionNotFound):
        tracking.list_prediction_logs(model, 9)
    with pytest.raises(PredictionLogNotFound) as unknown:
        tracking.read_prediction_log(model, 1, UNKNOWN_ID)
    assert unknown.value.details == {"model": model, "version": 1, "file_id": UNKNOWN_ID}
    logged = tracking.log_predictions(model, 1, HOUR, log_file())
    with pytest.raises(PredictionLogNotFound):  # another version's file
        tracking.read_prediction_log(model, 2, logged.id)


def test_bad_arguments_are_refused_alike(tracking: Tracking, model: str) -> None:
    for hour in (HOUR + 1, -HOUR_MS, 2**63, 1.5):
        with pytest.raises(InvalidValue):
            tracking.log_predictions(model, 1, hour, log_file())  # type: ignore[arg-type]
    with pytest.raises(InvalidValue):
        tracking.log_predictions(model, 1, HOUR, "text")  # type: ignore[arg-type]
    with pytest.raises(InvalidValue):
        tracking.log_predictions(model, 0, HOUR, log_file())
    with pytest.raises(InvalidValue):
        tracking.log_predictions("a/b", 1, HOUR, log_file())
    for limit in (0, 10_001):
        with pytest.raises(InvalidValue):
            tracking.list_prediction_logs(model, limit=limit)
    with pytest.raises(InvalidValue):
        tracking.list_prediction_logs(model, since_ms=-1)
    with pytest.raises(InvalidPageToken):
        tracking.list_prediction_logs(model, page_token="12-not-an-id")
    with pytest.raises(InvalidInput):
        tracking.read_prediction_log(model, 1, "../../etc/passwd")


def test_files_go_with_their_model(tracking: Tracking, model: str) -> None:
    logged = tracking.log_predictions(model, 1, HOUR, log_file())
    tracking.delete_model(model)
    with pytest.raises(ModelNotFound):
        tracking.read_prediction_log(model, 1, logged.id)
    with pytest.raises(ModelNotFound):
        tracking.list_prediction_logs(model)
