"""Signing in to the dashboard in a real Chromium, on a server that requires it: the sign-in
page, the signed-in user in the header, the account page's token shown once, signing out, a
session ended by an admin disabling the user, and ``next`` that never leaves the site
(docs/access.md).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect
from tests.access_helpers import PASSWORD, Team
from tests.helpers import ThreadedServer, free_port

from cairn.cli.browser_login import CallbackListener
from cairn.core.access import Role
from cairn.settings import ServerSettings

pytestmark = pytest.mark.browser

PROJECT = "vision"


@dataclass
class Site:
    url: str
    team: Team


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("sign-in")
    settings = ServerSettings(
        store_uri=str(root / "cairn.db"), blobs_uri=str(root / "blobs"), port=free_port(), require_auth=True
    )
    with ThreadedServer(settings) as server:
        team = Team(server.app.state.tracking.store)
        team.user("root", is_admin=True)
        for name, display in (("ann", "Ann Example"), ("dora", "Dora Example")):
            team.user(name)
            team.admin.update_user(name, display_name=display)
        team.admin.create_run(PROJECT, name="first-run")
        team.grant("ann", Role.VIEWER, project=PROJECT)
        team.grant("dora", Role.VIEWER, project=PROJECT)
        yield Site(server.url, team)


def sign_in(page: Page, username: str) -> None:
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#sign-in-button")


def test_sign_in_make_a_token_and_sign_out(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/projects/{PROJECT}")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fprojects%2Fvision$"))
    sign_in(page, "ann")
    expect(page).to_have_url(f"{site.url}/projects/{PROJECT}")
    expect(page.locator("#signed-in-name")).to_have_text("Ann Example")
    expect(page.locator("#sign-out")).to_be_visible()
    expect(page.locator("details.viewer")).to_have_count(0)
    expect(page.get_by_text("first-run")).to_be_visible()

    page.click("#nav-account")
    expect(page).to_have_url(f"{site.url}/account")
    page.fill("#token-name", "laptop")
    page.click("#create-token")
    secret = page.locator("#token-secret").inner_text()
    assert secret.startswith("cairn_")
    page.click("#back-to-account")
    expect(page.locator("#tokens-table")).to_contain_text("laptop")
    assert secret not in page.content()

    page.click("#sign-out")
    expect(page).to_have_url(f"{site.url}/login")
    page.goto(f"{site.url}/projects/{PROJECT}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.locator("#sign-in-form")).to_be_visible()


def test_disabling_the_user_ends_their_session_at_once(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/login")
    sign_in(page, "dora")
    expect(page.locator("#signed-in-name")).to_have_text("Dora Example")
    site.team.admin.update_user("dora", disabled=True)
    page.goto(f"{site.url}/projects/{PROJECT}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    site.team.admin.update_user("dora", disabled=False)


def test_next_never_sends_a_person_to_another_site(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/login?next=//evil.example")
    sign_in(page, "ann")
    expect(page).to_have_url(f"{site.url}/projects")
    expect(page.locator("#signed-in-name")).to_have_text("Ann Example")


def test_the_cli_is_signed_in_through_the_dashboard(page: Page, site: Site, violations: list[str]) -> None:
    """``cairn login --browser``'s browser half: signing in on the way, the confirmation, and
    the link to the CLI's loopback listener, which the Content-Security-Policy lets through."""
    state = "browser-test-state-0123"
    with CallbackListener(state) as listener:
        port = listener.server_address[1]
        waiting = threading.Thread(target=listener.handle_request, daemon=True)
        waiting.start()
        page.goto(f"{site.url}/account/cli-login?port={port}&state={state}&name=chromium")
        expect(page).to_have_url(re.compile(r"/login\?next=%2Faccount%2Fcli-login%3Fport"))
        sign_in(page, "dora")
        expect(page.locator("#cli-login h1")).to_have_text("Sign the Cairn CLI on this computer in as dora?")
        page.click("#cli-login-confirm")
        page.click("#cli-login-callback")
        expect(page).to_have_url(re.compile(rf"^http://127\.0\.0\.1:{port}/callback\?"))
        expect(page.get_by_text("You can close this tab")).to_be_visible()
        waiting.join(timeout=30)
    assert listener.handed is not None
    names = {t.name for t in site.team.store.list_tokens("dora") if t.id == listener.handed.token_id}
    assert names == {"chromium"}
