"""The "Dashboard" section of bench.md: time to first meaningful paint, Cairn's pages beside
MLflow's own UI on the same data, and whether the million-point chart shows the spike.

Reads the JSON of bench/ui_cairn.py and bench/ui_mlflow.py (``results["dashboard"]``).
"""

from __future__ import annotations

from collections.abc import Mapping

#: The issue's targets on this machine, in milliseconds.
TARGET_MS = {"runs": 1000.0, "run": 1500.0}
MISSING, OK, NOT_OK = "—", "✓", "✗"


def _at(node: object, *path: str) -> object:
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _ms(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _format_ms(value: float | None) -> str:
    return MISSING if value is None else f"{value:,.0f} ms"


def _cairn_page(cairn: object, page: str) -> object:
    return _at(cairn, "runs_page" if page == "runs" else "run_page")


def dashboard_table(dashboard: Mapping[str, object]) -> list[str]:
    cairn, mlflow = dashboard.get("cairn"), dashboard.get("mlflow")
    lines = [
        "| page (first meaningful paint, median of 5) | Cairn | MLflow | Cairn vs MLflow | target for Cairn | met |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    labels = {
        "runs": "runs of a project of 100,000 runs: the first row",
        "run": "a run with 10 metrics × 1,000,000 points: the first chart with its data",
    }
    for page, label in labels.items():
        ours = _ms(_at(_cairn_page(cairn, page), "value"))
        theirs = _ms(_at(mlflow, "pages", page, "value"))
        outcome = _at(mlflow, "pages", page, "outcome")
        theirs_text = _format_ms(theirs) if theirs is not None else (str(outcome) if outcome else MISSING)
        ratio = f"{theirs / ours:,.1f}× faster" if ours and theirs else MISSING
        target = TARGET_MS[page]
        met = MISSING if ours is None else (OK if ours <= target else f"{NOT_OK} {ours:,.0f} ms")
        lines.append(f"| {label} | {_format_ms(ours)} | {theirs_text} | {ratio} | ≤ {target:,.0f} ms | {met} |")
    ours_chart = _at(cairn, "run_page", "chart")
    theirs_spike = _at(mlflow, "pages", "run", "shown", "spike")
    lines.append(
        f"| the one spike (1000 at step 777,777 of `m0`) on the chart | {_spike_text(ours_chart)} "
        f"| {_spike_text(theirs_spike)} | — | shown | "
        f"{MISSING if not isinstance(ours_chart, Mapping) else OK if ours_chart.get('spike_visible') else NOT_OK} |"
    )
    return lines


def _spike_text(chart: object) -> str:
    if not isinstance(chart, Mapping):
        return MISSING
    points = chart.get("points_drawn")
    if chart.get("spike_visible"):
        return f"shown ({points} points drawn: the envelope)"
    highest = chart.get("max_drawn", chart.get("chart_y_max"))
    highest_text = f"{highest:.3g}" if isinstance(highest, int | float) else "?"
    return f"**not shown** ({points} sampled points; the highest drawn is {highest_text})"


def dashboard_notes(dashboard: Mapping[str, object]) -> list[str]:
    notes = []
    cairn, mlflow = dashboard.get("cairn"), dashboard.get("mlflow")
    if isinstance(cairn, Mapping):
        for page in ("runs_page", "run_page"):
            side = cairn.get(page)
            if isinstance(side, Mapping):
                notes.append(
                    f"- Cairn {cairn.get('version')}: `{side.get('url_path')}` until `{side.get('selector')}`; "
                    f"samples {side.get('paint_ms')} ms; first byte {side.get('ttfb_ms')} ms; "
                    f"console errors: {len(side.get('console_errors') or [])}"
                )
    if isinstance(mlflow, Mapping):
        for page in ("runs", "run"):
            side = _at(mlflow, "pages", page)
            if isinstance(side, Mapping):
                errors = side.get("failed_requests") or side.get("console_errors") or []
                notes.append(
                    f"- MLflow {mlflow.get('version')}: `{side.get('url_path')}` until `{side.get('selector')}`; "
                    f"samples {side.get('paint_ms')} ms; {side.get('outcome')}; errors on the page: {errors}"
                )
        load = _at(mlflow, "machine")
        if isinstance(load, Mapping):
            notes.append(
                f"- 1-min load average during MLflow's half: {load.get('loadavg_1min_before')} before, "
                f"{load.get('loadavg_1min_after')} after (2 cores)"
            )
    return notes


def dashboard_markdown(dashboard: Mapping[str, object]) -> list[str]:
    return [
        "## Dashboard",
        "",
        "Time to first meaningful paint in Debian's Chromium driven by Playwright, headless, 1366×800: from "
        "navigation start to the first animation frame in which the page shows what it is for (bench/ui_paint.py). "
        "A new browser context per visit (cold HTTP cache); one warm-up, then the median of 5. Each tool's own "
        "server, one worker, on SQLite; the same runs and points (bench/ui_data.py, bench/ui_mlflow.py). MLflow's "
        "pages are its runs table (`/#/experiments/1/runs`) and its run's Model metrics tab.",
        "",
        *dashboard_table(dashboard),
        "",
        "### How the dashboard rows were measured",
        "",
        *dashboard_notes(dashboard),
        "",
    ]
