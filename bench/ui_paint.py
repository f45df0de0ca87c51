"""Dashboard paint benchmark: how long until a page shows what it is for, in a real browser.

    .venv/bin/python bench/ui_paint.py --url-path /projects/paint-runs/runs --selector '#runs-table tbody tr'
    .venv/bin/python bench/ui_paint.py --url-path '/runs/{metrics_run_id}' --selector '.metric-chart canvas'

It builds (or reuses) the store of bench/ui_data.py (100,000 runs in ``paint-runs``; one run of
10 metrics × 1,000,000 points in ``paint-metrics``, whose id replaces ``{metrics_run_id}`` in
``--url-path``), starts ``python -m cairn server`` on it as a user would (its own process, own
CAIRN_HOME, loopback port), and opens the page in Debian's Chromium (``CAIRN_CHROMIUM`` or
/usr/bin/chromium) driven by Playwright, headless, 1366×800.

What is timed, per sample: from the navigation's start (the page's ``performance.timeOrigin``:
the moment the browser begins the navigation, before the request is sent) to the first animation
frame in which an element matching ``--selector`` is rendered: present, with a non-empty box,
and not ``visibility: hidden`` (what Playwright calls visible). A script added before any of the
page's own code checks this in every ``requestAnimationFrame`` callback, so the time is read by
the page's clock, in the frame that paints the element; Playwright's own round trips are not in
it. It includes everything on the way: the server's answer, HTML parsing, loading the vendored
scripts, the page's data requests and drawing. Pick a selector that only matches once the
content is drawn (a table row, not the empty table; a chart's canvas only if it appears with
its data).

Each sample opens a new browser context (no HTTP cache, no storage: a first visit), in one
Chromium that stays up; the server and its SQLite page cache are warm after one untimed
warm-up. ``value`` is the median of ``--repeats`` samples (5). Also reported, medians: the time
to the response's first byte and to DOMContentLoaded (Navigation Timing), and the outside wall
time Playwright saw from ``goto`` to the selector being visible. Console errors and uncaught
exceptions on the page are counted and listed: a page that paints fast but broken is not a
result. Progress goes to stderr, one JSON object to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _chromium
import cairn
import ui_data
from _procs import LOOPBACK, ServerProcess, free_port, start_server, stop_tree, wait_until_ready

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage

VIEWPORT = {"width": 1366, "height": 800}

#: Installed before the page's own scripts: records, by the page's clock, the first animation
#: frame in which the selector matches a rendered element.
PAINT_PROBE = """
(selector) => {
  const visible = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== "hidden";
  };
  const check = () => {
    const el = document.querySelector(selector);
    if (el && visible(el)) {
      window.__cairnPaintMs = performance.now();
      return;
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
}
"""

NAVIGATION_TIMES = """
() => {
  const [nav] = performance.getEntriesByType("navigation");
  return nav ? {ttfb: nav.responseStart, dcl: nav.domContentLoadedEventEnd} : {ttfb: null, dcl: null};
}
"""


def log(message: str) -> None:
    print(f"[ui_paint] {message}", file=sys.stderr, flush=True)


def find_chromium() -> str:
    """The Chromium to drive (_chromium.find_chromium); exits with how to install one if none."""
    path = _chromium.find_chromium()
    if not path:
        raise SystemExit(_chromium.NOT_FOUND)
    return path


@contextmanager
def cairn_server(workdir: Path, store: str, workers: int = 1) -> Iterator[tuple[str, float]]:
    """``python -m cairn server`` on ``store``; yields its URL and the seconds it took to answer."""
    port = free_port()
    argv = [
        sys.executable, "-m", "cairn", "server",
        "--store", store,
        "--blobs", str(workdir / "blobs"),
        "--port", str(port),
        "--workers", str(workers),
        "--insecure-no-auth",  # as MLflow's server runs beside it: without sign-in
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    env["CAIRN_HOME"] = str(workdir / "server-home")
    process: ServerProcess = start_server(argv, cwd=workdir, log_path=workdir / "server.log", env=env)
    try:
        url = f"http://{LOOPBACK}:{port}"
        started_s = wait_until_ready(process, f"{url}/health")
        yield url, started_s
    finally:
        stop_tree(process)


@contextmanager
def chromium(executable: str) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=_chromium.CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def paint_once(browser: Browser, url: str, selector: str, timeout_s: float) -> dict[str, Any]:
    """One first visit of ``url`` in a new context: milliseconds until ``selector`` is painted."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    errors: list[str] = []
    try:
        context.add_init_script(script=f"({PAINT_PROBE})({json.dumps(selector)})")
        page = context.new_page()

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                errors.append(f"console: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: errors.append(f"uncaught: {error.message}"))
        started = time.perf_counter()
        response = page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        if response is None or not response.ok:
            raise RuntimeError(f"{url} answered {response.status if response else 'nothing'}")
        page.wait_for_selector(selector, state="visible", timeout=timeout_s * 1000)
        wall_ms = (time.perf_counter() - started) * 1000
        page.wait_for_function("() => window.__cairnPaintMs !== undefined", timeout=timeout_s * 1000)
        paint_ms = page.evaluate("() => window.__cairnPaintMs")
        navigation = page.evaluate(NAVIGATION_TIMES)
    finally:
        context.close()
    return {
        "paint_ms": paint_ms,
        "wall_ms": wall_ms,
        "ttfb_ms": navigation["ttfb"],
        "dcl_ms": navigation["dcl"],
        "errors": errors,
    }


def _median(samples: list[dict[str, Any]], key: str) -> float | None:
    values = [s[key] for s in samples if s[key] is not None]
    return round(statistics.median(values), 1) if values else None


def measure_page(
    browser: Browser, url: str, selector: str, repeats: int = 5, timeout_s: float = 60.0
) -> dict[str, Any]:
    """One untimed warm-up visit, then ``repeats`` timed ones; medians in ms."""
    warmup = paint_once(browser, url, selector, timeout_s)
    samples = [paint_once(browser, url, selector, timeout_s) for _ in range(repeats)]
    errors = sorted({e for s in [warmup, *samples] for e in s["errors"]})
    return {
        "value": _median(samples, "paint_ms"),
        "unit": "ms",
        "paint_ms": [round(s["paint_ms"], 1) for s in samples],
        "ttfb_ms": _median(samples, "ttfb_ms"),
        "dom_content_loaded_ms": _median(samples, "dcl_ms"),
        "wall_ms": _median(samples, "wall_ms"),
        "warmup_paint_ms": round(warmup["paint_ms"], 1),
        "repeats": repeats,
        "console_errors": errors,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url-path", required=True, help="path on the server; {metrics_run_id} is filled in")
    parser.add_argument("--selector", required=True, help="CSS selector of what the page is for, once drawn")
    parser.add_argument("--repeats", type=int, default=5, help="timed visits after one warm-up")
    parser.add_argument("--timeout-s", type=float, default=60.0, help="per visit")
    parser.add_argument("--workers", type=int, default=1, help="the server's worker processes")
    parser.add_argument("--cache-dir", type=Path, default=ui_data.cache_dir(), help="where ui_data keeps the store")
    parser.add_argument("--store", help="a store URI to use instead of ui_data's (its data is then yours)")
    args = parser.parse_args(argv)

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cairn-bench-ui-paint-") as workdir:
        os.environ["CAIRN_HOME"] = str(Path(workdir) / "home")  # ui_data's own writes stay here
        os.environ.pop("CAIRN_URI", None)
        if args.store:
            run_id = ui_data.metrics_run_id(args.store) if "{metrics_run_id}" in args.url_path else None
            store = {"path": args.store, "metrics_run_id": run_id, "cached": None}
        else:
            store = ui_data.ensure_store(args.cache_dir)
        url_path = args.url_path.replace("{metrics_run_id}", str(store["metrics_run_id"]))
        executable = find_chromium()
        with cairn_server(Path(workdir), store["path"], args.workers) as (url, server_start_s):
            log(f"server up in {server_start_s:.2f} s; measuring {url_path} until {args.selector!r} is painted")
            with chromium(executable) as browser:
                result = measure_page(browser, url + url_path, args.selector, args.repeats, args.timeout_s)
                browser_version = browser.version
    print(
        json.dumps(
            {
                "tool": "cairn",
                "version": cairn.__version__,
                "url_path": url_path,
                "selector": args.selector,
                **result,
                "store": {k: store.get(k) for k in ("path", "metrics_run_id", "cached", "data_version")},
                "server": {"workers": args.workers, "start_s": round(server_start_s, 2)},
                "chromium": browser_version,
                "viewport": VIEWPORT,
                "method": "navigation start (performance.timeOrigin) to the first requestAnimationFrame in which "
                "the selector matches an element with a non-empty box and not visibility:hidden, by the page's "
                "clock; a new browser context (cold HTTP cache) per visit; median of the timed visits after one "
                "warm-up",
                "bench_wall_s": round(time.monotonic() - started, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
