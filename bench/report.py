"""Write the side-by-side report: bench/results/bench.json and bench/results/bench.md.

    python bench/report.py --cairn cairn.json --mlflow mlflow.json
    python bench/report.py --artifacts-cairn artifacts-cairn.json --artifacts-mlflow artifacts-mlflow.json
    python bench/report.py --models-cairn models-cairn.json --models-mlflow models-mlflow.json

Either side may be missing, and so may any key: a value that is not there shows
as "—" rather than failing, so a half-finished run still gives a readable table.
Stdlib only.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from report_dashboard import dashboard_markdown
from report_models import models_markdown

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MISSING = "—"
SIDES = ("cairn", "mlflow")


def format_us(us: float) -> str:
    if us < 1000:
        return f"{us:.3g} µs"
    return format_s(us / 1e6)


def format_s(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s" if seconds < 100 else f"{seconds:,.0f} s"


def format_mb(mb: float) -> str:
    return f"{mb:,.0f} MB" if mb >= 10 else f"{mb:.2g} MB"


def format_rate(per_s: float) -> str:
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if per_s >= scale:
            return f"{per_s / scale:.3g} {suffix} points/s"
    return f"{per_s:.3g} points/s"


def format_ms(ms: float) -> str:
    return format_s(ms / 1e3)


@dataclass(frozen=True)
class Row:
    """One line of the table: where each side's number sits in its results, and the target.

    `limit` is what Cairn must reach on its own, in the row's unit (at most, or at least when
    higher is better); `min_ratio` is how many times better than MLflow it must be.
    """

    label: str
    path: tuple[str, ...]
    fmt: Callable[[float], str]
    lower_is_better: bool
    #: Where MLflow's number sits when it is not at `path`; None: MLflow has no such number.
    mlflow_path: tuple[str, ...] | None = ()
    limit: float | None = None
    min_ratio: float | None = None
    #: Times over series of different lengths are not comparable; rates are.
    same_size_only: bool = True
    note: str = ""

    def side_path(self, side: str) -> tuple[str, ...] | None:
        if side == "mlflow" and self.mlflow_path != ():
            return self.mlflow_path
        return self.path

    def target(self) -> str:
        parts = []
        if self.limit is not None:
            parts.append(f"{'≤' if self.lower_is_better else '≥'} {self.fmt(self.limit)}")
        if self.min_ratio is not None:
            parts.append(f"≥ {self.min_ratio:g}× MLflow")
        text = ", ".join(parts) or MISSING
        return f"{text} ({self.note})" if self.note else text


ROWS = (
    Row("log call, median", ("log_call_us", "median"), format_us, True, limit=5, min_ratio=100),
    Row("log call, p99", ("log_call_us", "p99"), format_us, True),
    Row(
        "ingest",
        ("ingest_points_per_s", "value"),
        format_rate,
        False,
        limit=1e6,
        min_ratio=100,
        same_size_only=False,
    ),
    Row(
        "full history",
        ("history_full_100k_s", "value"),
        format_s,
        True,
        mlflow_path=("history_full_s", "value"),
        min_ratio=20,
    ),
    Row(
        "full history",
        ("history_full_s", "value"),
        format_s,
        True,
        mlflow_path=("history_large", "history_full_s", "value"),
        limit=0.5,
        min_ratio=20,
    ),
    Row(
        "downsampled history",
        ("history_downsampled_100k_s", "value"),
        format_s,
        True,
        mlflow_path=("history_downsampled_s", "value"),
        min_ratio=20,
    ),
    Row(
        "downsampled history",
        ("history_downsampled_s", "value"),
        format_s,
        True,
        mlflow_path=("history_large", "history_downsampled_s", "value"),
        limit=0.05,
        min_ratio=20,
    ),
    Row("server start (workers: see Conditions)", ("start_s",), format_s, True, limit=1.0),
    Row("server start, 1 worker", ("start_s_1worker",), format_s, True, None, limit=1.0),
    Row("idle memory (RSS, whole tree)", ("idle_rss_mb",), format_mb, True, limit=100),
    Row(
        "idle memory (RSS), 1 worker",
        ("idle_rss_mb_1worker",),
        format_mb,
        True,
        None,
        limit=100,
    ),
    Row("idle memory (PSS, whole tree)", ("idle_pss_mb",), format_mb, True),
    Row("peak memory during ingest (RSS)", ("peak_rss_mb",), format_mb, True, limit=300),
    Row(
        "small request, kept-alive",
        ("small_request_ms", "value"),
        format_ms,
        True,
        limit=5,
        note="no ~40 ms Nagle stall",
    ),
)


def lookup(side: object, path: tuple[str, ...]) -> object | None:
    node: object | None = side
    for key in path:
        if not isinstance(node, Mapping):
            # A bare number stands for its own "value": {"x": 3} reads like {"x": {"value": 3}}.
            return node if key == "value" and number(node) is not None else None
        node = node.get(key)
    if isinstance(node, Mapping) and "value" in node:
        node = node["value"]
    return node


def number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def factor(row: Row, cairn: float | None, mlflow: float | None) -> float | None:
    """How many times better Cairn is (above 1) or worse (below 1), whichever way is better."""
    if cairn is None or mlflow is None or cairn <= 0 or mlflow <= 0:
        return None
    return mlflow / cairn if row.lower_is_better else cairn / mlflow


def format_factor(value: float) -> str:
    return f"{value:,.0f}×" if value >= 100 else f"{value:.3g}×"


def sizes(results: Mapping[str, object], row: Row) -> dict[str, int]:
    """The series length each side measured a row at, for the sides that say it."""
    found = {}
    for side in SIDES:
        path = row.side_path(side)
        if path is None or len(path) < 2:
            continue
        measured = number(lookup(results.get(side), path[:-1] + ("points",)))
        if measured is not None:
            found[side] = int(measured)
    return found


def size_note(measured: dict[str, int]) -> str:
    if not measured:
        return ""
    if len(set(measured.values())) == 1:
        return f", {next(iter(measured.values())):,} points"
    return ", " + " / ".join(f"{side} {n:,}" for side, n in measured.items()) + " points"


def verdict(row: Row, cairn: float | None, times_better: float | None) -> str:
    """Whether Cairn met the row's target: yes, no (and which part), or — if unmeasured."""
    if row.limit is None and row.min_ratio is None:
        return ""
    if cairn is None:
        return MISSING
    missed = []
    if row.limit is not None:
        within = cairn <= row.limit if row.lower_is_better else cairn >= row.limit
        if not within:
            missed.append(f"{row.fmt(cairn)} vs {row.fmt(row.limit)}")
    if row.min_ratio is not None and times_better is not None and times_better < row.min_ratio:
        missed.append(f"{format_factor(times_better)} vs {row.min_ratio:g}×")
    return f"**no**: {'; '.join(missed)}" if missed else "yes"


