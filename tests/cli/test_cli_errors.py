"""Failures are one clean ``Error: MESSAGE [code]`` line and a non-zero exit, never a traceback;
the code is the error's stable code (docs/errors.md), and failures that are not Cairn's own have
none."""

from __future__ import annotations

import socket

from .helpers import Invoke


def test_an_unreachable_server(invoke: Invoke) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = invoke("projects", "list", "--uri", f"http://127.0.0.1:{port}", code=1)
    assert result.stderr.startswith(f"Error: cannot reach the Cairn server at http://127.0.0.1:{port}")
    assert result.stderr.endswith(" [unavailable]\n")
    assert result.stderr.count("\n") == 1


def test_an_unknown_store_scheme(invoke: Invoke) -> None:
    result = invoke("runs", "list", "p", "--uri", "mysql://db/cairn", code=1)
    assert result.stderr.startswith("Error: no metadata store for 'mysql' URIs")
    assert result.stderr.endswith(" [invalid_request]\n") and result.stderr.count("\n") == 1


def test_a_store_path_that_cannot_be_created(invoke: Invoke) -> None:
    result = invoke("projects", "list", "--uri", "/proc/cairn/cli.db", code=1)
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1 and not result.stderr.endswith("]\n")  # the OS's error: no code


def test_usage_errors_exit_2(invoke: Invoke) -> None:
    assert "Missing argument 'PROJECT'" in invoke("runs", "list", code=2).stderr
    assert "No such command" in invoke("nonsense", code=2).stderr
