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
    InvalidPageToken,
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
    assert tracking.list_prediction_labels(model, 1).items == [kept]
    assert tracking.list_prediction_labels(model, 1, since_ms=HOUR + HOUR_MS).items == []
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
    assert len(tracking.list_prediction_labels(model, 1).items) == 3
    # Pages of files, oldest first by the first prediction they label.
    first_page = tracking.list_prediction_labels(model, 1, limit=2)
    assert [f.first_ms for f in first_page.items] == [HOUR, HOUR + 2000] and first_page.next_page_token
    rest = tracking.list_prediction_labels(model, 1, limit=2, page_token=first_page.next_page_token)
    assert [f.first_ms for f in rest.items] == [HOUR + 2000] and rest.next_page_token is None
    every = tracking.list_prediction_labels(model, 1).items
    assert {f.id for f in first_page.items + rest.items} == {f.id for f in every}
    with pytest.raises(InvalidPageToken):
        tracking.list_prediction_labels(model, 1, page_token="nonsense")

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
    assert tracking.list_prediction_labels(model, 1).items == []
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
    assert tracking.list_prediction_labels(model, 1).items == []


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


# -- monitors: performance per evaluated window -----------------------------------------------

CLASSIFIER_SIGNATURE = {
    "inputs": [{"name": "x1", "type": "double"}, {"name": "x2", "type": "double"}, {"name": "city", "type": "string"}],
    "outputs": [{"name": "prediction", "type": "integer"}],
}
ROWS_PER_HOUR = 40


def classifier(tracking: Tracking, tmp_path: Path, name: str) -> str:
    """A classifier @champion whose run trained on a stored reference of x1, x2 and city."""
    from tests.contract.helpers import manifest_json
    from tests.contract.test_monitors import frame, parquet
    from tests.contract.test_registry import _upload

    from cairn.core.artifacts import ArtifactEntry, DatasetFileEntry, DatasetSpec

    run = tracking.create_run("monitoring")
    data = parquet(frame(np.random.default_rng(7), 2000))
    digest, size = _upload(tracking, tmp_path, data)
    spec = DatasetSpec(
        name="train",
        digest=digest,
        source_uri="memory://train",
        source_kind="dataframe",
        rows=2000,
        columns=4,
        files=[DatasetFileEntry("data.parquet", digest, size)],
        stored=True,
    )
    tracking.log_dataset(run.id, spec, "train")
    weights, weights_size = _upload(tracking, tmp_path, f"weights of {name}".encode())
    manifest = manifest_json({"model.bin": weights}, signature=CLASSIFIER_SIGNATURE)
    manifest_digest, manifest_size = _upload(tracking, tmp_path, manifest)
    tracking.log_artifacts(
        run.id,
        [
            ArtifactEntry("model/model.bin", weights, weights_size),
            ArtifactEntry("model/cairn-model.json", manifest_digest, manifest_size),
        ],
    )
    version = tracking.register_model(f"runs:/{run.id}/model", name)
    tracking.set_model_alias(name, "champion", version.version)
    return name


def log_days(tracking: Tracking, name: str, days: int) -> tuple[list[str], np.ndarray]:
    """``days`` days of predictions (class 1 when x1 > 0, with a probability), a file per hour;
    the request ids and predictions in order."""
    from tests.contract.test_monitors import DAY0, frame, parquet

    rng = np.random.default_rng(5)
    meta = {b"cairn.inputs": b'["x1","x2","city"]', b"cairn.outputs": b'["prediction","probability"]'}
    ids: list[str] = []
    predicted: list[np.ndarray] = []
    for hour in range(days * 24):
        start = DAY0 + hour * HOUR_MS
        columns = frame(rng, ROWS_PER_HOUR)
        columns["prediction"] = (columns["x1"] > 0).astype(np.int64)
        columns["probability"] = 1 / (1 + np.exp(-3 * columns["x1"]))
        hour_ids = [f"{hour}-{i}" for i in range(ROWS_PER_HOUR)]
        columns.update(
            request_id=np.array(hour_ids),
            timestamp_ms=start + np.sort(rng.integers(0, HOUR_MS, ROWS_PER_HOUR)).astype(np.int64),
            latency_ms=np.full(ROWS_PER_HOUR, 2.0),
            model_version=np.full(ROWS_PER_HOUR, 1, dtype=np.int64),
        )
        tracking.log_predictions(name, 1, start, parquet(columns, meta))
        ids += hour_ids
        predicted.append(columns["prediction"])
    return ids, np.concatenate(predicted)


