"""Issue 16's "Done means", end to end against ``cairn server`` as operators run it (two worker
processes): a real scikit-learn model trained on a stored reference and promoted to
``@champion``; a week of traffic logged from the serving side in which one input moves from day
five; the server's own background evaluation finds that input, in those windows, and a webhook
receiver gets one ``alert.opened``, signed, once — with the feature, the window it started in
and by how much."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
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


def _week_of_traffic(tracking: HttpTracking, model: LinearRegression) -> None:
    """What a serving stack logs: seven days, one Parquet file per hour, the model's own
    predictions; temperature moves by one standard deviation from day five."""
    rng = np.random.default_rng(5)
    meta = {b"cairn.inputs": b'["temperature","price","weekday"]', b"cairn.outputs": b'["prediction"]'}
    for hour in range(7 * 24):
        start = DAY0 + hour * HOUR_MS
        inputs = _features(rng, ROWS_PER_HOUR, shift=5.0 if hour >= 4 * 24 else 0.0)
        table = pa.Table.from_pandas(inputs, preserve_index=False).append_column(
            "prediction", pa.array(model.predict(inputs))
        )
        for column, values in (
            ("request_id", pa.array([f"{hour}-{i}" for i in range(ROWS_PER_HOUR)])),
            ("timestamp_ms", pa.array(start + np.sort(rng.integers(0, HOUR_MS, ROWS_PER_HOUR)), pa.int64())),
            ("latency_ms", pa.array(np.full(ROWS_PER_HOUR, 1.5))),
            ("model_version", pa.array(np.ones(ROWS_PER_HOUR, dtype=np.int64))),
        ):
            table = table.append_column(column, values)
        buffer = io.BytesIO()
        pq.write_table(table.replace_schema_metadata(meta), buffer)
        tracking.log_predictions(NAME, 1, start, buffer.getvalue())


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

    _week_of_traffic(tracking, model)
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
    tracking.close()
