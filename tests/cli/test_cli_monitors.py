"""``cairn monitors`` and ``cairn monitor report`` on an embedded store: create (settings
checked, refusals one ``Error:`` line), list, run (what cron calls), show, alerts, ack, resolve,
delete; the report's fixed ``--json`` form (docs/monitoring.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.contract.test_monitors import DAY0, DAY_MS, log_week, monitored_model

from cairn.blobs.local import LocalBlobStore
from cairn.service.interface import Tracking
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.store.sql import SqlStore

from .helpers import Invoke


@pytest.fixture
def scorer(tmp_path: Path, store_uri: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tracking]:
    """A model "scorer" @champion with a week of logs, x1 moved from day five."""
    monkeypatch.setenv("CAIRN_BLOBS", str(tmp_path / "blobs"))
    service = TrackingService(
        SqlStore(store_uri), Principal("ada", is_admin=True), blobs=LocalBlobStore(tmp_path / "blobs")
    )
    monitored_model(service, tmp_path)
    log_week(service, "scorer", shift_from_day=4)
    try:
        yield service
    finally:
        service.close()


def test_create_run_show_ack_resolve_delete(invoke: Invoke, store_uri: str, scorer: Tracking) -> None:
    assert "No monitors yet" in invoke("monitors", "list", "--uri", store_uri).stdout
    created = invoke("monitors", "create", "scorer", "-f", "x1", "-f", "x2", "--window", "1d", "--uri", store_uri)
    assert created.stdout.startswith("Created monitor 'default' of scorer following @champion")
    assert "x1, x2" in created.stdout

    ran = invoke("monitors", "run", "--uri", store_uri).stdout  # every due monitor, as from cron
    assert "scorer/default (version 1): 7 window(s) evaluated, 3 breached; alert opened:" in ran
    assert invoke("monitors", "run", "--uri", store_uri).stdout == "No monitor was due.\n"
    again = invoke("monitors", "run", "scorer", "--uri", store_uri).stdout  # this one, now
    assert "0 window(s) evaluated" in again and "alert opened" not in again

    shown = invoke("monitors", "show", "scorer", "--uri", store_uri).stdout
    assert "2026-01-05 00:00" in shown and "x1" in shown and "open" in shown
    detail = json.loads(invoke("monitors", "show", "scorer", "--json", "--uri", store_uri).stdout)
    assert len(detail["windows"]) == 7 and [a["status"] for a in detail["alerts"]] == ["open"]
    alert_id = detail["alerts"][0]["id"]

    alerts = invoke("monitors", "alerts", "--uri", store_uri).stdout
    assert alert_id in alerts and "x1 wasserstein" in alerts
    assert invoke("monitors", "ack", "scorer", alert_id, "--uri", store_uri).stdout.endswith("is acknowledged\n")
    assert invoke("monitors", "resolve", "scorer", alert_id, "--uri", store_uri).stdout.endswith("is resolved\n")
    assert "No open alerts" in invoke("monitors", "alerts", "--uri", store_uri).stdout
    assert alert_id in invoke("monitors", "alerts", "--all", "--uri", store_uri).stdout
    refused = invoke("monitors", "ack", "scorer", alert_id, "--uri", store_uri, code=1)
    assert "resolved already" in refused.stderr

    assert invoke("monitors", "delete", "scorer", "--uri", store_uri).stdout == "Deleted monitor 'default' of scorer\n"
    assert "monitor_not_found" in invoke("monitors", "show", "scorer", "--uri", store_uri, code=1).stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("-f", "nope"), "no input 'nope'"),
        (("--threshold", "wasserstein=abc"), "wasserstein"),
        (("--min", "accuracy=high"), "accuracy"),
        (("--window", "2x"), "window"),
        (("--alias", "staging"), "alias_not_found"),
        (("--method", "x1=magic"), "magic"),
    ],
)
def test_bad_settings_are_one_error_line_and_keep_nothing(
    invoke: Invoke, store_uri: str, scorer: Tracking, args: tuple[str, ...], said: str
) -> None:
    result = invoke("monitors", "create", "scorer", *args, "--uri", store_uri, code=1)
    assert result.stderr.startswith("Error:") and said in result.stderr
    assert scorer.list_monitors("scorer") == []


def test_the_report_prints_and_answers_its_fixed_json(invoke: Invoke, store_uri: str, scorer: Tracking) -> None:
    text = invoke("monitors", "--help").stdout
    assert "report" not in text  # the report is `cairn monitor report`
    printed = invoke(
        "monitor", "report", "scorer", "--from", "2026-01-04", "--to", "2026-01-07T00:00Z", "--uri", store_uri
    ).stdout
    assert "Drift of scorer version 1, per 1d window" in printed
    assert printed.count("DRIFTED") == 2 and "x1" in printed
    report = json.loads(
        invoke("monitor", "report", "scorer", "--from", str(DAY0 + 3 * DAY_MS), "--json", "--uri", store_uri).stdout
    )
    assert [w["drifted"] for w in report["windows"]] == [False, True, True, True]
    assert report["windows"][1]["features"]["x1"]["drifted"] is True
    bad = invoke("monitor", "report", "scorer", "--from", "yesterday", "--uri", store_uri, code=2)
    assert "not a time" in bad.stderr
