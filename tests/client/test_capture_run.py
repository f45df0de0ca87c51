"""cairn.init captures code, environment, command, system metrics and console on its own, and
each part can be switched off."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import cairn


@pytest.fixture
def script_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small git project whose train.py is the entry script; capture turned on."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text("print('hi')\n")
    (project / "model.py").write_text("LAYERS = 2\n")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(project), *args], check=True, capture_output=True)
    (project / "model.py").write_text("LAYERS = 3\n")  # dirty
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "argv", [str(project / "train.py"), "--epochs", "1"])
    monkeypatch.delenv("CAIRN_CAPTURE", raising=False)
    monkeypatch.setenv("CAIRN_SYSTEM_INTERVAL", "0.1")
    return project


def kinds(run: cairn.Run) -> dict[str, object]:
    with cairn.Api() as api:
        return {s.kind: s for s in api._tracking.run_snapshots(run.id)}


def test_everything_is_captured_by_default(script_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with cairn.init("capture", config={"lr": 0.1}, flush_interval=0.05) as run:
        print("epoch 1 done")
        run.log({"loss": 1.0})
    snapshots = kinds(run)
    assert set(snapshots) == {"code", "environment", "command"}
    code = snapshots["code"]
    assert sorted(f.path for f in code.files) == ["model.py", "train.py"]  # type: ignore[attr-defined]
    assert code.meta["dirty"] is True and len(code.meta["commit"]) == 40  # type: ignore[attr-defined]
    environment = snapshots["environment"]
    assert {f.path for f in environment.files} == {"environment.json", "requirements.txt"}  # type: ignore[attr-defined]
    with cairn.Api() as api:
        assert b"epoch 1 done" in api.read_artifact(run.id, "cairn/console.log")
        requirements = b"".join(api._tracking.read_snapshot_file(environment.id, "requirements.txt"))  # type: ignore[attr-defined]
        assert b"numpy==" in requirements
        metrics = api.run(run.id).metrics
    assert {"system/peak_rss_mb", "system/wall_time_s", "system/cpu_time_s"} <= set(metrics)
    assert "epoch 1 done" in capsys.readouterr().out  # the user still sees their output


def test_the_same_code_is_one_snapshot_chained_after_a_change(script_dir: Path) -> None:
    settings = cairn.CaptureSettings(system=False, console=False)
    with cairn.init("capture", flush_interval=0.05, capture=settings) as first:
        pass
    with cairn.init("capture", flush_interval=0.05, capture=settings) as second:
        pass
    (script_dir / "model.py").write_text("LAYERS = 4\n")
    with cairn.init("capture", flush_interval=0.05, capture=settings) as third:
        pass
    a, b, c = (kinds(run)["code"] for run in (first, second, third))
    assert a.id == b.id  # type: ignore[attr-defined]
    assert c.id != a.id and c.parent_id == a.id  # type: ignore[attr-defined]


def test_parts_can_be_switched_off(script_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with cairn.init("capture", flush_interval=0.05, capture=cairn.CaptureSettings(console=False, code=False)) as run:
        pass
    assert set(kinds(run)) == {"environment", "command"}
    with cairn.Api() as api:
        assert api.artifacts(run.id) == []
    with cairn.init("capture", flush_interval=0.05, capture=False) as bare:
        pass
    assert kinds(bare) == {}
    monkeypatch.setenv("CAIRN_CAPTURE", "0")
    with cairn.init("capture", flush_interval=0.05) as off:
        pass
    assert kinds(off) == {}
    with cairn.Api() as api:
        assert not [k for k in api.run(off.id).metrics if k.startswith("system/")]


def test_inside_ipython_the_notebook_is_a_snapshot_and_diffs_cell_by_cell(
    script_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import types

    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbdime")
    from cairn.cli.diff import snapshot_changes

    notebook = script_dir / "explore.ipynb"

    def save(source: str) -> None:
        book = nbformat.v4.new_notebook()
        book.cells = [nbformat.v4.new_code_cell(source)]
        notebook.write_text(nbformat.writes(book))

    shell = types.SimpleNamespace(user_ns={"__vsc_ipynb_file__": str(notebook)})
    fake_ipython = types.ModuleType("IPython")
    fake_ipython.get_ipython = lambda: shell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    settings = cairn.CaptureSettings(code=False, environment=False, command=False, system=False, console=False)
    save("lr = 0.1")
    with cairn.init("nb", flush_interval=0.05, capture=settings) as first:
        pass
    save("lr = 0.2")
    with cairn.init("nb", flush_interval=0.05, capture=settings) as second:
        pass
    assert [f.path for f in kinds(first)["notebook"].files] == ["explore.ipynb"]  # type: ignore[attr-defined]
    with cairn.Api() as api:
        [change] = snapshot_changes(api._tracking, second.id, first.id)
    assert change.kind == "notebook" and change.files[0].diff
    assert "lr = 0.1" in change.files[0].diff and "lr = 0.2" in change.files[0].diff


def test_cairn_token_is_never_in_a_runs_captured_environment(script_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "cairn_" + "Zq3xR9vLm2KpT8wYb4NcH7jD1fGs6AeU0oIiVtB5abc"
    monkeypatch.setenv("CAIRN_TOKEN", token)  # embedded mode sends it nowhere; capture must not keep it
    monkeypatch.setenv("CAIRN_ADMIN_PASSWORD", "plain words of a password")
    settings = cairn.CaptureSettings(system=False, console=False)  # every CAIRN_* variable is a candidate
    with cairn.init("capture", capture=settings) as run:
        pass
    environment = kinds(run)["environment"]
    with cairn.Api() as api:
        document = b"".join(
            b"".join(api._tracking.read_snapshot_file(environment.id, f.path))  # type: ignore[attr-defined]
            for f in environment.files  # type: ignore[attr-defined]
        )
    assert b"CAIRN_HOME" in document  # the variables were captured...
    assert token.encode() not in document and b"CAIRN_TOKEN" not in document  # ...but never these
    assert b"plain words of a password" not in document
