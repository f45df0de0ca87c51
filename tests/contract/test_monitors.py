"""Monitors through the tracking interface, on every backend (docs/monitoring.md): a model
trained on a stored reference, a week of logged predictions in which one input moves from day
five, and a monitor that finds exactly that input, in exactly those windows, with one alert.
The same week unshifted raises nothing (the false-alarm check)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats
from tests.contract.helpers import manifest_json
from tests.contract.test_registry import _upload

from cairn.client.datasets import describe_dataset
from cairn.core.artifacts import ArtifactEntry, DatasetFileEntry, DatasetSpec
from cairn.core.errors import (
    AliasNotFound,
    AlreadyExists,
    Conflict,
    InvalidValue,
    MonitorNotFound,
    ReferenceUnavailable,
)
from cairn.core.monitors import AlertStatus
from cairn.core.prediction_logs import HOUR_MS
from cairn.service.interface import Tracking

DAY_MS = 24 * HOUR_MS
DAY0 = 1_767_225_600_000  # 2026-01-01T00:00Z
SIGNATURE = {
    "inputs": [{"name": "x1", "type": "double"}, {"name": "x2", "type": "double"}, {"name": "city", "type": "string"}],
    "outputs": [{"name": "prediction", "type": "double"}],
}
CITIES = np.array(["oslo", "lima", "pune"])
ROWS_PER_HOUR = 200  # 4,800 a day: a window small enough to be noisy, as a quiet day is


def frame(rng: np.random.Generator, rows: int, *, shift: float = 0.0) -> dict[str, np.ndarray]:
    x1 = rng.normal(0.0, 1.0, rows) + shift
    x2 = rng.normal(5.0, 2.0, rows)
    return {"x1": x1, "x2": x2, "city": CITIES[rng.integers(0, 3, rows)], "prediction": 0.5 * x1 + 0.1 * x2}


def parquet(columns: dict[str, object], metadata: dict[bytes, bytes] | None = None) -> bytes:
    table = pa.table(columns)
    if metadata:
        table = table.replace_schema_metadata(metadata)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def monitored_model(
    tracking: Tracking,
    tmp_path: Path,
    name: str = "scorer",
    *,
    with_reference: bool = True,
    stored: bool = True,
    arrays_first: bool = False,
) -> str:
    """A registered model @champion whose run trained on a 5,000-row reference: stored, or
    (``stored=False``) known by the profile the client makes of it, as ``log_dataset`` keeps.
    ``arrays_first``: the run logged arrays for training before that (as Keras's callback does)."""
    run = tracking.create_run("monitoring")
    reference = frame(np.random.default_rng(7), 5000)
    if arrays_first:
        arrays = (np.stack([reference["x1"], reference["x2"]], axis=1), reference["prediction"])
        tracking.log_dataset(run.id, describe_dataset(arrays).spec("arrays"), "train")
    if with_reference and not stored:
        tracking.log_dataset(run.id, describe_dataset(pd.DataFrame(reference)).spec("train"), "train")
    elif with_reference:
        data = parquet(reference)
        digest, size = _upload(tracking, tmp_path, data)
        spec = DatasetSpec(
            name="train",
            digest=digest,
            source_uri="memory://train",
            source_kind="dataframe",
            rows=5000,
            columns=4,
            files=[DatasetFileEntry("data.parquet", digest, size)],
            stored=True,
        )
        tracking.log_dataset(run.id, spec, "train")
    weights, weights_size = _upload(tracking, tmp_path, f"weights of {name}".encode())
    manifest = manifest_json({"model.bin": weights}, signature=SIGNATURE)
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


def log_week(tracking: Tracking, name: str, *, shift_from_day: int | None, seed: int = 11) -> None:
    """Seven days of predictions, one file per hour; x1 moves by one standard deviation from
    ``shift_from_day`` (0-based) on."""
    rng = np.random.default_rng(seed)
    meta = {b"cairn.inputs": b'["x1","x2","city"]', b"cairn.outputs": b'["prediction"]', b"cairn.model": name.encode()}
    for hour in range(7 * 24):
        start = DAY0 + hour * HOUR_MS
        shifted = shift_from_day is not None and hour // 24 >= shift_from_day
        columns = frame(rng, ROWS_PER_HOUR, shift=1.0 if shifted else 0.0)
        times = start + np.sort(rng.integers(0, HOUR_MS, ROWS_PER_HOUR))
        columns.update(
            request_id=np.array([f"{hour}-{i}" for i in range(ROWS_PER_HOUR)]),
            timestamp_ms=times.astype(np.int64),
            latency_ms=np.full(ROWS_PER_HOUR, 2.0),
            model_version=np.full(ROWS_PER_HOUR, 1, dtype=np.int64),
        )
        tracking.log_predictions(name, 1, start, parquet(columns, meta))


def test_a_shift_from_day_five_drifts_that_feature_in_those_windows_with_one_alert(
    tracking: Tracking, tmp_path: Path
) -> None:
    name = monitored_model(tracking, tmp_path)
    log_week(tracking, name, shift_from_day=4)
    monitor = tracking.create_monitor(name, features=["x1", "x2", "city"], window="1d")
    assert (monitor.alias, monitor.version, monitor.config.window) == ("champion", None, "1d")

    run = tracking.run_monitor(name)
    assert run.error is None and run.version == 1 and not run.busy
    assert [w.start_ms for w in run.windows] == [DAY0 + d * DAY_MS for d in range(7)]
    assert all(w.rows == 24 * ROWS_PER_HOUR for w in run.windows)
    drifted = [sorted(f for f, v in w.result["features"].items() if v["drifted"]) for w in run.windows]
    # Exactly the moved input drifts; the prediction, made from it, drifts with it.
    assert drifted == [[], [], [], [], ["prediction", "x1"], ["prediction", "x1"], ["prediction", "x1"]]
    assert [w.breached for w in run.windows] == [False] * 4 + [True] * 3
    assert len(run.opened) == 1 and run.resolved == []

    (alert,) = tracking.list_alerts(name)
    assert alert.id == run.opened[0] and alert.status is AlertStatus.OPEN and alert.version == 1
    assert (alert.first_window_ms, alert.last_window_ms, alert.breached_windows) == (
        DAY0 + 4 * DAY_MS,
        DAY0 + 6 * DAY_MS,
        3,
    )
    x1 = alert.detail["features"]["x1"]
    assert x1["method"] == "wasserstein" and x1["value"] >= x1["threshold"] == 0.1
    assert x1["first_window_ms"] == DAY0 + 4 * DAY_MS
    assert sorted(alert.detail["features"]) == ["prediction", "x1"]

    # The statistic is scipy's on the same arrays (binned: within a small tolerance).
    window5 = run.windows[5].result["features"]["x1"]
    reference = frame(np.random.default_rng(7), 5000)["x1"]
    logged = tracking.read_prediction_log  # the day's values, read back from the store
    files = tracking.list_prediction_logs(name, 1, since_ms=DAY0 + 5 * DAY_MS, until_ms=DAY0 + 6 * DAY_MS).items
    current = np.concatenate([pq.read_table(io.BytesIO(logged(name, 1, f.id))).column("x1").to_numpy() for f in files])
    exact = stats.wasserstein_distance(reference, current) / np.std(reference)
    assert window5["value"] == pytest.approx(exact, abs=0.01)

    # Evaluated windows are not evaluated again, and a continuing breach fires no second alert.
    again = tracking.run_monitor(name)
    assert again.windows == [] and again.opened == []
    assert [w.start_ms for w in tracking.list_monitor_windows(name)] == [DAY0 + d * DAY_MS for d in range(7)]

    events = tracking.list_events(types=["alert.*"], subject=f"models/{name}/*").items
    assert [e.type.value for e in events] == ["alert.opened"]
    assert events[0].data["features"]["x1"]["method"] == "wasserstein"
    assert events[0].data["window_start_ms"] == DAY0 + 4 * DAY_MS

    acknowledged = tracking.acknowledge_alert(name, alert.id)
    assert acknowledged.status is AlertStatus.ACKNOWLEDGED and acknowledged.acknowledged_by
    resolved = tracking.resolve_alert(name, alert.id)
    assert resolved.status is AlertStatus.RESOLVED
    with pytest.raises(Conflict):
        tracking.acknowledge_alert(name, alert.id)
    assert tracking.list_alerts(name, status=["open", "acknowledged"]) == []
    kinds = [e.type.value for e in tracking.list_events(types=["alert.*"], subject=f"models/{name}/*").items]
    assert kinds == ["alert.resolved", "alert.acknowledged", "alert.opened"]


def test_an_unshifted_week_raises_nothing_at_the_defaults(tracking: Tracking, tmp_path: Path) -> None:
    name = monitored_model(tracking, tmp_path)
    log_week(tracking, name, shift_from_day=None, seed=12)
    tracking.create_monitor(name)  # every input and the prediction, default methods and thresholds
    run = tracking.run_monitor(name)
    assert len(run.windows) == 7 and not any(w.breached for w in run.windows)
    assert run.opened == [] and tracking.list_alerts(name) == []
    compared = set(run.windows[0].result["features"])
    assert compared == {"x1", "x2", "city", "prediction"}


def test_a_reference_known_only_by_its_profile_measures_numbers_too(tracking: Tracking, tmp_path: Path) -> None:
    # The training data was logged with store=False: its profile's percentiles stand for the
    # numbers, its top values for the cities.
    name = monitored_model(tracking, tmp_path, "profiled", stored=False)
    log_week(tracking, name, shift_from_day=4)
    tracking.create_monitor(name, features=["x1", "x2", "city"], window="1d")
    run = tracking.run_monitor(name)
    assert run.error is None and len(run.windows) == 7
    drifted = [sorted(f for f, v in w.result["features"].items() if v["drifted"]) for w in run.windows]
    assert drifted == [[], [], [], [], ["prediction", "x1"], ["prediction", "x1"], ["prediction", "x1"]]
    x1 = run.windows[5].result["features"]["x1"]
    assert x1["method"] == "wasserstein" and x1["value"] == pytest.approx(1.0, abs=0.1)  # one sd
    assert run.windows[0].result["features"]["city"]["method"] == "jensenshannon"
    assert len(run.opened) == 1


def test_the_report_has_its_fixed_form(tracking: Tracking, tmp_path: Path) -> None:
    name = monitored_model(tracking, tmp_path)
    log_week(tracking, name, shift_from_day=4)
    report = tracking.drift_report(name, since_ms=DAY0 + 3 * DAY_MS, until_ms=DAY0 + 6 * DAY_MS)
    assert set(report) == {"model", "version", "windows"} and (report["model"], report["version"]) == (name, 1)
    assert [w["start"] for w in report["windows"]] == [
        "2026-01-04T00:00:00Z",
        "2026-01-05T00:00:00Z",
        "2026-01-06T00:00:00Z",
    ]
    first = report["windows"][0]
    assert set(first) == {"start", "end", "rows", "features", "drifted_share", "drifted"}
    assert first["end"] == "2026-01-05T00:00:00Z" and first["rows"] == 24 * ROWS_PER_HOUR
    assert set(first["features"]["x1"]) == {"method", "value", "threshold", "drifted"}
    assert [w["features"]["x1"]["drifted"] for w in report["windows"]] == [False, True, True]
    assert not any(w["features"]["x2"]["drifted"] for w in report["windows"])
    # A window of hours; nothing logged in the range: no windows, not an error.
    assert len(tracking.drift_report(name, window="6h", since_ms=DAY0, until_ms=DAY0 + DAY_MS)["windows"]) == 4
    assert tracking.drift_report(name, since_ms=DAY0 + 30 * DAY_MS)["windows"] == []


def test_bad_monitors_are_refused_before_anything_is_kept(tracking: Tracking, tmp_path: Path) -> None:
    name = monitored_model(tracking, tmp_path)
    refused = [
        {"features": ["x1", "no_such_input"]},
        {"drift": {"thresholds": {"wasserstein": "abc"}}},
        {"drift": {"drift_share": 2}},
        {"drift": {"methods": {"x1": "magic"}}},
        {"performance": {"accuracy": "high"}},
        {"performance": {"precision_at_k": 0.5}},
        {"window": "2x"},
        {"window": "30m"},
        {"schedule": "1s"},
        {"alert_on": "everything"},
        {"reference": {"kind": "elsewhere"}},
    ]
    for options in refused:
        with pytest.raises(InvalidValue):
            tracking.create_monitor(name, **options)  # type: ignore[arg-type]
    with pytest.raises(AliasNotFound):
        tracking.create_monitor(name, alias="staging")
    with pytest.raises(InvalidValue):
        tracking.create_monitor(name, "a/b")
    assert tracking.list_monitors(name) == []

    tracking.create_monitor(name, "drift")
    with pytest.raises(AlreadyExists):
        tracking.create_monitor(name, "drift")
    with pytest.raises(MonitorNotFound):
        tracking.get_monitor(name, "other")
    with pytest.raises(MonitorNotFound):
        tracking.run_monitor(name, "other")
    tracking.delete_monitor(name, "drift")
    assert tracking.list_monitors(name) == []


def test_without_training_data_the_monitor_says_so_and_raises_no_alert(tracking: Tracking, tmp_path: Path) -> None:
    name = monitored_model(tracking, tmp_path, "bare", with_reference=False)
    log_week(tracking, name, shift_from_day=0)
    tracking.create_monitor(name)
    run = tracking.run_monitor(name)
    assert run.windows == [] and run.error is not None and "train" in run.error
    assert "train" in (tracking.get_monitor(name).last_error or "")
    assert tracking.list_alerts(name) == []
    with pytest.raises(ReferenceUnavailable):
        tracking.drift_report(name)


def test_arrays_logged_for_training_give_way_to_a_table_and_alone_say_why_not(
    tracking: Tracking, tmp_path: Path
) -> None:
    both = monitored_model(tracking, tmp_path, "arrays-and-table", arrays_first=True)
    log_week(tracking, both, shift_from_day=4)
    tracking.create_monitor(both, features=["x1"], window="1d")
    run = tracking.run_monitor(both)
    assert run.error is None and [w.breached for w in run.windows] == [False] * 4 + [True] * 3

    alone = monitored_model(tracking, tmp_path, "arrays-only", with_reference=False, arrays_first=True)
    log_week(tracking, alone, shift_from_day=None)
    tracking.create_monitor(alone)
    run = tracking.run_monitor(alone)
    assert run.windows == [] and run.error is not None and "holds arrays" in run.error
    with pytest.raises(ReferenceUnavailable, match="log the training features as a DataFrame"):
        tracking.drift_report(alone)


def test_an_empty_model_has_no_windows(tracking: Tracking, tmp_path: Path) -> None:
    name = monitored_model(tracking, tmp_path, "quiet")
    tracking.create_monitor(name, window="6h")
    run = tracking.run_monitor(name)
    assert run.error is None and run.windows == [] and run.opened == []
    assert tracking.drift_report(name) == {"model": name, "version": 1, "windows": []}
