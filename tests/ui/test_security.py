"""The dashboard as a hostile user meets it, in a real Chromium: names that hold HTML stay text
wherever a chart shows them, and every page works under the Content-Security-Policy.

The payload is an ``<img>`` whose ``onerror`` sets a flag on ``window``: if any place puts a
name into HTML unescaped, the image is created (and the flag set once its load fails). Each
test checks both, and that the name was shown as the characters it is. (The policy alone would
stop the handler, so the tests look at the tooltip's elements, not only at the flag.)

A policy violation is a console error, which fails any browser test (``page`` fixture); the
tests here also collect ``securitypolicyviolation`` events, to say which directive it was.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Locator, Page, expect
from tests.ui.conftest import UiServer

import cairn
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.server.csp import DASHBOARD_POLICY

pytestmark = pytest.mark.browser

PROJECT = "hostile"
PAYLOAD = "<img src=x onerror=window.__xss=1>"
NAN_STEP = 3


MANY = "many"
MANY_RUNS = 60  # more than a page of the runs table (50)


@dataclass
class Seeded:
    server: UiServer
    hostile: str  # the id of the run named PAYLOAD
    other: str  # the id of a second run, to compare with


@pytest.fixture(scope="module")
def seeded(ui_server: UiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A run named PAYLOAD with a NaN among its points, a param key and a confusion-matrix label
    that are PAYLOAD too, and a plain run beside it."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CAIRN_HOME", str(tmp_path_factory.mktemp("cairn-home")))
        env.setenv("CAIRN_CAPTURE", "0")
        ids = []
        for name, lr in ((PAYLOAD, 0.1), ("plain", 0.2)):
            with cairn.init(PROJECT, name=name, config={"lr": lr, PAYLOAD: "v" + PAYLOAD}, uri=ui_server.url) as run:
                for step in range(6):
                    run.log({"loss": math.nan if step == NAN_STEP else 1.0 / (step + 1) + lr}, step=step)
                run.log_confusion_matrix(["cat", PAYLOAD, "cat"], ["cat", PAYLOAD, PAYLOAD])
                ids.append(run.id)
    for i in range(MANY_RUNS):
        run = ui_server.tracking.create_run(MANY, name=f"run-{i:03d}", config={"i": i})
        acc = MetricColumns.from_lists("acc", [0], [1_700_000_000_000], [i / 100])
        ui_server.tracking.log_metrics(run.id, MetricBatch("seed", i, [acc]))
    yield Seeded(ui_server, ids[0], ids[1])


def _flagged(page: Page) -> bool:
    return bool(page.evaluate("() => window.__xss === 1"))


def _tooltip(chart: Locator) -> Locator:
    """ECharts' tooltip box in a chart's element: the div it fills with innerHTML, after the
    one that holds the canvas."""
    return chart.locator(":scope > div").last


def _hover_chart_point(page: Page, figure: Locator, series: str, value: list[float]) -> None:
    """Move the mouse over ``value`` of a chart's series named ``series``."""
    x, y = page.evaluate(
        """([key, series, value]) => {
            const chart = window.cairnCharts.find(c => c.key === key).chart;
            const index = chart.getOption().series.findIndex(s => s.name === series);
            return chart.convertToPixel({seriesIndex: index}, value);
        }""",
        [figure.get_attribute("data-key"), series, value],
    )
    figure.scroll_into_view_if_needed()
    box = figure.locator(".chart-canvas").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + x, box["y"] + y)


def _assert_shown_as_text(page: Page, tooltip: Locator) -> None:
    expect(tooltip).to_contain_text(PAYLOAD)
    assert tooltip.locator("img").count() == 0
    page.wait_for_timeout(200)  # an <img src=x> would have failed to load by now
    assert not _flagged(page)


