"""A training script's run, written with ``cairn.init`` and read back with ``cairn.Api``, on
every way CAIRN_URI can point: the embedded default, a path, a sqlite:/// URI, a server."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

import cairn
from cairn.client import lifecycle
from cairn.core.entities import RunStatus


@pytest.fixture(params=["home", "path", "sqlite-uri", "http"])
def where(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Sets CAIRN_URI (or leaves it unset) for one way of reaching a store."""
    if request.param == "path":
        monkeypatch.setenv("CAIRN_URI", str(tmp_path / "elsewhere" / "runs.db"))
    elif request.param == "sqlite-uri":
        monkeypatch.setenv("CAIRN_URI", f"sqlite:///{tmp_path / 'runs.db'}")
    elif request.param == "http":
        monkeypatch.setenv("CAIRN_URI", request.getfixturevalue("server").url)
    return str(request.param)


CONFIG = {
    "lr": 0.01,
    "epochs": 3,
    "augment": True,
    "seed": None,
    "optimizer": {"name": "adam", "betas": {"b1": 0.9, "b2": 0.999}},
    "layers": [64, 32],
}


def test_a_script_run_reads_back_exactly(where: str, clean_environ: Path) -> None:
    before = time.time_ns() // 1_000_000
    run = cairn.init(
        "vision",
        name="resnet-a",
        config=CONFIG,
        tags={"team": "cv"},
        notes="first try",
        flush_interval=0.05,
    )
    run.log({"loss": 1.0, "acc": 0.5})  # step 0
    run.log({"loss": 0.5})  # step 1
    run.log({"loss": math.nan}, step=10)  # an explicit step moves the counter
    run.log({"loss": math.inf})  # step 11
    run.log({"loss": -math.inf, "acc": 0.75}, timestamp=1_700_000_000_000)  # step 12
    run.log({"loss": 0.25}, step=5)  # going back is allowed...
    run.log({"loss": 0.125})  # ...and the counter follows: step 6
    run.set_tags({"stage": "baseline"})
    assert run.flush(timeout=10)
    run.finish()
    after = time.time_ns() // 1_000_000
    assert run.finished
    assert run not in lifecycle.active_runs()
    run.set_tags({"verdict": "keep"})  # tags may change once the run has ended

    if where == "home":
        assert (clean_environ / "cairn.db").is_file()
    with cairn.Api() as api:
        assert [p.name for p in api.projects()] == ["vision"]
        record = api.run(run.id)
        assert record.name == "resnet-a"
        assert record.project == "vision"
        assert record.status is RunStatus.FINISHED
        assert record.end_time is not None and before <= record.end_time <= after
        assert record.notes == "first try"
        assert record.tags == {"team": "cv", "stage": "baseline", "verdict": "keep"}
        assert record.params == {
            "lr": 0.01,
            "epochs": 3,
            "augment": True,
            "seed": None,
            "optimizer.name": "adam",
            "optimizer.betas.b1": 0.9,
            "optimizer.betas.b2": 0.999,
            "layers": "[64,32]",
        }
        assert {k: type(v) for k, v in record.params.items()} == {
            "lr": float,
            "epochs": int,
            "augment": bool,
            "seed": type(None),
            "optimizer.name": str,
            "optimizer.betas.b1": float,
            "optimizer.betas.b2": float,
            "layers": str,
        }

        loss = api.history(run.id, "loss")
        np.testing.assert_array_equal(loss.steps, [0, 1, 5, 6, 10, 11, 12])
        np.testing.assert_array_equal(loss.values, [1.0, 0.5, 0.25, 0.125, math.nan, math.inf, -math.inf])
        assert loss.total == 7 and not loss.downsampled
        stamps = dict(zip(loss.steps.tolist(), loss.timestamps.tolist(), strict=True))
        assert stamps.pop(12) == 1_700_000_000_000
        assert all(before <= t <= after for t in stamps.values())

        acc = api.history(run.id, "acc")
        np.testing.assert_array_equal(acc.steps, [0, 12])
        np.testing.assert_array_equal(acc.values, [0.5, 0.75])
        np.testing.assert_array_equal(acc.timestamps[1:], [1_700_000_000_000])

        summary = record.metrics["loss"]
        assert summary.count == 7
        assert summary.last_step == 12 and summary.last == -math.inf
        assert summary.last_timestamp == 1_700_000_000_000
        assert summary.min == -math.inf and summary.max == math.inf
        assert (record.metrics["acc"].last, record.metrics["acc"].count) == (0.75, 2)
        assert set(record.metrics) == {"loss", "acc"}


def test_uri_argument_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_URI", str(tmp_path / "ignored.db"))
    chosen = str(tmp_path / "chosen.db")
    with cairn.init("p", uri=chosen, flush_interval=0.05) as run:
        run.log({"x": 1.0})
    with cairn.Api(chosen) as api:
        assert api.run(run.id).metrics["x"].count == 1
    assert not (tmp_path / "ignored.db").exists()


def test_a_nested_run_names_its_parent(clean_environ: Path) -> None:
    with cairn.init("sweep", flush_interval=0.05) as parent:
        with cairn.init("sweep", parent=parent, flush_interval=0.05) as child:
            child.log({"x": 1.0})
    with cairn.Api() as api:
        assert api.run(child.id).parent_id == parent.id
        assert api.run(parent.id).parent_id is None
