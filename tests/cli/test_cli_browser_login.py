"""``cairn login --browser`` end to end: the CLI as its own process against a real server that
requires sign-in, its real loopback listener, and a "browser" (tests/cli/fake_browser.py, named
by ``$BROWSER`` as a person would name theirs) that holds a dashboard session of a user without
a password, as after single sign-on, confirms the page and follows the link back
(docs/access.md, "Signing in from the CLI and SDK")."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.access_helpers import Team
from tests.helpers import ThreadedServer, free_port

from cairn.settings import ServerSettings

FAKE_BROWSER = Path(__file__).with_name("fake_browser.py")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ThreadedServer]:
    settings = ServerSettings(
        store_uri=str(tmp_path / "cairn.db"), blobs_uri=str(tmp_path / "blobs"), port=free_port(), require_auth=True
    )  # type: ignore[call-arg]
    with ThreadedServer(settings) as running:
        Team(running.app.state.tracking.store).user("sso", password=None)
        yield running


def _cairn(tmp_path: Path, *args: str, code: int = 0, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    environment.update(CAIRN_HOME=str(tmp_path / "home"), CAIRN_CONFIG_DIR=str(tmp_path / "config"), **env)
    root = Path(__file__).parents[2]
    environment["PYTHONPATH"] = os.pathsep.join([str(root / "src"), str(root)])
    result = subprocess.run(
        [sys.executable, "-m", "cairn", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert result.returncode == code, f"cairn {' '.join(args)}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result


def test_a_user_with_only_single_sign_on_signs_the_cli_in_through_the_browser(
    tmp_path: Path, server: ThreadedServer
) -> None:
    session = server.app.state.authenticator.start_session(server.app.state.tracking.store.get_user("sso"), None)
    log = tmp_path / "browser.jsonl"
    # $BROWSER names one program (webbrowser runs it whole, with the address as its argument).
    launcher = tmp_path / "browser"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_BROWSER}" "$@"\n')
    launcher.chmod(0o755)
    browser = dict(BROWSER=str(launcher), FAKE_BROWSER_SESSION=session, FAKE_BROWSER_LOG=str(log))
    said = _cairn(
        tmp_path, "login", server.url, "--browser", "--token-name", "my laptop", "--browser-timeout", "60", **browser
    )

    assert "/account/cli-login?port=" in said.stderr  # the address is always printed too
    assert said.stdout.startswith(f"Signed in to {server.url} as sso through the browser")
    steps = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(s["step"], s["status"]) for s in steps] == [
        ("page", 200),
        ("confirm", 200),
        ("wrong-state", 400),
        ("callback", 200),
    ]
    assert steps[-1]["host"] == "127.0.0.1" and "You can close this tab" in steps[-1]["text"]

    credentials = tmp_path / "config" / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    kept = json.loads(credentials.read_text())["servers"][server.url]
    token = next(t for t in server.app.state.tracking.store.list_tokens("sso") if t.id == kept["token_id"])
    assert (kept["username"], token.name) == ("sso", "my laptop")
    assert _cairn(tmp_path, "whoami", "--uri", server.url).stdout == "sso (not an admin; signed in by token)\n"


def test_without_an_answer_from_the_browser_login_gives_up_clearly(tmp_path: Path, server: ThreadedServer) -> None:
    said = _cairn(tmp_path, "login", server.url, "--browser", "--browser-timeout", "1", code=1, BROWSER="true")
    assert "no sign-in came back from the browser within 1 seconds" in said.stderr
    assert not (tmp_path / "config" / "credentials.json").exists()
