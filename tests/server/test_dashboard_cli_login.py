"""The dashboard's half of ``cairn login --browser`` (server/ui/cli_login.py), over HTTP: the
confirmation page for a signed-in user, the token its form makes (and the loopback link that
hands it over), the checks of port, state and name, the sign-in detour for a visitor, and the
refusal of a form posted from another site (docs/access.md)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.access_helpers import Team
from tests.helpers import ThreadedServer, free_port

from cairn.core.clock import now_ms
from cairn.server.deps import SESSION_COOKIE
from cairn.server.ui.cli_login import CLI_TOKEN_DAYS
from cairn.settings import ServerSettings

STATE = "s" * 20 + "-_9"
QUERY = {"port": "40123", "state": STATE, "name": "laptop"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedServer]:
    root = tmp_path_factory.mktemp("cli-login")
    settings = ServerSettings(
        store_uri=str(root / "cairn.db"), blobs_uri=str(root / "blobs"), port=free_port(), require_auth=True
    )  # type: ignore[call-arg]
    with ThreadedServer(settings) as running:
        Team(running.app.state.tracking.store).user("ann")
        yield running


@pytest.fixture
def ann(server: ThreadedServer) -> Iterator[httpx.Client]:
    """A browser holding a session of ann's (as after signing in)."""
    tracking = server.app.state.tracking
    session = server.app.state.authenticator.start_session(tracking.store.get_user("ann"), "127.0.0.1")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        client.cookies.set(SESSION_COOKIE, session)
        yield client


def _post(client: httpx.Client, url: str, form: dict[str, str]) -> httpx.Response:
    return client.post("/account/cli-login", data=form, headers={"origin": url, "sec-fetch-site": "same-origin"})


def _match(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found is not None, text[:2000]
    return found[1]


def test_a_signed_in_user_confirms_and_the_link_hands_a_working_token_to_loopback(
    server: ThreadedServer, ann: httpx.Client
) -> None:
    shown = ann.get("/account/cli-login", params=QUERY)
    assert shown.status_code == 200
    assert "Sign the Cairn CLI on this computer in as ann?" in shown.text
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', shown.text))
    assert hidden == QUERY

    done = _post(ann, server.url, hidden)
    assert done.status_code == 200 and done.headers["cache-control"] == "no-store"
    link = html.unescape(_match(r'href="([^"]+)" id="cli-login-callback"', done.text))
    target = urlsplit(link)
    assert (target.scheme, target.netloc, target.path) == ("http", "127.0.0.1:40123", "/callback")
    handed = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert handed["state"] == STATE

    me = httpx.get(f"{server.url}/api/v1/me", headers={"authorization": f"Bearer {handed['token']}"})
    assert me.status_code == 200 and me.json()["username"] == "ann"
    tokens = server.app.state.tracking.store.list_tokens("ann")
    made = next(t for t in tokens if t.id == handed["token_id"])
    assert made.name == "laptop"
    assert made.expires_at is not None
    assert made.expires_at - now_ms() > (CLI_TOKEN_DAYS - 1) * 86_400_000


@pytest.mark.parametrize(
    "change",
    [
        {"port": "80"},
        {"port": "65536"},
        {"port": "12ab"},
        {"port": ""},
        {"state": "short"},
        {"state": "x" * 129},
        {"state": "s" * 20 + "<script>"},
    ],
)
def test_a_bad_port_or_state_is_refused_on_the_page_and_in_the_form(
    server: ThreadedServer, ann: httpx.Client, change: dict[str, str]
) -> None:
    before = len(server.app.state.tracking.store.list_tokens("ann"))
    query = QUERY | change
    shown = ann.get("/account/cli-login", params=query)
    assert shown.status_code == 400 and "invalid_value" in shown.text
    assert _post(ann, server.url, query).status_code == 400
    assert len(server.app.state.tracking.store.list_tokens("ann")) == before


def test_a_bad_token_name_is_refused_by_the_service(server: ThreadedServer, ann: httpx.Client) -> None:
    refused = _post(ann, server.url, QUERY | {"name": "n" * 1000})
    assert refused.status_code == 400 and "invalid_value" in refused.text


def test_a_visitor_goes_to_sign_in_and_comes_back(server: ThreadedServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as visitor:
        sent = visitor.get("/account/cli-login", params=QUERY)
        assert sent.status_code == 303
        back = parse_qs(urlsplit(sent.headers["location"]).query)["next"][0]
        assert urlsplit(sent.headers["location"]).path == "/login"
        assert back.startswith("/account/cli-login?") and f"state={STATE}" in back
        assert _post(visitor, server.url, QUERY).status_code == 401


def test_a_form_posted_from_another_site_makes_no_token(server: ThreadedServer, ann: httpx.Client) -> None:
    before = len(server.app.state.tracking.store.list_tokens("ann"))
    forged = ann.post(
        "/account/cli-login", data=QUERY, headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"}
    )
    assert forged.status_code == 403
    assert "/callback?" not in forged.text
    assert len(server.app.state.tracking.store.list_tokens("ann")) == before