def test_a_run_name_in_the_nan_marker_tooltip_is_text(page: Page, seeded: Seeded, violations: list[str]) -> None:
    page.goto(f"{seeded.server.url}/runs/{seeded.hostile}")
    figure = page.locator(".metric-chart[data-key='loss']")
    expect(figure).to_have_attribute("data-state", "drawn")
    _hover_chart_point(page, figure, "NaN / ±inf", [NAN_STEP, 0.03])
    tooltip = _tooltip(figure.locator(".chart-canvas"))
    expect(tooltip).to_contain_text(f"NaN at step {NAN_STEP}")
    _assert_shown_as_text(page, tooltip)


def test_a_run_name_in_the_axis_tooltip_and_legend_is_text(page: Page, seeded: Seeded) -> None:
    """ECharts' own tooltip (series names) and the legend, on the compare page's overlaid chart."""
    page.goto(f"{seeded.server.url}/compare?runs={seeded.hostile},{seeded.other}")
    figure = page.locator(".metric-chart[data-key='loss']")
    figure.scroll_into_view_if_needed()
    expect(figure).to_have_attribute("data-state", "drawn")
    _hover_chart_point(page, figure, PAYLOAD, [1, 0.6])
    tooltip = _tooltip(figure.locator(".chart-canvas"))
    expect(tooltip).to_contain_text("plain")
    _assert_shown_as_text(page, tooltip)


def test_a_run_name_in_the_bar_tooltip_of_a_metric_logged_once_is_text(page: Page, seeded: Seeded) -> None:
    """A metric each run logged once is a bar per run on the compare page; hovering the bar of the
    run named PAYLOAD shows the name as text."""
    ids = []
    for name, score in ((PAYLOAD, 0.9), ("plain", 0.8)):
        run = seeded.server.tracking.create_run("fitted-once", name=name)
        column = MetricColumns.from_lists("training_score", [0], [1_700_000_000_000], [score])
        seeded.server.tracking.log_metrics(run.id, MetricBatch("seed", 0, [column]))
        ids.append(run.id)
    page.goto(f"{seeded.server.url}/compare?runs={ids[0]},{ids[1]}")
    figure = page.locator(".metric-chart[data-key='training_score']")
    figure.scroll_into_view_if_needed()
    expect(figure).to_have_attribute("data-shape", "bars")
    x, y = page.evaluate(
        """() => window.cairnCharts.find(c => c.key === 'training_score').chart
            .convertToPixel({seriesIndex: 0}, [0.45, 0])"""  # halfway along the first bar
    )
    box = figure.locator(".chart-canvas").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + x, box["y"] + y)
    tooltip = _tooltip(figure.locator(".chart-canvas"))
    expect(tooltip).to_contain_text(f"{PAYLOAD}: 0.9 at step 0")
    _assert_shown_as_text(page, tooltip)


def test_names_and_keys_in_the_compare_charts_tooltips_are_text(page: Page, seeded: Seeded) -> None:
    page.goto(f"{seeded.server.url}/compare?runs={seeded.hostile},{seeded.other}")
    parallel = page.locator("#parallel-chart")
    expect(parallel).to_have_attribute("data-state", "drawn")
    # The scatter of the PAYLOAD param (text: a category axis) against loss.
    page.select_option("#scatter-x", PAYLOAD)
    scatter = page.locator("#scatter-chart")
    scatter.scroll_into_view_if_needed()
    x, y = page.evaluate(
        """(value) => echarts.getInstanceByDom(document.getElementById('scatter-chart'))
            .convertToPixel({seriesIndex: 0}, value)""",
        ["v" + PAYLOAD, 1.0 / 6 + 0.1],
    )
    box = scatter.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + x, box["y"] + y)
    tooltip = _tooltip(scatter)
    expect(tooltip).to_contain_text(f"{PAYLOAD} = v{PAYLOAD}")
    _assert_shown_as_text(page, tooltip)
    # The parallel coordinates' line of the PAYLOAD run.
    parallel.scroll_into_view_if_needed()
    # Halfway between the first two axes, on the PAYLOAD run's line (the first one).
    x, y = page.evaluate(
        """() => {
            const chart = echarts.getInstanceByDom(document.getElementById('parallel-chart'));
            const parallel = chart.getModel().getComponent('parallel').coordinateSystem;
            const value = chart.getOption().series[0].data[0].value;
            const [a, b] = [parallel.dataToPoint(value[0], 'dim0'), parallel.dataToPoint(value[1], 'dim1')];
            return [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
        }"""
    )
    box = parallel.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + x, box["y"] + y)
    tooltip = _tooltip(parallel)
    expect(tooltip).to_have_text(PAYLOAD)
    _assert_shown_as_text(page, tooltip)


