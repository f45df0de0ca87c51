"""``cairn.log_prediction_labels``: labels of a served version's predictions from Python,
embedded and through a server, with the same refusals (docs/monitoring.md, "Labels")."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from tests.contract.helpers import manifest_json
from tests.contract.test_prediction_logs import HOUR, log_file

import cairn
from cairn.client.connect import connect
from cairn.core.errors import InvalidPredictionLabels, UnknownPredictionIds


@pytest.mark.parametrize("mode", ["embedded", "http"])
def test_labels_are_logged_embedded_and_through_a_server(
    mode: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if mode == "http":
        monkeypatch.setenv("CAIRN_URI", request.getfixturevalue("server").url)
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"w")
    (folder / "cairn-model.json").write_bytes(manifest_json({"model.bin": hashlib.sha256(b"w").hexdigest()}))
    with cairn.init("churn", capture=False, flush_interval=0.05) as run:
        run.log_artifact(folder, name="model")
    cairn.register_model(f"runs:/{run.id}/model", "churn")
    tracking = connect()
    try:
        tracking.log_predictions("churn", 1, HOUR, log_file())
    finally:
        tracking.close()

    kept = cairn.log_prediction_labels("churn", 1, ["r0", "r1", "r2"], [0, 1, True])
    assert (kept.model, kept.version, kept.rows, kept.first_ms) == ("churn", 1, 3, HOUR)
    with pytest.raises(UnknownPredictionIds):
        cairn.log_prediction_labels("churn", 1, ["r9"], [1])
    with pytest.raises(InvalidPredictionLabels):
        cairn.log_prediction_labels("churn", 1, ["r0"], [1, 0])
    tracking = connect()
    try:
        (window,) = tracking.performance_report("churn", 1, "1h", HOUR, HOUR + 3_600_000)["windows"]
        assert (window["labelled"], window["metrics"]["accuracy"]) == (3, pytest.approx(2 / 3))
    finally:
        tracking.close()
