"""Done means, for reproducibility: train from a dirty git tree, change the code, train again;
`cairn diff` shows the lines that changed, and `cairn reproduce RUN --run` rebuilds the first
run's tree byte for byte and runs it again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from cairn.client.capture.tree import work_tree_digest

pytestmark = pytest.mark.slow

TRAIN = """\
import cairn
from helpers import LR

with cairn.init("repro", config={"lr": LR}) as run:
    print("training with lr", LR)
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1) * LR})
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return done.stdout


def cairn_cli(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "cairn"), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=120, check=False)


def newest_run(env: dict[str, str]) -> dict[str, object]:
    listed = cairn_cli(env, "runs", "list", "repro", "--json")
    assert listed.returncode == 0, listed.stderr
    return orjson.loads(listed.stdout)[0]  # type: ignore[no-any-return]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {
        **os.environ,
        "CAIRN_HOME": str(tmp_path / "home"),
        "CAIRN_SYSTEM_INTERVAL": "0.2",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(tmp_path),
    }
    environment.pop("CAIRN_CAPTURE", None)  # capture is on, as for any user
    environment.pop("CAIRN_URI", None)
    return environment


def test_train_change_diff_and_reproduce(tmp_path: Path, env: dict[str, str]) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    (repo / "train.py").write_text(TRAIN)
    (repo / "helpers.py").write_text("LR = 0.1\n")
    (repo / "old.py").write_text("gone soon\n")
    (repo / "notes.md").write_text("v1\n")
    (repo / ".gitignore").write_text("*.ckpt\n__pycache__/\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "first")
    # A dirty tree: staged, unstaged, deleted, untracked and ignored changes.
    (repo / "notes.md").write_text("v1, staged\n")
    git(repo, "add", "notes.md")
    (repo / "helpers.py").write_text("LR = 0.1\nEXTRA = 'unstaged'\n")
    (repo / "old.py").unlink()
    (repo / "untracked.py").write_text("print('new')\n")
    (repo / "weights.ckpt").write_bytes(b"\0" * 1000)
    digest_before = work_tree_digest(repo)

    first = subprocess.run([sys.executable, "train.py"], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "training with lr 0.1" in first.stdout  # the console is teed, not swallowed
    run_1 = newest_run(env)

    (repo / "helpers.py").write_text("LR = 0.2\nEXTRA = 'unstaged'\n")
    second = subprocess.run(
        [sys.executable, "train.py"], cwd=repo, env=env, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stderr
    run_2 = newest_run(env)
    assert run_2["id"] != run_1["id"]

    # What the first run captured without being asked.
    shown = cairn_cli(env, "artifacts", "list", str(run_1["id"]))
    assert "cairn/console.log" in shown.stdout
    console = cairn_cli(env, "artifacts", "get", str(run_1["id"]), "cairn/console.log", "-o", str(tmp_path / "log"))
    assert console.returncode == 0, console.stderr
    assert "training with lr 0.1" in (tmp_path / "log" / "console.log").read_text()
    metrics = orjson.loads(cairn_cli(env, "runs", "show", str(run_1["id"]), "--json").stdout)["metrics"]
    assert "system/peak_rss_mb" in metrics and "system/wall_time_s" in metrics

    # What changed: the line in helpers.py.
    diff = cairn_cli(env, "diff", str(run_2["id"]), str(run_1["id"]))
    assert diff.returncode == 0, diff.stderr
    assert "Code (1 file changed)" in diff.stdout
    assert "-LR = 0.1" in diff.stdout and "+LR = 0.2" in diff.stdout

    # The first run's tree, byte for byte, and run again.
    target = tmp_path / "again"
    rebuilt = cairn_cli(env, "reproduce", str(run_1["id"]), "-o", str(target), "--run")
    assert rebuilt.returncode == 0, rebuilt.stderr + rebuilt.stdout
    assert work_tree_digest(target) == digest_before
    assert "the tree captured at the run's start" in rebuilt.stdout
    assert not (target / "weights.ckpt").exists() and not (target / "old.py").exists()
    assert (target / ".cairn" / "requirements.txt").read_text().strip()
    assert orjson.loads((target / ".cairn" / "config.json").read_bytes()) == {"lr": 0.1}
    again = newest_run(env)
    assert again["tags"] == {"reproduces": run_1["id"]}  # type: ignore[comparison-overlap]
    assert again["params"] == run_1["params"]
    assert "Metrics" in rebuilt.stdout or "the same" in rebuilt.stdout