def table(results: Mapping[str, object]) -> list[str]:
    lines = [
        "| metric | Cairn | MLflow | ratio | target for Cairn | met |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for row in ROWS:
        values: dict[str, float | None] = {}
        for side in SIDES:
            path = row.side_path(side)
            values[side] = None if path is None else number(lookup(results.get(side), path))
        shown = {side: row.fmt(v) if v is not None else MISSING for side, v in values.items()}
        measured = sizes(results, row)
        comparable = not row.same_size_only or len(set(measured.values())) <= 1
        times_better = factor(row, values["cairn"], values["mlflow"]) if comparable else None
        if times_better is not None:
            shown_ratio = format_factor(times_better)
        elif values["cairn"] is not None and values["mlflow"] is not None:
            shown_ratio = "sizes differ"
        else:
            shown_ratio = MISSING
        lines.append(
            f"| {row.label}{size_note(measured)} | {shown['cairn']} | {shown['mlflow']} "
            f"| {shown_ratio} | {row.target()} | {verdict(row, values['cairn'], times_better)} |"
        )
    return lines


def conditions(results: Mapping[str, object]) -> list[str]:
    """How each side ran: server workers, machine load, wall time; the numbers depend on it."""
    notes = []
    for side in SIDES:
        side_results = results.get(side)
        if not isinstance(side_results, Mapping):
            continue
        server = side_results.get("server")
        machine = side_results.get("machine")
        parts = []
        if isinstance(server, Mapping):
            parts.append(f"workers: {server.get('workers', '?')}")
        if isinstance(machine, Mapping):
            load = (machine.get("loadavg_1min_before"), machine.get("loadavg_1min_after"))
            parts.append(f"{machine.get('cpus', '?')} CPUs, 1-min load average {load[0]} before, {load[1]} after")
        if "bench_wall_s" in side_results:
            parts.append(f"took {side_results['bench_wall_s']} s")
        if side_results.get("quick"):
            parts.append("**quick smoke run: smaller counts**")
        notes.append(f"- {side} {side_results.get('version', '?')}: " + "; ".join(parts))
    return notes


def what_was_measured(results: Mapping[str, object]) -> list[str]:
    """Each side's own description of the calls behind the numbers, as footnotes."""
    notes = []
    for side in SIDES:
        side_results = results.get(side)
        if not isinstance(side_results, Mapping):
            notes.append(f"- {side}: no results")
            continue
        version = side_results.get("version", "?")
        for key, value in side_results.items():
            if isinstance(value, Mapping):
                if "call" in value:
                    notes.append(f"- {side} {version}, `{key}`: {value['call']}")
                if "method" in value:
                    notes.append(f"- {side} {version}, `{key}` method: {value['method']}")
                if "skipped" in value:
                    notes.append(f"- {side} {version}, `{key}`: skipped, {value['skipped']}")
    return notes


# -- search (issue 4): bench/search_cairn.py and bench/search_mlflow.py ------------------------

#: (query key, label); the where/filter strings themselves come from each side's JSON.
SEARCH_ROWS = (
    ("no_filter", "no filter, first 100 by creation"),
    ("metric_and_param", "metric > x and param = y, sorted by the metric"),
    ("tag_equals", "tag equality"),
    ("three_way_or", "three-way `or` with a `like`"),
    ("group_by", "group by a param, mean of a metric"),
)
SEARCH_LIMIT_MS = 100.0
SEARCH_MIN_RATIO = 20.0
DUPLICATE_LIMIT_MS = 20.0


def _search_cell(timing: object) -> tuple[str, float | None]:
    """ "16.0 ms (p95 16.9 ms)" and the p50, from one query's timing; "—" when absent."""
    if not isinstance(timing, Mapping):
        return MISSING, None
    p50, p95 = number(timing.get("p50_ms")), number(timing.get("p95_ms"))
    if p50 is None:
        return MISSING, None
    text = format_ms(p50) + (f" (p95 {format_ms(p95)})" if p95 is not None else "")
    return text, p50


def _runs_of(timing: object) -> int | None:
    runs = number(timing.get("runs")) if isinstance(timing, Mapping) else None
    return None if runs is None else int(runs)


def _at(node: object, *path: str) -> object:
    """The object at `path` in nested mappings (not its `value`), or None."""
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def search_runs_size(search: Mapping[str, object]) -> int | None:
    """How many runs Cairn searched (the size in the table's title)."""
    return _runs_of(_at(search, "cairn", "sqlite", "queries", "no_filter"))


def search_table(search: Mapping[str, object]) -> list[str]:
    cairn, mlflow = search.get("cairn"), search.get("mlflow")
    timing = _at
    lines = [
        "| query | Cairn, SQLite | Cairn, PostgreSQL | MLflow (SQLite) | ratio | target for Cairn (SQLite) | met |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    cairn_runs = search_runs_size(search)
    for key, label in SEARCH_ROWS:
        sqlite_timing = timing(cairn, "sqlite", "queries", key)
        sqlite_text, sqlite_ms = _search_cell(sqlite_timing)
        postgres_text, _ = _search_cell(timing(cairn, "postgresql", "queries", key))
        mlflow_timing = timing(mlflow, "queries", key)
        mlflow_text, mlflow_ms = _search_cell(mlflow_timing)
        mlflow_runs = _runs_of(mlflow_timing)
        smaller = mlflow_runs is not None and cairn_runs is not None and mlflow_runs < cairn_runs
        ratio = mlflow_ms / sqlite_ms if mlflow_ms and sqlite_ms else None
        timeout_s = number(_at(mlflow_timing, "full_size_timeout_s"))
        if smaller:
            mlflow_text += f" at {mlflow_runs:,} runs"
        if smaller and timeout_s is not None:
            # MLflow did not answer at full size within the timeout: at equal sizes it took
            # longer than that, so the ratio is at least timeout / Cairn's p50.
            mlflow_text = f"> {format_s(timeout_s)} (stopped); {mlflow_text}"
            ratio = timeout_s * 1000 / sqlite_ms if sqlite_ms else None
        # Measured on fewer runs, MLflow's time is smaller than at full size: the ratio is a
        # lower bound either way.
        ratio_text = MISSING if ratio is None else ("≥ " if smaller else "") + format_factor(ratio)
        target = f"p50 ≤ {format_ms(SEARCH_LIMIT_MS)}, ≥ {SEARCH_MIN_RATIO:g}× MLflow"
        missed = []
        if sqlite_ms is not None and sqlite_ms > SEARCH_LIMIT_MS:
            missed.append(f"{format_ms(sqlite_ms)} vs {format_ms(SEARCH_LIMIT_MS)}")
        if ratio is not None and ratio < SEARCH_MIN_RATIO:
            missed.append(f"{'≥ ' if smaller else ''}{format_factor(ratio)} vs {SEARCH_MIN_RATIO:g}×")
        met = MISSING if sqlite_ms is None else (f"**no**: {'; '.join(missed)}" if missed else "yes")
        lines.append(f"| {label} | {sqlite_text} | {postgres_text} | {mlflow_text} | {ratio_text} | {target} | {met} |")
    dup_text, dup_ms = _search_cell(timing(cairn, "sqlite", "duplicate_lookup_ms"))
    dup_pg_text, _ = _search_cell(timing(cairn, "postgresql", "duplicate_lookup_ms"))
    pending = timing(cairn, "sqlite", "duplicate_lookup_ms", "skipped")
    if pending:
        dup_text = f"pending: {pending}"
    dup_met = MISSING if dup_ms is None else ("yes" if dup_ms <= DUPLICATE_LIMIT_MS else f"**no**: {format_ms(dup_ms)}")
    lines.append(
        f"| duplicate check in `cairn.init` (p50 of 50) | {dup_text} | {dup_pg_text} | — (no such feature) | — "
        f"| ≤ {format_ms(DUPLICATE_LIMIT_MS)} | {dup_met} |"
    )
    lines += run_page_rows(cairn)
    loads = []
    for side, path in ((cairn, ("sqlite", "load")), (cairn, ("postgresql", "load")), (mlflow, ("load",))):
        load = timing(side, *path)
        if not isinstance(load, Mapping):
            loads.append(MISSING)
        elif load.get("cached"):
            loads.append("cached")
        else:
            seconds = number(load.get("seconds"))
            loads.append(MISSING if seconds is None else format_s(seconds))
    lines.append(f"| bulk load (not timed against a target) | {loads[0]} | {loads[1]} | {loads[2]} | — | — | |")
    return lines


#: (key, label, target in ms, MLflow's column): the run page of a run with 99,999 earlier runs.
RUN_PAGE_ROWS = (
    (
        "run_page_ms",
        "run page of the newest run, `GET /runs/{id}` (server time)",
        150.0,
        "— (its run page is drawn in the browser; see Dashboard)",
    ),
    ("similar_ms", "similar runs of that run, `/api/v1/runs/{id}/similar`", 50.0, "— (no similar runs)"),
)


def run_page_rows(cairn: object) -> list[str]:
    """The run page at full size: p50 on SQLite and on PostgreSQL, each within the target."""
    lines = []
    for key, label, limit_ms, mlflow_text in RUN_PAGE_ROWS:
        sqlite_text, sqlite_ms = _search_cell(_at(cairn, "sqlite", key))
        postgres_text, postgres_ms = _search_cell(_at(cairn, "postgresql", key))
        over = [
            f"{backend} {format_ms(ms)}"
            for backend, ms in (("SQLite", sqlite_ms), ("PostgreSQL", postgres_ms))
            if ms is not None and ms > limit_ms
        ]
        met = MISSING if sqlite_ms is None else (f"**no**: {', '.join(over)}" if over else "yes")
        lines.append(
            f"| {label} | {sqlite_text} | {postgres_text} | {mlflow_text} | — "
            f"| ≤ {format_ms(limit_ms)} on both | {met} |"
        )
    return lines


def search_notes(search: Mapping[str, object]) -> list[str]:
    """The exact calls and query strings on both sides, and how each side ran."""
    notes = []
    cairn, mlflow = search.get("cairn"), search.get("mlflow")
    for backend in ("sqlite", "postgresql"):
        side = cairn.get(backend) if isinstance(cairn, Mapping) else None
        if not isinstance(side, Mapping):
            continue
        if "skipped" in side:
            notes.append(f"- Cairn, {backend}: skipped, {side['skipped']}")
            continue
        if backend == "sqlite":
            queries = side.get("queries")
            for key, _ in SEARCH_ROWS:
                timing = queries.get(key) if isinstance(queries, Mapping) else None
                if isinstance(timing, Mapping) and "call" in timing:
                    notes.append(f"- Cairn, `{key}`: `{timing['call']}`")
            duplicate = side.get("duplicate_lookup_ms")
            if isinstance(duplicate, Mapping) and "call" in duplicate:
                notes.append(
                    f"- Cairn, duplicate check: {duplicate['call']}. Miss: p50 {duplicate.get('miss_p50_ms')} ms; "
                    f"whole `cairn.init(..., on_duplicate='skip')`: p50 {duplicate.get('init_skip_p50_ms')} ms"
                )
            for key, *_ in RUN_PAGE_ROWS:
                timing = side.get(key)
                if isinstance(timing, Mapping) and "call" in timing:
                    notes.append(f"- Cairn, `{key}`: {timing['call']}")
        load = side.get("load")
        if isinstance(load, Mapping) and "method" in load:
            notes.append(f"- Cairn, {backend} load: {load['method']} ({load.get('seconds')} s)")
    queries = mlflow.get("queries") if isinstance(mlflow, Mapping) else None
    for key, _ in SEARCH_ROWS:
        timing = queries.get(key) if isinstance(queries, Mapping) else None
        if not isinstance(timing, Mapping):
            continue
        notes.append(f"- MLflow, `{key}`: `{timing.get('call', '?')}`")
        for extra in ("method", "skipped_full_size", "cut_short"):
            if extra in timing:
                notes.append(f"  - {extra.replace('_', ' ')}: {timing[extra]}")
    if isinstance(mlflow, Mapping):
        load = mlflow.get("load")
        if isinstance(load, Mapping) and "method" in load:
            notes.append(f"- MLflow load: {load['method']} ({load.get('seconds')} s)")
        store = mlflow.get("store")
        if isinstance(store, Mapping) and "note" in store:
            notes.append(f"- MLflow store: {store['note']}")
    for name, side in (("cairn", cairn), ("mlflow", mlflow)):
        if isinstance(side, Mapping):
            machine = side.get("machine")
            if isinstance(machine, Mapping):
                notes.append(
                    f"- {name} {side.get('version', '?')}: 1-min load average {machine.get('loadavg_1min_before')} "
                    f"before, {machine.get('loadavg_1min_after')} after; took {side.get('bench_wall_s')} s"
                )
    return notes


def search_markdown(search: Mapping[str, object]) -> list[str]:
    size = search_runs_size(search)
    title = f"Search at {size:,} runs" if size else "Search"
    return [
        f"## {title}",
        "",
        "p50 (and p95) in ms over repeated calls after one warm-up, in-process against each store (no "
        "server). Ratio: MLflow's p50 over Cairn's SQLite p50. Every answer was checked against the one "
        "computed from the generated data.",
        "",
        *search_table(search),
        "",
        "### How the search rows were measured",
        "",
        *search_notes(search),
        "",
    ]


# -- artifacts: bench/artifacts_cairn.py and bench/artifacts_mlflow.py -------------------------

#: Upload and download through Cairn's server must reach this fraction of a plain `cp`...
ARTIFACT_MIN_CP_FRACTION = 0.5
#: ...and this many times MLflow's proxied-artifact server.
ARTIFACT_MIN_RATIO = 2.0
#: "Server memory flat": the server's RSS may grow by less than this during a transfer.
ARTIFACT_MAX_GROWTH_MB = 100.0
MIB = 1024 * 1024
OK, NOT_OK = "✔", "✘"


def format_mb_per_s(value: float) -> str:
    return f"{value:,.0f} MB/s" if value >= 10 else f"{value:.2g} MB/s"


def _file_bytes(side: object) -> int | None:
    size = number(_at(side, "file", "bytes"))
    return None if size is None else int(size)


def artifacts_size_label(artifacts: Mapping[str, object]) -> str:
    """ "1 GiB" or "256 MiB": the size of the file the Cairn side (else MLflow's) moved."""
    size = _file_bytes(artifacts.get("cairn")) or _file_bytes(artifacts.get("mlflow"))
    if size is None:
        return "big"
    return f"{size / 2**30:g} GiB" if size % 2**30 == 0 else f"{size / MIB:,.0f} MiB"


def _rss_cell(phase: object) -> tuple[str, float | None]:
    baseline, peak = number(_at(phase, "rss_baseline_mb")), number(_at(phase, "rss_peak_mb"))
    if baseline is None or peak is None:
        return MISSING, None
    growth = peak - baseline
    text = f"{format_mb(baseline)} → {format_mb(peak)} ({growth:+,.0f} MB)"
    processes, largest = number(_at(phase, "server_processes")), number(_at(phase, "rss_largest_process_growth_mb"))
    if processes is not None and processes > 1 and largest is not None:
        text += f"; {processes:.0f} processes, the one that grew most: {largest:+,.0f} MB"
    return text, growth


def artifacts_table(artifacts: Mapping[str, object]) -> list[str]:
    cairn, mlflow = artifacts.get("cairn"), artifacts.get("mlflow")
    cp = number(_at(cairn, "cp", "mb_per_s"))
    sizes = {_file_bytes(cairn), _file_bytes(mlflow)} - {None}
    comparable = len(sizes) <= 1
    lines = [
        "| | cp (reference) | Cairn | MLflow | Cairn / cp | Cairn / MLflow | target for Cairn | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for phase in ("upload", "download"):
        ours, theirs = number(_at(cairn, phase, "mb_per_s")), number(_at(mlflow, phase, "mb_per_s"))
        of_cp = ours / cp if ours is not None and cp else None
        times = ours / theirs if ours is not None and theirs and comparable else None
        missed = []
        if of_cp is not None and of_cp < ARTIFACT_MIN_CP_FRACTION:
            missed.append(f"{of_cp:.0%} of cp")
        if times is not None and times < ARTIFACT_MIN_RATIO:
            missed.append(f"{format_factor(times)} MLflow")
        met = MISSING if ours is None else (f"{NOT_OK} {'; '.join(missed)}" if missed else OK)
        ratio_mlflow = format_factor(times) if times is not None else ("sizes differ" if ours and theirs else MISSING)
        lines.append(
            f"| {phase}, MB/s | {format_mb_per_s(cp) if cp else MISSING} "
            f"| {format_mb_per_s(ours) if ours is not None else MISSING} "
            f"| {format_mb_per_s(theirs) if theirs is not None else MISSING} "
            f"| {MISSING if of_cp is None else f'{of_cp:.0%}'} | {ratio_mlflow} "
            f"| ≥ {ARTIFACT_MIN_CP_FRACTION:.0%} of cp, ≥ {ARTIFACT_MIN_RATIO:g}× MLflow | {met} |"
        )
    for phase in ("upload", "download"):
        ours_text, growth = _rss_cell(_at(cairn, phase))
        theirs_text, _ = _rss_cell(_at(mlflow, phase))
        met = MISSING if growth is None else (OK if growth < ARTIFACT_MAX_GROWTH_MB else f"{NOT_OK} {growth:+,.0f} MB")
        lines.append(
            f"| server RSS during {phase}: baseline → peak (growth) | — | {ours_text} | {theirs_text} | — | — "
            f"| flat: grows < {ARTIFACT_MAX_GROWTH_MB:.0f} MB | {met} |"
        )
    hash_s, hash_rate = number(_at(cairn, "upload", "hash_s")), number(_at(cairn, "upload", "hash_mb_per_s"))
    hash_text = MISSING if hash_s is None else f"{format_s(hash_s)} ({format_mb_per_s(hash_rate or 0)})"
    lines.append(
        f"| SHA-256 of the file on the client (part of the upload) | — | {hash_text} | — (no checksum) | — | — | — | |"
    )
    return lines


def artifacts_notes(artifacts: Mapping[str, object]) -> list[str]:
    notes = []
    cairn, mlflow = artifacts.get("cairn"), artifacts.get("mlflow")
    cp = _at(cairn, "cp")
    if isinstance(cp, Mapping):
        notes.append(f"- cp: {cp.get('call')}; each run took {cp.get('all_s')} s")
    for name, side in (("Cairn", cairn), ("MLflow", mlflow)):
        if not isinstance(side, Mapping):
            notes.append(f"- {name}: no results")
            continue
        version = side.get("version", "?")
        for phase in ("upload", "download"):
            timing = side.get(phase)
            if not isinstance(timing, Mapping):
                continue
            parts = [f"{timing.get('seconds')} s", f"client CPU {timing.get('client_cpu_s')} s"]
            parts.append(f"server CPU {timing.get('server_cpu_s')} s")
            steps = timing.get("steps_s")
            if isinstance(steps, Mapping):
                parts.append(
                    f"hash {timing.get('hash_s')} s, " + ", ".join(f"{step} {s} s" for step, s in steps.items())
                )
            notes.append(f"- {name} {version}, {phase}: {timing.get('call')} ({'; '.join(parts)})")
        server, machine = side.get("server"), side.get("machine")
        parts = []
        if isinstance(server, Mapping):
            argv = " ".join(str(arg) for arg in server.get("argv", []))
            parts.append(f"server: `{argv}`; workers: {server.get('workers')}")
            processes = number(_at(side, "upload", "server_processes"))
            if processes is not None:
                parts.append(f"{processes:.0f} process{'es' if processes != 1 else ''} in its tree (RSS summed)")
        if isinstance(machine, Mapping):
            parts.append(
                f"{machine.get('cpus')} CPUs, 1-min load average {machine.get('loadavg_1min_before')} before, "
                f"{machine.get('loadavg_1min_after')} after"
            )
        parts.append(f"took {side.get('bench_wall_s')} s")
        if side.get("quick"):
            parts.append("**quick smoke run: smaller file**")
        notes.append(f"- {name} {version}: " + "; ".join(parts))
    return notes


def artifacts_markdown(artifacts: Mapping[str, object]) -> list[str]:
    file_path = _at(artifacts.get("cairn"), "file", "path") or _at(artifacts.get("mlflow"), "file", "path")
    name = Path(str(file_path)).name if file_path else "a file of random bytes"
    return [
        f"## Artifacts: {artifacts_size_label(artifacts)} file",
        "",
        f"One file of random bytes ({name}, generated once and reused) uploaded to and downloaded from each "
        "server over loopback with each tool's own client; MB = 2^20 bytes. The file is in the page cache "
        "(read just before), and nothing is synced to the disk: neither the copies, nor the servers' stores, "
        "nor the downloads. `cp` copies the same file on the same filesystem: the physical reference. Server "
        "RSS: the whole server tree, settled before the transfer (baseline) and its peak sampled every 50 ms "
        "during it. Cairn's upload includes hashing the file (SHA-256, as `log_artifact` does), also shown "
        "alone; its download checks the SHA-256 as it goes. MLflow computes no checksum either way.",
        "",
        *artifacts_table(artifacts),
        "",
        "### How the artifact rows were measured",
        "",
        *artifacts_notes(artifacts),
        "",
    ]


def markdown(results: Mapping[str, object]) -> str:
    lines = [
        "# Cairn vs MLflow",
        "",
        "Measured side by side on one machine over loopback. Ratio: how many times better "
        "Cairn is (above 1×) or worse (below 1×); lower is better for times and memory, "
        "higher for throughput. — means not measured.",
        "",
        *table(results),
        "",
        *(search_markdown(search) if isinstance(search := results.get("search"), Mapping) else []),
        *(artifacts_markdown(artifacts) if isinstance(artifacts := results.get("artifacts"), Mapping) else []),
        *(models_markdown(models) if isinstance(models := results.get("models"), Mapping) else []),
        *(dashboard_markdown(dashboard) if isinstance(dashboard := results.get("dashboard"), Mapping) else []),
        "## Conditions",
        "",
        *conditions(results),
        "",
        "## What was measured",
        "",
        *what_was_measured(results),
        "",
    ]
    return "\n".join(lines)


def write_report(results: Mapping[str, object], out_dir: Path = RESULTS_DIR) -> tuple[Path, Path]:
    """Write bench.json (the raw results) and bench.md (the table); return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "bench.json", out_dir / "bench.md"
    record = {"generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **results}
    json_path.write_text(json.dumps(record, indent=2) + "\n")
    md_path.write_text(markdown(results))
    return json_path, md_path


def _load(path: Path | None) -> dict[str, object] | None:
    return json.loads(path.read_text()) if path else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cairn", type=Path, help="JSON printed by the Cairn half")
    parser.add_argument("--mlflow", type=Path, help="JSON printed by bench/mlflow_side.py")
    parser.add_argument("--artifacts-cairn", type=Path, help="JSON printed by bench/artifacts_cairn.py")
    parser.add_argument("--artifacts-mlflow", type=Path, help="JSON printed by bench/artifacts_mlflow.py")
    parser.add_argument("--models-cairn", type=Path, help="JSON printed by bench/models_cairn.py")
    parser.add_argument("--models-mlflow", type=Path, help="JSON printed by bench/models_mlflow.py")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    results: dict[str, object] = {"cairn": _load(args.cairn), "mlflow": _load(args.mlflow)}
    if args.artifacts_cairn or args.artifacts_mlflow:
        results["artifacts"] = {"cairn": _load(args.artifacts_cairn), "mlflow": _load(args.artifacts_mlflow)}
    if args.models_cairn or args.models_mlflow:
        results["models"] = {"cairn": _load(args.models_cairn), "mlflow": _load(args.models_mlflow)}
    for path in write_report(results, args.out):
        print(path)


if __name__ == "__main__":
    main()
