"""The dashboard as a hostile user meets it, in a real Chromium: names that hold HTML stay text
wherever a chart shows them.

The payload is an ``<img>`` whose ``onerror`` sets a flag on ``window``: if any place puts a
name into HTML unescaped, the image is created (and the flag set once its load fails). Each
test checks both, and that the name was shown as the characters it is.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Locator, Page, expect
from tests.ui.conftest import UiServer

import cairn

pytestmark = pytest.mark.browser

PROJECT = "hostile"
PAYLOAD = "<img src=x onerror=window.__xss=1>"
NAN_STEP = 3


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


def test_a_run_name_in_the_nan_marker_tooltip_is_text(page: Page, seeded: Seeded) -> None:
    page.goto(f"{seeded.server.url}/runs/{seeded.hostile}")
    figure = page.locator(".metric-chart[data-key='loss']")
    expect(figure).to_have_attribute("data-state", "drawn")
    _hover_chart_point(page, figure, "NaN / ±inf", [NAN_STEP, 0.03])
    tooltip = _tooltip(figure.locator(".chart-canvas"))
    expect(tooltip).to_contain_text(f"NaN at step {NAN_STEP}")
    _assert_shown_as_text(page, tooltip)
