"""The dashboard half of `make bench` for Cairn: both pages the issue names, one server.

    .venv/bin/python bench/ui_cairn.py            # prints one JSON object

- the runs page of ``paint-runs``, 100,000 runs (20 params, 10 metrics, 3 tags each), until the
  first row of the table is painted (target: 1 s on this machine);
- the run page of the one run of ``paint-metrics``, 10 metrics of 1,000,000 points each, until
  the first metric chart has drawn its data (target: 1.5 s). ``data-state=drawn`` is set by
  charts.js after ECharts drew the fetched envelope, so an empty chart frame does not count.

The data, the server and the timing are bench/ui_data.py's and bench/ui_paint.py's (read their
docstrings). Also checked, not timed: the run page's chart of ``m0`` holds the spike of 1000 at
step 777,777 among its million points (``spike_visible``), and how many points it drew.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cairn
import ui_data
import ui_paint

RUNS_PAGE = ("/projects/paint-runs", "#runs-table tbody tr[data-run]")
RUN_PAGE = ("/runs/{metrics_run_id}", ".metric-chart[data-state=drawn] canvas")


def spike_check(browser: Any, url: str) -> dict[str, Any]:
    """Open the run page, wait for m0's chart, and read what it drew."""
    context = browser.new_context(viewport=ui_paint.VIEWPORT)
    try:
        page = context.new_page()
        page.goto(url)
        page.locator(".metric-chart[data-key='m0']").wait_for()
        page.wait_for_selector(".metric-chart[data-key='m0'][data-state=drawn]", timeout=60_000)
        drawn: dict[str, Any] = page.evaluate(
            """() => {
                const chart = window.cairnCharts.find(c => c.key === 'm0');
                const s = chart.overview[0];
                return {points_drawn: s.values.length, points_total: s.total,
                        max_drawn: Math.max(...s.values.filter(Number.isFinite)),
                        chart_width_px: chart.canvas.clientWidth};
            }"""
        )
    finally:
        context.close()
    drawn["spike_visible"] = drawn["max_drawn"] == ui_data.SPIKE_VALUE
    return drawn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed visits per page after one warm-up")
    parser.add_argument("--cache-dir", type=Path, default=ui_data.cache_dir())
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cairn-bench-ui-") as workdir:
        os.environ["CAIRN_HOME"] = str(Path(workdir) / "home")
        os.environ.pop("CAIRN_URI", None)
        store = ui_data.ensure_store(args.cache_dir)
        pages: dict[str, Any] = {}
        with ui_paint.cairn_server(Path(workdir), store["path"]) as (url, server_start_s):
            with ui_paint.chromium(ui_paint.find_chromium()) as browser:
                for name, (path, selector) in (("runs_page", RUNS_PAGE), ("run_page", RUN_PAGE)):
                    path = path.replace("{metrics_run_id}", str(store["metrics_run_id"]))
                    ui_paint.log(f"measuring {path} until {selector!r} is painted")
                    pages[name] = {
                        "url_path": path,
                        "selector": selector,
                        **ui_paint.measure_page(browser, url + path, selector, args.repeats),
                    }
                run_path = RUN_PAGE[0].replace("{metrics_run_id}", str(store["metrics_run_id"]))
                pages["run_page"]["chart"] = spike_check(browser, url + run_path)
                chromium_version = browser.version
    print(
        json.dumps(
            {
                "tool": "cairn",
                "version": cairn.__version__,
                **pages,
                "data": {"runs": ui_data.RUNS, "metrics": list(ui_data.METRIC_KEYS), "points": ui_data.POINTS},
                "server": {"workers": 1, "start_s": round(server_start_s, 2)},
                "chromium": chromium_version,
                "viewport": ui_paint.VIEWPORT,
                "bench_wall_s": round(time.monotonic() - started, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
