"""What changed between two runs: the pure diff, and its wire format both ways."""

from __future__ import annotations

import math
from typing import Any

import orjson

from cairn.core.artifacts import Snapshot, SnapshotFile
from cairn.core.diff import Change, MetricChange, RunDiff, diff_runs, snapshot_changes
from cairn.core.entities import MetricSummary, ParamValue, Run, RunStatus
from cairn.core.wire import diff_from_wire, diff_to_wire


def summary(key: str, last: float, low: float | None = None, high: float | None = None) -> MetricSummary:
    return MetricSummary(key, last, 9, 1_000, low if low is not None else last, high if high is not None else last, 10)


def run(
    run_id: str,
    params: dict[str, ParamValue] | None = None,
    metrics: dict[str, MetricSummary] | None = None,
    tags: dict[str, str] | None = None,
    notes: str = "",
) -> Run:
    return Run(
        id=run_id,
        project_id="p1",
        project="mnist",
        name=f"run-{run_id}",
        user="ada",
        status=RunStatus.FINISHED,
        start_time=1_000,
        end_time=2_000,
        parent_id=None,
        notes=notes,
        deleted=False,
        params=params or {},
        tags=tags or {},
        metrics=metrics or {},
    )


def test_params_added_removed_changed_and_the_same() -> None:
    before = run("b", {"lr": 0.1, "depth": 2, "wd": 1, "flag": True, "opt": "adam", "gone": None, "nan": math.nan})
    after = run("a", {"lr": 0.01, "depth": 2.0, "wd": 1.0, "flag": 1, "opt": "adam", "new": "x", "nan": math.nan})
    diff = diff_runs(after, before)
    assert diff.run.id == "a" and diff.baseline.id == "b"
    assert diff.params.added == {"new": "x"}
    assert diff.params.removed == {"gone": None}
    assert diff.params.changed == {"lr": Change(0.1, 0.01), "flag": Change(True, 1)}
    assert list(diff.params.changed) == ["flag", "lr"]  # sorted by key
    assert diff.params.unchanged == 4  # depth 2 == 2.0, wd 1 == 1.0, opt, NaN == NaN
    assert diff.distance == 4


def test_metrics_deltas_and_keys_on_one_side() -> None:
    before = run(
        "b", metrics={"acc": summary("acc", 0.8, 0.5, 0.8), "loss": summary("loss", 0.4), "val": summary("val", 1)}
    )
    after = run(
        "a", metrics={"acc": summary("acc", 0.9, 0.6, 0.95), "loss": summary("loss", 0.4), "f1": summary("f1", 2)}
    )
    metrics = diff_runs(after, before).metrics
    assert metrics.added == {"f1": summary("f1", 2)}
    assert metrics.removed == {"val": summary("val", 1)}
    assert metrics.unchanged == 1
    acc = metrics.changed["acc"]
    assert math.isclose(acc.last, 0.1) and math.isclose(acc.min or 0, 0.1) and math.isclose(acc.max or 0, 0.15)
    assert set(metrics.changed) == {"acc"}


def test_metric_deltas_with_nan_infinity_and_no_min() -> None:
    change = MetricChange(
        MetricSummary("m", math.nan, 1, 1, None, None, 1), MetricSummary("m", 1.0, 1, 1, 1.0, math.inf, 2)
    )
    assert math.isnan(change.last)
    assert change.min is None and change.max is None
    same_inf = MetricChange(summary("m", math.inf), summary("m", math.inf, 0.0, math.inf))
    assert same_inf.last == 0.0 and same_inf.max == 0.0
    # Summaries that are NaN on both sides are no change.
    nan = MetricSummary("m", math.nan, 1, 1, None, None, 1)
    assert diff_runs(run("a", metrics={"m": nan}), run("b", metrics={"m": nan})).metrics.unchanged == 1


def test_tags_and_notes() -> None:
    diff = diff_runs(
        run("a", tags={"team": "cv", "stage": "2"}, notes="new"),
        run("b", tags={"team": "cv", "stage": "1", "old": "x"}, notes="old"),
    )
    assert diff.tags.changed == {"stage": Change("1", "2")}
    assert diff.tags.removed == {"old": "x"} and diff.tags.added == {} and diff.tags.unchanged == 1
    assert diff.notes == Change("old", "new")
    assert not diff.empty


def test_a_run_against_itself_is_empty() -> None:
    same = run("a", {"lr": 0.1}, {"acc": summary("acc", 0.9)}, {"t": "v"}, "notes")
    diff = diff_runs(same, same)
    assert diff.empty and diff.notes is None and diff.distance == 0
    assert (diff.params.unchanged, diff.metrics.unchanged, diff.tags.unchanged) == (1, 1, 1)


def _through_json(data: Any) -> Any:
    return orjson.loads(orjson.dumps(data))


def test_the_wire_format_round_trips() -> None:
    before = run(
        "b",
        {"lr": 0.1, "bad": math.nan, "gone": math.inf},
        {"acc": summary("acc", 0.8), "nan": MetricSummary("nan", math.nan, 1, 1, None, None, 1)},
        {"stage": "1"},
        "old",
    )
    after = run("a", {"lr": 0.01, "bad": 1.0, "new": -math.inf}, {"acc": summary("acc", math.inf)}, {}, "new")
    diff = diff_runs(after, before)
    wire = _through_json(diff_to_wire(diff))
    assert wire["params"]["changed"]["bad"] == {"before": {"float": "NaN"}, "after": 1.0}
    assert wire["params"]["added"] == {"new": {"float": "-Infinity"}}
    assert wire["metrics"]["changed"]["acc"]["last"] == "Infinity"
    assert wire["distance"] == 4
    back = diff_from_wire(wire)
    assert isinstance(back, RunDiff)
    assert back.run == diff.run and back.baseline == diff.baseline
    assert back.params.changed["lr"] == Change(0.1, 0.01)
    assert math.isnan(back.params.changed["bad"].before)  # type: ignore[arg-type]
    assert back.params.removed == {"gone": math.inf} and back.params.added == {"new": -math.inf}
    assert back.metrics.changed["acc"].after.last == math.inf
    assert math.isnan(back.metrics.removed["nan"].last)
    assert back.tags == diff.tags and back.notes == diff.notes
    assert _through_json(diff_to_wire(back)) == wire


# -- snapshot trees ----------------------------------------------------------------------------


def tree(files: dict[str, str]) -> Snapshot:
    return Snapshot(
        id="s",
        project="mnist",
        kind="code",
        parent_id=None,
        message="",
        meta={},
        created_at=0,
        files=[SnapshotFile(path, digest, 1) for path, digest in files.items()],
    )


def test_snapshot_changes_name_each_path_once_sorted() -> None:
    before = tree({"train.py": "a", "old.py": "b", "same.py": "c", "data/x.csv": "d"})
    after = tree({"train.py": "A", "same.py": "c", "new.py": "e", "data/x.csv": "d", "a/b.py": "f"})
    changes = snapshot_changes(before, after)
    assert changes == {"a/b.py": "added", "new.py": "added", "old.py": "removed", "train.py": "changed"}
    assert list(changes) == sorted(changes)


def test_a_missing_snapshot_is_an_empty_tree() -> None:
    only = tree({"b.py": "1", "a.py": "2"})
    assert snapshot_changes(None, only) == {"a.py": "added", "b.py": "added"}
    assert snapshot_changes(only, None) == {"a.py": "removed", "b.py": "removed"}
    assert snapshot_changes(None, None) == {}
    assert snapshot_changes(only, only) == {}
