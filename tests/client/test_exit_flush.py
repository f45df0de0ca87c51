"""A script that never calls ``finish`` still has its points stored and its run ended, by the
exit hook, in a real interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import cairn
from cairn.core.entities import RunStatus

POINTS = 10_000

SCRIPT = """
import cairn

run = cairn.init("exit", flush_interval=0.05)
print(run.id, flush=True)
for i in range({points}):
    run.log({{"loss": i / {points}}})
{ending}
"""

ENDINGS = {
    "finished": "",
    "failed": "raise RuntimeError('the training loop crashed')",
    "killed": "raise KeyboardInterrupt",
}


def run_script(tmp_path: Path, home: Path, ending: str) -> tuple[subprocess.CompletedProcess[str], str]:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT.format(points=POINTS, ending=ending)))
    env = {**os.environ, "CAIRN_HOME": str(home)}
    env.pop("CAIRN_URI", None)
    done = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    run_id = done.stdout.split()[0] if done.stdout.strip() else ""
    return done, run_id


@pytest.mark.parametrize("status", ["finished", "failed", "killed"])
def test_an_unfinished_script_is_ended_with_all_its_points(status: str, tmp_path: Path, clean_environ: Path) -> None:
    done, run_id = run_script(tmp_path, clean_environ, ENDINGS[status])
    assert run_id, done.stderr
    if status == "finished":
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode != 0
    if status == "failed":
        assert "the training loop crashed" in done.stderr  # the user's traceback still shows
    assert "cairn: warning" not in done.stderr

    with cairn.Api() as api:
        record = api.run(run_id)
        assert record.status is RunStatus(status)
        assert record.end_time is not None
        history = api.history(run_id, "loss")
    np.testing.assert_array_equal(history.steps, np.arange(POINTS))
    np.testing.assert_array_equal(history.values, np.arange(POINTS) / POINTS)
    assert not (clean_environ / "spool").exists() or not any((clean_environ / "spool").iterdir())


NESTED = """
import cairn

parent = cairn.init("sweep", name="parent", flush_interval=0.05)
child = cairn.init("sweep", name="child", parent=parent, flush_interval=0.05)
print(parent.id, child.id, flush=True)
child.log({"loss": 1.0})
parent.log({"best": 1.0})
"""


def test_at_exit_a_child_run_ends_before_its_parent(tmp_path: Path, clean_environ: Path) -> None:
    script = tmp_path / "sweep.py"
    script.write_text(NESTED)
    env = {**os.environ, "CAIRN_HOME": str(clean_environ)}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    parent_id, child_id = done.stdout.split()
    with cairn.Api() as api:
        parent, child = api.run(parent_id), api.run(child_id)
    assert parent.status is child.status is RunStatus.FINISHED
    assert child.parent_id == parent_id
    assert child.end_time is not None and parent.end_time is not None
    assert child.end_time <= parent.end_time
    assert child.metrics["loss"].count == 1 and parent.metrics["best"].count == 1
