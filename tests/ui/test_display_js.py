"""The dashboard's JavaScript shows values as ``cairn.core.display`` does, in a real Chromium.

``static/display.js`` is loaded into a page of the running server and given the same values as
the Python module: Hypothesis writes batches of floats (every bit pattern, NaN, ±inf, -0.0,
subnormals, decimal ties such as 123456.5), integers, booleans and text, and each batch is
formatted in one page evaluation, so thousands of values cost a second. Floats cross into the
page as their 64 bits, so the page formats exactly the double Python formatted.

Then the place a person meets it: a chart's tooltip on the run page shows a metric's last value
in the same text as the metric table beside the chart.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Locator, Page, expect
from tests.ui.conftest import UiServer

from cairn.core import display
from cairn.core.metrics import MetricBatch, MetricColumns

pytestmark = pytest.mark.browser

# Values where JavaScript's own toPrecision and Python's "g" part ways, and their neighbours.
EDGE_FLOATS = [
    math.nan, math.inf, -math.inf, 0.0, -0.0,
    5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308,
    1e-7, 1.5e-7, 1e-5, 1e-4, 0.0001, 0.00012345678, 0.000999999, 0.0009999995, 0.001,
    0.1, 0.1 + 0.2, 1 / 3, 2 / 3, 0.5, 2.5, 0.912345678, 1.0, 10.0, 99999.95, 100000.0,
    123456.5, 123457.5, -123456.5, 999999.0, 999999.5, 999999.4999999999, 1000000.0, 1234565.0,
    1234575.0, 9999995.0, 1e16, 1e21, 1e22, 1e100, 1.5e300, 2**53, 2**53 + 2, -(2**63),
]  # fmt: skip

settings_for_batches = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _bits(x: float) -> str:
    return struct.pack(">d", x).hex()


def _float(bits: int) -> float:
    return float(struct.unpack(">d", bits.to_bytes(8, "big"))[0])


# Every double is as likely as any other bit pattern (subnormals, NaN payloads, huge and tiny
# exponents), plus decimals of seven digits ending in 5: the ties and near-ties of the sixth.
floats = st.one_of(
    st.floats(),
    st.integers(0, 2**64 - 1).map(_float),
    st.builds(lambda n, e: float(f"{n}5e{e}"), st.integers(100_000, 999_999), st.integers(-330, 300)),
    st.builds(lambda n: n + 0.5, st.integers(-(10**7), 10**7)),
    st.sampled_from(EDGE_FLOATS),
)


@pytest.fixture
def module(page: Page, ui_server: UiServer) -> Iterator[Page]:
    """A page of the running server with display.js loaded as the dashboard serves it."""
    page.goto(f"{ui_server.url}/projects")
    page.add_script_tag(url="/static/display.js")
    page.wait_for_function("() => window.cairnDisplay !== undefined")
    yield page


def _numbers_in_page(page: Page, values: list[float]) -> list[str]:
    result: list[str] = page.evaluate(
        """(bits) => bits.map((hex) => {
            const view = new DataView(new ArrayBuffer(8));
            for (let i = 0; i < 8; i++) view.setUint8(i, parseInt(hex.slice(2 * i, 2 * i + 2), 16));
            return cairnDisplay.number(view.getFloat64(0));
        })""",
        [_bits(v) for v in values],
    )
    return result


def _assert_same(values: list[Any], python: list[str], javascript: list[str]) -> None:
    wrong = [(v, p, j) for v, p, j in zip(values, python, javascript, strict=True) if p != j]
    assert not wrong, "value, Python, JavaScript:\n" + "\n".join(f"{v!r}: {p!r} != {j!r}" for v, p, j in wrong)


def test_edge_numbers_read_as_in_python(module: Page) -> None:
    shown = _numbers_in_page(module, EDGE_FLOATS)
    _assert_same(EDGE_FLOATS, [display.number(v) for v in EDGE_FLOATS], shown)
    # Where JavaScript's own toPrecision(6) says 1e-7, 123457, 1.00000e+21, Infinity, 100000 and 0.300000.
    spelled = dict(zip(EDGE_FLOATS, shown, strict=True))
    assert [spelled[v] for v in (1e-7, 123456.5, 1e21, math.inf, 100000.0, 0.1 + 0.2)] == [
        "1e-07",
        "123456",
        "1e+21",
        "inf",
        "100000",
        "0.3",
    ]
    assert module.evaluate("() => cairnDisplay.number(null)") == display.MISSING


@settings_for_batches
@given(st.lists(floats, min_size=1, max_size=300))
def test_numbers_read_as_in_python(module: Page, values: list[float]) -> None:
    _assert_same(values, [display.number(v) for v in values], _numbers_in_page(module, values))


# A param as the compare page reads it from JSON: Python's int and float stay apart.
params = st.one_of(
    st.integers(),  # any size: JSON keeps every digit, and so does the page
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1000000, 1000000.0, 1234567, 1234567.0, 0, -0.0, 2**53 + 1, 10**30, 1e30]),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
)


@settings_for_batches
@given(st.lists(params, min_size=1, max_size=100))
@example([1000000, 1000000.0, True, None, "0.1", 1e-7])
def test_values_read_from_json_as_in_python(module: Page, values: list[Any]) -> None:
    shown = module.evaluate("(text) => cairnDisplay.parseJson(text).map(cairnDisplay.value)", json.dumps(values))
    _assert_same(values, [display.value(v) for v in values], shown)


SAFE = 2**53 - 1  # what a JavaScript number holds exactly: durations and times stay within it
MIN_MS, MAX_MS = -62_135_596_800_000 + 86_400_000, 253_402_300_799_000 - 86_400_000
EDGE_MS = [0, 1, 999, 1000, 59_999, 60_000, 192_000, 3_599_999, 3_600_000, 86_399_999, 86_400_000]
EDGE_MS += [-1, -192_000, 1_714_572_191_999, MIN_MS - 1, MIN_MS, MAX_MS, MAX_MS + 1, SAFE, -SAFE]
milliseconds = st.one_of(st.integers(-SAFE, SAFE), st.integers(-(10**9), 10**9), st.sampled_from(EDGE_MS))


@settings_for_batches
@given(st.lists(milliseconds, min_size=1, max_size=200))
@example(EDGE_MS)
def test_durations_and_times_read_as_in_python(module: Page, values: list[int]) -> None:
    durations, times = module.evaluate(
        "(ms) => [ms.map(cairnDisplay.duration), ms.map(cairnDisplay.timestamp)]",
        values,
    )
    _assert_same(values, [display.duration(v) for v in values], durations)
    # The dashboard's `time` filter: UTC, saying so.
    _assert_same(values, [display.timestamp(v, dt.UTC, show_zone=True) for v in values], times)


def test_missing_values_and_plurals_read_as_in_python(module: Page) -> None:
    shown = module.evaluate(
        """() => [cairnDisplay.value(null), cairnDisplay.duration(null), cairnDisplay.timestamp(null),
                  ...[0, 1, 2, 100000].map((n) => cairnDisplay.plural(n, 'point'))]"""
    )
    python = [display.value(None), display.duration(None), display.timestamp(None, dt.UTC)]
    assert shown == python + [display.plural(n, "point") for n in (0, 1, 2, 100000)]


# -- where a person compares them: a chart's tooltip beside the metric table --------------------

# Last values whose text the old charts.js wrote differently (1.23e-4, 1.235e+5, 1.00e+21, 0.9123).
LAST_VALUES = {"tiny": 0.00012345678, "tie": 123456.5, "huge": 1e21, "acc": 0.912345678}


@pytest.fixture(scope="module")
def run_with_values(ui_server: UiServer) -> str:
    run = ui_server.tracking.create_run("display", name="shown")
    columns = [
        MetricColumns.from_lists(key, [0, 1], [1_700_000_000_000, 1_700_000_001_000], [1.0, last])
        for key, last in LAST_VALUES.items()
    ]
    ui_server.tracking.log_metrics(run.id, MetricBatch("seed", 0, columns))
    return run.id


def _hover_last_point(page: Page, figure: Locator) -> Locator:
    figure.scroll_into_view_if_needed()
    expect(figure).to_have_attribute("data-state", "drawn")
    x, y = page.evaluate(
        """(key) => {
            const chart = window.cairnCharts.find((c) => c.key === key).chart;
            const data = chart.getOption().series[0].data;
            return chart.convertToPixel({seriesIndex: 0}, data[data.length - 1].slice(0, 2));
        }""",
        figure.get_attribute("data-key"),
    )
    box = figure.locator(".chart-canvas").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + x, box["y"] + y)
    return figure.locator(".chart-canvas > div").last  # ECharts' tooltip, after the canvas' div


@pytest.mark.parametrize("key", sorted(LAST_VALUES))
def test_a_chart_tooltip_shows_a_value_as_the_metric_table_does(
    page: Page, ui_server: UiServer, run_with_values: str, key: str
) -> None:
    page.goto(f"{ui_server.url}/runs/{run_with_values}")
    row = page.locator("#metrics-table tr", has=page.locator("th", has_text=key))
    in_table = row.locator("td").first.inner_text()
    assert in_table == display.number(LAST_VALUES[key])
    tooltip = _hover_last_point(page, page.locator(f".metric-chart[data-key='{key}']"))
    expect(tooltip).to_contain_text(in_table)


@pytest.fixture(scope="module")
def compared(ui_server: UiServer) -> list[str]:
    """Two runs whose params read differently once JSON has turned them into JavaScript numbers:
    an integer of seven digits (Python: 1000000, as a float it would be 1e+06) and a small float."""
    ids = []
    for steps, lr, acc in ((1_000_000, 1e-07, 0.5), (2_500_000, 0.00012345678, 0.75)):
        run = ui_server.tracking.create_run("display-compare", config={"steps": steps, "lr": lr})
        columns = MetricColumns.from_lists("acc", [0], [1_700_000_000_000], [acc])
        ui_server.tracking.log_metrics(run.id, MetricBatch("seed", 0, [columns]))
        ids.append(run.id)
    return ids


@pytest.mark.parametrize("param", ["steps", "lr"])
def test_the_compare_scatter_shows_a_param_as_the_diff_table_does(
    page: Page, ui_server: UiServer, compared: list[str], param: str
) -> None:
    page.goto(f"{ui_server.url}/compare?runs={compared[0]}&runs={compared[1]}")
    expect(page.locator("#parallel-chart")).to_have_attribute("data-state", "drawn")
    in_table = page.locator("#diff-table tr", has=page.locator("th", has_text=param)).locator("td").first
    page.select_option("#scatter-x", param)
    page.select_option("#scatter-y", "acc")
    scatter = page.locator("#scatter-chart")
    scatter.scroll_into_view_if_needed()
    x, y = page.evaluate(
        """() => {
            const chart = echarts.getInstanceByDom(document.getElementById('scatter-chart'));
            return chart.convertToPixel({seriesIndex: 0}, chart.getOption().series[0].data[0].value);
        }"""
    )
    box = scatter.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + x, box["y"] + y)
    tooltip = scatter.locator(":scope > div").last
    expect(tooltip).to_contain_text(f"{param} = {in_table.inner_text()}")
    expect(tooltip).to_contain_text(f"acc = {display.number(0.5)}")


def test_the_compare_charts_draw_runs_whose_values_are_not_finite(page: Page, ui_server: UiServer) -> None:
    """A last value of NaN or inf, or a param of inf, once stopped both charts with a SyntaxError:
    the page wrote a bare NaN into its JSON."""
    ids = []
    for lr, acc in ((math.inf, math.nan), (0.1, math.inf), (0.2, 0.5)):
        run = ui_server.tracking.create_run("display-non-finite", config={"lr": lr})
        columns = MetricColumns.from_lists("acc", [0], [1_700_000_000_000], [acc])
        ui_server.tracking.log_metrics(run.id, MetricBatch("seed", 0, [columns]))
        ids.append(run.id)
    page.goto(f"{ui_server.url}/compare?" + "&".join(f"runs={run_id}" for run_id in ids))
    expect(page.locator("#parallel-chart")).to_have_attribute("data-state", "drawn")
    plotted = page.evaluate(
        """() => echarts.getInstanceByDom(document.getElementById('scatter-chart'))
                 .getOption().series[0].data.map((d) => [String(d.param), String(d.metric)])"""
    )
    assert plotted == [["Infinity", "NaN"], ["0.1", "Infinity"], ["0.2", "0.5"]]
