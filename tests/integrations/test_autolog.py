"""``cairn.autolog()`` and what every integration shares (integrations/_base.py): importing
Cairn imports no framework, no framework is a one-line no-op, a framework imported later is
switched on when it is imported, and an error inside logging never stops training."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import cairn
from cairn.integrations import _base
from cairn.integrations._base import Guard, training_run
from cairn.settings import default_project

FRAMEWORKS = ("sklearn", "xgboost", "lightgbm", "lightning", "keras", "transformers", "torch", "tensorflow")


def _python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "CAIRN_HOME": str(tmp_path / "home"), **env},
        check=False,
    )


def test_importing_cairn_imports_no_framework(tmp_path: Path) -> None:
    done = _python(
        f"""
        import sys, cairn
        cairn.Api, cairn.init, cairn.autolog  # the public surface, touched
        print(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules))
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_autolog_without_any_framework_is_a_no_op_that_says_so_once(tmp_path: Path) -> None:
    # A framework whose entry in sys.modules is None cannot be imported: as if not installed.
    done = _python(
        f"""
        import sys
        for name in {FRAMEWORKS!r}:
            sys.modules[name] = None
        import cairn
        print(cairn.autolog())
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "none of the frameworks Cairn logs is installed" in lines[0]
    assert "scikit-learn" in lines[0] and "PyTorch Lightning" in lines[0]


def test_autolog_switches_on_a_framework_when_the_script_imports_it(tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="scikit-learn is the framework this check imports late")
    done = _python(
        """
        import sys, cairn
        names = cairn.autolog(project="late")
        assert "sklearn" in names, names
        assert "sklearn" not in sys.modules  # not imported by autolog itself
        import sklearn
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        assert sklearn.__spec__.loader.__class__.__name__ != "_NotifyingLoader"
        LogisticRegression(max_iter=500).fit(*load_iris(return_X_y=True))
        runs = cairn.Api().runs("late")
        assert len(runs) == 1, "the import hook did not switch sklearn on"
        print("ok")
        """,
        tmp_path,
        CAIRN_CAPTURE="0",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_log_datasets_false_reaches_the_integrations_it_switches_on(tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="scikit-learn is the framework this check trains with")
    done = _python(
        """
        import cairn, sklearn
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        from cairn.integrations._base import settings_of
        cairn.autolog(project="no-data", log_datasets=False)
        assert settings_of("sklearn").log_datasets is False
        LogisticRegression(max_iter=500).fit(*load_iris(return_X_y=True))
        with cairn.Api() as api:
            (run,) = api.runs("no-data")
            assert list(api.inputs(run)) == [], "the training data was logged"
        print("ok")
        """,
        tmp_path,
        CAIRN_CAPTURE="0",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_project_is_the_argument_else_the_environment_else_the_scripts_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert default_project("given") == "given"
    monkeypatch.setenv("CAIRN_PROJECT", "from-env")
    assert default_project(None) == "from-env"
    monkeypatch.delenv("CAIRN_PROJECT")
    script = tmp_path / "churn-model" / "train.py"
    script.parent.mkdir()
    script.write_text("")
    monkeypatch.setattr(sys, "argv", [str(script)])
    assert default_project(None) == "churn-model"


def test_a_guard_warns_once_and_training_goes_on(capsys: pytest.CaptureFixture[str]) -> None:
    guard = Guard("test-framework")

    def broken(step: int) -> None:
        raise RuntimeError(f"store gone at step {step}")

    results = [guard.call(broken, step) for step in range(100)]
    assert results == [None] * 100
    assert guard.errors == 100
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "cairn: warning: test-framework logging failed, training goes on (later errors of it are not shown): "
        "RuntimeError: store gone at step 0"
    ]
    assert guard.wraps(lambda x: x * 2)(21) == 42


def test_a_training_run_is_opened_and_closed_for_the_training_call_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_PROJECT", "owned")
    with training_run("test-framework") as run:
        assert run is not None and _base.active_run() is run
        run.log({"loss": 1.0})
    assert run.finished
    with pytest.raises(ValueError), training_run("test-framework") as failing:
        raise ValueError("training diverged")
    assert failing is not None and failing.finished
    with cairn.Api() as api:
        statuses = {r.id: str(r.status) for r in api.runs("owned")}
        assert statuses == {run.id: "finished", failing.id: "failed"}
        assert api.run(run.id).tags["cairn.autolog"] == "test-framework"


def test_an_open_run_is_used_as_it_is_and_left_open() -> None:
    with cairn.init("mine") as mine:
        with training_run("test-framework", project="elsewhere") as run:
            assert run is mine
        assert not mine.finished


def test_no_run_at_all_means_training_without_logging(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A store that cannot even be opened: a file where the embedded store's folder should be.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("CAIRN_URI", str(blocker / "cairn.db"))
    monkeypatch.setattr(Guard, "_guards", {})
    with training_run("test-framework", project="p") as run:
        trained = sum(range(10))
    assert run is None and trained == 45
    assert "test-framework logging failed, training goes on" in capsys.readouterr().err


def test_init_without_a_project_goes_where_autolog_would(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_PROJECT", "from-env")
    run = cairn.init(capture=False)
    assert run.project == "from-env"
    run.finish()
