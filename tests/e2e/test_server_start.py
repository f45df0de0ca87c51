"""``cairn server`` refuses to start where serving would be unsafe or wrong, and says why; and
starts where it should, on every way of writing a loopback address."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from cairn.store.sql import SqlStore

pytestmark = pytest.mark.slow


def _cairn_server(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cairn", "server", "--port", "0", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_init_admin_and_insecure_no_auth_do_not_mix(tmp_path: Path) -> None:
    result = _cairn_server("--insecure-no-auth", "--init-admin", "root", "--store", str(tmp_path / "cairn.db"))
    assert result.returncode != 0
    assert "--init-admin" in result.stderr and "choose one" in result.stderr
    assert "Cairn is serving" not in result.stdout


def test_a_store_at_an_unknown_schema_revision_stops_the_start(tmp_path: Path) -> None:
    store = tmp_path / "cairn.db"
    SqlStore(str(store)).close()  # a current store...
    with sqlite3.connect(store) as db:  # ...that a newer Cairn has since migrated
        db.execute("UPDATE alembic_version SET version_num = 'ffff_from_a_newer_cairn'")
    result = _cairn_server("--store", str(store))
    assert result.returncode != 0
    assert "cairn db upgrade" in result.stderr
    assert "ffff_from_a_newer_cairn" in result.stderr
    assert "Cairn is serving" not in result.stdout


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@contextmanager
def _serving(tmp_path: Path, *args: str, stderr: list[str] | None = None) -> Iterator[str]:
    """``cairn server ARGS`` running; yields the address it announces. What it wrote to stderr
    is appended to ``stderr`` once it stopped."""
    command = [sys.executable, "-m", "cairn", "server", "--port", "0", *args]
    command += ["--store", str(tmp_path / "cairn.db"), "--blobs", str(tmp_path / "blobs")]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("Cairn is serving http://"), line
            yield line.split()[3]
        finally:
            process.terminate()
            _, errors = process.communicate(timeout=30)
            if stderr is not None:
                stderr.append(errors)


def test_sign_in_is_required_by_default(tmp_path: Path) -> None:
    said: list[str] = []
    with _serving(tmp_path, stderr=said) as url:
        assert httpx.get(f"{url}/health", timeout=30).status_code == 200
        refused = httpx.get(f"{url}/api/v1/projects", timeout=30)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthenticated"
    assert "No users yet" in said[0] and "--init-admin" in said[0]
    assert "WARNING" not in said[0]


def test_without_sign_in_every_start_warns(tmp_path: Path) -> None:
    for _ in range(2):
        said: list[str] = []
        with _serving(tmp_path, "--insecure-no-auth", stderr=said) as url:
            assert httpx.get(f"{url}/api/v1/projects", timeout=30).status_code == 200
        assert "WARNING: sign-in is off (--insecure-no-auth)" in said[0]


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="this machine has no IPv6 loopback")
@pytest.mark.parametrize("host", ["[::1]", "::1"])
def test_the_ipv6_loopback_is_served_bracketed_or_bare(tmp_path: Path, host: str) -> None:
    with _serving(tmp_path, "--host", host, "--insecure-no-auth") as url:
        assert url.startswith("http://[::1]:")
        # The Host header is "[::1]:PORT": the host check takes it for the bound address.
        response = httpx.get(f"{url}/api/v1/projects", timeout=30)
        assert response.status_code == 200, response.text


def test_allowed_hosts_name_the_hosts_answered_besides_loopback(tmp_path: Path) -> None:
    with _serving(tmp_path, "--allowed-hosts", "cairn.example.com,*.internal", "--insecure-no-auth") as url:
        for host, status in (("cairn.example.com", 200), ("a.internal", 200), ("evil.example", 400)):
            response = httpx.get(f"{url}/api/v1/projects", headers={"Host": host}, timeout=30)
            assert response.status_code == status, host
