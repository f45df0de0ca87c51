"""Single sign-on with OpenID Connect, end to end over HTTP against a real provider on loopback
(tests/oidc_provider.py): the test plays the browser, following each redirect by hand and
filling in the provider's sign-in form (docs/access.md, "Single sign-on")."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.access_helpers import Team
from tests.helpers import ThreadedServer, free_port
from tests.oidc_provider import OidcProvider, ProviderUser

from cairn.core.events import EventType
from cairn.server.oidc import CALLBACK_PATH, STATE_COOKIE
from cairn.settings import ServerSettings
from cairn.store.base import MetadataStore

ANN = ProviderUser(
    "ann",
    "ann's provider password",
    sub="sub-ann",
    name="Ann Lee",
    email="ann@example.com",
    groups=["ml", "not-a-cairn-team"],
    preferred_username="ann",
)


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with OidcProvider() as running:
        yield running


@pytest.fixture
def idp(provider: OidcProvider) -> Iterator[OidcProvider]:
    """The module's provider, behaving and with ANN only, whatever the last test did."""
    provider.fault = None
    provider.groups_in_id_token = True
    provider.users = {ANN.username: ANN}
    yield provider


def _settings(tmp_path: Path, issuer: str | None, provider: OidcProvider) -> ServerSettings:
    return ServerSettings(
        store_uri=str(tmp_path / "cairn.db"),
        blobs_uri=str(tmp_path / "blobs"),
        port=free_port(),
        require_auth=True,
        oidc_issuer=issuer,
        oidc_client_id=provider.client.client_id,
        oidc_client_secret=provider.client.client_secret,
    )


class Cairn(httpx.Client):
    """The browser's requests to a Cairn server with single sign-on, and that server's store."""

    def __init__(self, server: ThreadedServer) -> None:
        super().__init__(base_url=server.url, timeout=30)
        self.store: MetadataStore = server.app.state.tracking.store


@contextlib.contextmanager
def _cairn(tmp_path: Path, issuer: str | None, idp: OidcProvider) -> Iterator[Cairn]:
    settings = _settings(tmp_path, issuer, idp)
    with ThreadedServer(settings) as server, Cairn(server) as client:
        idp.allow_redirect(server.url + CALLBACK_PATH)
        yield client


@pytest.fixture
def cairn(tmp_path: Path, idp: OidcProvider) -> Iterator[Cairn]:
    with _cairn(tmp_path, idp.issuer, idp) as client:
        yield client


@pytest.fixture
def browser_at_provider() -> Iterator[httpx.Client]:
    """The browser's requests to the provider (its form and its redirect back)."""
    with httpx.Client(timeout=30) as client:
        yield client


def _to_provider(cairn: Cairn, next_path: str = "/projects") -> str:
    started = cairn.get("/auth/oidc/login", params={"next": next_path}, follow_redirects=False)
    assert started.status_code == 303, started.text
    return started.headers["location"]


def _provider_form(browser: httpx.Client, authorize_url: str, user: ProviderUser) -> str:
    """Sign in on the provider's form; the address it sends the browser back to."""
    form = browser.get(authorize_url)
    assert form.status_code == 200 and "provider-sign-in" in form.text, form.text
    answered = browser.post(authorize_url, data={"username": user.username, "password": user.password})
    assert answered.status_code == 302, answered.text
    return answered.headers["location"]


def _sign_in(
    cairn: Cairn, browser: httpx.Client, user: ProviderUser = ANN, next_path: str = "/projects"
) -> httpx.Response:
    callback = _provider_form(browser, _to_provider(cairn, next_path), user)
    return cairn.get(callback, follow_redirects=False)


def _signed_in(cairn: Cairn) -> bool:
    answer = cairn.get("/api/v1/projects")
    assert answer.status_code in (200, 401), answer.text
    return answer.status_code == 200


def _events(cairn: Cairn, *types: EventType) -> list[tuple[str, str, dict[str, object]]]:
    found = cairn.store.list_events(
        types=types, subject=None, subject_prefix=False, actor=None, since=None, until=None, before_seq=None, limit=100
    )
    return [(event.type.value, event.subject, dict(event.data)) for event in reversed(found)]


def test_the_authorization_request_has_pkce_state_and_nonce(cairn: Cairn, idp: OidcProvider) -> None:
    query = parse_qs(urlsplit(_to_provider(cairn)).query)
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [idp.client.client_id]
    assert query["redirect_uri"] == [f"{cairn.base_url}".rstrip("/") + CALLBACK_PATH]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url of a SHA-256
    assert len(query["state"][0]) >= 40 and len(query["nonce"][0]) >= 40
    assert "openid" in query["scope"][0].split()
    cookie = cairn.cookies.get(STATE_COOKIE)
    assert cookie == query["state"][0]


