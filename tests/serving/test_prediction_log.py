"""The prediction log of ``cairn serve``: sampled on the request's path, queued without waiting,
written as Parquet per model version and hour from a thread of its own, dropped and counted
when the queue is full or the sink fails (docs/prediction-logs.md).

The served model is a real one (tests/serving/conftest.py registers two scikit-learn versions
in an embedded store) and requests are parsed by the server's own parsers; the sinks below are
the two ways a sink can behave badly (slow, failing), or the store itself.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest
from tests.serving.conftest import FEATURES, Registered

from cairn.client.connect import connect
from cairn.client.prediction_files import StorePredictionSink
from cairn.core.clock import now_ms
from cairn.core.errors import InvalidValue, Unavailable
from cairn.core.prediction_logs import HOUR_MS, hour_of
from cairn.service.interface import Tracking
from cairn.serving import payloads
from cairn.serving.model_source import ServedModel, open_model
from cairn.serving.prediction_log import PredictionLogger

COUNTERS = ("logged", "sampled_out", "dropped_full", "dropped_error")


def _connect(registered: Registered) -> Tracking:
    home = Path(registered.env["CAIRN_HOME"])
    return connect(registered.store_uri, blobs_uri=str(home / "blobs"))


@pytest.fixture(scope="module")
def served(registered: Registered, tmp_path_factory: pytest.TempPathFactory) -> dict[int, ServedModel]:
    """Both versions of the registered model, loaded as ``cairn serve`` loads them."""
    tracking = _connect(registered)
    cache = tmp_path_factory.mktemp("cache")
    try:
        return {v: open_model(tracking, f"models:/{registered.name}/{v}", cache) for v in (1, 2)}
    finally:
        tracking.close()


def _split(rows: pd.DataFrame) -> payloads.ParsedRequest:
    body = orjson.dumps({"dataframe_split": {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}})
    return payloads.parse_invocations(body, "application/json", None)


def _answer(model: ServedModel, request: payloads.ParsedRequest) -> Any:
    """What the app predicts for ``request``."""
    assert request.columns is not None
    return model.loaded.predict(pd.DataFrame(request.columns))


class Kept:
    """A sink that keeps every file it is handed (and can be made to wait)."""

    def __init__(self) -> None:
        self.files: list[tuple[str, int, int, bytes]] = []
        self.go_on = threading.Event()
        self.go_on.set()
        self.entered = threading.Event()
        self.closed = False

    def write(self, model: str, version: int, hour_ms: int, parquet: bytes) -> None:
        self.entered.set()
        self.go_on.wait()
        self.files.append((model, version, hour_ms, parquet))

    def close(self) -> None:
        self.closed = True

    def frames(self) -> list[pd.DataFrame]:
        return [pd.read_parquet(io.BytesIO(data)) for *_, data in self.files]


class Failing:
    """A sink whose store is never there."""

    def __init__(self) -> None:
        self.calls = 0

    def write(self, model: str, version: int, hour_ms: int, parquet: bytes) -> None:
        self.calls += 1
        raise Unavailable("the store is down")

    def close(self) -> None:
        pass


@pytest.fixture
def kept() -> Kept:
    return Kept()


def _closed_counters(logger: PredictionLogger) -> dict[str, int]:
    logger.close()
    return logger.counters()


def test_a_rate_of_zero_logs_nothing_and_one_logs_everything(
    served: dict[int, ServedModel], registered: Registered, kept: Kept
) -> None:
    request = _split(registered.features[:2])
    outputs = _answer(served[1], request)
    none = PredictionLogger(kept, sample_rate=0)
    for _ in range(50):
        none.offer(served[1], request, outputs, 1.0)
    assert _closed_counters(none) == {"logged": 0, "sampled_out": 50, "dropped_full": 0, "dropped_error": 0}
    assert kept.files == [] and kept.closed

    every = Kept()
    logger = PredictionLogger(every, sample_rate=1)
    for _ in range(50):
        logger.offer(served[1], request, outputs, 1.0)
    assert _closed_counters(logger) == {"logged": 50, "sampled_out": 0, "dropped_full": 0, "dropped_error": 0}
    assert sum(len(frame) for frame in every.frames()) == 100


def test_a_rate_between_samples_about_that_share(
    served: dict[int, ServedModel], registered: Registered, kept: Kept
) -> None:
    request = _split(registered.features[:1])
    outputs = _answer(served[1], request)
    logger = PredictionLogger(kept, sample_rate=0.25)
    for _ in range(4000):
        logger.offer(served[1], request, outputs, 1.0)
    counters = _closed_counters(logger)
    assert counters["logged"] + counters["sampled_out"] == 4000
    assert 800 < counters["logged"] < 1200


def test_a_full_queue_drops_with_a_count_and_offering_stays_fast(
    served: dict[int, ServedModel], registered: Registered, kept: Kept
) -> None:
    request = _split(registered.features[:1])
    outputs = _answer(served[1], request)
    kept.go_on.clear()  # the sink hangs: nothing leaves the queue
    logger = PredictionLogger(kept, sample_rate=1, max_queue=5, flush_rows=1)
    logger.offer(served[1], request, outputs, 1.0)
    assert kept.entered.wait(10)  # the writer holds the first, inside the sink
    started = time.perf_counter()
    for _ in range(2000):
        logger.offer(served[1], request, outputs, 1.0)
    per_offer = (time.perf_counter() - started) / 2000
    assert per_offer < 200e-6, f"{per_offer * 1e6:.1f} µs per offer"
    assert logger.counters()["dropped_full"] == 2000 - 5
    kept.go_on.set()
    counters = _closed_counters(logger)
    assert counters == {"logged": 6, "sampled_out": 0, "dropped_full": 1995, "dropped_error": 0}


def test_the_bytes_held_are_bounded_too(served: dict[int, ServedModel], registered: Registered, kept: Kept) -> None:
    request = _split(registered.features[:100])  # 5 columns of 100 numbers: about 4 kB
    outputs = _answer(served[1], request)
    kept.go_on.clear()
    logger = PredictionLogger(kept, sample_rate=1, max_queued_bytes=20_000, flush_rows=1)
    for _ in range(50):
        logger.offer(served[1], request, outputs, 1.0)
    kept.go_on.set()
    counters = _closed_counters(logger)
    assert counters["dropped_full"] >= 40 and counters["logged"] + counters["dropped_full"] == 50


def test_a_failing_sink_drops_each_file_once_and_never_raises(
    served: dict[int, ServedModel], registered: Registered, caplog: pytest.LogCaptureFixture
) -> None:
    request = _split(registered.features[:3])
    outputs = _answer(served[1], request)
    sink = Failing()
    logger = PredictionLogger(sink, sample_rate=1, flush_rows=3)  # a file per request
    with caplog.at_level(logging.WARNING, logger="cairn.serve"):
        for _ in range(10):
            logger.offer(served[1], request, outputs, 1.0)
        counters = _closed_counters(logger)
    assert counters == {"logged": 0, "sampled_out": 0, "dropped_full": 0, "dropped_error": 10}
    assert sink.calls == 10  # each file tried once, never again
    warnings = [r for r in caplog.records if r.name == "cairn.serve" and r.levelno == logging.WARNING]
    assert len(warnings) == 10 and "the store is down" in warnings[0].getMessage()


def test_close_waits_a_bounded_time_for_a_sink_that_hangs(
    served: dict[int, ServedModel], registered: Registered, kept: Kept, caplog: pytest.LogCaptureFixture
) -> None:
    request = _split(registered.features[:1])
    kept.go_on.clear()
    logger = PredictionLogger(kept, sample_rate=1, flush_rows=1, close_seconds=0.3)
    logger.offer(served[1], request, _answer(served[1], request), 1.0)
    assert kept.entered.wait(10)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="cairn.serve"):
        logger.close()
    assert time.monotonic() - started < 2
    assert "did not finish writing" in caplog.text
    kept.go_on.set()


def test_a_record_whose_predictions_do_not_fit_is_dropped_alone(
    served: dict[int, ServedModel], registered: Registered, kept: Kept
) -> None:
    request = _split(registered.features[:2])
    logger = PredictionLogger(kept, sample_rate=1)
    logger.offer(served[1], request, _answer(served[1], request), 1.0)
    logger.offer(served[1], request, np.array([1, 2, 3]), 1.0)  # three predictions for two rows
    logger.offer(served[1], request, np.float64(0.5), 1.0)  # one for two
    assert _closed_counters(logger) == {"logged": 1, "sampled_out": 0, "dropped_full": 0, "dropped_error": 2}
    (frame,) = kept.frames()
    assert len(frame) == 2


def test_a_record_of_another_type_than_the_others_is_dropped_alone(served: dict[int, ServedModel], kept: Kept) -> None:
    # No signature says what "x" is: one client sends numbers, another text.
    numbers = payloads.parse_invocations(b'{"inputs": {"x": [1.5, 2.5]}}', "application/json", None)
    text = payloads.parse_invocations(b'{"inputs": {"x": ["a", "b"]}}', "application/json", None)
    logger = PredictionLogger(kept, sample_rate=1)
    for request in (numbers, numbers, text):
        logger.offer(served[1], request, np.array([0, 1]), 1.0)
    assert _closed_counters(logger) == {"logged": 2, "sampled_out": 0, "dropped_full": 0, "dropped_error": 1}
    (frame,) = kept.frames()
    assert list(frame["x"]) == [1.5, 2.5, 1.5, 2.5]


def test_versions_get_files_of_their_own_with_every_kind_of_column(
    served: dict[int, ServedModel], registered: Registered, kept: Kept
) -> None:
    rows = registered.features[:2]
    by_columns = _split(rows)
    v2 = payloads.parse_v2_infer(
        orjson.dumps(
            {"id": "req-7", "inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6]}]}
        ),
        None,
    )
    assert v2.tensor is not None and v2.tensor.shape == (2, 3)
    logger = PredictionLogger(kept, sample_rate=1)
    logger.offer(served[1], by_columns, _answer(served[1], by_columns), 2.5)
    # a tensor in, named outputs out (a model answering a dict), from version 2
    logger.offer(served[2], v2, {"label": np.array(["a", "b"]), "score": np.array([0.1, 0.9])}, 4.0)
    # a column named like one of the file's own keeps its values under input.NAME
    clash = payloads.ParsedRequest({"request_id": ["mine", "mine too"], "f0": [1.0, 2.0]}, None, 2)
    logger.offer(served[1], clash, pd.Series([7, 8], name="y"), 1.0)
    assert _closed_counters(logger)["logged"] == 3

    by_version = {version: (model, hour, data) for model, version, hour, data in kept.files}
    assert set(by_version) == {1, 2}
    model, hour, data = by_version[1]
    assert model == registered.name
    assert hour in (hour_of(now_ms()), hour_of(now_ms()) - HOUR_MS)  # the hour may have just turned
    table = pq.read_table(io.BytesIO(data))
    metadata = table.schema.metadata
    assert orjson.loads(metadata[b"cairn.inputs"]) == [*FEATURES, "input.request_id"]
    assert orjson.loads(metadata[b"cairn.outputs"]) == ["prediction"]
    frame = table.to_pandas()
    assert len(frame) == 4 and set(frame["model_version"]) == {1}
    assert list(frame["input.request_id"].dropna()) == ["mine", "mine too"]
    assert frame["request_id"].str.len().min() == 32  # made for requests that have none

    _, _, data = by_version[2]
    two = pq.read_table(io.BytesIO(data))
    assert orjson.loads(two.schema.metadata[b"cairn.outputs"]) == ["prediction.label", "prediction.score"]
    frame = two.to_pandas()
    assert [list(row) for row in frame["input"]] == [[1, 2, 3], [4, 5, 6]]
    assert list(frame["prediction.label"]) == ["a", "b"] and list(frame["request_id"]) == ["req-7", "req-7"]
    assert list(frame["latency_ms"]) == [4.0, 4.0] and list(frame["model_version"]) == [2, 2]


def test_bad_settings_are_refused(kept: Kept) -> None:
    for settings in ({"sample_rate": 1.5}, {"sample_rate": -0.1}, {"sample_rate": 1, "flush_seconds": 0}):
        with pytest.raises(InvalidValue):
            PredictionLogger(kept, **settings)  # type: ignore[arg-type]


# -- the store sink ---------------------------------------------------------------------------------


@pytest.fixture
def store_logger(registered: Registered) -> Iterator[tuple[PredictionLogger, list[int]]]:
    """A logger writing to the registered model's store; the first connection fails (the
    store is away), every later one reaches it. Yields it and the connection attempts."""
    attempts: list[int] = []

    def connect_once_away() -> Tracking:
        attempts.append(len(attempts))
        if len(attempts) == 1:
            raise Unavailable("cannot reach the Cairn server")
        return _connect(registered)

    logger = PredictionLogger(StorePredictionSink(connect_once_away), sample_rate=1, flush_rows=4)
    yield logger, attempts
    logger.close()


def test_rows_round_trip_through_the_store(
    served: dict[int, ServedModel], registered: Registered, store_logger: tuple[PredictionLogger, list[int]]
) -> None:
    logger, attempts = store_logger
    since = now_ms()
    requests = [_split(registered.features[i : i + 4]) for i in (0, 4, 8)]
    for request in requests:
        logger.offer(served[2], request, _answer(served[2], request), 3.0)
    counters = _closed_counters(logger)
    # The first file met the store away and was dropped; the sink connected again for the next.
    assert counters == {"logged": 2, "sampled_out": 0, "dropped_full": 0, "dropped_error": 1}
    assert len(attempts) == 2

    tracking = _connect(registered)
    try:
        files = tracking.list_prediction_logs(registered.name, 2, since_ms=since).items
        assert [f.rows for f in files] == [4, 4]
        frames = [pd.read_parquet(io.BytesIO(tracking.read_prediction_log(registered.name, 2, f.id))) for f in files]
    finally:
        tracking.close()
    # Offered within a millisecond or two, the files' order is their ids'; the rows are the same.
    frame = pd.concat(frames).sort_values("f0", ignore_index=True)
    expected = registered.features[4:12].sort_values("f0", ignore_index=True)
    pd.testing.assert_frame_equal(frame[FEATURES], expected)
    assert list(frame["prediction"]) == registered.second.predict(expected).tolist()
    assert set(frame["model_version"]) == {2} and set(frame["latency_ms"]) == {3.0}
    assert frame["timestamp_ms"].between(since, now_ms()).all()


def test_a_store_that_refuses_a_file_counts_it(
    served: dict[int, ServedModel], registered: Registered, tmp_path: Path
) -> None:
    # A store without the model: each file is refused (model_not_found), and nothing is kept.
    other = str(tmp_path / "other.db")
    logger = PredictionLogger(
        StorePredictionSink(lambda: connect(other, blobs_uri=str(tmp_path / "blobs"))), sample_rate=1, flush_rows=1
    )
    request = _split(registered.features[:1])
    logger.offer(served[1], request, _answer(served[1], request), 1.0)
    assert _closed_counters(logger)["dropped_error"] == 1
