"""The browser stack works: Chromium opens pages the server renders, and the vendored front-end
files (copied from npm by `make install`) load and run in it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cairn

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from tests.ui.conftest import UiServer

VENDOR = Path(cairn.__file__).resolve().parent / "server" / "ui" / "static" / "vendor"


def test_swagger_ui_renders_the_api(ui_server: UiServer, page: Page) -> None:
    page.goto(f"{ui_server.url}/api/v1/docs")
    # Either the API's description or Swagger UI's "cannot render" message, whichever comes.
    page.wait_for_selector(".swagger-ui .info, .swagger-ui .version-pragma", state="visible", timeout=15_000)
    assert page.locator(".swagger-ui .version-pragma").count() == 0, page.locator(".swagger-ui").inner_text()
    assert "Cairn" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector(".opblock", state="visible", timeout=15_000)


def test_tracking_writes_what_the_server_reads(ui_server: UiServer, page: Page) -> None:
    run = ui_server.tracking.create_run("smoke", name="seeded")
    response = page.request.get(f"{ui_server.url}/api/v1/runs/{run.id}")
    assert response.ok
    assert response.json()["name"] == "seeded"


def test_vendored_front_end_files_are_installed() -> None:
    """`make install` copies them from ui/node_modules (npm); see docs/development.md."""
    for name in ("htmx.min.js", "htmx.LICENSE", "echarts.min.js", "echarts.LICENSE"):
        path = VENDOR / name
        assert path.is_file() and path.stat().st_size > 0, f"{path} is missing: run `make install`"


def test_vendored_echarts_and_htmx_run_in_chromium(page: Page) -> None:
    page.set_content('<div id="chart" style="width: 600px; height: 300px"></div>')
    page.add_script_tag(path=VENDOR / "htmx.min.js")
    page.add_script_tag(path=VENDOR / "echarts.min.js")
    versions = page.evaluate("() => [htmx.version, echarts.version]")
    assert versions[0].startswith("2.") and versions[1].split(".")[0] in ("5", "6"), versions
    page.evaluate(
        """() => echarts.init(document.getElementById("chart")).setOption({
            animation: false,
            xAxis: {type: "value"}, yAxis: {type: "value"},
            series: [{type: "line", data: [[0, 1], [1, 3], [2, 2]]}],
        })"""
    )
    page.wait_for_selector("#chart canvas", state="visible")
