"""Dashboard paint benchmark, MLflow's side: the same two pages in MLflow's own web UI, same data.

    .venv/bin/python bench/ui_mlflow.py > ui-mlflow.json          # the project venv (Playwright)

It runs in the project venv (Playwright, and bench/ui_paint.py's measuring code, imported as is)
and drives MLflow through bench/.venv-mlflow (``bash bench/setup_mlflow.sh`` makes it): each
database is served by that venv's ``mlflow server --backend-store-uri sqlite:///… --host
127.0.0.1 --port P --workers 1`` (its own temporary folder for artifacts), one server at a time.

**The data** is bench/ui_data.py's, in MLflow's schema:

- runs page: the search benchmark's MLflow database (bench/search_mlflow.py ``ensure_db``, called
  with the MLflow venv's python): 100,000 runs in experiment ``search-bench``, 20 params, 10
  metrics, 3 tags each, the same runs Cairn's ``paint-runs`` holds. Cached in
  bench/results/search-cache/ (about 70 s to build the first time).
- run page: one finished run ``million-points`` in experiment ``paint-metrics`` with metrics
  ``m0``..``m9`` of 1,000,000 points each (steps 0..999,999, one every 10 ms), the values of
  ``ui_data.metric_values``, so ``m0`` has its one spike of 1000 at step 777,777. MLflow itself
  creates the database (``MlflowClient("sqlite:///…")``: its migrations), the experiment, the run,
  its params and its end; the 10,000,000 points are then **INSERTed by SQL** into ``metrics``
  and ``latest_metrics`` as ``log_batch`` writes them (executemany, a transaction per million
  rows). Through MLflow's client that would be 10,000 ``log_batch`` calls of 1,000 points (its
  per-call cap), each a round trip and a transaction through the server: far longer than this
  benchmark may take (mlflow_side.py measures that ingest rate). Cached in
  bench/results/ui-cache/mlflow-ui-v1/, keyed by MLflow's version and ui_data's DATA_VERSION
  (about 2.5 minutes, 2.4 GB, the first time).

**The pages** (MLflow 3.17's routes): the runs page is ``/#/experiments/<id>/runs`` ("Training
runs"; a bare ``/#/experiments/<id>`` opens the GenAI overview of traces instead), timed until
``.ag-row a[href*="/runs/"]`` (a run's name link in a row of the AG Grid runs table) is painted.
The run page is ``/#/experiments/<id>/runs/<run>/model-metrics``, the "Model metrics" tab (the
run's default tab, Overview, draws no chart), timed until ``.js-plotly-plot .scatterlayer
path.js-line`` (the line of a Plotly chart, which exists only once the chart has points) is painted.

**The timing** is ui_paint.py's: navigation start to the first animation frame in which the
selector matches a rendered element, by the page's clock; a new browser context per visit; one
untimed warm-up, then the median of ``--repeats`` (5); console errors listed. Per visit a
``--timeout-s`` (60 s) bound: a visit that does not paint in time is recorded in ``not_painted``
with the page's text and the API requests still unanswered (the warm-up's also as a screenshot in
bench/results/). If the warm-up (cold server and caches) and the first timed visit both fail, the
page's ``value`` is null, ``outcome`` says so and the other visits are skipped; otherwise such a
visit counts as slower than every other (``value`` is null if half or more did not paint).
One difference, not timed: after each visit the page is left open
until its API requests have all answered (at most the timeout), so that the next visit does not
find the single worker still busy with the charts this one asked for and then dropped.

**What MLflow draws**: after the warm-up the chart of ``m0`` is read (Plotly's own trace data:
points drawn, highest y, y-axis range) and the request the UI made for it
(``get-history-bulk-interval?…&max_results=320``: MLflow samples rows in SQL, first and last kept,
no min/max envelope) is repeated with urllib to see whether the spike is among the points the
server sends: ``spike_visible``, ``points_drawn``, ``spike_step_returned``; ``at_server_max``
asks the same at the endpoint's cap (2,500 points), which the UI does not. Only the charts in
view are drawn (6 of 10 at 1366x800); the others load when scrolled to.

Progress goes to stderr, one JSON object to stdout (``pages.runs`` and ``pages.run``, each with
ui_paint.py's fields plus ``outcome``, ``shown`` and ``failed_requests``). After the caches
exist a run takes about 4 minutes, most of it the run page: MLflow's sampled history over a
1M-point series takes seconds per chart. Screenshots: bench/results/ui-mlflow-{runs,run}.png.

    --pages runs|run      one page only        --repeats N / --timeout-s S    as ui_paint.py
    --points N            a smaller run (its own cached file), for a quick check
    --results-dir DIR     where the screenshots go (bench/results/)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np

import search_data
import ui_data
import ui_paint
from _procs import LOOPBACK, ServerProcess, free_port, start_server, stop_tree, wait_until_ready

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
MLFLOW_VENV = BENCH_DIR / ".venv-mlflow"
MLFLOW_PY = MLFLOW_VENV / "bin" / "python"
MLFLOW_BIN = MLFLOW_VENV / "bin" / "mlflow"
#: Bump whenever what this module builds changes; ui_data's DATA_VERSION (the values) is part of the key too.
DATA_VERSION = "mlflow-ui-v1"
#: MLflow 3 sends usage telemetry from client and server; there is no internet here.
QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
INSERT_METRIC = "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, 0)"
INSERT_LATEST = "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, 0, ?)"
COMMIT_EVERY = 1_000_000


def log(message: str) -> None:
    print(f"[ui_mlflow] {message}", file=sys.stderr, flush=True)


def mlflow_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CAIRN_"))}
    return {**env, **QUIET_ENV}


def run_mlflow_python(code: str, *args: str) -> Any:
    """Run ``code`` with the MLflow venv's interpreter (bench/ on sys.path); it prints one JSON line last."""
    if not MLFLOW_PY.exists():
        raise SystemExit(f"no {MLFLOW_PY}: run `bash bench/setup_mlflow.sh` first")
    prelude = f"import sys; sys.path.insert(0, {str(BENCH_DIR)!r}); sys.argv[1:] = {list(args)!r}\n"
    completed = subprocess.run(
        [str(MLFLOW_PY), "-c", prelude + code], env=mlflow_env(), stdout=subprocess.PIPE, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the MLflow venv's python failed ({completed.returncode}): {completed.stdout[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def mlflow_version() -> str:
    return run_mlflow_python("import json, importlib.metadata as m; print(json.dumps(m.version('mlflow')))")


# -- (a) 100,000 runs: the search benchmark's MLflow database -----------------------------------

ENSURE_RUNS_DB = """
import json, search_data, search_mlflow
path, experiment_id, info = search_mlflow.ensure_db(search_data.cache_dir(search_mlflow.RESULTS_DIR), int(sys.argv[1]))
print(json.dumps({"path": str(path), "experiment_id": experiment_id, "load": info}))
"""


def ensure_runs_db(runs: int = search_data.RUNS) -> dict[str, Any]:
    """bench/search_mlflow.py's cached database of ``runs`` runs (built there, by bulk INSERTs, if missing)."""
    started = time.perf_counter()
    info = run_mlflow_python(ENSURE_RUNS_DB, str(runs))
    info["runs"] = runs
    info["seconds"] = round(time.perf_counter() - started, 1)
    return info


# -- (b) one run of 10 metrics x 1,000,000 points -----------------------------------------------

CREATE_METRICS_RUN = """
import json
from mlflow.tracking import MlflowClient
uri, artifacts, experiment, name, start, end, params = sys.argv[1:8]
client = MlflowClient(tracking_uri=uri)
experiment_id = client.create_experiment(experiment, artifact_location=artifacts)
run = client.create_run(experiment_id, start_time=int(start), tags={"purpose": "ui-paint"}, run_name=name)
for key, value in json.loads(params).items():
    client.log_param(run.info.run_id, key, value)
client.set_terminated(run.info.run_id, "FINISHED", end_time=int(end))
print(json.dumps({"experiment_id": experiment_id, "run_id": run.info.run_id}))
"""

CHECK_METRICS_RUN = """
import json
from mlflow.tracking import MlflowClient
uri, run_id = sys.argv[1:3]
run = MlflowClient(tracking_uri=uri).get_run(run_id)
print(json.dumps({"status": run.info.status, "metrics": run.data.metrics, "params": run.data.params}))
"""


def metrics_db_path(cache: Path, version: str, points: int) -> Path:
    suffix = "" if points == ui_data.POINTS else f"-{points}"
    return cache / f"mlflow-{version}-{ui_data.DATA_VERSION}-metrics{suffix}.db"


def build_metrics_db(path: Path, points: int) -> dict[str, Any]:
    """MLflow creates the database (its migrations), the experiment and the finished run; the
    points are then INSERTed into ``metrics`` and ``latest_metrics`` as MLflow's ``log_batch`` writes
    them (``is_nan`` 0, ``latest_metrics`` the point of the highest step)."""
    started = time.perf_counter()
    uri = f"sqlite:///{path}"
    steps = np.arange(points, dtype=np.int64)
    timestamps = ui_data.METRIC_START_MS + steps * ui_data.STEP_MS
    end_time = int(timestamps[-1]) if points else ui_data.METRIC_START_MS
    params = {"points": points, "keys": len(ui_data.METRIC_KEYS), "spike": f"{ui_data.SPIKE_KEY}@{ui_data.SPIKE_STEP}"}
    created = run_mlflow_python(
        CREATE_METRICS_RUN,
        uri,
        str(path.parent / "mlflow-artifacts"),
        ui_data.METRICS_PROJECT,
        ui_data.METRIC_RUN_NAME,
        str(ui_data.METRIC_START_MS),
        str(end_time),
        json.dumps(params),
    )
    schema_s = time.perf_counter() - started
    run_id = created["run_id"]
    step_list, time_list = steps.tolist(), timestamps.tolist()
    last: dict[str, float] = {}
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        # A throw-away file until it is renamed into place: no journal, no fsync while loading.
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-1000000")
        for index, key in enumerate(ui_data.METRIC_KEYS):
            values = ui_data.metric_values(index, steps).tolist()
            # Key by key in step order: every index on `metrics` is appended to, never split.
            for low in range(0, points, COMMIT_EVERY):
                high = min(points, low + COMMIT_EVERY)
                connection.execute("BEGIN")
                rows = zip(values[low:high], time_list[low:high], step_list[low:high], strict=True)
                connection.executemany(INSERT_METRIC, ((key, v, t, run_id, s) for v, t, s in rows))
                connection.execute("COMMIT")
            if points:
                last[key] = values[-1]
                connection.execute(INSERT_LATEST, (key, values[-1], time_list[-1], step_list[-1], run_id))
            log(f"  {key}: {points:,} rows ({time.perf_counter() - started:.0f} s)")
        stored = connection.execute("SELECT count(*) FROM metrics WHERE run_uuid = ?", (run_id,)).fetchone()[0]
    finally:
        connection.close()
    if stored != points * len(ui_data.METRIC_KEYS):
        raise RuntimeError(f"{path}: {stored} metric rows, expected {points * len(ui_data.METRIC_KEYS)}")
    check = run_mlflow_python(CHECK_METRICS_RUN, uri, run_id)
    if points and (check["status"] != "FINISHED" or check["metrics"] != last):
        raise RuntimeError(f"MlflowClient.get_run reads the run back wrong: {check}")
    return {
        "experiment_id": created["experiment_id"],
        "run_id": run_id,
        "keys": len(ui_data.METRIC_KEYS),
        "points_per_key": points,
        "rows": stored,
        "spike": {"key": ui_data.SPIKE_KEY, "step": ui_data.SPIKE_STEP, "value": ui_data.SPIKE_VALUE},
        "schema_s": round(schema_s, 1),
        "seconds": round(time.perf_counter() - started, 1),
        "bytes": path.stat().st_size,
        "method": "MlflowClient(sqlite:///…) creates the database (MLflow's migrations), the experiment and the "
        "finished run; the points are executemany INSERTs into metrics and latest_metrics, key by key in step "
        "order, one transaction per million rows",
    }


def ensure_metrics_db(version: str, cache: Path | None = None, points: int = ui_data.POINTS) -> dict[str, Any]:
    """The cached metrics database, built first if missing; ``cached`` says which."""
    cache = cache or RESULTS_DIR / "ui-cache" / DATA_VERSION
    path = metrics_db_path(cache, version, points)
    sidecar = path.with_name(path.name + ".json")
    if path.exists() and sidecar.exists():
        log(f"reusing {path}")
        return {**json.loads(sidecar.read_text()), "path": str(path), "cached": True}
    cache.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.loading{os.getpid()}")
    temporary.unlink(missing_ok=True)
    log(f"building {path}: {len(ui_data.METRIC_KEYS)} metrics x {points:,} points, INSERTed by SQL")
    try:
        info = build_metrics_db(temporary, points)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    temporary.replace(path)
    info["data_version"] = f"{DATA_VERSION}/{ui_data.DATA_VERSION}"
    sidecar.write_text(json.dumps(info, indent=1))
    if points == ui_data.POINTS:
        for stale in cache.glob("mlflow-*-metrics.db*"):
            if not stale.name.startswith(path.name) and ".loading" not in stale.name:
                log(f"removing stale {stale.name}")
                stale.unlink(missing_ok=True)
    for other in cache.parent.glob("mlflow-ui-*"):
        if other != cache and other.is_dir():
            shutil.rmtree(other, ignore_errors=True)
    return {**info, "path": str(path), "cached": False}


# -- serving and measuring --------------------------------------------------------------------

RUNS_SELECTOR = '.ag-row a[href*="/runs/"]'
CHART_SELECTOR = ".js-plotly-plot .scatterlayer path.js-line"
#: Requests the page makes to MLflow's API (static files excluded), for "still waiting on".
API_REQUEST = re.compile(r"/(ajax-api|api|graphql)/?")
HISTORY_PATH = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
#: The endpoint's cap on max_results (MLflow's MAX_RESULTS_PER_RUN).
SERVER_MAX_RESULTS = 2500

#: Plotly's own data for each chart card: its title (the metric), points per trace, highest y, y range.
CHARTS = """
() => [...document.querySelectorAll('.js-plotly-plot')].map((plot) => {
  const card = plot.closest('[data-testid=experiment-view-compare-runs-card]');
  const ys = (plot.data || []).map((trace) => (trace.y || []).filter((y) => typeof y === 'number'));
  return {
    title: card ? card.innerText.trim().split('\\n')[0].trim() : null,
    traces: ys.map((y) => ({points: y.length, y_max: y.length ? Math.max(...y) : null})),
    y_range: plot._fullLayout && plot._fullLayout.yaxis ? plot._fullLayout.yaxis.range : null,
  };
})
"""

RUNS_SHOWN = """
(selector) => {
  const text = document.body.innerText;
  const matching = text.match(/([\\d,]+)\\s+matching runs?/);
  return {
    run_links_drawn: document.querySelectorAll(selector).length,
    matching_runs_text: matching ? matching[0] : null,
    load_more_button: [...document.querySelectorAll('button')].some((b) => /load more/i.test(b.innerText)),
  };
}
"""


@contextmanager
def mlflow_server(workdir: Path, db: Path) -> Iterator[tuple[str, float]]:
    """``mlflow server`` on the SQLite file ``db``, one worker; yields its URL and seconds to answer."""
    port = free_port()
    argv = [
        str(MLFLOW_BIN), "server",
        "--backend-store-uri", f"sqlite:///{db.resolve()}",
        "--default-artifact-root", str(workdir / "mlruns"),
        "--artifacts-destination", str(workdir / "mlartifacts"),
        "--host", LOOPBACK,
        "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    process: ServerProcess = start_server(argv, cwd=workdir, log_path=workdir / "server.log", env=mlflow_env())
    try:
        url = f"http://{LOOPBACK}:{port}"
        started_s = wait_until_ready(process, f"{url}/health")
        yield url, started_s
    finally:
        stop_tree(process)


class Visit:
    """One first visit of a page in a new browser context (ui_paint.paint_once, plus what MLflow
    showed when it did not paint, and a settle step after it)."""

    def __init__(self, browser: Browser, url: str, selector: str, timeout_s: float) -> None:
        self.url, self.selector, self.timeout_s = url, selector, timeout_s
        self.context = browser.new_context(viewport=ui_paint.VIEWPORT)  # type: ignore[arg-type]
        self.context.add_init_script(script=f"({ui_paint.PAINT_PROBE})({json.dumps(self.selector)})")
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.pending: dict[Request, float] = {}
        self.requests: list[str] = []
        self.failed: set[str] = set()
        self.started = 0.0

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.errors.append(f"console: {message.text}")

        def on_request(request: Request) -> None:
            if API_REQUEST.search(request.url.split("#")[0]):
                self.pending[request] = time.perf_counter()
                self.requests.append(request.url)

        self.page.on("console", on_console)
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error.message}"))
        self.page.on("request", on_request)
        self.page.on("response", self._on_response)
        self.page.on("requestfinished", lambda request: self.pending.pop(request, None))
        self.page.on("requestfailed", lambda request: self.pending.pop(request, None))

    def _on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.failed.add(f"HTTP {response.status} {response.request.method} {_api_path(response.url)}")

    def paint(self) -> dict[str, Any]:
        """Navigate and wait for the selector: paint_ms, or None and what the page showed instead."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        self.started = time.perf_counter()
        response = self.page.goto(self.url, wait_until="commit", timeout=self.timeout_s * 1000)
        if response is None or not response.ok:
            raise RuntimeError(f"{self.url} answered {response.status if response else 'nothing'}")
        try:
            self.page.wait_for_selector(self.selector, state="visible", timeout=self.timeout_s * 1000)
        except PlaywrightTimeout:
            return {"paint_ms": None, "wall_ms": None, "ttfb_ms": None, "dcl_ms": None}
        wall_ms = (time.perf_counter() - self.started) * 1000
        self.page.wait_for_function("() => window.__cairnPaintMs !== undefined", timeout=self.timeout_s * 1000)
        navigation = self.page.evaluate(ui_paint.NAVIGATION_TIMES)
        return {
            "paint_ms": self.page.evaluate("() => window.__cairnPaintMs"),
            "wall_ms": wall_ms,
            "ttfb_ms": navigation["ttfb"],
            "dcl_ms": navigation["dcl"],
        }

    def unanswered(self) -> list[str]:
        now = time.perf_counter()
        return sorted(f"{request.method} {_api_path(request.url)} (waiting {now - t:.0f} s)"
                      for request, t in self.pending.items())  # fmt: skip

    def settle(self, timeout_s: float) -> bool:
        """Keep the page open until none of its API requests is outstanding for 0.5 s; False on timeout."""
        deadline = time.perf_counter() + timeout_s
        quiet_since = None
        while time.perf_counter() < deadline:
            if self.pending:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.perf_counter()
            elif time.perf_counter() - quiet_since >= 0.5:
                return True
            self.page.wait_for_timeout(100)
        return False

    def what_it_showed(self, screenshot: Path | None) -> dict[str, Any]:
        shown: dict[str, Any] = {"page_url": self.page.url, "unanswered_api_requests": self.unanswered()}
        try:
            text = self.page.inner_text("body", timeout=5000)
            shown["page_text"] = re.sub(r"\s*\n\s*", " | ", text).strip()[:1500]
        except Exception as error:  # a page that hangs its renderer
            shown["page_text"] = f"(unreadable: {error})"
        if screenshot is not None:
            try:
                self.page.screenshot(path=str(screenshot), timeout=10_000)
                shown["screenshot"] = str(screenshot)
            except Exception as error:
                shown["screenshot"] = f"(failed: {error})"
        return shown

    def close(self) -> None:
        self.context.close()


def _api_path(url: str) -> str:
    return "/" + url.split("/", 3)[-1] if "://" in url else url


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 1) if present else None


def measure_page(
    browser: Browser,
    url: str,
    selector: str,
    *,
    repeats: int,
    timeout_s: float,
    screenshot: Path,
    inspect: Any = None,
) -> dict[str, Any]:
    """ui_paint.measure_page's protocol: one untimed warm-up, then ``repeats`` timed visits.

    A visit that does not paint within ``timeout_s`` is recorded with what the page showed. If
    the warm-up (cold server and caches) and then the first timed visit both fail, the page is
    taken as one MLflow cannot show and the rest are skipped. ``inspect(visit)`` runs, untimed,
    on the first visit that painted, once its requests have answered: what the page drew."""
    errors: set[str] = set()
    failed: set[str] = set()
    shown: dict[str, Any] = {}
    warmup: dict[str, Any] = {}
    samples: list[dict[str, Any]] = []
    unsettled = 0
    for index in range(repeats + 1):
        name = "warm-up" if index == 0 else f"visit {index}/{repeats}"
        visit = Visit(browser, url, selector, timeout_s)
        try:
            sample = visit.paint()
            painted = sample["paint_ms"] is not None
            if not painted:
                target = screenshot.with_name(f"{screenshot.stem}-timeout.png") if index == 0 else None
                sample["shown"] = {"visit": name, **visit.what_it_showed(target)}
            if not visit.settle(timeout_s):
                unsettled += 1
            if painted and not shown:
                shown = {"visit": name, **(inspect(visit) if inspect else {}), **visit.what_it_showed(screenshot)}
                shown["api_requests"] = len(visit.requests)
            errors.update(visit.errors)
            failed.update(visit.failed)
        finally:
            visit.close()
        log(f"  {name}: " + (f"{sample['paint_ms']:.0f} ms" if painted else f"nothing painted within {timeout_s:g} s"))
        if index == 0:
            warmup = sample
            continue
        samples.append(sample)
        if not painted and warmup["paint_ms"] is None and len(samples) == 1:
            break
    timed_out = [s for s in samples if s["paint_ms"] is None]
    # A visit that did not paint counts as slower than any other: the median stays honest while
    # fewer than half did not paint, and is null otherwise.
    ordered = sorted(s["paint_ms"] if s["paint_ms"] is not None else float("inf") for s in samples)
    median = statistics.median(ordered) if ordered else float("inf")
    if not timed_out:
        outcome = "painted on every visit"
    elif len(samples) < repeats:
        outcome = (
            f"nothing matched the selector within {timeout_s:g} s, neither on the warm-up nor on the first "
            "timed visit; the other visits were skipped"
        )
    else:
        outcome = f"{len(timed_out)} of {repeats} timed visits did not paint within {timeout_s:g} s"
    return {
        "url": url,
        "selector": selector,
        "value": round(median, 1) if median != float("inf") else None,
        "unit": "ms",
        "outcome": outcome,
        "paint_ms": [round(s["paint_ms"], 1) if s["paint_ms"] is not None else None for s in samples],
        "ttfb_ms": _median([s["ttfb_ms"] for s in samples]),
        "dom_content_loaded_ms": _median([s["dcl_ms"] for s in samples]),
        "wall_ms": _median([s["wall_ms"] for s in samples]),
        "warmup_paint_ms": round(warmup["paint_ms"], 1) if warmup["paint_ms"] is not None else None,
        "repeats": repeats,
        "timeout_s": timeout_s,
        "visits_not_settled": unsettled,
        "shown": shown or None,
        "not_painted": [s["shown"] for s in [warmup, *samples] if s["paint_ms"] is None],
        "console_errors": sorted(errors),
        "failed_requests": sorted(failed),
    }


def inspect_runs(visit: Visit) -> dict[str, Any]:
    return visit.page.evaluate(RUNS_SHOWN, RUNS_SELECTOR)


def inspect_charts(base_url: str, timeout_s: float) -> Any:
    """What the run page drew for the spike's metric, and what the server sent it."""

    def inspect(visit: Visit) -> dict[str, Any]:
        key = ui_data.SPIKE_KEY
        charts = visit.page.evaluate(CHARTS)
        chart = next((c for c in charts if c["title"] == key), None)
        drawn = [c["title"] for c in charts if any(t["points"] for t in c["traces"])]
        spike: dict[str, Any] = {"key": key, "step": ui_data.SPIKE_STEP, "value": ui_data.SPIKE_VALUE}
        if chart is None or not any(t["points"] for t in chart["traces"]):
            spike["chart"] = f"no chart of {key} with points on the page"
        else:
            longest = max(chart["traces"], key=lambda t: t["points"])
            y_max = max(t["y_max"] for t in chart["traces"] if t["y_max"] is not None)
            spike.update(
                points_drawn=longest["points"],
                traces=len(chart["traces"]),
                chart_y_max=y_max,
                y_axis_range=chart["y_range"],
                spike_visible=y_max >= ui_data.SPIKE_VALUE,
            )
        asked = [u for u in visit.requests if HISTORY_PATH in u and f"metric_key={key}&" in u + "&"]
        if asked:
            spike["ui_request"] = _api_path(asked[0])
            started = time.perf_counter()
            with urllib.request.urlopen(asked[0], timeout=timeout_s) as response:
                points = json.loads(response.read()).get("metrics", [])
            values = [p.get("value") for p in points if isinstance(p.get("value"), int | float)]
            steps = {int(p.get("step", 0)) for p in points}
            spike.update(
                points_returned=len(points),
                max_value_returned=max(values) if values else None,
                spike_step_returned=ui_data.SPIKE_STEP in steps,
                refetch_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            # Not what the UI asks for: the most MLflow's endpoint returns per run (MAX_RESULTS_PER_RUN).
            at_max = re.sub(r"max_results=\d+", f"max_results={SERVER_MAX_RESULTS}", asked[0])
            with urllib.request.urlopen(at_max, timeout=timeout_s) as response:
                points = json.loads(response.read()).get("metrics", [])
            spike["at_server_max"] = {
                "max_results": SERVER_MAX_RESULTS,
                "points_returned": len(points),
                "spike_step_returned": ui_data.SPIKE_STEP in {int(p.get("step", 0)) for p in points},
            }
        return {
            "charts_on_page": len(charts),
            "charts_with_points": drawn,
            "history_requests": sorted({_api_path(u) for u in visit.requests if HISTORY_PATH in u}),
            "spike": spike,
        }

    return inspect


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def serve_and_measure(
    browser: Browser, workdir: Path, db: Path, url_path: str, selector: str, args: argparse.Namespace, **kw: Any
) -> dict[str, Any]:
    before = _stamp(db)
    with mlflow_server(workdir, db) as (url, start_s):
        log(f"server up in {start_s:.1f} s; measuring {url_path} until {selector!r} is painted")
        inspect = kw.pop("inspect", None)
        result = measure_page(
            browser,
            url + url_path,
            selector,
            repeats=args.repeats,
            timeout_s=args.timeout_s,
            inspect=inspect(url) if inspect else None,
            **kw,
        )
    result["url_path"] = url_path
    result["server"] = {"workers": 1, "start_s": round(start_s, 2)}
    if _stamp(db) != before:
        result["warning"] = f"mlflow server modified {db.name} while serving it"
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", default="runs,run", help="which pages, comma-separated: runs, run")
    parser.add_argument("--repeats", type=int, default=5, help="timed visits after one warm-up")
    parser.add_argument("--timeout-s", type=float, default=60.0, help="per visit")
    parser.add_argument("--runs", type=int, default=search_data.RUNS, help="runs page: runs in the experiment")
    parser.add_argument("--points", type=int, default=ui_data.POINTS, help="run page: points per metric")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="screenshots go here")
    args = parser.parse_args(argv)
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    if not set(pages) <= {"runs", "run"}:
        parser.error("--pages takes runs, run")
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))

    started = time.monotonic()
    load_before = os.getloadavg()[0]
    version = mlflow_version()
    data: dict[str, Any] = {}
    if "runs" in pages:
        data["runs"] = ensure_runs_db(args.runs)
        log(f"runs database: {data['runs']['path']} ({data['runs']['seconds']} s)")
    if "run" in pages:
        data["run"] = ensure_metrics_db(version, points=args.points)
    results: dict[str, Any] = {}
    args.results_dir.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="cairn-bench-ui-mlflow-") as tmp,
        ui_paint.chromium(ui_paint.find_chromium()) as browser,
    ):
        if "runs" in pages:
            info = data["runs"]
            results["runs"] = serve_and_measure(
                browser,
                Path(tmp),
                Path(info["path"]),
                f"/#/experiments/{info['experiment_id']}/runs",
                RUNS_SELECTOR,
                args,
                screenshot=args.results_dir / "ui-mlflow-runs.png",
                inspect=lambda _url: inspect_runs,
            )
        if "run" in pages:
            info = data["run"]
            results["run"] = serve_and_measure(
                browser,
                Path(tmp),
                Path(info["path"]),
                f"/#/experiments/{info['experiment_id']}/runs/{info['run_id']}/model-metrics",
                CHART_SELECTOR,
                args,
                screenshot=args.results_dir / "ui-mlflow-run.png",
                inspect=lambda url: inspect_charts(url, args.timeout_s),
            )
        browser_version = browser.version
    print(
        json.dumps(
            {
                "tool": "mlflow",
                "version": version,
                "pages": results,
                "data": _describe_data(data),
                "cairn_equivalent": {
                    "runs": "bench/ui_paint.py --url-path /projects/paint-runs --selector '#runs-table tbody tr'",
                    "run": "bench/ui_paint.py --url-path '/runs/{metrics_run_id}' "
                    "--selector '.metric-chart[data-state=drawn] canvas'",
                },
                "chromium": browser_version,
                "viewport": ui_paint.VIEWPORT,
                "method": "ui_paint.py's: navigation start (performance.timeOrigin) to the first requestAnimationFrame "
                "in which the selector matches an element with a non-empty box and not visibility:hidden, by the "
                "page's clock; a new browser context (cold HTTP cache) per visit; median of the timed visits after "
                "one warm-up; a visit that does not paint within timeout_s counts as slower than all others (value "
                "null if half or more did not, or if the warm-up and the first timed visit did not). "
                "After each visit, untimed, the page stays open until its API "
                "requests have answered. mlflow server --workers 1 on a SQLite file, one server at a time.",
                "machine": {
                    "cpus": os.cpu_count(),
                    "loadavg_1min_before": round(load_before, 2),
                    "loadavg_1min_after": round(os.getloadavg()[0], 2),
                },
                "bench_wall_s": round(time.monotonic() - started, 1),
            },
            indent=2,
        )
    )


def _describe_data(data: dict[str, Any]) -> dict[str, Any]:
    described: dict[str, Any] = {}
    if "runs" in data:
        info = data["runs"]
        described["runs"] = {
            "path": info["path"],
            "experiment_id": info["experiment_id"],
            "runs": info["runs"],
            "cached": info["load"].get("cached", False),
            "seconds": info["seconds"],
            "source": "bench/search_mlflow.py ensure_db (bench/search_data.py's runs, bulk INSERTs into MLflow's "
            "schema)",
        }
    if "run" in data:
        info = data["run"]
        described["run"] = {
            k: info.get(k)
            for k in ("path", "experiment_id", "run_id", "keys", "points_per_key", "spike", "cached", "seconds")
        }
        described["run"]["build_method"] = info.get("method")
        described["run"]["data_version"] = info.get("data_version")
    return described


if __name__ == "__main__":
    main()
