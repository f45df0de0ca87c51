"""Single sign-on in a real Chromium: from the dashboard to the loopback identity provider's
sign-in form (tests/oidc_provider.py) and back, signed in (docs/access.md, "Single sign-on")."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.access_helpers import Team
from tests.helpers import ThreadedServer, free_port
from tests.oidc_provider import OidcProvider, ProviderUser

from cairn.server.oidc import CALLBACK_PATH
from cairn.settings import ServerSettings
from cairn.store.base import MetadataStore

pytestmark = pytest.mark.browser

ANN = ProviderUser(
    "ann",
    "ann's provider password",
    sub="sub-ann",
    name="Ann Lee",
    email="ann@example.com",
    groups=["ml"],
    preferred_username="ann",
)


@dataclass
class SsoServer:
    url: str
    store: MetadataStore


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SsoServer]:
    """A Cairn server that requires sign-in and signs users in at a provider on loopback."""
    root: Path = tmp_path_factory.mktemp("sso-server")
    with OidcProvider() as provider:
        provider.add_user(ANN)
        settings = ServerSettings(
            store_uri=str(root / "cairn.db"),
            blobs_uri=str(root / "blobs"),
            port=free_port(),
            require_auth=True,
            oidc_issuer=provider.issuer,
            oidc_client_id=provider.client.client_id,
            oidc_client_secret=provider.client.client_secret,
        )
        with ThreadedServer(settings) as server:
            provider.allow_redirect(server.url + CALLBACK_PATH)
            store: MetadataStore = server.app.state.tracking.store
            Team(store).admin.create_team("ml")
            yield SsoServer(server.url, store)


def _sign_in_at_the_provider(page: Page) -> None:
    expect(page.locator("h1")).to_have_text("Sign in to the test identity provider")
    page.fill("#provider-username", ANN.username)
    page.fill("#provider-password", ANN.password)
    page.click("#provider-sign-in")


def test_sign_on_from_the_login_address_comes_back_signed_in(page: Page, sso_server: SsoServer) -> None:
    """Straight to /auth/oidc/login, coming back to an API address: whether the browser holds a
    session shows in its answer, whatever the dashboard's pages make of it."""
    projects = f"{sso_server.url}/api/v1/projects"
    assert page.request.get(projects).status == 401
    # A JSON answer has no icon and the browser asks /favicon.ico for one: not this test's matter.
    page.route(f"{sso_server.url}/favicon.ico", lambda route: route.fulfill(status=204))
    page.goto(f"{sso_server.url}/auth/oidc/login?next=/api/v1/projects")
    with page.expect_response(lambda response: CALLBACK_PATH in response.url) as callback:
        _sign_in_at_the_provider(page)
    assert callback.value.status == 303
    assert callback.value.headers["location"] == "/api/v1/projects"
    page.wait_for_url(projects)
    expect(page.locator("body")).to_contain_text('"projects"')
    # The context shares the page's cookies: its requests carry the session too.
    assert page.request.get(projects).status == 200
    assert sso_server.store.get_user("ann").source.startswith("http://127.0.0.1:")
    assert sso_server.store.teams_of("ann") == ["ml"]


def test_sign_on_from_the_dashboard_login_page(page: Page, sso_server: SsoServer) -> None:
    """The path a person takes: a page, the sign-in page, its single sign-on link, the provider,
    and back on the page, signed in."""
    login = page.request.get(f"{sso_server.url}/login?next=/projects")
    if login.status != 200 or 'id="sso-sign-in"' not in login.text():
        pytest.skip("the dashboard's /login page has no #sso-sign-in link (yet)")
    page.goto(f"{sso_server.url}/projects")
    page.wait_for_url(re.compile(re.escape(f"{sso_server.url}/login")))
    page.click("#sso-sign-in")
    _sign_in_at_the_provider(page)
    page.wait_for_url(f"{sso_server.url}/projects")
    expect(page.locator("header")).to_contain_text(re.compile(r"\bann\b|Ann Lee"))