def test_a_confusion_matrix_label_in_its_tooltip_is_text(page: Page, seeded: Seeded) -> None:
    page.goto(f"{seeded.server.url}/runs/{seeded.hostile}/artifacts?path=confusion_matrix.json")
    matrix = page.locator(".confusion-matrix")
    expect(matrix).to_have_attribute("data-state", "drawn")
    matrix.scroll_into_view_if_needed()
    labels = page.evaluate("() => JSON.parse(document.querySelector('.confusion-matrix').dataset.matrix).labels")
    hostile = labels.index(PAYLOAD)
    page.evaluate(
        """(cell) => {
            const chart = echarts.getInstanceByDom(document.querySelector('.confusion-matrix'));
            const [x, y] = chart.convertToPixel({seriesIndex: 0}, cell);
            chart.dispatchAction({type: 'showTip', x, y});
        }""",
        [hostile, hostile],
    )
    tooltip = _tooltip(matrix)
    expect(tooltip).to_contain_text(f"true {PAYLOAD}, predicted {PAYLOAD}: 1")
    _assert_shown_as_text(page, tooltip)


# -- the Content-Security-Policy ---------------------------------------------------------------


def test_the_dashboard_works_under_its_content_security_policy(
    page: Page, seeded: Seeded, violations: list[str]
) -> None:
    url = seeded.server.url
    # Projects: the metric select submits itself (cairn.js, no inline handler).
    response = page.goto(f"{url}/projects")
    assert response is not None and response.headers["content-security-policy"] == DASHBOARD_POLICY
    page.select_option("select[name=metric]", "loss")
    expect(page).to_have_url(re.compile(r"metric=loss"))

    # The runs table: search, sort and more rows are HTMX swaps.
    page.goto(f"{url}/projects/{MANY}")
    rows = page.locator("#runs-table tbody tr[data-run]")
    expect(rows).to_have_count(50)
    page.locator("#runs-table tr.load-more button").click()
    expect(rows).to_have_count(MANY_RUNS)
    page.fill("#query", "params.i < 5")
    page.locator("#query").press("Enter")
    expect(rows).to_have_count(5)
    page.locator("#runs-table th a", has_text="acc").click()
    expect(page).to_have_url(re.compile(r"order=metrics\.acc"))
    expect(rows.first).to_contain_text("run-00")

    # The run page: charts, and notes edited through HTMX.
    page.goto(f"{url}/runs/{seeded.other}")
    expect(page.locator(".metric-chart[data-key='loss']")).to_have_attribute("data-state", "drawn")
    page.locator("#edit-notes").click()
    page.fill("#notes textarea", "written under the policy")
    page.locator("#notes button[type=submit]").click()
    expect(page.locator("#notes-text")).to_have_text("written under the policy")

    # Compare, the artifacts tab, and a tooltip (ECharts' style attributes).
    page.goto(f"{url}/compare?runs={seeded.hostile},{seeded.other}")
    expect(page.locator("#parallel-chart")).to_have_attribute("data-state", "drawn")
    page.goto(f"{url}/runs/{seeded.other}/artifacts?path=confusion_matrix.json")
    matrix = page.locator(".confusion-matrix")
    expect(matrix).to_have_attribute("data-state", "drawn")
    matrix.hover()
    expect(_tooltip(matrix)).to_contain_text("predicted")


def test_swagger_ui_works_under_its_own_policy(ui_server: UiServer, page: Page, violations: list[str]) -> None:
    response = page.goto(f"{ui_server.url}/api/v1/docs")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    page.wait_for_selector(".opblock", state="visible", timeout=15_000)
    page.locator(".opblock-summary", has_text="/health").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
