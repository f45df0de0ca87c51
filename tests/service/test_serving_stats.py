"""Serving's numbers per window (service/serving_stats.py) from real prediction log files in a
SQLite store and a blob folder, checked against numpy on the same arrays: counts exact, the
t-digest's p50/p95 close to the exact quantiles, the error rate from the ``error`` column (and
unknown, not 0, without one)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.contract.helpers import manifest_json

from cairn.blobs.local import LocalBlobStore
from cairn.core.artifacts import ArtifactEntry
from cairn.core.errors import ModelVersionNotFound
from cairn.core.prediction_logs import HOUR_MS
from cairn.service.policy import Principal
from cairn.service.serving_stats import serving_windows
from cairn.service.tracking import TrackingService
from cairn.store.sql import SqlStore

DAY_MS = 24 * HOUR_MS
DAY0 = 1_767_225_600_000  # 2026-01-01T00:00Z
META = {b"cairn.inputs": b'["x"]', b"cairn.outputs": b'["prediction"]'}


def _blob(service: TrackingService, tmp_path: Path, content: bytes) -> str:
    digest = hashlib.sha256(content).hexdigest()
    source = tmp_path / f"blob-{digest[:12]}"
    source.write_bytes(content)
    service.upload_file(source, digest, len(content))
    return digest


@pytest.fixture
def tracking(tmp_path: Path) -> TrackingService:
    """A model "m" of two versions, with no logs yet."""
    service = TrackingService(
        SqlStore(str(tmp_path / "s.db")), Principal("tester"), blobs=LocalBlobStore(tmp_path / "blobs")
    )
    register_two_versions(service, tmp_path, "m")
    return service


def register_two_versions(service: TrackingService, tmp_path: Path, name: str) -> None:
    """Versions 1 and 2 of ``name``, a model folder without signature or training data."""
    run = service.create_run("p")
    weights = _blob(service, tmp_path, b"weights")
    manifest = manifest_json({"model.bin": weights}, signature=None)
    service.log_artifacts(
        run.id,
        [
            ArtifactEntry("model/model.bin", weights, 7),
            ArtifactEntry("model/cairn-model.json", _blob(service, tmp_path, manifest), len(manifest)),
        ],
    )
    service.register_model(f"runs:/{run.id}/model", name)
    service.register_model(f"runs:/{run.id}/model", name)


def _log(
    tracking: TrackingService, version: int, hour: int, latency: np.ndarray, errors: list[str | None] | None
) -> None:
    rows = len(latency)
    start = DAY0 + hour * HOUR_MS
    columns: dict[str, object] = {
        "x": np.zeros(rows),
        "prediction": np.zeros(rows),
        "request_id": [f"{hour}-{i}" for i in range(rows)],
        "timestamp_ms": (start + np.arange(rows) * (HOUR_MS // rows)).astype(np.int64),
        "latency_ms": latency,
        "model_version": np.full(rows, version, dtype=np.int64),
    }
    if errors is not None:
        columns["error"] = pa.array(errors, pa.string())
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns).replace_schema_metadata(META), buffer)
    tracking.log_predictions("m", version, start, buffer.getvalue())


def test_windows_count_rows_and_summarise_latency_as_numpy_does(tracking: TrackingService) -> None:
    rng = np.random.default_rng(5)
    latencies: dict[int, list[np.ndarray]] = {0: [], 2: []}
    for hour in (1, 5, 23, 48, 50):  # day 0 and day 2; day 1 has no traffic
        latency = rng.gamma(2.0, 3.0, 400)
        errors = ["boom" if i % 20 == 0 else ("" if i % 7 == 0 else None) for i in range(400)]
        _log(tracking, 1, hour, latency, errors)
        latencies[hour // 24].append(latency)

    windows = serving_windows(tracking, "m", 1, DAY_MS)
    assert [w.start_ms for w in windows] == [DAY0, DAY0 + 2 * DAY_MS]
    for window, day in zip(windows, (0, 2), strict=True):
        values = np.concatenate(latencies[day])
        assert window.predictions == len(values)
        assert window.end_ms == window.start_ms + DAY_MS
        assert window.latency_p50_ms == pytest.approx(np.quantile(values, 0.5), rel=0.03)
        assert window.latency_p95_ms == pytest.approx(np.quantile(values, 0.95), rel=0.03)
        assert window.error_rate == pytest.approx(0.05)  # "boom" 1 in 20; an empty text is no failure

    # Hourly windows: the span of the newest three (hour 49 had no traffic); a range cuts them.
    hourly = serving_windows(tracking, "m", 1, HOUR_MS, max_windows=3)
    assert [w.start_ms for w in hourly] == [DAY0 + 48 * HOUR_MS, DAY0 + 50 * HOUR_MS]
    ranged = serving_windows(tracking, "m", 1, DAY_MS, until_ms=DAY0 + DAY_MS)
    assert [(w.start_ms, w.predictions) for w in ranged] == [(DAY0, 1200)]


def test_without_an_error_column_the_rate_is_unknown_and_versions_are_apart(tracking: TrackingService) -> None:
    _log(tracking, 2, 3, np.full(50, 4.0), None)
    assert [(w.predictions, w.error_rate, w.latency_p50_ms) for w in serving_windows(tracking, "m", 2, DAY_MS)] == [
        (50, None, 4.0)
    ]
    assert serving_windows(tracking, "m", 1, DAY_MS) == []
    assert [w.predictions for w in serving_windows(tracking, "m", None, DAY_MS)] == [50]
    with pytest.raises(ModelVersionNotFound):
        serving_windows(tracking, "m", 9, DAY_MS)
