"""Labels of logged predictions through the tracking interface, on every backend
(docs/monitoring.md, "Labels"): kept, listed and read back, measured per window by the
performance report, a later label replacing an earlier one, and bad or unknown batches refused
whole, the same error everywhere."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from tests.contract.helpers import author_of
from tests.contract.test_prediction_logs import HOUR, log_file
from tests.contract.test_registry import trained_run

from cairn.core.errors import (
    InvalidPredictionLabels,
    InvalidValue,
    ModelNotFound,
    ModelVersionNotFound,
    PredictionLabelsNotFound,
    UnknownPredictionIds,
)
from cairn.core.prediction_logs import HOUR_MS
from cairn.service.interface import Tracking

UNKNOWN_FILE = "0" * 32


@pytest.fixture
def model(tracking: Tracking, tmp_path: Path) -> str:
    """A classifier (its signature's output is an integer) with six logged predictions in the
    first hour, r0 … r5, predicting 0, 1, 0, 1, 0, 1, and two in the next, s0 and s1."""
    tracking.register_model(f"runs:/{trained_run(tracking, tmp_path, b'labelled')}/model", "labelled")
    tracking.log_predictions("labelled", 1, HOUR, log_file(rows=6))
    later = [HOUR + HOUR_MS + 10, HOUR + HOUR_MS + 20]
    tracking.log_predictions("labelled", 1, HOUR + HOUR_MS, log_file(times=later, request_id=["s0", "s1"]))
    return "labelled"


def _rows(data: bytes) -> dict[str, list[Any]]:
    return pq.read_table(io.BytesIO(data)).to_pydict()  # type: ignore[no-any-return]


def test_labels_are_kept_listed_read_back_and_measured(tracking: Tracking, model: str) -> None:
    kept = tracking.log_prediction_labels(model, 1, ["r0", "r1", "r2", "r3"], [0, 1, 1, 1], [HOUR + 5] * 4)
    assert (kept.model, kept.version, kept.rows) == (model, 1, 4)
    # The span of the predictions labelled, not of the labels.
    assert (kept.first_ms, kept.last_ms) == (HOUR, HOUR + 3000)
    assert kept.created_by == author_of(tracking) and len(kept.digest) == 64 and kept.size > 0
    assert tracking.list_prediction_labels(model, 1) == [kept]
    assert tracking.list_prediction_labels(model, 1, since_ms=HOUR + HOUR_MS) == []
    assert _rows(tracking.read_prediction_labels(model, 1, kept.id)) == {
        "request_id": ["r0", "r1", "r2", "r3"],
        "label": [0, 1, 1, 1],
        "timestamp_ms": [HOUR + 5] * 4,
    }

    report = tracking.performance_report(model, 1, "1h", HOUR, HOUR + 2 * HOUR_MS)
    assert (report["model"], report["version"], report["kind"]) == (model, 1, "classifier")
    first, second = report["windows"]
    assert (first["start"], first["end"]) == ("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z")
    assert (first["rows"], first["labelled"]) == (6, 4)
    # Predicted 0, 1, 0, 1 against 0, 1, 1, 1: three right; F1 of class 1: 2·2 / (2·2 + 1).
    assert first["metrics"] == {"accuracy": 0.75, "f1": pytest.approx(0.8)}
    assert (second["rows"], second["labelled"], second["metrics"]) == (2, 0, {})

    # A later label of r2 replaces the earlier one, whichever call it came in.
    again = tracking.log_prediction_labels(model, 1, ["r2", "s0"], [0, 0], [HOUR + 9, HOUR + 9])
    assert (again.first_ms, again.last_ms) == (HOUR + 2000, HOUR + HOUR_MS + 10)
    first, second = tracking.performance_report(model, 1, "1h", HOUR, HOUR + 2 * HOUR_MS)["windows"]
    assert (first["labelled"], first["metrics"]["accuracy"]) == (4, 1.0)
    assert (second["labelled"], second["metrics"]["accuracy"]) == (1, 1.0)
    # … but not an older one: the label known last counts, not the one sent last.
    tracking.log_prediction_labels(model, 1, ["r2"], [1], [HOUR + 7])
    first = tracking.performance_report(model, 1, "1h", HOUR, HOUR + HOUR_MS)["windows"][0]
    assert first["metrics"]["accuracy"] == 1.0
    assert len(tracking.list_prediction_labels(model, 1)) == 3

    # Default window (a day) and range (the first log until now): one window.
    (day,) = tracking.performance_report(model, 1)["windows"]
    assert (day["rows"], day["labelled"]) == (8, 5)


def test_text_labels_and_timestamps_left_out(tracking: Tracking, tmp_path: Path) -> None:
    tracking.register_model(f"runs:/{trained_run(tracking, tmp_path, b'text')}/model", "texts")
    names = ["cat", "dog", "cat"]
    tracking.log_predictions("texts", 1, HOUR, log_file(prediction=names))
    kept = tracking.log_prediction_labels("texts", 1, ["r0", "r1", "r2"], ["cat", "cat", "cat"])
    rows = _rows(tracking.read_prediction_labels("texts", 1, kept.id))
    assert rows["label"] == ["cat", "cat", "cat"]
    assert len(set(rows["timestamp_ms"])) == 1 and rows["timestamp_ms"][0] > HOUR  # now, when left out
    (window,) = tracking.performance_report("texts", 1, "1h", HOUR, HOUR + HOUR_MS)["windows"]
    assert window["metrics"]["accuracy"] == pytest.approx(2 / 3)


def test_unknown_ids_refuse_the_whole_batch(tracking: Tracking, model: str) -> None:
    with pytest.raises(UnknownPredictionIds) as refused:
        tracking.log_prediction_labels(model, 1, ["r0", "nope-1", "r1", "nope-2"], [1, 1, 1, 1])
    assert refused.value.details["unknown"] == ["nope-1", "nope-2"]
    assert refused.value.details["count"] == 2
    assert tracking.list_prediction_labels(model, 1) == []
    # Ids of another version's predictions are unknown to this one.
    tracking.register_model(f"runs:/{tracking.get_model_version(model, 1).run_id}/model", model)
    with pytest.raises(UnknownPredictionIds):
        tracking.log_prediction_labels(model, 2, ["r0"], [1])
    many = [f"x{i}" for i in range(25)]
    with pytest.raises(UnknownPredictionIds) as refused:
        tracking.log_prediction_labels(model, 1, many, [0] * 25)
    assert len(refused.value.details["unknown"]) == 10 and refused.value.details["count"] == 25


@pytest.mark.parametrize(
    ("ids", "labels", "timestamps", "field"),
    [
        (["r0", "r1"], [1], None, "labels"),
        ([], [], None, "ids"),
        (["r0"], [1], [1, 2], "timestamps"),
        (["r0"], [{"a": 1}], None, "labels"),
        (["r0"], [None], None, "labels"),
        (["r0", "r1"], [1, "one"], None, "labels"),
        (["r0"], [math.nan], None, "labels"),
        (["r0"], [math.inf], None, "labels"),
        (["r0"], [2**64], None, "labels"),
        (["r0"], ["a\x00b"], None, "labels"),
        (["r\x000"], [1], None, "ids"),
        ([""], [1], None, "ids"),
        ([7], [1], None, "ids"),
        (["r0"], [1], [-1], "timestamps"),
        (["r0"], [1], [1.5], "timestamps"),
        ("r0", [1], None, "ids"),
    ],
)
def test_bad_labels_are_refused_and_nothing_is_kept(
    tracking: Tracking, model: str, ids: Any, labels: Any, timestamps: Any, field: str
) -> None:
    with pytest.raises(InvalidPredictionLabels) as refused:
        tracking.log_prediction_labels(model, 1, ids, labels, timestamps)
    assert refused.value.details["field"] == field
    assert tracking.list_prediction_labels(model, 1) == []


def test_numpy_arrays_are_labels_too(tracking: Tracking, model: str) -> None:
    kept = tracking.log_prediction_labels(model, 1, np.array(["r0", "r1"]), np.array([1, 0]), np.array([5, 6]))
    assert _rows(tracking.read_prediction_labels(model, 1, kept.id))["label"] == [1, 0]


def test_unknown_models_versions_and_files(tracking: Tracking, model: str) -> None:
    with pytest.raises(ModelNotFound):
        tracking.log_prediction_labels("no-such-model", 1, ["r0"], [1])
    with pytest.raises(ModelVersionNotFound):
        tracking.log_prediction_labels(model, 9, ["r0"], [1])
    with pytest.raises(ModelVersionNotFound):
        tracking.performance_report(model, 9)
    with pytest.raises(PredictionLabelsNotFound):
        tracking.read_prediction_labels(model, 1, UNKNOWN_FILE)
    with pytest.raises(InvalidValue):
        tracking.read_prediction_labels(model, 1, "not-an-id")
    with pytest.raises(InvalidValue):
        tracking.performance_report(model, 1, "2x")
    with pytest.raises(InvalidValue):
        tracking.performance_report(model, 1, "30m")
    assert tracking.performance_report(model, 1, "120m", HOUR, HOUR + HOUR_MS)["windows"][0]["rows"] == 6
    assert tracking.performance_report(model, 1, start_ms=HOUR + 30 * 24 * HOUR_MS)["windows"] == []
