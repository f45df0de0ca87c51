"""``cairn.Api``: projects, runs newest first, one run, and metric histories (whole or
downsampled), embedded and through a server."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

import cairn
from cairn.core.errors import NotFound, ProjectNotFound, RunNotFound


@dataclass
class Logged:
    api: cairn.Api
    runs: list[str]  # oldest first
    spiky: str


@pytest.fixture(params=["embedded", "http"])
def logged(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Logged]:
    if request.param == "http":
        monkeypatch.setenv("CAIRN_URI", request.getfixturevalue("server").url)
    ids = []
    for i in range(5):
        with cairn.init("alpha", name=f"run-{i}", flush_interval=0.05) as run:
            run.log({"loss": 1.0 / (i + 1)})
        ids.append(run.id)
        time.sleep(0.003)  # distinct start times: "newest first" is then well defined
    with cairn.init("beta", name="spiky", flush_interval=0.05) as spiky:
        for step in range(10_000):
            run_value = math.sin(step / 100)
            if step == 4_321:
                run_value = 50.0
            elif step == 7_000:
                run_value = math.nan
            spiky.log({"signal": run_value})
    with cairn.Api() as api:
        yield Logged(api, ids, spiky.id)


def test_projects_are_listed_with_their_runs(logged: Logged) -> None:
    projects = {p.name: p for p in logged.api.projects()}
    assert set(projects) == {"alpha", "beta"}
    assert projects["alpha"].run_count == 5 and projects["beta"].run_count == 1
    assert logged.api.project("alpha").id == projects["alpha"].id
    with pytest.raises(ProjectNotFound):
        logged.api.project("gamma")


def test_runs_come_newest_first_and_limit_cuts(logged: Logged) -> None:
    newest_first = list(reversed(logged.runs))
    assert [r.id for r in logged.api.runs("alpha")] == newest_first
    assert [r.name for r in logged.api.runs("alpha")] == [f"run-{i}" for i in range(4, -1, -1)]
    assert [r.id for r in logged.api.runs("alpha", limit=2)] == newest_first[:2]
    assert [r.id for r in logged.api.runs("alpha", limit=50)] == newest_first
    assert [r.id for r in logged.api.iter_runs("alpha", limit=3)] == newest_first[:3]
    with pytest.raises(NotFound):
        logged.api.runs("gamma")


def test_one_run_with_its_summaries(logged: Logged) -> None:
    record = logged.api.run(logged.runs[2])
    assert record.name == "run-2" and record.project == "alpha"
    assert record.metrics["loss"].last == pytest.approx(1 / 3) and record.metrics["loss"].count == 1
    with pytest.raises(RunNotFound):
        logged.api.run("0" * 32)


def test_a_history_comes_whole_or_windowed(logged: Logged) -> None:
    whole = logged.api.history(logged.spiky, "signal")
    assert len(whole) == whole.total == 10_000 and not whole.downsampled
    np.testing.assert_array_equal(whole.steps, np.arange(10_000))
    assert whole.values[4_321] == 50.0 and math.isnan(whole.values[7_000])

    window = logged.api.history(logged.spiky, "signal", step_min=100, step_max=199)
    np.testing.assert_array_equal(window.steps, np.arange(100, 200))
    np.testing.assert_array_equal(window.values, whole.values[100:200])


def test_a_downsampled_history_keeps_the_extremes(logged: Logged) -> None:
    small = logged.api.history(logged.spiky, "signal", max_points=200)
    assert small.downsampled and small.total == 10_000
    assert 0 < len(small) <= 200
    assert np.all(np.diff(small.steps) > 0)
    kept = dict(zip(small.steps.tolist(), small.values.tolist(), strict=True))
    assert kept[4_321] == 50.0  # the one spike survives
    assert 7_000 in kept and math.isnan(kept[7_000])  # and so does the gap
    assert kept[0] == 0.0 and 9_999 in kept

    roomy = logged.api.history(logged.spiky, "signal", max_points=20_000)
    assert not roomy.downsampled and len(roomy) == 10_000


def test_a_missing_metric_is_an_empty_history(logged: Logged) -> None:
    empty = logged.api.history(logged.spiky, "nope")
    assert len(empty) == empty.total == 0
