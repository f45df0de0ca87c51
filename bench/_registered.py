"""The benchmark's model registered in each tool, as its users register one (project venv).

Used by serving.py and batch_scoring.py: Cairn's side in this process, into the embedded store
of a fresh CAIRN_HOME; MLflow's through mlflow_scoring.py in bench/.venv-mlflow, into a SQLite
store. Each side trains its own copy of _scoring_model.py's pipeline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from _scoring_model import describe, train

BENCH_DIR = Path(__file__).resolve().parent
MLFLOW_BIN = BENCH_DIR / ".venv-mlflow" / "bin"
MODEL_NAME = "scorer"


def run_quietly(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> str:
    """Run a set-up step; its stdout, or its output in the error if it fails."""
    completed = subprocess.run(list(argv), capture_output=True, text=True, env=env, timeout=600)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    return completed.stdout


def cairn_env(home: Path) -> dict[str, str]:
    """This environment with a CAIRN_HOME of its own and none of the caller's other CAIRN_
    settings: the embedded store lives in `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    env["CAIRN_HOME"] = str(home)
    return env


def register_cairn(workdir: Path, features: int, probe: Any) -> dict[str, Any]:
    """Train, log (`run.log_model`), register (`cairn.register_model`) and alias (`cairn models
    alias NAME champion 1`) the model in an embedded store under `workdir`; this process's
    CAIRN_ settings are replaced by that store's."""
    import cairn

    home = workdir / "cairn-home"
    for key in [k for k in os.environ if k.startswith("CAIRN_")]:
        del os.environ[key]
    os.environ["CAIRN_HOME"] = str(home)
    model, frame = train(features)
    started = time.perf_counter()
    with cairn.init("bench-scoring", name=MODEL_NAME, capture=False) as run:
        info = run.log_model(model, input_example=frame.head(5))
    version = cairn.register_model(info.uri, MODEL_NAME)
    seconds = time.perf_counter() - started
    alias = [sys.executable, "-m", "cairn", "models", "alias", MODEL_NAME, "champion", str(version.version)]
    run_quietly(alias, env=cairn_env(home))
    return {
        "tool": "cairn",
        "version": cairn.__version__,
        "model": describe(features),
        "home": home,
        "model_uri": f"models:/{MODEL_NAME}@champion",
        "log_and_register_s": round(seconds, 2),
        "probe_predictions": [int(value) for value in model.predict(probe)],
    }


def register_mlflow(workdir: Path, features: int, probe_rows: int = 1) -> dict[str, Any]:
    """`mlflow_scoring.py register` in MLflow's venv, its store in `workdir`/mlflow."""
    folder = workdir / "mlflow"
    folder.mkdir()
    argv = [str(MLFLOW_BIN / "python"), str(BENCH_DIR / "mlflow_scoring.py"), "register", "--workdir", str(folder)]
    argv += ["--features", str(features), "--name", MODEL_NAME, "--probe-rows", str(probe_rows)]
    registered: dict[str, Any] = json.loads(run_quietly(argv))
    registered["folder"] = folder
    return registered


def public(registered: Mapping[str, Any]) -> dict[str, Any]:
    """What goes into the results JSON: no local paths."""
    return {k: v for k, v in registered.items() if k not in ("home", "folder")}
