"""``cairn run -- CMD``: real subprocesses of ``python -m cairn run`` against a real Cairn server
(in this process's thread), each wrapping a real Python child."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.helpers import ThreadedServer, free_port

from cairn.client.http import HttpTracking
from cairn.core.entities import Run, RunStatus
from cairn.core.errors import ProjectNotFound
from cairn.settings import ServerSettings

SRC = str(Path(__file__).parents[2] / "src")


def environment(tmp_path: Path, uri: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CAIRN_")}
    # The child is `python` from PATH: this interpreter, with this checkout's cairn.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")]))
    env.update(CAIRN_URI=uri, CAIRN_HOME=str(tmp_path / "home"), CAIRN_SYSTEM_INTERVAL="60")
    return env


def cairn_run(tmp_path: Path, uri: str, *args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cairn", "run", *args]
    if code is not None:
        command += ["--", "python", "-c", textwrap.dedent(code)]
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return subprocess.run(
        command, cwd=work, env=environment(tmp_path, uri), capture_output=True, text=True, timeout=120
    )


def runs_of(server: ThreadedServer, project: str) -> list[Run]:
    tracking = HttpTracking(server.url)
    try:
        return tracking.list_runs(project).items
    except ProjectNotFound:
        return []
    finally:
        tracking.close()


def only_run(server: ThreadedServer, project: str) -> Run:
    found = runs_of(server, project)
    assert len(found) == 1, [run.name for run in found]
    return found[0]


def console_of(server: ThreadedServer, run_id: str) -> str:
    tracking = HttpTracking(server.url)
    try:
        return b"".join(tracking.read_artifact(run_id, "cairn/console.log")).decode()
    finally:
        tracking.close()


def test_a_command_that_succeeds_is_a_finished_run_with_its_console_code_and_command(
    server: ThreadedServer, tmp_path: Path
) -> None:
    code = """
        import sys
        print("to stdout")
        print("to stderr", file=sys.stderr)
    """
    done = cairn_run(tmp_path, server.url, "--project", "wrap", "--name", "first", "--tag", "team=vision", code=code)

    assert done.returncode == 0, done.stderr
    assert done.stdout == "to stdout\n"  # streamed through, nothing of cairn's own
    assert "to stderr\n" in done.stderr
    run = only_run(server, "wrap")
    assert (run.name, run.status) == ("first", RunStatus.FINISHED)
    assert run.tags["team"] == "vision"
    assert run.tags["cairn.exit_code"] == "0"
    assert run.tags["cairn.command"].startswith("python -c ")
    assert "print(" in run.tags["cairn.command"]
    assert console_of(server, run.id) in ("to stdout\nto stderr\n", "to stderr\nto stdout\n")
    tracking = HttpTracking(server.url)
    try:
        snapshots = {snapshot.kind: snapshot for snapshot in tracking.run_snapshots(run.id)}
    finally:
        tracking.close()
    assert set(snapshots) == {"code", "environment", "command"}
    assert snapshots["code"].meta["root"] == str((tmp_path / "work").resolve())
    assert snapshots["command"].meta["shell_line"] == run.tags["cairn.command"]


def test_the_project_defaults_to_the_current_folders_name(server: ThreadedServer, tmp_path: Path) -> None:
    done = cairn_run(tmp_path, server.url, code="print('hi')")
    assert done.returncode == 0, done.stderr
    assert only_run(server, "work").status == RunStatus.FINISHED


def test_a_nonzero_exit_is_a_failed_run_and_the_exit_status_of_cairn_run(
    server: ThreadedServer, tmp_path: Path
) -> None:
    done = cairn_run(tmp_path, server.url, "--project", "wrap", code="print('partial'); raise SystemExit(3)")

    assert done.returncode == 3
    run = only_run(server, "wrap")
    assert run.status == RunStatus.FAILED
    assert run.tags["cairn.exit_code"] == "3"
    assert console_of(server, run.id) == "partial\n"


def test_a_command_killed_by_a_signal_is_a_killed_run(server: ThreadedServer, tmp_path: Path) -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    done = cairn_run(tmp_path, server.url, "--project", "wrap", code=code)

    assert done.returncode == 128 + signal.SIGTERM
    run = only_run(server, "wrap")
    assert run.status == RunStatus.KILLED
    assert run.tags["cairn.exit_code"] == str(-signal.SIGTERM)


def test_ctrl_c_is_passed_to_the_command_and_the_run_is_killed(server: ThreadedServer, tmp_path: Path) -> None:
    code = """
        import time
        print("ready", flush=True)
        try:
            time.sleep(60)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            raise
    """
    work = tmp_path / "work"
    work.mkdir()
    command = [sys.executable, "-m", "cairn", "run", "--project", "wrap", "--", "python", "-c", textwrap.dedent(code)]
    process = subprocess.Popen(
        command, cwd=work, env=environment(tmp_path, server.url), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"ready\n"
        process.send_signal(signal.SIGINT)  # to `cairn run` only: it passes it on
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert out == b"interrupted\n"
    assert process.returncode == 128 + signal.SIGINT
    run = only_run(server, "wrap")
    assert run.status == RunStatus.KILLED
    assert "interrupted\n" in console_of(server, run.id)


def test_cairn_init_inside_the_command_logs_into_the_same_run(server: ThreadedServer, tmp_path: Path) -> None:
    code = """
        import cairn
        run = cairn.init("wrap", config={"lr": 0.1, "net": {"depth": 2}}, tags={"inner": "yes"})
        run.log({"loss": 1.0})
        run.log({"loss": 0.5})
        run.finish()  # the run stays open: `cairn run` ends it
        print(run.id)
    """
    done = cairn_run(tmp_path, server.url, "--project", "wrap", "--name", "outer", code=code)

    assert done.returncode == 0, done.stderr
    run = only_run(server, "wrap")
    assert done.stdout.strip() == run.id
    assert (run.name, run.status) == ("outer", RunStatus.FINISHED)
    assert dict(run.params) == {"lr": 0.1, "net.depth": 2}
    assert run.tags["inner"] == "yes"
    tracking = HttpTracking(server.url)
    try:
        history = tracking.get_metric_history(run.id, "loss")
    finally:
        tracking.close()
    assert history.steps.tolist() == [0, 1] and history.values.tolist() == [1.0, 0.5]


def test_autolog_inside_the_command_logs_into_the_same_run(server: ThreadedServer, tmp_path: Path) -> None:
    code = """
        import cairn
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        cairn.autolog(log_models=False)
        X, y = load_iris(return_X_y=True)
        LogisticRegression(C=0.5, max_iter=300).fit(X, y)
    """
    done = cairn_run(tmp_path, server.url, "--project", "wrap", code=code)

    assert done.returncode == 0, done.stderr
    run = only_run(server, "wrap")
    assert run.status == RunStatus.FINISHED
    assert run.params["C"] == 0.5 and run.params["max_iter"] == 300
    assert run.tags["cairn.autolog"] == "sklearn"
    assert "training_accuracy_score" in run.metrics


def test_a_command_that_does_not_exist_exits_127_and_leaves_no_run(server: ThreadedServer, tmp_path: Path) -> None:
    done = cairn_run(tmp_path, server.url, "--project", "wrap", "--", "no-such-command-for-cairn", "--flag")

    assert done.returncode == 127
    assert done.stderr.strip() == "Error: no-such-command-for-cairn: command not found on PATH [command_not_found]"
    assert runs_of(server, "wrap") == []


def test_a_file_the_system_cannot_start_exits_126_and_its_run_failed(server: ThreadedServer, tmp_path: Path) -> None:
    program = tmp_path / "work" / "not-a-program"
    program.parent.mkdir()
    program.write_text("no shebang line, no machine code\n")
    program.chmod(0o755)

    done = cairn_run(tmp_path, server.url, "--project", "wrap", "--", "./not-a-program")

    assert done.returncode == 126
    assert "Error: ./not-a-program: Exec format error" in done.stderr
    run = only_run(server, "wrap")
    assert run.status == RunStatus.FAILED
    assert run.tags["cairn.exit_code"] == "126"


def test_with_the_server_away_the_command_still_runs_and_its_run_waits_offline(tmp_path: Path) -> None:
    away = f"http://127.0.0.1:{free_port()}"
    done = cairn_run(tmp_path, away, "--project", "wrap", code="print('ran anyway')")

    assert done.returncode == 0, done.stderr
    assert done.stdout == "ran anyway\n"
    assert "starts offline" in done.stderr
    assert "Traceback" not in done.stderr
    assert any((tmp_path / "home" / "spool").rglob("*"))


def test_what_an_attached_script_logs_offline_reaches_the_run_before_its_end(tmp_path: Path) -> None:
    """Offline, the wrapper and its script each spool their writes; ``cairn sync`` must not end
    the run (the wrapper's spool, the older) before the script's metrics are in."""
    port = free_port()
    code = """
        import cairn
        run = cairn.init("wrap", config={"lr": 0.1})
        run.log({"loss": 1.0})
        run.log({"loss": 0.5})
    """
    done = cairn_run(tmp_path, f"http://127.0.0.1:{port}", "--project", "wrap", code=code)
    assert done.returncode == 0, done.stderr

    settings = ServerSettings(store_uri=str(tmp_path / "server.db"), blobs_uri=str(tmp_path / "blobs"), port=port)
    with ThreadedServer(settings) as server:
        synced = subprocess.run(
            [sys.executable, "-m", "cairn", "sync"],
            env=environment(tmp_path, server.url),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert synced.returncode == 0, synced.stderr
        assert "refused" not in synced.stdout + synced.stderr
        run = only_run(server, "wrap")
        assert run.status == RunStatus.FINISHED
        assert dict(run.params) == {"lr": 0.1}
        tracking = HttpTracking(server.url)
        try:
            history = tracking.get_metric_history(run.id, "loss")
        finally:
            tracking.close()
        assert history.values.tolist() == [1.0, 0.5]


@pytest.mark.parametrize("args", [["--project", "wrap"], ["--tag", "novalue", "--", "true"]])
def test_usage_mistakes_exit_2(server: ThreadedServer, tmp_path: Path, args: list[str]) -> None:
    done = cairn_run(tmp_path, server.url, *args)
    assert done.returncode == 2
    assert runs_of(server, "wrap") == []