def test_first_sign_in_provisions_the_user_joins_teams_and_a_second_reuses_them(
    cairn: Cairn, browser_at_provider: httpx.Client, idp: OidcProvider
) -> None:
    team = Team(cairn.store)
    team.admin.create_team("ml")
    assert not _signed_in(cairn)

    done = _sign_in(cairn, browser_at_provider, next_path="/projects?q=1")
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/projects?q=1"
    assert _signed_in(cairn)
    cookie_header = "; ".join(done.headers.get_list("set-cookie"))
    assert "httponly" in cookie_header.lower() and "samesite=lax" in cookie_header.lower()

    user = cairn.store.get_user("ann")
    assert (user.display_name, user.email, user.source, user.is_admin) == (
        "Ann Lee",
        "ann@example.com",
        idp.issuer,
        False,
    )
    assert cairn.store.teams_of("ann") == ["ml"]  # "not-a-cairn-team" names no team: ignored
    assert _events(cairn, EventType.USER_CREATED, EventType.USER_SIGNED_IN, EventType.TEAM_MEMBER_ADDED) == [
        ("user.created", "users/ann", {"source": idp.issuer, "via": "sso", "address": "127.0.0.1"}),
        ("team.member_added", "teams/ml", {"user": "ann", "via": "sso", "address": "127.0.0.1"}),
        ("user.signed_in", "users/ann", {"via": "sso", "address": "127.0.0.1"}),
    ]
    # The token request carried the PKCE verifier and the client's secret in HTTP Basic.
    assert idp.token_requests[-1]["code_verifier"] and "client_secret" not in idp.token_requests[-1]

    cairn.cookies.clear()
    again = _sign_in(cairn, browser_at_provider)
    assert again.status_code == 303 and _signed_in(cairn)
    assert [u.username for u in cairn.store.list_users()] == ["ann"]
    assert [e[0] for e in _events(cairn, EventType.USER_CREATED)] == ["user.created"]
    assert [e[0] for e in _events(cairn, EventType.USER_SIGNED_IN)] == ["user.signed_in"] * 2


def test_groups_only_in_userinfo_still_map_to_teams(
    cairn: Cairn, browser_at_provider: httpx.Client, idp: OidcProvider
) -> None:
    Team(cairn.store).admin.create_team("ml")
    idp.groups_in_id_token = False
    assert _sign_in(cairn, browser_at_provider).status_code == 303
    assert cairn.store.teams_of("ann") == ["ml"]


def test_a_replayed_callback_is_refused(cairn: Cairn, browser_at_provider: httpx.Client) -> None:
    callback = _provider_form(browser_at_provider, _to_provider(cairn), ANN)
    state_cookie = cairn.cookies.get(STATE_COOKIE)
    assert cairn.get(callback, follow_redirects=False).status_code == 303
    cairn.cookies.clear()
    cairn.cookies.set(STATE_COOKIE, state_cookie or "")
    replayed = cairn.get(callback, follow_redirects=False)
    assert replayed.status_code == 401
    assert "sign-in expired or was already used" in replayed.text and "sso_failed" in replayed.text
    assert 'id="sso-try-again" href="/auth/oidc/login?next=%2Fprojects"' in replayed.text
    assert not _signed_in(cairn)


def test_a_tampered_state_is_refused_and_spends_nothing(cairn: Cairn, browser_at_provider: httpx.Client) -> None:
    callback = _provider_form(browser_at_provider, _to_provider(cairn), ANN)
    parts = urlsplit(callback)
    query = parse_qs(parts.query)
    tampered = f"{CALLBACK_PATH}?code={query['code'][0]}&state={query['state'][0][:-2]}xy"
    refused = cairn.get(tampered, follow_redirects=False)
    assert refused.status_code == 401 and "sso_failed" in refused.text
    assert not _signed_in(cairn)


def test_a_state_from_another_browser_is_refused(cairn: Cairn, browser_at_provider: httpx.Client) -> None:
    """A link carrying someone else's sign-in (login CSRF): this browser never started it."""
    callback = _provider_form(browser_at_provider, _to_provider(cairn), ANN)
    cairn.cookies.clear()
    refused = cairn.get(callback, follow_redirects=False)
    assert refused.status_code == 401
    assert not _signed_in(cairn)


