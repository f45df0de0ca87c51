"""`make bench`: run both halves one after the other, then write and print the report.

    .venv/bin/python bench/run.py            # the full run, about 6-7 minutes on 2 cores
    .venv/bin/python bench/run.py --quick    # a smoke run with smaller counts
    .venv/bin/python bench/run.py --search skip    # without the search benchmark (2-3 minutes)

The Cairn half runs with this interpreter (the project venv), the MLflow half with
bench/.venv-mlflow/bin/python (made by bench/setup_mlflow.sh). They never run at the same
time: on a 2-core machine each would slow the other. Each half's JSON is kept in
bench/results/{cairn,mlflow}.json; the report goes to bench/results/bench.{json,md} and the
Markdown table is printed. A half that fails leaves "—" in its column and a non-zero exit.

Then the search benchmark's two halves (search_cairn.py, search_mlflow.py; see README.md) run
the same way, one after the other; their JSON goes to bench/results/search-{cairn,mlflow}.json
and their table into the same report. Their databases are cached under
bench/results/search-cache/, so only the first run spends ~1.5 minutes loading them.

Last, the artifact benchmark's halves (artifacts_cairn.py, artifacts_mlflow.py): a 1 GiB file of
random bytes (bench/results/artifact-1024MiB.bin, made once) uploaded and downloaded through each
server, beside a plain `cp` of it; their JSON goes to bench/results/artifacts-{cairn,mlflow}.json
and their table ("Artifacts: 1 GiB file") into the same report. About 2 minutes, most of it
MLflow's (its server's start and its upload); --quick uses a 256 MiB file.

    .venv/bin/python bench/run.py --artifacts-only       # only the artifact benchmark
    .venv/bin/python bench/run.py --artifacts skip       # without it

Then the model benchmark's halves (models_cairn.py, models_mlflow.py): log_model, register_model
and load_model of a small scikit-learn model through each server; their JSON goes to
bench/results/models-{cairn,mlflow}.json and their table ("Models") into the report.

    .venv/bin/python bench/run.py --models-only          # only the model benchmark
    .venv/bin/python bench/run.py --models skip          # without it

Last of all, the dashboard benchmark's halves (ui_cairn.py, ui_mlflow.py, both run by this
interpreter, which has Playwright; MLflow's server comes from its venv): first meaningful paint of
a runs page of 100,000 runs and of a run page of 10 metrics of 1,000,000 points, in Debian's
Chromium, and whether the chart shows the one spike. Their JSON goes to
bench/results/dashboard-{cairn,mlflow}.json and their table ("Dashboard") into the report.

    .venv/bin/python bench/run.py --dashboard-only       # only the dashboard benchmark
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import RESULTS_DIR, markdown, write_report

BENCH_DIR = Path(__file__).resolve().parent
MLFLOW_PYTHON = BENCH_DIR / ".venv-mlflow" / "bin" / "python"
#: Smaller counts for --quick; MLflow's server alone takes ~20 s to start, so it stays the floor.
QUICK_ARGS = {
    "cairn": ["--quick"],
    "mlflow": [
        "--log-calls", "50",
        "--ingest-points", "10000",
        "--history-points", "10000",
        "--history-repeats", "1",
        "--large-history-points", "0",
    ],
}  # fmt: skip
TIMEOUT_S = {"cairn": 600, "mlflow": 1200}
#: The search benchmark (issue 4): each half loads its own store (cached in
#: bench/results/search-cache/ between runs) and times in-process searches.
SEARCH_SCRIPTS = {"cairn": "search_cairn.py", "mlflow": "search_mlflow.py"}
SEARCH_QUICK_ARGS = ["--runs", "10000", "--repeats", "5"]
SEARCH_TIMEOUT_S = {"cairn": 900, "mlflow": 1200}
#: The dashboard benchmark: first meaningful paint of two pages in Chromium, each tool's own UI.
#: Both halves run with this interpreter (Playwright); MLflow's server runs from its venv.
DASHBOARD_SCRIPTS = {"cairn": "ui_cairn.py", "mlflow": "ui_mlflow.py"}
DASHBOARD_TIMEOUT_S = {"cairn": 900, "mlflow": 1800}
#: The artifact benchmark: a 1 GiB file through each server (256 MiB with --quick).
ARTIFACT_SCRIPTS = {"cairn": "artifacts_cairn.py", "mlflow": "artifacts_mlflow.py"}
ARTIFACT_TIMEOUT_S = {"cairn": 600, "mlflow": 900}
#: The model benchmark: log_model, register_model and load_model of a small scikit-learn model.
MODEL_SCRIPTS = {"cairn": "models_cairn.py", "mlflow": "models_mlflow.py"}
MODEL_QUICK_ARGS = ["--repeats", "2"]
MODEL_TIMEOUT_S = {"cairn": 300, "mlflow": 900}


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def command(side: str, quick: bool) -> list[str]:
    python = sys.executable if side == "cairn" else str(MLFLOW_PYTHON)
    argv = [python, str(BENCH_DIR / f"{side}_side.py")]
    return argv + (QUICK_ARGS[side] if quick else [])


def run_side(side: str, quick: bool) -> dict[str, object] | None:
    """Run one half: its progress goes to stderr, its JSON comes back (None if it failed)."""
    return run_script(side, command(side, quick), TIMEOUT_S[side], side)


def search_command(side: str, quick: bool) -> list[str]:
    python = sys.executable if side == "cairn" else str(MLFLOW_PYTHON)
    argv = [python, str(BENCH_DIR / SEARCH_SCRIPTS[side])]
    return argv + (SEARCH_QUICK_ARGS if quick else [])


def run_search_side(side: str, quick: bool) -> dict[str, object] | None:
    """One half of the search benchmark; its JSON is kept in bench/results/search-SIDE.json."""
    return run_script(f"search {side}", search_command(side, quick), SEARCH_TIMEOUT_S[side], f"search-{side}")


def run_artifacts_side(side: str, quick: bool) -> dict[str, object] | None:
    """One half of the artifact benchmark; its JSON is kept in bench/results/artifacts-SIDE.json."""
    python = sys.executable if side == "cairn" else str(MLFLOW_PYTHON)
    argv = [python, str(BENCH_DIR / ARTIFACT_SCRIPTS[side])] + (["--quick"] if quick else [])
    return run_script(f"artifacts {side}", argv, ARTIFACT_TIMEOUT_S[side], f"artifacts-{side}")


def run_models_side(side: str, quick: bool) -> dict[str, object] | None:
    """One half of the model benchmark; its JSON is kept in bench/results/models-SIDE.json."""
    python = sys.executable if side == "cairn" else str(MLFLOW_PYTHON)
    argv = [python, str(BENCH_DIR / MODEL_SCRIPTS[side])] + (MODEL_QUICK_ARGS if quick else [])
    return run_script(f"models {side}", argv, MODEL_TIMEOUT_S[side], f"models-{side}")


def run_dashboard_side(side: str, quick: bool) -> dict[str, object] | None:
    """One half of the dashboard benchmark; its JSON is kept in bench/results/dashboard-SIDE.json."""
    argv = [sys.executable, str(BENCH_DIR / DASHBOARD_SCRIPTS[side])] + (["--repeats", "2"] if quick else [])
    return run_script(f"dashboard {side}", argv, DASHBOARD_TIMEOUT_S[side], f"dashboard-{side}")


def section_mode(requested: str, this_only: bool, other_only: bool) -> str:
    """run, saved or skip for the search or the artifact section.

    Its own --X-only runs it (unless it says "saved"); another section's --X-only leaves it to
    its saved JSON (unless it says "skip").
    """
    if this_only:
        return "saved" if requested == "saved" else "run"
    if other_only:
        return "skip" if requested == "skip" else "saved"
    return requested


def run_section(
    name: str, mode: str, only: str | None, runner: Callable[[str, bool], dict[str, object] | None], quick: bool
) -> tuple[dict[str, object] | None, list[str]]:
    """Both halves of a section, one after the other, or their saved JSON; and which failed.

    None when the section is only reported from saved JSON and neither half has any.
    """
    section: dict[str, object] = {}
    failed = []
    for side in ("cairn", "mlflow"):
        if mode == "saved" or (only and side != only):
            section[side] = load_saved(f"{name}-{side}")
            continue
        section[side] = runner(side, quick)
        if section[side] is None:
            failed.append(f"{name} {side}")
    return (section if mode == "run" or any(section.values()) else None), failed


def run_script(label: str, argv: list[str], timeout_s: int, save_as: str) -> dict[str, object] | None:
    """Run a half's script: progress to stderr, its one JSON object saved and returned."""
    if argv[0] == str(MLFLOW_PYTHON) and not MLFLOW_PYTHON.exists():
        log(f"{MLFLOW_PYTHON} is missing: run bash bench/setup_mlflow.sh first")
        return None
    log(f"running the {label} half: {' '.join(argv)}")
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, cwd=BENCH_DIR)
    try:
        stdout, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        # SIGTERM, not subprocess.run's SIGKILL: the half then stops its server tree and
        # removes its temp dir on the way out.
        log(f"the {label} half took over {timeout_s} s: stopping it")
        process.terminate()
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
        return None
    log(f"the {label} half took {time.monotonic() - started:.0f} s")
    if process.returncode != 0:
        log(f"the {label} half failed with exit code {process.returncode}")
        return None
    try:
        results = json.loads(stdout)
    except json.JSONDecodeError:
        log(f"the {label} half printed no JSON: {stdout[-500:]!r}")
        return None
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{save_as}.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def load_saved(side: str) -> dict[str, object] | None:
    """A half's JSON from an earlier run (`side` is also "search-cairn", "artifacts-mlflow"...)."""
    path = RESULTS_DIR / f"{side}.json"
    if not path.exists():
        log(f"no saved {side} results at {path}")
        return None
    log(f"using the saved {side} results in {path}")
    saved: dict[str, object] = json.loads(path.read_text())
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run with smaller counts")
    parser.add_argument(
        "--only",
        choices=("cairn", "mlflow"),
        help="run only this half; the other comes from its saved bench/results/SIDE.json",
    )
    parser.add_argument(
        "--search",
        choices=("run", "saved", "skip"),
        default="run",
        help="the search benchmark (about 4 minutes, 5-6 on the first run, which loads its databases): run it, "
        "report its saved bench/results/search-SIDE.json, or leave it out",
    )
    parser.add_argument(
        "--search-only", action="store_true", help="run only the search benchmark; the rest comes from saved JSON"
    )
    parser.add_argument(
        "--artifacts",
        choices=("run", "saved", "skip"),
        default="run",
        help="the artifact benchmark (a 1 GiB file up and down through each server, beside cp; about 2 minutes): "
        "run it, report its saved bench/results/artifacts-SIDE.json, or leave it out",
    )
    parser.add_argument(
        "--artifacts-only",
        action="store_true",
        help="run only the artifact benchmark; the rest comes from saved JSON",
    )
    parser.add_argument(
        "--models",
        choices=("run", "saved", "skip"),
        default="run",
        help="the model benchmark (log_model, register_model and load_model of a small scikit-learn model through "
        "each server; about 2 minutes, most of it MLflow's): run it, report its saved "
        "bench/results/models-SIDE.json, or leave it out",
    )
    parser.add_argument(
        "--models-only", action="store_true", help="run only the model benchmark; the rest comes from saved JSON"
    )
    parser.add_argument(
        "--dashboard",
        choices=("run", "saved", "skip"),
        default="run",
        help="the dashboard benchmark (first paint of a runs page of 100,000 runs and of a run of 10 x 1,000,000 "
        "points, in Chromium, Cairn's and MLflow's UIs; about 7 minutes, 6 more the first time): run it, report "
        "its saved bench/results/dashboard-SIDE.json, or leave it out",
    )
    parser.add_argument(
        "--dashboard-only",
        action="store_true",
        help="run only the dashboard benchmark; the rest comes from saved JSON",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    only = {
        "search": args.search_only,
        "artifacts": args.artifacts_only,
        "models": args.models_only,
        "dashboard": args.dashboard_only,
    }
    requested = {"search": args.search, "artifacts": args.artifacts, "models": args.models, "dashboard": args.dashboard}
    runners = {
        "search": run_search_side,
        "artifacts": run_artifacts_side,
        "models": run_models_side,
        "dashboard": run_dashboard_side,
    }
    results: dict[str, object] = {}
    failed = []
    for side in ("cairn", "mlflow"):  # one after the other, never concurrently
        if (args.only and side != args.only) or any(only.values()):
            results[side] = load_saved(side)
            continue
        results[side] = run_side(side, args.quick)
        if results[side] is None:
            failed.append(side)
    sections = [
        (name, section_mode(requested[name], only[name], any(v for k, v in only.items() if k != name)), runners[name])
        for name in ("search", "artifacts", "models", "dashboard")
    ]
    for name, mode, runner in sections:  # also one after the other
        if mode == "skip":
            continue
        section, section_failed = run_section(name, mode, args.only, runner, args.quick)
        failed += section_failed
        if section is not None:
            results[name] = section
    json_path, md_path = write_report(results)
    print(markdown(results))
    log(f"wrote {json_path} and {md_path} in {time.monotonic() - started:.0f} s")
    if failed:
        log(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
