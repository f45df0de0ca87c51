"""Issue 16's "Done means", end to end against ``cairn server`` as operators run it (two worker
processes): a real scikit-learn model trained on a stored reference and promoted to
``@champion``; a week of traffic logged through ``cairn.monitor`` in which one input moves from
day five; the server's own background evaluation finds that input, in those windows, and a webhook
receiver gets one ``alert.opened``, signed, once — with the feature, the window it started in
and by how much. Labels sent later give performance per window, and an unshifted week of the
same model drifts nowhere at the default thresholds (the false-alarm check)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook
from tests.helpers import Receiver, eventually

import cairn
from cairn.client.http import HttpTracking
from cairn.core.prediction_logs import HOUR_MS

if TYPE_CHECKING:
    from tests.e2e.conftest import ServerProcess

pd = pytest.importorskip("pandas")
from sklearn.linear_model import LinearRegression  # noqa: E402

NAME = "demand"
DAY_MS = 24 * HOUR_MS
DAY0 = 1_767_225_600_000  # 2026-01-01T00:00Z
ROWS_PER_HOUR = 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def _features(rng: np.random.Generator, rows: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "temperature": rng.normal(15.0, 5.0, rows) + shift,
            "price": rng.normal(10.0, 1.0, rows),
            "weekday": rng.integers(0, 7, rows).astype("float64"),
        }
    )


def _week_of_traffic(url: str, model: LinearRegression, version: int, shift_from_day: int | None) -> list[str]:
    """What a serving stack logs through ``cairn.monitor``: seven days of traffic with simulated
    times, the model's own predictions; from ``shift_from_day`` temperature moves by one
    standard deviation. Returns the request ids of the first day."""
    rng = np.random.default_rng(5 + version)
    first_day: list[str] = []
    with cairn.monitor(NAME, version, uri=url, flush_interval=0.2) as monitor:
        for hour in range(7 * 24):
            shifted = shift_from_day is not None and hour >= shift_from_day * 24
            inputs = _features(rng, ROWS_PER_HOUR, shift=5.0 if shifted else 0.0)
            times = DAY0 + hour * HOUR_MS + np.sort(rng.integers(0, HOUR_MS, ROWS_PER_HOUR))
            ids = monitor.log(inputs, model.predict(inputs), timestamps=times)
            if hour < 24:
                first_day.extend(ids)
        assert monitor.flush(timeout=120) is True
        assert (monitor.rows_sent, monitor.rows_dropped, monitor.rows_mismatched) == (7 * 24 * ROWS_PER_HOUR, 0, 0)
    return first_day


def test_a_moved_input_is_found_by_the_server_and_alerted_once(
    start_server: Callable[..., ServerProcess], receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_server(workers=2, args=("--allow-private-webhooks", "--monitor-poll", "0.5"))
    monkeypatch.setenv("CAIRN_URI", server.url)
    tracking = HttpTracking(server.url)
    hook = tracking.create_webhook(f"{receiver.url}/alerts", ["alert.*"])
    assert hook.secret is not None

    # Train on a reference kept with the run, register, promote.
    rng = np.random.default_rng(1)
    reference = _features(rng, 20_000)
    target = 3.0 * reference["temperature"] - 2.0 * reference["price"] + rng.normal(0, 1, len(reference))
    model = LinearRegression().fit(reference, target)
    with cairn.init("demand", flush_interval=0.05) as run:
        run.log_dataset(reference.assign(prediction=model.predict(reference)), "history", context="train", store=True)
        uri = run.log_model(model, "model", input_example=reference.head(3)).uri
    assert cairn.register_model(uri, NAME).version == 1
    tracking.set_model_alias(NAME, "champion", 1)

    first_day = _week_of_traffic(server.url, model, 1, shift_from_day=4)
    tracking.create_monitor(NAME, window="1d", schedule="1h")  # due at once: the server evaluates it

    got = receiver.wait_for(lambda r: len(r) >= 1)
    payload = StandardWebhook(hook.secret).verify(got[0].body, got[0].headers)
    assert payload["type"] == "alert.opened"
    data = payload["data"]
    assert data["version"] == 1 and data["window_start_ms"] == DAY0 + 4 * DAY_MS
    assert sorted(data["features"]) == ["prediction", "temperature"]
    moved = data["features"]["temperature"]
    assert moved["method"] == "wasserstein" and moved["value"] > 0.5 > moved["threshold"]

    def evaluated() -> bool:
        return len(tracking.list_monitor_windows(NAME)) == 7

    eventually(evaluated, what="seven windows evaluated")
    windows = tracking.list_monitor_windows(NAME)
    drifted = [sorted(f for f, v in w.result["features"].items() if v["drifted"]) for w in windows]
    assert drifted == [[], [], [], []] + [["prediction", "temperature"]] * 3

    # Two processes, one evaluation: one alert, one event, one delivery; another run adds none.
    assert tracking.run_monitor(NAME).windows == []
    (alert,) = tracking.list_alerts(NAME)
    assert (alert.first_window_ms, alert.breached_windows) == (DAY0 + 4 * DAY_MS, 3)
    assert [e.type.value for e in tracking.list_events(types=["alert.*"]).items] == ["alert.opened"]
    assert len(receiver.received) == 1 and json.loads(receiver.received[0].body)["data"]["alert_id"] == alert.id

    # Acknowledged from the API (the dashboard's button posts the same), it tells its receivers.
    tracking.acknowledge_alert(NAME, alert.id)
    later = receiver.wait_for(lambda r: len(r) >= 2)
    assert json.loads(later[1].body)["type"] == "alert.acknowledged"

    # Ground truth for the first day arrives later: performance per window follows.
    truth = rng.normal(0, 1, len(first_day))
    with cairn.monitor(NAME, 1, uri=server.url) as monitor:
        monitor.log_labels(first_day, truth)
    (day_one,) = tracking.performance_report(NAME, 1, "1d", DAY0, DAY0 + DAY_MS)["windows"]
    assert day_one["labelled"] == 24 * ROWS_PER_HOUR and day_one["metrics"]["rmse"] > 0

    # The false-alarm check: the same model, an unshifted week, the default thresholds.
    assert cairn.register_model(uri, NAME).version == 2
    _week_of_traffic(server.url, model, 2, shift_from_day=None)
    report = tracking.drift_report(NAME, version=2, since_ms=DAY0, until_ms=DAY0 + 7 * DAY_MS, window="1d")
    assert len(report["windows"]) == 7
    assert [w["drifted"] for w in report["windows"]] == [False] * 7
    assert not any(f["drifted"] for w in report["windows"] for f in w["features"].values())
    tracking.close()
