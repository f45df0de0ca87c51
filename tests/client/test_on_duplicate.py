"""``cairn.init(..., on_duplicate=…)``: warn, skip or refuse when a config already ran, and
``cairn.Api().similar/diff`` — embedded and against a server."""

from __future__ import annotations

from pathlib import Path

import pytest

import cairn
from cairn.client.duplicates import headline
from cairn.core.entities import RunStatus
from cairn.core.errors import InvalidValue
from cairn.service.policy import Principal

CONFIG = {"lr": 0.1, "optimizer": {"name": "adam"}, "epochs": 3}


@pytest.fixture(params=["embedded", "http"])
def where(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """CAIRN_URI unset (the embedded store in CAIRN_HOME) or a server's URL; returns the URI."""
    if request.param == "http":
        url: str = request.getfixturevalue("server").url
        monkeypatch.setenv("CAIRN_URI", url)
        return url
    return "embedded"


def earlier(config: dict[str, object] = CONFIG, *, finish: str = "finished") -> cairn.Run:
    run = cairn.init("vision", name="the-first", config=config, flush_interval=0.01)
    run.log({"val/acc": 0.875, "train/loss": 0.25, "lr_now": 0.001, "epoch": 3})
    run.finish(finish)
    return run


def runs_in_project() -> int:
    with cairn.Api() as api:
        return len(api.runs("vision"))


def test_warn_prints_one_line_with_who_when_metrics_and_link(where: str, capsys: pytest.CaptureFixture[str]) -> None:
    first = earlier()
    capsys.readouterr()
    run = cairn.init("vision", config={"epochs": 3.0, "optimizer": {"name": "adam"}, "lr": 0.10})
    run.finish()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith('cairn: warning: this config already ran in project "vision"')
    assert '"the-first"' in line and f"by {Principal.local_user().name}" in line and "just now" in line
    assert "val/acc=0.875 train/loss=0.25" in line
    if where == "embedded":
        assert f"cairn runs show {first.id}" in line
    else:
        assert f"{where}/runs/{first.id}" in line
    assert [r.id for r in run.duplicates] == [first.id]
    assert not run.skipped
    assert runs_in_project() == 2


def test_warn_counts_further_duplicates(capsys: pytest.CaptureFixture[str]) -> None:
    earlier()
    earlier()
    capsys.readouterr()
    run = cairn.init("vision", config=CONFIG)
    run.finish()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "(and 1 more earlier run with this config)" in err
    assert len(run.duplicates) == 2 and run.duplicates[0].start_time >= run.duplicates[1].start_time


def test_error_raises_before_any_run_is_created(where: str, capsys: pytest.CaptureFixture[str]) -> None:
    first = earlier()
    with pytest.raises(cairn.DuplicateRun) as raised:
        cairn.init("vision", config=CONFIG, on_duplicate="error")
    assert raised.value.code == "duplicate_run"
    assert raised.value.details["runs"] == [first.id]
    assert raised.value.details["project"] == "vision"
    assert "the-first" in raised.value.message
    assert runs_in_project() == 1
    assert capsys.readouterr().err == ""


def test_skip_creates_nothing_and_logging_does_nothing(where: str, capsys: pytest.CaptureFixture[str]) -> None:
    first = earlier()
    with cairn.init("vision", name="again", config=CONFIG, on_duplicate="skip") as run:
        assert run.skipped and isinstance(run, cairn.Run)
        assert [r.id for r in run.duplicates] == [first.id]
        assert run.duplicates[0].metrics["val/acc"].last == 0.875  # what the earlier run reached
        assert run.id == "" and run.project == "vision" and run.name == "again"
        assert run.config["optimizer.name"] == "adam"
        run.log({"loss": 1.0})
        run.log({"loss": "not even a number"}, step=-5)  # harmless, not checked
        run.log_params({"extra": 1})
        run.config["more"] = 2
        run.set_tags({"t": "v"})
        run.notes = "ignored"
        run.name = "renamed"
        assert run.flush()
    assert run.finished
    run.finish("failed")  # finishing again is harmless too
    assert runs_in_project() == 1
    assert capsys.readouterr().err == ""
    with pytest.raises(InvalidValue):
        cairn.init("vision", config={"other": 1}, parent=run)


def test_only_finished_runs_with_the_same_config_count(capsys: pytest.CaptureFixture[str]) -> None:
    earlier(finish="failed")
    earlier(config={**CONFIG, "lr": 0.2})
    running = cairn.init("vision", config=CONFIG)
    run = cairn.init("vision", config=CONFIG, on_duplicate="error")
    assert run.duplicates == []
    run.finish()
    running.finish()
    assert capsys.readouterr().err == ""


def test_a_run_without_config_is_never_a_duplicate(capsys: pytest.CaptureFixture[str]) -> None:
    earlier(config={})
    run = cairn.init("vision", on_duplicate="error")
    assert run.duplicates == []
    run.finish()
    assert capsys.readouterr().err == ""


def test_on_duplicate_must_be_one_of_three(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InvalidValue):
        cairn.init("vision", config=CONFIG, on_duplicate="ignore")  # type: ignore[arg-type]
    with cairn.Api() as api:
        assert api.projects() == []


def test_an_explicit_uri_goes_into_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uri = str(tmp_path / "elsewhere.db")
    first = cairn.init("vision", config=CONFIG, uri=uri)
    first.finish()
    cairn.init("vision", config=CONFIG, uri=uri).finish()
    assert f"cairn runs show {first.id} --uri {uri}" in capsys.readouterr().err


def test_api_similar_and_diff(where: str) -> None:
    first = earlier()
    second = cairn.init("vision", config={**CONFIG, "lr": 0.2}, notes="tuned")
    second.log({"val/acc": 0.9})
    second.finish()
    with cairn.Api() as api:
        similar = api.similar(second)
        assert [(s.run.id, s.distance) for s in similar] == [(first.id, 1)]
        assert api.similar(second.id, limit=1)[0].run.status is RunStatus.FINISHED
        diff = api.diff(second)
        assert diff.baseline.id == first.id and diff.run.id == second.id
        assert diff.params.changed["lr"].after == 0.2
        assert diff.metrics.changed["val/acc"].last == pytest.approx(0.025)
        assert diff.notes is not None and diff.notes.after == "tuned"
        assert api.diff(first.id, second.id).params.changed["lr"].after == 0.1


def test_headline_prefers_held_out_quality_metrics() -> None:
    from cairn.core.entities import MetricSummary, Run

    def run(*keys: str) -> Run:
        metrics = {k: MetricSummary(k, 0.5, 1, 1, 0.5, 0.5, 1) for k in keys}
        return Run("r", "p", "p", "n", "u", RunStatus.FINISHED, 0, 1, None, "", False, metrics=metrics)

    assert headline(run("epoch", "train/loss", "val/loss", "train/acc", "val/acc")) == (
        "val/acc=0.5 val/loss=0.5 train/acc=0.5"
    )
    assert headline(run()) == ""
