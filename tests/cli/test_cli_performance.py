"""``cairn monitor performance`` on an embedded store: a line per window with its labelled rows
and measures, and the fixed ``--json`` form (docs/monitoring.md, "Performance")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.contract.test_monitors import DAY0, DAY_MS
from tests.contract.test_prediction_labels import classifier, log_days

from cairn.blobs.local import LocalBlobStore
from cairn.service.interface import Tracking
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.store.sql import SqlStore

from .helpers import Invoke


@pytest.fixture
def churn(tmp_path: Path, store_uri: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tracking]:
    """A classifier "churn" with two days of logs, the first day's labelled, every label 1."""
    monkeypatch.setenv("CAIRN_BLOBS", str(tmp_path / "blobs"))
    service = TrackingService(
        SqlStore(store_uri), Principal("ada", is_admin=True), blobs=LocalBlobStore(tmp_path / "blobs")
    )
    classifier(service, tmp_path, "churn")
    ids, _predicted = log_days(service, "churn", 2)
    first_day = ids[: len(ids) // 2]
    service.log_prediction_labels("churn", 1, first_day, [1] * len(first_day))
    try:
        yield service
    finally:
        service.close()


def test_performance_prints_and_answers_its_fixed_json(invoke: Invoke, store_uri: str, churn: Tracking) -> None:
    expected = churn.performance_report("churn", 1, "1d", DAY0, DAY0 + 2 * DAY_MS)
    text = invoke(
        "monitor", "performance", "churn", "1", "--from", "2026-01-01", "--to", "2026-01-03", "--uri", store_uri
    ).stdout
    assert "Performance of churn version 1 (classifier), per 1d window" in text
    first, second = expected["windows"]
    accuracy = first["metrics"]["accuracy"]
    assert f"{first['rows']:,} rows  {first['labelled']:,} labelled  accuracy {accuracy:.4g}" in text
    assert f"{second['rows']:,} rows  0 labelled  -" in text

    until = str(DAY0 + 2 * DAY_MS)
    answered = json.loads(
        invoke("monitor", "performance", "churn", "1", "--to", until, "--json", "--uri", store_uri).stdout
    )
    assert answered == expected
    assert set(answered["windows"][0]) == {"start", "end", "rows", "labelled", "metrics"}
    # Only one class is labelled: no ROC AUC.
    assert set(answered["windows"][0]["metrics"]) == {"accuracy", "f1"}

    bad = invoke("monitor", "performance", "churn", "1", "--window", "2x", "--uri", store_uri, code=1)
    assert "window" in bad.stderr
    missing = invoke("monitor", "performance", "churn", "7", "--uri", store_uri, code=1)
    assert "version" in missing.stderr.lower()
