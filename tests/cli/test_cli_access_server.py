"""A team's first day, end to end: ``cairn server --init-admin`` as a real process, then
``cairn login`` (its password fed on stdin), users, tokens and roles made from the CLI, a run
logged by the SDK with ``CAIRN_TOKEN``, and a viewer refused a write (docs/access.md)."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.helpers import free_port

pytestmark = pytest.mark.slow

ADMIN_PASSWORD = "a long admin passphrase 31"
ANN_PASSWORD = "ann's own long passphrase 8"


@dataclass
class Server:
    url: str
    stdout: str
    process: subprocess.Popen[str]


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    env.update(CAIRN_HOME=str(tmp_path / "home"), CAIRN_CONFIG_DIR=str(tmp_path / "config"), **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path.cwd() / "src"), env.get("PYTHONPATH", "")]))
    return env


@pytest.fixture
def start(tmp_path: Path) -> Iterator[object]:
    started: list[subprocess.Popen[str]] = []

    def run(*args: str, env: dict[str, str] | None = None) -> Server:
        port = free_port()
        command = [sys.executable, "-m", "cairn", "server", "--port", str(port)]
        command += ["--store", str(tmp_path / "cairn.db"), "--blobs", str(tmp_path / "blobs"), *args]
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env or _environment(tmp_path),
        )
        started.append(process)
        assert process.stdout is not None
        said = []
        for line in process.stdout:
            said.append(line)
            if line.startswith("Cairn is serving"):
                return Server(line.split()[3], "".join(said), process)
        raise AssertionError(f"the server stopped: {''.join(said)}")

    yield run
    for process in started:
        process.terminate()
        process.communicate(timeout=30)


@pytest.fixture
def closing() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as stack:
        yield stack


def cairn(tmp_path: Path, *args: str, stdin: str = "", code: int = 0, **env: str) -> subprocess.CompletedProcess[str]:
    """``cairn ARGS`` as its own process, without a terminal (so a password comes from stdin)."""
    result = subprocess.run(
        [sys.executable, "-m", "cairn", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=_environment(tmp_path, **env),
        start_new_session=True,  # no controlling terminal: nothing can be asked on /dev/tty
    )
    assert result.returncode == code, f"cairn {' '.join(args)}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result


def test_a_team_signs_in_creates_users_and_tokens_and_roles_decide(  # type: ignore[no-untyped-def]
    tmp_path: Path, start, closing: contextlib.ExitStack
) -> None:
    server = start("--init-admin", "root", env=_environment(tmp_path, CAIRN_ADMIN_PASSWORD=ADMIN_PASSWORD))
    url = server.url
    assert "Created the admin root." in server.stdout
    assert ADMIN_PASSWORD not in server.stdout  # given, so never printed

    # The admin signs in: a token is stored for that server, readable by its owner only.
    signed = cairn(tmp_path, "login", url, "--username", "root", stdin=ADMIN_PASSWORD + "\n")
    assert f"Signed in to {url} as root" in signed.stdout
    credentials = tmp_path / "config" / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    stored = json.loads(credentials.read_text())["servers"][url]
    assert stored["token"] not in signed.stdout + signed.stderr
    assert cairn(tmp_path, "whoami", "--uri", url).stdout.startswith("root (admin; signed in by token")

    # The stored token acts for every command against that URL.
    cairn(tmp_path, "users", "create", "ann", "--uri", url, stdin=ANN_PASSWORD + "\n")
    cairn(tmp_path, "users", "create", "ci", "--service", "--uri", url)
    listed = cairn(tmp_path, "users", "list", "--uri", url).stdout
    assert "ann" in listed and "service" in listed
    created = json.loads(cairn(tmp_path, "tokens", "create", "deploy", "--user", "ci", "--uri", url, "--json").stdout)
    ci_token = created["secret"]
    tokens = cairn(tmp_path, "tokens", "list", "--all", "--uri", url).stdout
    assert "deploy" in tokens and ci_token not in tokens

    # The service account logs a run with CAIRN_TOKEN through the SDK (that the token stays out
    # of a run's captured environment is tests/client/test_capture_run.py's).
    admin = closing.enter_context(
        httpx.Client(base_url=url, headers={"authorization": f"Bearer {stored['token']}"}, timeout=30)
    )
    assert admin.post("/api/v1/projects", json={"name": "mnist"}).status_code == 201
    cairn(tmp_path, "members", "grant", "ci", "editor", "--project", "mnist", "--uri", url)
    cairn(tmp_path, "members", "grant", "ann", "viewer", "--project", "mnist", "--uri", url)
    members = cairn(tmp_path, "members", "list", "--project", "mnist", "--uri", url).stdout
    assert "editor" in members and "viewer" in members
    script = (
        "import cairn\n"
        "with cairn.init('mnist', config={'lr': 0.1}) as run:\n"
        "    run.log({'loss': 0.5})\n"
        "print(run.id)\n"
    )
    logged = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**_environment(tmp_path, CAIRN_URI=url, CAIRN_TOKEN=ci_token, CAIRN_CAPTURE="0")},
    )
    assert logged.returncode == 0, logged.stderr
    run_id = logged.stdout.strip().splitlines()[-1]
    run = admin.get(f"/api/v1/runs/{run_id}").json()
    assert run["project"] == "mnist" and run["metrics"]["loss"]["last"] == 0.5

    # Ann signs in herself; as a viewer she may read the project but not write to it.
    cairn(tmp_path, "logout", url)
    assert not json.loads(credentials.read_text())["servers"]
    cairn(tmp_path, "login", url, "-u", "ann", stdin=ANN_PASSWORD + "\n")
    assert run_id[:8] in cairn(tmp_path, "runs", "list", "mnist", "--uri", url).stdout
    refused = cairn(tmp_path, "members", "grant", "ann", "admin", "--project", "mnist", "--uri", url, code=1)
    assert refused.stderr.startswith("Error: ") and refused.stderr.rstrip().endswith("[permission_denied]")
    refused = cairn(tmp_path, "users", "create", "eve", "--service", "--uri", url, code=1)
    assert "[permission_denied]" in refused.stderr
    write = "import cairn\ntry:\n    cairn.init('mnist')\nexcept cairn.CairnError as e:\n    print(e.code)"
    refused_run = subprocess.run(
        [sys.executable, "-c", write],
        capture_output=True,
        text=True,
        timeout=120,
        env=_environment(tmp_path, CAIRN_URI=url),
    )
    assert refused_run.stdout.strip() == "permission_denied", refused_run.stderr

    # Revoked at once: the admin's old token (revoked by logout) is refused.
    assert admin.get("/api/v1/me").status_code == 401


def test_init_admin_without_a_password_prints_a_generated_one_once(tmp_path: Path, start) -> None:  # type: ignore[no-untyped-def]
    server = start("--init-admin", "root")
    lines = [line for line in server.stdout.splitlines() if "password:" in line]
    assert len(lines) == 1
    password = lines[0].split()[1]
    assert len(password) >= 20
    token = httpx.post(
        f"{server.url}/api/v1/auth/token",
        json={"username": "root", "password": password, "token_name": "t"},
        timeout=30,
    )
    assert token.status_code == 201, token.text
    server.process.terminate()
    server.process.communicate(timeout=30)

    again = start("--init-admin", "root")  # the admin exists now: left as it is
    assert "password:" not in again.stdout and "exists" in again.stdout


def test_sign_in_refusals_through_the_cli(tmp_path: Path, start) -> None:  # type: ignore[no-untyped-def]
    server = start("--init-admin", "root", env=_environment(tmp_path, CAIRN_ADMIN_PASSWORD=ADMIN_PASSWORD))
    wrong = cairn(tmp_path, "login", server.url, "-u", "root", stdin="not the password\n", code=1)
    assert wrong.stderr.rstrip().endswith("[sign_in_failed]")
    unknown = cairn(tmp_path, "login", server.url, "-u", "nobody", stdin="not the password\n", code=1)
    assert unknown.stderr.replace("nobody", "root") == wrong.stderr  # the same answer
    assert not (tmp_path / "config" / "credentials.json").exists()
    anonymous = cairn(tmp_path, "projects", "list", "--uri", server.url, code=1)
    assert anonymous.stderr.rstrip().endswith("[unauthenticated]")
    assert cairn(tmp_path, "logout", server.url, code=1).stderr.startswith("Error: not signed in")
