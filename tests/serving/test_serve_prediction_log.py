"""``cairn serve --log-predictions``: what a server answered ends up in the store as Parquet
files of the version that answered, read back through the same API monitoring will use."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from cairn.client.connect import connect

from .conftest import FEATURES, Registered, register_two_versions, start_serve


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Registered:
    return register_two_versions(tmp_path_factory.mktemp("logged-store"), name="logged")


def _logged(registered: Registered) -> pd.DataFrame:
    tracking = connect(registered.store_uri, blobs_uri=str(Path(registered.env["CAIRN_HOME"]) / "blobs"))
    try:
        files = tracking.list_prediction_logs(registered.name, 1).items
        frames = [pd.read_parquet(io.BytesIO(tracking.read_prediction_log(registered.name, 1, f.id))) for f in files]
    finally:
        tracking.close()
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def test_every_answered_row_is_logged_with_its_version_when_the_server_stops(registered: Registered) -> None:
    served = start_serve(
        f"models:/{registered.name}@champion", "--log-predictions", "1", "--poll-seconds", "0", env=registered.env
    )
    rows = registered.features.iloc[:30]
    try:
        for start in range(0, 30, 3):  # ten requests of three rows
            part = rows.iloc[start : start + 3]
            body = {"dataframe_split": {"columns": FEATURES, "data": part.to_numpy().tolist()}}
            assert httpx.post(f"{served.url}/invocations", json=body, timeout=30).status_code == 200
        bad = httpx.post(f"{served.url}/invocations", json={"inputs": [[1.0]]}, timeout=30)
        assert bad.status_code == 400  # refused requests predict nothing and log nothing
        metrics = httpx.get(f"{served.url}/metrics", timeout=10).text
        assert "dropped" not in metrics.split("# TYPE cairn_serve_prediction_log_records_total counter")[1]
    finally:
        served.stop()  # SIGTERM: the queue is flushed before the process ends
    assert served.process.returncode in (0, -15), served.output()  # uvicorn re-raises SIGTERM once shut down

    logged = _logged(registered).sort_values("timestamp_ms", kind="stable")
    assert len(logged) == 30
    assert set(logged["model_version"]) == {1}
    np.testing.assert_allclose(logged[FEATURES].to_numpy(), rows.to_numpy())
    np.testing.assert_array_equal(logged["prediction"].to_numpy(), registered.first.predict(rows))
    assert (logged["latency_ms"] > 0).all()
    assert logged["request_id"].nunique() == 10


def test_a_store_that_fails_drops_the_logs_and_never_a_request(tmp_path: Path) -> None:
    """The store is wrecked under a running server: every request is still answered, and the
    log says which predictions were lost."""
    registered = register_two_versions(tmp_path, name="wrecked")
    served = start_serve(
        f"models:/{registered.name}/1", "--log-predictions", "1", "--poll-seconds", "0", env=registered.env
    )
    try:
        Path(registered.store_uri).write_bytes(b"not a database" * 100)
        body = {"dataframe_split": {"columns": FEATURES, "data": registered.features.iloc[:2].to_numpy().tolist()}}
        for _ in range(5):
            answer = httpx.post(f"{served.url}/invocations", json=body, timeout=30)
            assert answer.status_code == 200, answer.text
    finally:
        served.stop()
    assert served.process.returncode in (0, -15), served.output()  # uvicorn re-raises SIGTERM once shut down
    assert "the predictions of 5 requests to wrecked version 1 were not logged" in served.output()
