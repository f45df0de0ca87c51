"""What bench/autolog_*.py share: one training workload timed in a fresh interpreter per mode.

Autologging patches a framework for the whole process, so every mode runs in a process of its
own. A workload is a script run as ``python WORKLOAD MODE``; it trains, times only the training
call(s) itself, and prints one JSON object as its last line of stdout, at least
``{"train_s": SECONDS}`` (more keys are carried into the results as they are). Modes:

- ``off``: no logging at all, the baseline;
- ``cairn``: Cairn's autologging against a real ``cairn server`` (CAIRN_URI is set);
- ``cairn-away``: the same with nothing listening at CAIRN_URI (the spool must take it);
- ``mlflow``: MLflow's autologging against a real ``mlflow server`` (MLFLOW_TRACKING_URI);
- any other name the workload knows (say ``mlflow-logger``), with both URIs set.

Both servers are the ones the other side-by-side benchmarks start (bench/_procs.py), on
loopback, in a temporary folder removed at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import free_port, start_cairn_server, start_mlflow_server, stop_tree, wait_until_ready

RESULTS = Path(__file__).resolve().parent / "results"


def time_calls(cls: type, method: str) -> list[float]:
    """Replace ``cls.method`` by one that times each call; the list each call's seconds land in
    (how long a logging hook holds the training thread, apart from the rest of the step)."""
    original: Callable[..., Any] = getattr(cls, method)
    spent: list[float] = []

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    setattr(cls, method, timed)
    return spent


def main(workload_file: str, modes: Sequence[str], workload: Callable[[str], dict[str, Any]]) -> dict[str, Any] | None:
    """A workload script's entry point: ``python WORKLOAD MODE`` runs one mode and prints its
    JSON; with no mode, every mode is compared and the summary returned for the script to add
    its own lines to."""
    if len(sys.argv) > 1:
        print(json.dumps(workload(sys.argv[1])))
        return None
    return compare(Path(workload_file), modes)


@dataclass(frozen=True)
class Servers:
    cairn_uri: str
    mlflow_uri: str
    away_uri: str  # a loopback port nothing listens on
    workdir: Path


@contextlib.contextmanager
def servers() -> Iterator[Servers]:
    """A ``cairn server`` and an ``mlflow server`` on loopback, stopped and removed at the end."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    with tempfile.TemporaryDirectory(prefix="cairn-bench-autolog-") as tmp:
        root = Path(tmp)
        (root / "cairn").mkdir()
        (root / "mlflow").mkdir()
        cairn_port, mlflow_port, away_port = free_port(), free_port(), free_port()
        cairn = start_cairn_server(sys.executable, root / "cairn", cairn_port, workers=1)
        mlflow = start_mlflow_server(str(Path(sys.executable).with_name("mlflow")), root / "mlflow", mlflow_port)
        try:
            wait_until_ready(cairn, f"http://127.0.0.1:{cairn_port}/health", timeout_s=120)
            wait_until_ready(mlflow, f"http://127.0.0.1:{mlflow_port}/health", timeout_s=180)
            yield Servers(
                cairn_uri=f"http://127.0.0.1:{cairn_port}",
                mlflow_uri=f"http://127.0.0.1:{mlflow_port}",
                away_uri=f"http://127.0.0.1:{away_port}",
                workdir=root,
            )
        finally:
            stop_tree(cairn)
            stop_tree(mlflow)


def run_mode(workload: Path, mode: str, where: Servers, *, timeout_s: float = 900) -> dict[str, object]:
    """One process of ``workload`` in ``mode``; its JSON, plus ``wall_s`` of the whole process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "MLFLOW_TRACKING"))}
    env["CAIRN_HOME"] = str(where.workdir / f"home-{mode}")
    env["CAIRN_PROJECT"] = f"bench-{workload.stem}"
    env["CAIRN_URI"] = where.away_uri if mode == "cairn-away" else where.cairn_uri
    env["MLFLOW_TRACKING_URI"] = where.mlflow_uri
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["CAIRN_CAPTURE"] = env.get("CAIRN_CAPTURE", "1")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(workload), mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    wall_s = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{workload.name} {mode} exited {done.returncode}\n{done.stderr[-4000:]}")
    result: dict[str, object] = json.loads(lines[-1])
    result["wall_s"] = round(wall_s, 3)
    result["warnings"] = [line for line in done.stderr.splitlines() if "cairn: warning" in line][:5]
    return result


def compare(
    workload: Path, modes: Sequence[str], *, repeats: int = 3, name: str | None = None
) -> dict[str, dict[str, object]]:
    """Every mode ``repeats`` times, interleaved (off, cairn, mlflow, off, …) so that a busy
    moment of the machine falls on all of them; the median ``train_s`` of each, its overhead
    against ``off``, a table on stdout and the whole in bench/results/autolog_NAME.json."""
    name = name or workload.stem.removeprefix("autolog_")
    samples: dict[str, list[dict[str, object]]] = {mode: [] for mode in modes}
    with servers() as where:
        for round_ in range(repeats):
            for mode in modes:
                print(f"{name}: {mode} ({round_ + 1}/{repeats})", file=sys.stderr, flush=True)
                samples[mode].append(run_mode(workload, mode, where))
    summary: dict[str, dict[str, object]] = {}
    for mode, runs in samples.items():
        train = statistics.median(float(run["train_s"]) for run in runs)  # type: ignore[arg-type]
        summary[mode] = {"train_s": round(train, 4), "runs": runs}
    base = float(summary["off"]["train_s"]) if "off" in summary else None  # type: ignore[arg-type]
    print(f"\n{name}: training time, median of {repeats} (overhead against off)")
    for mode, row in summary.items():
        train = float(row["train_s"])  # type: ignore[arg-type]
        overhead = f"{(train / base - 1) * 100:+.1f}%  {train - base:+.3f} s" if base else ""
        row["overhead_pct"] = round((train / base - 1) * 100, 2) if base else None
        print(f"  {mode:<16} {train:9.3f} s   {overhead}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"autolog_{name}.json").write_text(json.dumps(summary, indent=2))
    return summary
