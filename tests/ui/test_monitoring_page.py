"""The monitoring tab in a real Chromium (docs/dashboard.md, "Monitoring"): a model @champion
trained on a stored 5,000-row reference, a week of logged predictions (one file per hour, with
latency and a few failures) in which ``x1`` moves by one standard deviation from day five, and a
monitor evaluated over the week. The heatmap marks exactly ``x1`` in exactly days five to seven;
the histograms follow the feature chosen; the alert is acknowledged and resolved with the
page's buttons; the set-up form shows what the service refuses beside it; markup in the model's
and a feature's names stays text, under the page's Content-Security-Policy.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from playwright.sync_api import Page, expect
from tests.contract.helpers import manifest_json
from tests.ui.conftest import UiServer

from cairn.core.artifacts import ArtifactEntry, DatasetFileEntry, DatasetSpec
from cairn.core.monitors import MonitorWindow
from cairn.core.prediction_logs import HOUR_MS
from cairn.service.tracking import TrackingService

pytestmark = pytest.mark.browser

DAY_MS = 24 * HOUR_MS
DAY0 = 1_767_225_600_000  # 2026-01-01T00:00Z
XSS = "<img src=x onerror=window.__xss=1>"
MODEL = f"scorer {XSS}"
CITY = f"city {XSS}"
SIGNATURE = {
    "inputs": [{"name": "x1", "type": "double"}, {"name": "x2", "type": "double"}, {"name": CITY, "type": "string"}],
    "outputs": [{"name": "prediction", "type": "double"}],
}
CITIES = np.array(["oslo", "lima", "pune"])
ROWS_PER_HOUR = 100
SHIFT_FROM_DAY = 4


def _frame(rng: np.random.Generator, rows: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    x1 = rng.normal(0.0, 1.0, rows) + shift
    x2 = rng.normal(5.0, 2.0, rows)
    return {"x1": x1, "x2": x2, CITY: CITIES[rng.integers(0, 3, rows)], "prediction": 0.5 * x1 + 0.1 * x2}


def _parquet(columns: dict[str, object], metadata: dict[bytes, bytes] | None = None) -> bytes:
    table = pa.table(columns)
    if metadata:
        table = table.replace_schema_metadata(metadata)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _blob(tracking: TrackingService, tmp: Path, content: bytes) -> tuple[str, int]:
    import hashlib

    digest = hashlib.sha256(content).hexdigest()
    if tracking.missing_blobs([digest]):
        source = tmp / f"blob-{digest[:12]}"
        source.write_bytes(content)
        tracking.upload_file(source, digest, len(content))
    return digest, len(content)


def _register(tracking: TrackingService, tmp: Path) -> None:
    """@champion (version 1) trained on a stored reference; version 2 has no traffic."""
    run = tracking.create_run("monitoring")
    digest, size = _blob(tracking, tmp, _parquet(_frame(np.random.default_rng(7), 5000)))
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
    weights, weights_size = _blob(tracking, tmp, b"weights")
    manifest = manifest_json({"model.bin": weights}, signature=SIGNATURE)
    manifest_digest, manifest_size = _blob(tracking, tmp, manifest)
    tracking.log_artifacts(
        run.id,
        [
            ArtifactEntry("model/model.bin", weights, weights_size),
            ArtifactEntry("model/cairn-model.json", manifest_digest, manifest_size),
        ],
    )
    tracking.register_model(f"runs:/{run.id}/model", MODEL)
    tracking.register_model(f"runs:/{run.id}/model", MODEL)
    tracking.set_model_alias(MODEL, "champion", 1)


def _log_week(tracking: TrackingService) -> None:
    rng = np.random.default_rng(11)
    inputs = json.dumps(["x1", "x2", CITY]).encode()
    meta = {b"cairn.inputs": inputs, b"cairn.outputs": b'["prediction"]', b"cairn.model": MODEL.encode()}
    for hour in range(7 * 24):
        start = DAY0 + hour * HOUR_MS
        columns: dict[str, object] = dict(_frame(rng, ROWS_PER_HOUR, 1.0 if hour // 24 >= SHIFT_FROM_DAY else 0.0))
        errors = np.full(ROWS_PER_HOUR, None, dtype=object)
        errors[:2] = "timeout"  # 2 % of each hour failed
        columns.update(
            request_id=np.array([f"{hour}-{i}" for i in range(ROWS_PER_HOUR)]),
            timestamp_ms=(start + np.sort(rng.integers(0, HOUR_MS, ROWS_PER_HOUR))).astype(np.int64),
            latency_ms=rng.uniform(1.0, 3.0, ROWS_PER_HOUR) + (20.0 if hour // 24 == 6 else 0.0),
            model_version=np.full(ROWS_PER_HOUR, 1, dtype=np.int64),
            error=pa.array(errors, pa.string()),
        )
        tracking.log_predictions(MODEL, 1, start, _parquet(columns, meta))


@dataclass
class Seeded:
    server: UiServer

    def url(self, path: str = "") -> str:
        from urllib.parse import quote

        return f"{self.server.url}/models/{quote(MODEL, safe='')}{path}"


@pytest.fixture(scope="module")
def seeded(ui_server: UiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    tracking = ui_server.tracking
    _register(tracking, tmp_path_factory.mktemp("blobs-in"))
    _log_week(tracking)
    tracking.create_monitor(MODEL, features=["x1", "x2", CITY], window="1d")
    run = tracking.run_monitor(MODEL, now=DAY0 + 7 * DAY_MS + 1)
    assert run.error is None and len(run.windows) == 7 and len(run.opened) == 1
    _labelled_windows(tracking)
    yield Seeded(ui_server)


#: Accuracy per day of a monitor once labels arrived: the last day below its 0.8 threshold.
ACCURACY = [0.91, 0.9, 0.62]


def _labelled_windows(tracking: TrackingService) -> None:
    """A second monitor's windows as an evaluation stores them once labels have arrived (the
    drift part left empty): ``performance`` with the labelled rows and the measures, and the
    measure that breached its threshold."""
    monitor = tracking.create_monitor(MODEL, "labelled", features=["x1"], performance={"accuracy": 0.8})
    for day, accuracy in enumerate(ACCURACY):
        breaches = {"accuracy": {"value": accuracy, "threshold": 0.8}} if accuracy < 0.8 else {}
        result = {
            "rows": 2400,
            "features": {},
            "drifted_share": 0.0,
            "drifted": False,
            "missing_features": [],
            "performance": {"labelled": 600, "kind": "classifier", "accuracy": accuracy, "f1": accuracy - 0.05},
            "breaches": {"features": {}, "performance": breaches},
        }
        start = DAY0 + day * DAY_MS
        window = MonitorWindow(monitor.id, 1, start, start + DAY_MS, 2400, 0.0, False, bool(breaches), result, start)
        tracking.store.add_window(window)


def _drifted_cells(page: Page) -> list[tuple[str, int]]:
    heatmap = page.locator("#drift-heatmap")
    expect(heatmap).to_have_attribute("data-state", "drawn")
    return [(feature, start) for feature, start in json.loads(heatmap.get_attribute("data-drifted") or "[]")]


def test_the_heatmap_marks_the_shifted_feature_in_the_shifted_days(
    page: Page, seeded: Seeded, violations: list[str]
) -> None:
    page.goto(seeded.url())
    page.get_by_role("link", name="Monitoring").click()
    expect(page).to_have_url(seeded.url("/monitoring"))
    expect(page.locator("#monitor-name")).to_have_text("default")
    drifted = _drifted_cells(page)
    # x1 moved, and the prediction (half of x1) with it; nothing else, and never before day five.
    shifted = [DAY0 + d * DAY_MS for d in range(SHIFT_FROM_DAY, 7)]
    assert sorted(drifted) == sorted([(f, day) for f in ("x1", "prediction") for day in shifted])

    # Serving per day: 2,400 logged predictions, 2 % failed, the last day slower.
    rows = page.locator("#serving-table tbody tr")
    expect(rows).to_have_count(7)
    assert {r.get_attribute("data-predictions") for r in rows.all()} == {"2400"}
    assert {float(r.get_attribute("data-error-rate") or "nan") for r in rows.all()} == {0.02}
    p50 = {int(r.get_attribute("data-window") or 0): float(r.get_attribute("data-p50") or 0) for r in rows.all()}
    assert p50[DAY0 + 6 * DAY_MS] > 20 > p50[DAY0]
    expect(page.locator("#serving-chart")).to_have_attribute("data-state", "drawn")
    # No labels were sent to this monitor's windows: performance says so.
    expect(page.locator("#no-performance")).to_contain_text("No data")
    # The markup in the model's and the feature's names is text.
    expect(page.locator("#model-name")).to_have_text(MODEL)
    expect(page.locator("#histogram-feature option", has_text=CITY)).to_have_count(1)
    assert page.evaluate("window.__xss") is None


def test_a_cell_tooltip_writes_a_feature_name_as_text(page: Page, seeded: Seeded, violations: list[str]) -> None:
    page.goto(seeded.url("/monitoring"))
    _drifted_cells(page)
    # The city row is the third; hover the middle of its first cell through the chart's own mapping.
    point = page.evaluate(
        """() => { const s = window.cairnMonitoring.heatmap; const p = s.chart.convertToPixel({seriesIndex: 0}, [0, 2]);
                   const r = document.getElementById('drift-heatmap').getBoundingClientRect();
                   return [r.left + p[0], r.top + p[1]]; }"""
    )
    page.mouse.move(point[0], point[1])
    tooltip = page.locator("#drift-heatmap div", has_text="threshold").last
    expect(tooltip).to_contain_text(CITY)
    assert page.evaluate("window.__xss") is None


def test_the_histogram_follows_the_feature_chosen(page: Page, seeded: Seeded, violations: list[str]) -> None:
    page.goto(seeded.url("/monitoring"))
    chart, note = page.locator("#histogram-chart"), page.locator("#histogram-note")
    # It opens on the newest drifted cell: x1 on the last day.
    expect(chart).to_have_attribute("data-state", "drawn")
    expect(chart).to_have_attribute("data-feature", "x1")
    expect(chart).to_have_attribute("data-drifted", "true")
    expect(note).to_contain_text("drifted")
    drawn = page.evaluate("window.cairnMonitoring.drawn.answer.histogram")
    assert len(drawn["edges"]) == len(drawn["reference"]) + 1 == len(drawn["current"]) + 1

    page.locator("#histogram-feature").select_option("x2")
    expect(chart).to_have_attribute("data-feature", "x2")
    expect(chart).to_have_attribute("data-drifted", "false")
    expect(note).to_contain_text("not drifted")

    page.locator("#histogram-feature").select_option(CITY)
    expect(chart).to_have_attribute("data-feature", CITY)
    labels = page.evaluate("window.cairnMonitoring.drawn.answer.histogram.labels")
    assert set(labels) >= {"oslo", "lima", "pune"}
    expect(note).to_contain_text(CITY)

    # An undrifted day of x1.
    page.locator("#histogram-feature").select_option("x1")
    page.locator("#histogram-window").select_option(str(DAY0))
    expect(chart).to_have_attribute("data-drifted", "false")
    assert page.evaluate("window.__xss") is None


def test_performance_shows_once_labels_exist(page: Page, seeded: Seeded, violations: list[str]) -> None:
    page.goto(seeded.url("/monitoring"))
    page.locator("#monitor-chooser a", has_text="labelled").click()
    expect(page.locator("#monitor-name")).to_have_text("labelled")
    expect(page.locator("#performance-chart")).to_have_attribute("data-state", "drawn")
    rows = page.locator("#performance-table tbody tr")
    expect(rows).to_have_count(3)
    newest = rows.first
    expect(newest.locator("[data-measure=accuracy]")).to_have_text("0.62")
    expect(newest.locator("[data-measure=accuracy]")).to_have_class(re.compile(r"\bfail\b"))
    expect(rows.last.locator("[data-measure=accuracy]")).not_to_have_class(re.compile(r"\bfail\b"))
    expect(page.locator("#performance-table thead")).to_contain_text("f1")
    expect(page.locator("#no-drift")).to_contain_text("3 evaluated windows compared no feature")


def test_a_version_without_traffic_says_no_data(page: Page, seeded: Seeded, violations: list[str]) -> None:
    page.goto(seeded.url("/versions/2"))
    page.locator("#version-monitoring-tab").click()
    expect(page).to_have_url(seeded.url("/versions/2/monitoring"))
    expect(page.locator("#no-drift")).to_contain_text("No data")
    expect(page.locator("#no-histogram")).to_contain_text("No data")
    expect(page.locator("#no-serving")).to_contain_text("No data")
    expect(page.locator("#no-alerts")).to_be_visible()
    # Version 1's own tab has the week.
    page.goto(seeded.url("/versions/1/monitoring"))
    assert len(_drifted_cells(page)) == 6


def test_the_set_up_form_shows_what_is_refused_beside_it(
    page: Page, seeded: Seeded, violations: list[str], console_errors: list[str]
) -> None:
    page.goto(seeded.url("/monitoring"))
    form = page.locator("#create-monitor")
    form.locator("summary").click()
    page.locator("#monitor-form-name").fill("second")
    page.locator("#monitor-form-features").fill("x1, nope")
    page.locator("#create-monitor-button").click()
    expect(page.locator("#create-monitor-error")).to_contain_text("nope")
    # What was typed is kept, and the rest of the page is still there.
    expect(page.locator("#monitor-form-features")).to_have_value("x1, nope")
    expect(page.locator("#drift-heatmap")).to_have_attribute("data-state", "drawn")

    page.locator("#monitor-form-features").fill("x1")
    page.locator("#monitor-form-drift").fill("ks=lots")
    page.locator("#create-monitor-button").click()
    expect(page.locator("#create-monitor-error")).to_contain_text("lots")
    expect(page.locator("#create-monitor-error")).to_contain_text("invalid_value")
    # Both refusals answered 400 (the browser logs each), never a 500.
    assert len(console_errors) == 2 and all("400" in e and "/monitors" in e for e in console_errors)
    console_errors.clear()

    page.locator("#monitor-form-drift").fill("ks=0.01, wasserstein=0.2")
    page.locator("#monitor-form-window").fill("2d")
    page.locator("#create-monitor-button").click()
    expect(page).to_have_url(re.compile(r"/monitoring\?monitor=second$"))
    expect(page.locator("#monitor-name")).to_have_text("second")
    expect(page.locator("#no-drift")).to_contain_text("No data")  # not evaluated yet
    expect(page.locator("#monitor-chooser a")).to_have_count(3)


def test_the_alert_is_acknowledged_then_resolved(
    page: Page, seeded: Seeded, violations: list[str], console_errors: list[str]
) -> None:
    page.goto(seeded.url("/monitoring"))
    row = page.locator("#alerts-table tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator(".badge")).to_have_text("open")
    expect(row.locator(".alert-detail")).to_contain_text("x1")
    row.get_by_role("button", name="Acknowledge").click()
    expect(page).to_have_url(seeded.url("/monitoring#alerts"))
    expect(row.locator(".badge")).to_have_text("acknowledged")
    expect(row.get_by_role("button", name="Acknowledge")).to_have_count(0)
    alert = seeded.server.tracking.list_alerts(MODEL)[0]
    assert alert.status.value == "acknowledged" and alert.acknowledged_by

    row.get_by_role("button", name="Resolve").click()
    expect(page.locator("#no-alerts")).to_be_visible()
    assert seeded.server.tracking.list_alerts(MODEL)[0].status.value == "resolved"

    # Another alert, resolved by a colleague while the page is open: the button says so.
    tracking = seeded.server.tracking
    monitor = tracking.get_monitor(MODEL)
    other = tracking.store.open_alert(monitor.id, 1, window_ms=DAY0, detail={}, opened_at=DAY0 + 7 * DAY_MS)
    page.reload()
    expect(row).to_have_count(1)
    tracking.resolve_alert(MODEL, other)
    row.get_by_role("button", name="Resolve").click()
    expect(page.locator("#alert-error")).to_contain_text("resolved already")
    expect(page.locator("#alert-error")).to_contain_text("conflict")
    expect(page.locator("#no-alerts")).to_be_visible()
    assert len(console_errors) == 1 and "409" in console_errors[0]
    console_errors.clear()