def test_a_monitor_opens_an_alert_when_accuracy_drops(tracking: Tracking, tmp_path: Path) -> None:
    from sklearn import metrics
    from tests.contract.test_monitors import DAY0, DAY_MS

    name = classifier(tracking, tmp_path, "churn")
    ids, predicted = log_days(tracking, name, 3)
    per_day = 24 * ROWS_PER_HOUR
    # Days one and two: the model is right 95% of the time; day three: 60%.
    rng = np.random.default_rng(9)
    wrong = np.concatenate([rng.random(2 * per_day) < 0.05, rng.random(per_day) < 0.40])
    labels = np.where(wrong, 1 - predicted, predicted)
    labelled = rng.random(len(ids)) < 0.8  # not every prediction gets its label
    tracking.log_prediction_labels(name, 1, list(np.array(ids)[labelled]), labels[labelled].tolist())

    tracking.create_monitor(
        name,
        features=["x1"],
        predictions=False,
        window="1d",
        performance={"accuracy": 0.8, "roc_auc": 0.5},
    )
    run = tracking.run_monitor(name)
    assert run.error is None and [w.start_ms for w in run.windows] == [DAY0 + d * DAY_MS for d in range(3)]
    for day, window in enumerate(run.windows):
        rows = slice(day * per_day, (day + 1) * per_day)
        mask = labelled[rows]
        truth, guess = labels[rows][mask], predicted[rows][mask]
        performance = window.result["performance"]
        assert performance["labelled"] == int(mask.sum())
        assert performance["accuracy"] == pytest.approx(metrics.accuracy_score(truth, guess))
        assert performance["f1"] == pytest.approx(metrics.f1_score(truth, guess))
        assert 0.5 < performance["roc_auc"] <= 1.0
    assert [w.breached for w in run.windows] == [False, False, True]
    assert run.windows[2].result["breaches"]["features"] == {}
    breach = run.windows[2].result["breaches"]["performance"]
    assert set(breach) == {"accuracy"} and breach["accuracy"]["threshold"] == 0.8
    assert breach["accuracy"]["value"] == run.windows[2].result["performance"]["accuracy"] < 0.8

    (alert,) = tracking.list_alerts(name)
    assert alert.id == run.opened[0] and alert.first_window_ms == DAY0 + 2 * DAY_MS
    assert alert.detail["features"] == {}
    accuracy = alert.detail["performance"]["accuracy"]
    assert accuracy["value"] < accuracy["threshold"] == 0.8 and accuracy["first_window_ms"] == DAY0 + 2 * DAY_MS
    (event,) = tracking.list_events(types=["alert.opened"], subject=f"models/{name}/*").items
    assert event.data["performance"]["accuracy"]["value"] == accuracy["value"]

    # The report measures the same, now, with the same labels.
    report = tracking.performance_report(name, 1, "1d", DAY0, DAY0 + 3 * DAY_MS)
    assert report["kind"] == "classifier"
    assert [w["metrics"]["accuracy"] for w in report["windows"]] == [
        w.result["performance"]["accuracy"] for w in run.windows
    ]


def test_a_regressor_is_measured_by_rmse_and_mae(tracking: Tracking, tmp_path: Path) -> None:
    from sklearn import metrics
    from tests.contract.test_monitors import DAY0, monitored_model

    name = monitored_model(tracking, tmp_path, "demand")  # its signature's prediction is a double
    meta = {b"cairn.inputs": b'["x1"]', b"cairn.outputs": b'["prediction"]'}
    rng = np.random.default_rng(3)
    predicted = rng.normal(5.0, 2.0, 50)
    from tests.contract.test_monitors import parquet

    columns = {
        "x1": rng.normal(0.0, 1.0, 50),
        "prediction": predicted,
        "request_id": np.array([f"q{i}" for i in range(50)]),
        "timestamp_ms": DAY0 + np.arange(50, dtype=np.int64),
        "latency_ms": np.full(50, 1.0),
        "model_version": np.full(50, 1, dtype=np.int64),
    }
    tracking.log_predictions(name, 1, DAY0, parquet(columns, meta))
    truth = predicted + rng.normal(0.0, 0.5, 50)
    tracking.log_prediction_labels(name, 1, [f"q{i}" for i in range(50)], truth.tolist())
    report = tracking.performance_report(name, 1, "1h", DAY0, DAY0 + HOUR_MS)
    assert report["kind"] == "regressor"
    (window,) = report["windows"]
    assert window["labelled"] == 50 and set(window["metrics"]) == {"rmse", "mae"}
    assert window["metrics"]["rmse"] == pytest.approx(np.sqrt(metrics.mean_squared_error(truth, predicted)))
    assert window["metrics"]["mae"] == pytest.approx(metrics.mean_absolute_error(truth, predicted))