@pytest.mark.parametrize(
    ("fault", "logged"),
    [
        ("wrong_nonce", "Invalid claim: 'nonce'"),
        ("wrong_audience", "Invalid claim: 'aud'"),
        ("expired", "The token is expired"),
        ("unpublished_key", "bad_signature"),
    ],
)
def test_an_id_token_that_does_not_verify_is_refused(
    cairn: Cairn,
    browser_at_provider: httpx.Client,
    idp: OidcProvider,
    fault: str,
    logged: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    idp.fault = fault
    refused = _sign_in(cairn, browser_at_provider)
    assert refused.status_code == 401, refused.text
    # The page says the answer did not verify; only the server's log says which check failed.
    assert "could not be verified" in refused.text and logged not in refused.text
    assert logged in caplog.text
    assert not _signed_in(cairn)
    assert cairn.store.list_users() == []


def test_the_provider_refusing_the_code_is_refused(cairn: Cairn, browser_at_provider: httpx.Client) -> None:
    callback = _provider_form(browser_at_provider, _to_provider(cairn), ANN)
    query = parse_qs(urlsplit(callback).query)
    # A code the provider never issued, with this browser's genuine state.
    forged = f"{CALLBACK_PATH}?code=not-a-code&state={query['state'][0]}"
    refused = cairn.get(forged, follow_redirects=False)
    assert refused.status_code == 401 and "could not be verified" in refused.text


def test_a_declined_sign_in_says_so(cairn: Cairn) -> None:
    state = parse_qs(urlsplit(_to_provider(cairn)).query)["state"][0]
    declined = cairn.get(f"{CALLBACK_PATH}?error=access_denied&state={state}", follow_redirects=False)
    assert declined.status_code == 401 and "did not sign you in" in declined.text


def test_an_issuer_nobody_answers_at_gives_the_page_with_a_message(tmp_path: Path, idp: OidcProvider) -> None:
    silent = f"http://127.0.0.1:{free_port()}"
    with _cairn(tmp_path, silent, idp) as client:
        answer = client.get("/auth/oidc/login", params={"next": "/models"}, follow_redirects=False)
    assert answer.status_code == 401
    assert "could not be reached" in answer.text
    assert 'href="/auth/oidc/login?next=%2Fmodels"' in answer.text


def test_an_issuer_whose_discovery_names_another_issuer_is_refused(tmp_path: Path, idp: OidcProvider) -> None:
    # The provider answers at 127.0.0.1; configured as "localhost" its document names another.
    other = idp.issuer.replace("127.0.0.1", "localhost")
    with _cairn(tmp_path, other, idp) as client:
        answer = client.get("/auth/oidc/login", follow_redirects=False)
    assert answer.status_code == 401 and "answered wrongly" in answer.text


def test_a_disabled_user_is_refused(cairn: Cairn, browser_at_provider: httpx.Client) -> None:
    assert _sign_in(cairn, browser_at_provider).status_code == 303
    Team(cairn.store).admin.update_user("ann", disabled=True)
    cairn.cookies.clear()
    refused = _sign_in(cairn, browser_at_provider)
    assert refused.status_code == 401
    assert not _signed_in(cairn)
    assert _events(cairn, EventType.USER_SIGN_IN_FAILED)[-1][2] == {"via": "sso", "address": "127.0.0.1"}


def test_a_local_account_of_the_same_name_is_not_taken_over(cairn: Cairn, browser_at_provider: httpx.Client) -> None:
    Team(cairn.store).user("ann", is_admin=True)
    refused = _sign_in(cairn, browser_at_provider)
    assert refused.status_code == 409
    assert "local account named &#39;ann&#39;" in refused.text
    assert not _signed_in(cairn)
    assert cairn.store.get_user("ann").source == "local"


def test_another_identity_with_the_same_name_gets_a_name_of_its_own(
    cairn: Cairn, browser_at_provider: httpx.Client, idp: OidcProvider
) -> None:
    other_ann = idp.add_user(ProviderUser("ann2", "another password!", sub="sub-other-ann", preferred_username="ann"))
    assert _sign_in(cairn, browser_at_provider).status_code == 303
    cairn.cookies.clear()
    assert _sign_in(cairn, browser_at_provider, other_ann).status_code == 303
    assert {(u.username, u.source) for u in cairn.store.list_users()} == {("ann", idp.issuer), ("ann-2", idp.issuer)}


def test_without_preferred_username_the_email_or_the_subject_names_the_user(
    cairn: Cairn, browser_at_provider: httpx.Client, idp: OidcProvider
) -> None:
    by_email = idp.add_user(ProviderUser("bo", "bo's password!", sub="sub-bo", email="bo.smith@example.com"))
    by_sub = idp.add_user(ProviderUser("cy", "cy's password!", sub="|cy subject|"))
    assert _sign_in(cairn, browser_at_provider, by_email).status_code == 303
    cairn.cookies.clear()
    assert _sign_in(cairn, browser_at_provider, by_sub).status_code == 303
    assert {u.username for u in cairn.store.list_users()} == {"bo.smith", "cy-subject-"}


def test_next_never_leaves_the_site(cairn: Cairn, browser_at_provider: httpx.Client) -> None:
    done = _sign_in(cairn, browser_at_provider, next_path="//evil.example/x")
    assert done.status_code == 303 and done.headers["location"] == "/projects"


def test_without_an_issuer_the_routes_answer_404(tmp_path: Path, idp: OidcProvider) -> None:
    with _cairn(tmp_path, None, idp) as client:
        assert client.get("/auth/oidc/login", follow_redirects=False).status_code == 404
        assert client.get(CALLBACK_PATH, follow_redirects=False).status_code == 404
