"""What automatic capture adds to ``cairn.init``, on a git repo of 5,000 files (issue 5).

    .venv/bin/python bench/capture_init.py [--files 5000] [--repeats 7]

Makes the repo once under bench/results/capture-repo (a few changed and untracked files on
top of one commit), then, in a fresh CAIRN_HOME, times ``cairn.init`` with capture off and on
(the embedded store; median of the repeats), and how long the capture thread takes to read,
hash and queue code, environment and command (it runs beside the training loop, not in
``init``). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent


def make_repo(root: Path, files: int) -> Path:
    repo = root / f"capture-repo-{files}"
    if (repo / ".git").exists():
        return repo
    repo.mkdir(parents=True, exist_ok=True)
    for index in range(files):
        folder = repo / f"pkg{index // 100}"
        folder.mkdir(exist_ok=True)
        (folder / f"module{index % 100}.py").write_text(f"VALUE = {index}\n" * 20)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.email=b@b", "-c", "user.name=b", "commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)
    (repo / "pkg0" / "module0.py").write_text("VALUE = 'changed'\n")
    (repo / "untracked.py").write_text("NEW = 1\n")
    return repo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    repo = make_repo(HERE / "results", args.files)
    os.chdir(repo)
    sys.argv = [str(repo / "train.py")]
    import cairn

    results: dict[str, object] = {"files": args.files, "repeats": args.repeats}
    with tempfile.TemporaryDirectory() as home:
        os.environ["CAIRN_HOME"] = home
        os.environ.pop("CAIRN_URI", None)
        cairn.init("warm-up", capture=False).finish()
        for label, capture in (("off", False), ("on", True)):
            inits, threads = [], []
            for _ in range(args.repeats):
                started = time.perf_counter()
                run = cairn.init("capture-bench", capture=capture)
                inits.append(time.perf_counter() - started)
                capturing = run._capture._thread if run._capture is not None else None
                if capturing is not None:
                    capturing.join()
                    threads.append(time.perf_counter() - started)
                run.finish()
            results[f"init_ms_capture_{label}"] = round(statistics.median(inits) * 1000, 1)
            if threads:
                results["capture_thread_ms"] = round(statistics.median(threads) * 1000, 1)
    results["init_ms_added"] = round(float(results["init_ms_capture_on"]) - float(results["init_ms_capture_off"]), 1)
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
