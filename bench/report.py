"""Write the side-by-side report: bench/results/bench.json and bench/results/bench.md.

    python bench/report.py --cairn cairn.json --mlflow mlflow.json

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


@dataclass(frozen=True)
class Row:
    """One line of the table: where its number sits in a side's results, and how to read it."""

    label: str
    path: tuple[str, ...]
    fmt: Callable[[float], str]
    lower_is_better: bool
    target: str


# Targets quote DESIGN.md's performance principles until the project sets numbers.
ENQUEUE_ONLY = "µs: the caller only enqueues"
FEW_READS = "a few blob reads"
NO_TARGET = MISSING
ROWS = (
    Row("log_metric call, median", ("log_call_us", "median"), format_us, True, ENQUEUE_ONLY),
    Row("log_metric call, p99", ("log_call_us", "p99"), format_us, True, ENQUEUE_ONLY),
    Row(
        "ingest, batches of 1000",
        ("ingest_points_per_s", "value"),
        format_rate,
        False,
        "a batch is a few rows in one transaction",
    ),
    Row("full history", ("history_full_s", "value"), format_s, True, FEW_READS),
    Row(
        "downsampled history",
        ("history_downsampled_s", "value"),
        format_s,
        True,
        "no more points than pixels, min/max kept",
    ),
    Row(
        "full history, large",
        ("history_large", "history_full_s", "value"),
        format_s,
        True,
        FEW_READS,
    ),
    Row("server start", ("start_s",), format_s, True, NO_TARGET),
    Row("idle memory (RSS, whole tree)", ("idle_rss_mb",), format_mb, True, NO_TARGET),
    Row("peak memory during ingest (RSS)", ("peak_rss_mb",), format_mb, True, NO_TARGET),
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


def ratio(row: Row, cairn: float | None, mlflow: float | None) -> str:
    """How many times better Cairn is (above 1) or worse (below 1), whichever way is better."""
    if cairn is None or mlflow is None or cairn <= 0 or mlflow <= 0:
        return MISSING
    factor = mlflow / cairn if row.lower_is_better else cairn / mlflow
    return f"{factor:,.0f}×" if factor >= 100 else f"{factor:.3g}×"


def sizes(results: Mapping[str, object], path: tuple[str, ...]) -> dict[str, int]:
    """The series length each side measured a row at, for the sides that say it."""
    found = {}
    for side in SIDES:
        measured = number(lookup(results.get(side), path[:-1] + ("points",)))
        if len(path) > 1 and measured is not None:
            found[side] = int(measured)
    return found


def size_note(measured: dict[str, int]) -> str:
    if not measured:
        return ""
    if len(set(measured.values())) == 1:
        return f", {next(iter(measured.values())):,} points"
    return ", " + " / ".join(f"{side} {n:,}" for side, n in measured.items()) + " points"


def table(results: Mapping[str, object]) -> list[str]:
    lines = [
        "| metric | Cairn | MLflow | ratio | target |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for row in ROWS:
        values = {side: number(lookup(results.get(side), row.path)) for side in SIDES}
        shown = {side: row.fmt(v) if v is not None else MISSING for side, v in values.items()}
        measured = sizes(results, row.path)
        # Times over series of different lengths are not comparable, so no ratio then.
        comparable = len(set(measured.values())) <= 1
        shown_ratio = (
            ratio(row, values["cairn"], values["mlflow"]) if comparable else "sizes differ"
        )
        lines.append(
            f"| {row.label}{size_note(measured)} | {shown['cairn']} | {shown['mlflow']} "
            f"| {shown_ratio} | {row.target} |"
        )
    return lines


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
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    results = {"cairn": _load(args.cairn), "mlflow": _load(args.mlflow)}
    for path in write_report(results, args.out):
        print(path)


if __name__ == "__main__":
    main()
