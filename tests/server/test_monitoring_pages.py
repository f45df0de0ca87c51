"""The monitoring tab's routes on the wire (server/ui/monitoring.py), on a real server: bad
input on the set-up form is a 400 page that says what was wrong beside the form, never a 500;
the histogram route answers "no data" rather than failing; a model without monitor or traffic
says "No data"; and the heatmap's one scale for every drift method."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.service.test_serving_stats import register_two_versions

from cairn.server.ui.monitoring import MAX_SCORE, drift_score

MODEL = "plain"


@pytest.fixture
def http(server: Any, tmp_path: Path) -> Iterator[httpx.Client]:
    register_two_versions(server.app.state.tracking, tmp_path, MODEL)
    server.app.state.tracking.set_model_alias(MODEL, "champion", 1)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def test_a_model_without_monitor_or_traffic_says_no_data(http: httpx.Client) -> None:
    for path in (f"/models/{MODEL}/monitoring", f"/models/{MODEL}/versions/2/monitoring"):
        page = http.get(path)
        assert page.status_code == 200, page.text
        for marker in ('id="no-monitor"', 'id="no-drift"', 'id="no-serving"', 'id="no-performance"', 'id="no-alerts"'):
            assert marker in page.text
    assert http.get(f"/models/{MODEL}/versions/9/monitoring").status_code == 404
    assert http.get("/models/nobody/monitoring").status_code == 404


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"window": "3x"}, "window"),
        ({"window": "90m"}, "whole hours"),
        ({"drift_thresholds": "ks=abc"}, "abc"),
        ({"drift_thresholds": "ks"}, "key=value"),
        ({"performance_thresholds": "accuracy=high"}, "high"),
        ({"performance_thresholds": "speed=3"}, "speed"),
        ({"version": "two", "alias": ""}, "a version is a number"),
        ({"version": "2", "alias": "champion"}, "not both"),
        ({"alias": "nosuch"}, "nosuch"),
        ({"alias": "Not An Alias"}, "alias"),
        ({"schedule": "soon"}, "schedule"),
        ({"alert_on": "everything"}, "alert"),
        ({"monitor_name": "a/b"}, "no &#39;/&#39;"),
    ],
)
def test_bad_input_on_the_form_is_said_beside_it(http: httpx.Client, form: dict[str, str], says: str) -> None:
    sent = {"monitor_name": "m", "alias": "champion", "window": "1d", "schedule": "3600", **form}
    answer = http.post(f"/models/{MODEL}/monitors", data=sent)
    assert 400 <= answer.status_code < 500, answer.text[:500]
    assert 'id="create-monitor-error"' in answer.text and says in answer.text
    assert http.get(f"/api/v1/models/{MODEL}/monitors").json()["monitors"] == []


def test_a_monitor_made_on_the_form_and_a_name_used_twice(http: httpx.Client) -> None:
    made = http.post(f"/models/{MODEL}/monitors", data={"monitor_name": "watch", "alias": "champion", "back": "1"})
    assert made.status_code == 303
    assert made.headers["location"] == f"/models/{MODEL}/versions/1/monitoring?monitor=watch"
    again = http.post(f"/models/{MODEL}/monitors", data={"monitor_name": "watch", "alias": "champion"})
    assert again.status_code == 409 and "already_exists" in again.text


def test_the_histogram_route_answers_no_data_not_an_error(http: httpx.Client) -> None:
    http.post(f"/models/{MODEL}/monitors", data={"monitor_name": "watch", "alias": "champion"})
    none = http.get(f"/models/{MODEL}/monitoring/histogram", params={"monitor": "watch", "feature": "x", "start": 0})
    assert none.status_code == 200 and none.json()["no_data"] is True
    unknown = http.get(f"/models/{MODEL}/monitoring/histogram", params={"monitor": "gone", "start": 0})
    assert unknown.status_code == 404
    bad = http.get(f"/models/{MODEL}/monitoring/histogram", params={"monitor": "watch", "start": "noon"})
    assert 400 <= bad.status_code < 500


def test_an_unknown_alert_is_said_on_the_page(http: httpx.Client) -> None:
    answer = http.post(f"/models/{MODEL}/alerts/{'0' * 32}/acknowledge", data={"back": ""})
    assert answer.status_code == 404 and 'id="alert-error"' in answer.text


def test_the_heatmap_scale_is_one_for_every_method() -> None:
    # A p-value: 1 is no difference, the threshold is 1, its square 2; zero is as far as it goes.
    assert drift_score("ks", 1.0, 0.05) == 0.0
    assert drift_score("ks", 0.05, 0.05) == pytest.approx(1.0)
    assert drift_score("chisquare", 0.05**2, 0.05) == pytest.approx(2.0)
    assert drift_score("ks", 0.0, 0.05) == MAX_SCORE
    # A distance: value over threshold, capped.
    assert drift_score("wasserstein", 0.05, 0.1) == pytest.approx(0.5)
    assert drift_score("psi", 0.1, 0.1) == pytest.approx(1.0)
    assert drift_score("jensenshannon", 5.0, 0.1) == MAX_SCORE
    # Nothing to place.
    assert drift_score("ks", None, 0.05) is None
    assert drift_score("ks", float("nan"), 0.05) is None
    assert drift_score("magic", 0.5, 0.1) is None
