"""The Host allow-list (server/hosts.py): which names a server answers to, and how it refuses
the others: the API with the JSON envelope, the dashboard with a page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.helpers import ThreadedServer, free_port

from cairn.server.hosts import AllowedHosts, host_name
from cairn.settings import ServerSettings


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost:5055", "localhost"),
        ("LocalHost", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]:5055", "::1"),
        ("[::1]", "::1"),
        ("::1", "::1"),  # a bound address, as --host gives it
        ("cairn.example.com:443", "cairn.example.com"),
        ("", None),
        ("[::1", None),
        ("[::1]junk", None),
    ],
)
def test_host_name(header: str, name: str | None) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize(
    ("bound", "extra", "allowed", "refused"),
    [
        ("127.0.0.1", (), ["localhost", "127.0.0.1", "127.0.0.2", "::1"], ["evil.example", "10.0.0.5", None]),
        ("::1", (), ["::1", "localhost"], ["evil.example"]),
        ("10.0.0.5", (), ["10.0.0.5", "localhost"], ["10.0.0.6", "evil.example"]),
        ("0.0.0.0", (), ["10.0.0.5", "fe80::1", "localhost"], ["evil.example", "cairn.example.com"]),
        ("127.0.0.1", ("cairn.example.com",), ["cairn.example.com"], ["evil.example", "x.cairn.example.com"]),
        ("127.0.0.1", ("*.example.com",), ["cairn.example.com", "a.b.example.com"], ["example.com", "evilexample.com"]),
        ("127.0.0.1", ("*",), ["evil.example", "anything"], []),
    ],
)
def test_allowed_hosts(bound: str, extra: tuple[str, ...], allowed: list[str], refused: list[str | None]) -> None:
    hosts = AllowedHosts(bound, extra)
    assert [h for h in allowed if not hosts.allows(h)] == []
    assert [h for h in refused if hosts.allows(h)] == []


def _server(tmp_path: Path, **options: Any) -> ThreadedServer:
    return ThreadedServer(
        ServerSettings(
            store_uri=str(tmp_path / "cairn.db"), blobs_uri=str(tmp_path / "blobs"), port=free_port(), **options
        )
    )


def test_a_foreign_host_is_refused_by_the_api_and_the_dashboard(tmp_path: Path) -> None:
    with _server(tmp_path) as server, httpx.Client(base_url=server.url, headers={"Host": "evil.example"}) as client:
        api = client.get("/api/v1/projects")
        assert api.status_code == 400
        assert api.json()["error"]["code"] == "invalid_host"
        assert "--allowed-hosts" in api.json()["error"]["message"]
        page = client.get("/projects")
        assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
        assert "invalid_host" in page.text and "content-security-policy" in page.headers
        assert client.get("/static/cairn.js").status_code == 400
        assert client.get("/health").status_code == 200


def test_a_proxys_name_is_answered_and_its_forms_accepted(tmp_path: Path) -> None:
    proxied = {"Host": "cairn.example.com"}
    with (
        _server(tmp_path, allowed_hosts=("cairn.example.com",)) as server,
        httpx.Client(base_url=server.url, headers=proxied) as client,
    ):
        assert client.get("/api/v1/projects").status_code == 200
        run = client.post("/api/v1/runs", json={"project": "p", "name": "r"}).json()
        # The proxy ends TLS on 443 and forwards to the server's own port: the Origin's port
        # is the proxy's, which listing the name allows.
        notes = f"/runs/{run['id']}/notes"
        saved = client.post(notes, data={"notes": "via the proxy"}, headers={"Origin": "https://cairn.example.com"})
        assert saved.status_code == 303
        assert client.get(f"/api/v1/runs/{run['id']}").json()["notes"] == "via the proxy"
        foreign = client.post(notes, data={"notes": "rebound"}, headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403
        assert client.get(f"/api/v1/runs/{run['id']}").json()["notes"] == "via the proxy"
