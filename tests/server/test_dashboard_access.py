"""The dashboard with authentication, over HTTP without a browser: the sign-in page and its
refusals, sessions (sign-out and disabling end them; forged cookies go to the sign-in page),
the account, admin and members pages with their forms, CSRF refusals on the dashboard and the
API, and the security headers (docs/access.md).

One server per module (the real app under uvicorn on a loopback port, ``require_auth``), its
users made through the service as an admin would (tests/access_helpers.Team). Most tests get a
session from the server's own authenticator rather than the sign-in form: the form's attempts
count against the rate limit of 10 a minute per address, which a module of tests would reach;
the form itself is tested a few times, and its rate limit on a server of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.access_helpers import PASSWORD, Team
from tests.helpers import ThreadedServer, free_port
from tests.server.test_dashboard_pages import _handlers_and_inline_scripts

from cairn.core.access import ResourceKind, Role
from cairn.core.errors import Unauthenticated
from cairn.server.deps import SESSION_COOKIE
from cairn.server.ui.signin import WRONG, local_path
from cairn.service.authn import SIGN_IN_ATTEMPTS_PER_MINUTE, Authenticator
from cairn.service.tracking import TrackingService
from cairn.settings import ServerSettings

PROJECT = "vision"
MODEL = "classifier"


@dataclass
class Site:
    url: str
    team: Team
    authenticator: Authenticator

    @property
    def admin(self) -> TrackingService:
        return self.team.admin

    def same_origin(self) -> dict[str, str]:
        """What a browser sends with a form posted from the dashboard's own page."""
        return {"origin": self.url, "sec-fetch-site": "same-origin"}

    def browser(self, username: str) -> httpx.Client:
        """A client holding a new session of ``username`` (as after signing in)."""
        user = self.admin.get_user(username)
        client = httpx.Client(base_url=self.url, timeout=30)
        client.cookies.set(SESSION_COOKIE, self.authenticator.start_session(user, "127.0.0.1"))
        return client

    def post(self, client: httpx.Client, url: str, data: dict[str, str] | None = None) -> httpx.Response:
        return client.post(url, data=data or {}, headers=self.same_origin())


def _settings(root: Path, **extra: object) -> ServerSettings:
    return ServerSettings(
        store_uri=str(root / "cairn.db"), blobs_uri=str(root / "blobs"), port=free_port(), require_auth=True, **extra
    )  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Users: root (global admin), ann (viewer of the project and the model), ed (admin of
    both), bob (no role anywhere)."""
    settings = _settings(tmp_path_factory.mktemp("dashboard-access"))
    with ThreadedServer(settings) as server:
        team = Team(server.app.state.tracking.store)
        team.user("root", is_admin=True)
        for name in ("ann", "ed", "bob"):
            team.user(name)
        team.admin.update_user("ann", display_name="Ann Example")
        team.admin.create_run(PROJECT, name="first")
        team.admin.create_model(MODEL)
        for kind_resource in ({"project": PROJECT}, {"model": MODEL}):
            team.grant("ann", Role.VIEWER, **kind_resource)
            team.grant("ed", Role.ADMIN, **kind_resource)
        yield Site(server.url, team, server.app.state.authenticator)


def redirected(response: httpx.Response, location: str) -> None:
    assert response.status_code == 303, (response.status_code, response.text[:2000])
    assert response.headers["location"] == location


def page(client: httpx.Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    said = re.findall(r'error-message">([^<]*)', response.text)
    assert response.status_code == status, (url, response.status_code, said)
    assert response.headers["content-type"].startswith("text/html"), url
    assert _handlers_and_inline_scripts(response.text) == [], url
    return response.text


def form_error(text: str) -> str:
    found = re.search(r'role="alert"[^>]*><strong>([^<]*)</strong>', text)
    assert found, text[:3000]
    return found.group(1)


# -- signing in -----------------------------------------------------------------------------------


def test_a_page_sends_a_stranger_to_the_sign_in_page_and_back(site: Site) -> None:
    with httpx.Client(base_url=site.url) as stranger:
        redirected(stranger.get("/projects/vision?q=x"), "/login?next=%2Fprojects%2Fvision%3Fq%3Dx")
        text = page(stranger, "/login?next=/projects/vision")
        assert 'name="next" value="/projects/vision"' in text
        assert 'id="sso-sign-in"' not in text  # no single sign-on configured
        assert 'id="sign-out"' not in text and "/viewer" not in text


def test_signing_in_starts_a_session_and_goes_on_to_next(site: Site) -> None:
    with httpx.Client(base_url=site.url) as client:
        response = site.post(
            client, "/login", {"username": "ann", "password": PASSWORD, "next": f"/projects/{PROJECT}"}
        )
        redirected(response, f"/projects/{PROJECT}")
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
        text = page(client, f"/projects/{PROJECT}")
        assert '<span id="signed-in-name">Ann Example</span>' in text
        assert 'id="sign-out"' in text and 'id="project-members"' in text
        # Signed in, the sign-in page goes straight on.
        redirected(client.get("/login?next=/models"), "/models")


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(site: Site) -> None:
    with httpx.Client(base_url=site.url) as client:
        wrong = site.post(client, "/login", {"username": "ann", "password": "not the password at all"})
        unknown = site.post(client, "/login", {"username": "nobody", "password": "not the password at all"})
    assert wrong.status_code == unknown.status_code == 401
    assert form_error(wrong.text) == form_error(unknown.text) == WRONG
    assert wrong.text.replace('value="ann"', "") == unknown.text.replace('value="nobody"', "")
    assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers


def test_past_the_rate_limit_the_page_says_so(tmp_path: Path) -> None:
    with ThreadedServer(_settings(tmp_path)) as server, httpx.Client(base_url=server.url) as client:
        Team(server.app.state.tracking.store).user("ann")
        headers = {"origin": server.url, "sec-fetch-site": "same-origin"}
        for _ in range(SIGN_IN_ATTEMPTS_PER_MINUTE):
            wrong = client.post("/login", data={"username": "ann", "password": "x" * 12}, headers=headers)
            assert wrong.status_code == 401
        # Now even the right password is refused, for a minute.
        limited = client.post("/login", data={"username": "ann", "password": PASSWORD}, headers=headers)
        assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
        assert "Too many sign-in attempts" in form_error(limited.text)
        assert "set-cookie" not in limited.headers


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "/\\evil.example", "https://evil.example/", "javascript:alert(1)", "/\t/evil.example", ""],
)
def test_next_never_leaves_the_site(site: Site, target: str) -> None:
    assert local_path(target) == "/projects"
    with site.browser("ann") as client:
        response = client.get("/login", params={"next": target})
        redirected(response, "/projects")


def test_next_keeps_a_path_and_query_of_the_site() -> None:
    assert local_path("/projects/a/b?q=metrics.acc%20%3E%200.9") == "/projects/a/b?q=metrics.acc%20%3E%200.9"


def test_the_sign_in_page_links_to_single_sign_on_when_configured(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, oidc_issuer="https://id.example.invalid", oidc_client_id="cairn", oidc_display_name="Example ID"
    )
    with ThreadedServer(settings) as server, httpx.Client(base_url=server.url) as client:
        text = page(client, "/login?next=/models/m")
    assert '<a id="sso-sign-in" class="sso-link button" href="/auth/oidc/login?next=%2Fmodels%2Fm">' in text
    assert "Sign in with Example ID</a>" in text


# -- sessions -------------------------------------------------------------------------------------


def test_signing_out_ends_the_session_on_the_server(site: Site) -> None:
    with site.browser("bob") as client:
        secret = client.cookies[SESSION_COOKIE]
        page(client, "/account")
        response = site.post(client, "/logout")
    redirected(response, "/login")
    assert f'{SESSION_COOKIE}=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]
    # The browser forgot it; a copy kept elsewhere is refused too.
    with httpx.Client(base_url=site.url, cookies={SESSION_COOKIE: secret}) as replay:
        redirected(replay.get("/projects"), "/login?next=%2Fprojects")
    with pytest.raises(Unauthenticated):
        site.authenticator.session_principal(secret, None)


def test_disabling_a_user_ends_their_session_at_once(site: Site) -> None:
    site.team.user("dora")
    with site.browser("dora") as client:
        page(client, "/account")
        site.admin.update_user("dora", disabled=True)
        redirected(client.get("/projects"), "/login?next=%2Fprojects")
        # A write is refused too, and nothing changes.
        refused = site.post(client, "/account/tokens", {"name": "late"})
        assert refused.status_code == 401
    assert [t.name for t in site.admin.list_tokens("dora")] == ["tests"]


@pytest.mark.parametrize(
    "cookie",
    ["forged", "", "x" * 5000, "cairn_" + "A" * 43, "%00%ff", '"quoted"'],
    ids=["forged", "empty", "oversized", "token-shaped", "bytes", "quoted"],
)
def test_a_forged_cookie_goes_to_the_sign_in_page(site: Site, cookie: str) -> None:
    headers = {"cookie": f"{SESSION_COOKIE}={cookie}"}
    with httpx.Client(base_url=site.url) as client:
        response = client.get("/projects", headers=headers)
    redirected(response, "/login?next=%2Fprojects")


def test_a_tampered_cookie_goes_to_the_sign_in_page(site: Site) -> None:
    with site.browser("bob") as client:
        secret = client.cookies[SESSION_COOKIE]
    tampered = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    with httpx.Client(base_url=site.url, cookies={SESSION_COOKIE: tampered}) as client:
        redirected(client.get("/account"), "/login?next=%2Faccount")
        htmx = client.get("/account", headers={"HX-Request": "true"})
    assert htmx.headers["hx-redirect"] == "/login?next=%2Faccount"


def test_the_viewer_form_is_gone_with_authentication(site: Site) -> None:
    with site.browser("ann") as client:
        text = page(client, "/projects")
        assert 'action="/viewer"' not in text
        # Signed in, one's name is one's account's: the old form sets nothing and goes back.
        ignored = site.post(client, "/viewer", {"name": "someone else"})
        assert ignored.status_code == 303
        assert "cairn_viewer" not in ignored.headers.get("set-cookie", "")
        assert "someone else" not in page(client, "/projects")


# -- my account -----------------------------------------------------------------------------------


def test_a_token_made_on_the_account_page_is_shown_once_and_works(site: Site) -> None:
    site.team.user("tess")
    with site.browser("tess") as client:
        created = site.post(client, "/account/tokens", {"name": "laptop", "expires_in_days": "30"})
        assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
        [secret] = re.findall(r'id="token-secret">([^<]*)<', created.text)
        assert secret.startswith("cairn_") and "shown only this once" in created.text
        account = page(client, "/account")
        assert secret not in account and secret[:10] in account and "laptop" in account
        # It is a working API token.
        projects = httpx.get(f"{site.url}/api/v1/projects", headers={"authorization": f"Bearer {secret}"})
        assert projects.status_code == 200
        [token] = [t for t in site.admin.list_tokens("tess") if t.name == "laptop"]
        assert token.expires_at is not None
        redirected(site.post(client, f"/account/tokens/{token.id}/revoke"), "/account?notice=token-revoked")
        assert "The token is revoked" in page(client, "/account?notice=token-revoked")
    refused = httpx.get(f"{site.url}/api/v1/projects", headers={"authorization": f"Bearer {secret}"})
    assert refused.status_code == 401


@pytest.mark.parametrize(("form", "says"), [({"name": ""}, "token name"), ({"name": "x", "expires_in_days": "9"}, "")])
def test_a_bad_token_form_is_refused_in_place(site: Site, form: dict[str, str], says: str) -> None:
    with site.browser("bob") as client:
        before = len(site.admin.list_tokens("bob"))
        response = site.post(client, "/account/tokens", form)
    assert response.status_code == 400
    assert says in form_error(response.text)
    assert len(site.admin.list_tokens("bob")) == before


def test_nobody_revokes_someone_elses_token_from_the_dashboard(site: Site) -> None:
    [token] = site.admin.list_tokens("ann")
    with site.browser("bob") as client:
        response = site.post(client, f"/account/tokens/{token.id}/revoke")
    assert response.status_code == 404
    assert site.admin.list_tokens("ann")[0].revoked_at is None


def test_changing_my_password_needs_the_current_one_and_keeps_me_signed_in(site: Site) -> None:
    site.team.user("pat")
    other = site.browser("pat")  # another browser of the same user
    with site.browser("pat") as client:
        wrong = site.post(client, "/account/password", {"current_password": "nope", "new_password": "x" * 20})
        assert wrong.status_code == 403 and "current password is wrong" in form_error(wrong.text)
        weak = site.post(client, "/account/password", {"current_password": PASSWORD, "new_password": "short"})
        assert weak.status_code == 400 and "12 characters" in form_error(weak.text)
        new = "a much better passphrase 77"
        done = site.post(client, "/account/password", {"current_password": PASSWORD, "new_password": new})
        redirected(done, "/account?notice=password-changed")
        assert "set-cookie" in done.headers  # a new session for this browser
        page(client, "/account")
    redirected(other.get("/account"), "/login?next=%2Faccount")
    other.close()
    assert site.authenticator.sign_in("pat", new, "10.0.0.1").username == "pat"


# -- users and teams ------------------------------------------------------------------------------


def test_the_users_page_is_for_admins_only(site: Site) -> None:
    with site.browser("ed") as client:
        assert "only an admin" in page(client, "/admin/users", status=403)
        assert 'id="nav-admin"' not in page(client, "/projects")
        refused = site.post(client, "/admin/users", {"username": "mallory", "password": "x" * 20})
        assert refused.status_code == 403
        assert site.post(client, "/admin/users/ann/disable").status_code == 403
    assert "mallory" not in {u.username for u in site.admin.list_users()}
    assert not site.admin.get_user("ann").disabled


def test_an_admin_creates_disables_enables_and_resets_users(site: Site) -> None:
    with site.browser("root") as client:
        assert 'id="nav-admin"' in page(client, "/projects")
        created = site.post(
            client,
            "/admin/users",
            {"username": "carol", "display_name": "Carol", "email": "c@example.com", "password": PASSWORD},
        )
        redirected(created, "/admin/users?notice=user-created")
        assert 'data-user="carol"' in page(client, "/admin/users")
        carol = site.browser("carol")
        redirected(site.post(client, "/admin/users/carol/disable"), "/admin/users?notice=user-updated")
        assert site.admin.get_user("carol").disabled
        redirected(carol.get("/projects"), "/login?next=%2Fprojects")
        redirected(site.post(client, "/admin/users/carol/enable"), "/admin/users?notice=user-updated")
        redirected(site.post(client, "/admin/users/carol/make-admin"), "/admin/users?notice=user-updated")
        assert site.admin.get_user("carol").is_admin
        redirected(site.post(client, "/admin/users/carol/unmake-admin"), "/admin/users?notice=user-updated")
        assert not site.admin.get_user("carol").is_admin
        reset = site.post(client, "/admin/users/carol/password", {"password": "a brand new passphrase"})
        redirected(reset, "/admin/users?notice=password-reset")
        taken = site.post(client, "/admin/users", {"username": "carol", "password": PASSWORD})
        assert taken.status_code == 409 and "carol" in form_error(taken.text)
        weak = site.post(client, "/admin/users", {"username": "dave", "password": "password"})
        assert weak.status_code == 400
        # The last admin cannot disable themself.
        last = site.post(client, "/admin/users/root/disable")
        assert last.status_code == 403 and "last admin" in form_error(last.text)
        assert site.post(client, "/admin/users/carol/explode").status_code == 400
    assert site.authenticator.sign_in("carol", "a brand new passphrase", "10.0.0.2").username == "carol"
    carol.close()


def test_an_admin_makes_a_service_account_and_its_token(site: Site) -> None:
    with site.browser("root") as client:
        made = site.post(client, "/admin/users", {"username": "ci-bot", "kind": "service", "password": "ignored"})
        redirected(made, "/admin/users?notice=user-created")
        assert site.admin.get_user("ci-bot").is_service
        created = site.post(client, "/admin/users/ci-bot/tokens", {"name": "ci", "expires_in_days": "90"})
        [secret] = re.findall(r'id="token-secret">([^<]*)<', created.text)
        assert httpx.get(f"{site.url}/api/v1/projects", headers={"authorization": f"Bearer {secret}"}).is_success
        [token] = site.admin.list_tokens("ci-bot")
        assert f'data-token="{token.id}"' in page(client, "/admin/users")
        back = site.post(client, f"/account/tokens/{token.id}/revoke", {"back": "admin"})
        redirected(back, "/admin/users?notice=token-revoked")


def test_an_admin_manages_teams(site: Site) -> None:
    with site.browser("root") as client:
        redirected(site.post(client, "/admin/teams", {"name": "vision-team"}), "/admin/users?notice=team-created")
        redirected(
            site.post(client, "/admin/teams/vision-team/members", {"username": "bob"}),
            "/admin/users?notice=team-changed",
        )
        assert site.admin.list_teams()[0].members == ("bob",)
        unknown = site.post(client, "/admin/teams/vision-team/members", {"username": "nobody-at-all"})
        assert unknown.status_code == 404 and "nobody-at-all" in form_error(unknown.text)
        assert 'data-member="bob"' in page(client, "/admin/users")
        site.post(client, "/admin/teams/vision-team/members/bob/remove")
        assert site.admin.list_teams()[0].members == ()
        redirected(site.post(client, "/admin/teams/vision-team/delete"), "/admin/users?notice=team-deleted")
    assert site.admin.list_teams() == []


# -- members ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "name"), [("projects", PROJECT), ("models", MODEL)])
def test_a_viewer_sees_the_members_but_not_the_forms(site: Site, kind: str, name: str) -> None:
    with site.browser("ann") as client:
        text = page(client, f"/{kind}/{name}/members")
        assert 'data-subject="ed"' in text and 'data-subject="ann"' in text
        assert 'id="grant-form"' not in text and "Revoke" not in text
        refused = site.post(client, f"/{kind}/{name}/members", {"subject": "ann", "role": "admin"})
        assert refused.status_code == 403
        revoke = site.post(client, f"/{kind}/{name}/members/revoke", {"subject": "ed"})
        assert revoke.status_code == 403
    resource = ResourceKind.PROJECT if kind == "projects" else ResourceKind.MODEL
    held = {g.subject: g.role for g in site.admin.list_grants(resource, name)}
    assert held["ann"] is Role.VIEWER and held["ed"] is Role.ADMIN


@pytest.mark.parametrize(("kind", "name"), [("projects", PROJECT), ("models", MODEL)])
def test_a_stranger_is_told_the_project_or_model_does_not_exist(site: Site, kind: str, name: str) -> None:
    with site.browser("bob") as client:
        page(client, f"/{kind}/{name}/members", status=404)
        response = site.post(client, f"/{kind}/{name}/members", {"subject": "bob", "role": "admin"})
        assert response.status_code == 404
        assert page(client, f"/{kind}/no-such-thing/members", status=404)
    resource = ResourceKind.PROJECT if kind == "projects" else ResourceKind.MODEL
    assert "bob" not in {g.subject for g in site.admin.list_grants(resource, name)}


@pytest.mark.parametrize(("kind", "name"), [("projects", PROJECT), ("models", MODEL)])
def test_an_admin_of_it_grants_changes_and_revokes(site: Site, kind: str, name: str) -> None:
    resource = ResourceKind.PROJECT if kind == "projects" else ResourceKind.MODEL
    url = f"/{kind}/{name}/members"
    with site.browser("ed") as client:
        assert 'id="grant-form"' in page(client, url)
        redirected(site.post(client, url, {"subject": "bob", "role": "editor"}), f"{url}?notice=granted")
        assert site.admin.acting_as(site.admin.principal).list_grants(resource, name)
        with site.browser("bob") as bob:
            page(bob, url)  # bob now sees it
        redirected(site.post(client, url, {"subject": "bob", "role": "maintainer"}), f"{url}?notice=granted")
        held = {g.subject: g.role for g in site.admin.list_grants(resource, name)}
        assert held["bob"] is Role.MAINTAINER
        bad = site.post(client, url, {"subject": "bob", "role": "owner"})
        assert bad.status_code == 400 and "not a role" in form_error(bad.text)
        nobody = site.post(client, url, {"subject": "nobody-at-all", "role": "viewer"})
        assert nobody.status_code == 404 and "nobody-at-all" in form_error(nobody.text)
        redirected(site.post(client, f"{url}/revoke", {"subject": "bob"}), f"{url}?notice=revoked")
        assert "The role is revoked" in page(client, f"{url}?notice=revoked")
    assert "bob" not in {g.subject for g in site.admin.list_grants(resource, name)}


def test_the_model_has_a_members_tab(site: Site) -> None:
    with site.browser("ann") as client:
        text = page(client, f"/models/{MODEL}")
    assert f'href="/models/{MODEL}/members"' in text


# -- CSRF -----------------------------------------------------------------------------------------


CROSS_SITE = {"origin": "https://evil.example", "sec-fetch-site": "cross-site"}


@pytest.mark.parametrize(
    "headers",
    [
        CROSS_SITE,
        {**CROSS_SITE, "hx-request": "true", "hx-current-url": "https://evil.example/"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site", "origin": "https://other.localhost"},
        {"origin": "https://evil.example"},
        {},  # a session cookie, but neither header: no browser sends that
        {"origin": "null"},
    ],
    ids=["form", "htmx", "fetch-site-only", "same-site", "origin-only", "neither", "null-origin"],
)
def test_a_write_from_another_site_is_refused(site: Site, headers: dict[str, str]) -> None:
    before = len(site.admin.list_tokens("ann"))
    with site.browser("ann") as client:
        response = client.post("/account/tokens", data={"name": "forged"}, headers=headers)
        api = client.post("/api/v1/projects", json={"name": "forged-project"}, headers=headers)
    assert response.status_code == 403, response.text[:2000]
    assert api.status_code == 403, api.text
    assert len(site.admin.list_tokens("ann")) == before
    assert "forged-project" not in {p.name for p in site.admin.list_projects()}


def test_the_api_takes_a_session_cookie_from_the_dashboard_and_a_token_from_anywhere(site: Site) -> None:
    with site.browser("root") as client:
        same = client.post("/api/v1/projects", json={"name": "from-the-page"}, headers=site.same_origin())
        assert same.status_code in (200, 201), same.text
        # Reading with the cookie needs no origin: a cross-site read cannot see the answer.
        assert client.get("/api/v1/projects", headers={"sec-fetch-site": "cross-site"}).status_code == 200
    with httpx.Client(base_url=site.url, headers=site.team.headers("root")) as script:
        assert script.post("/api/v1/projects", json={"name": "from-a-script"}).status_code in (200, 201)


# -- security headers -----------------------------------------------------------------------------


def test_every_response_carries_the_security_headers(site: Site) -> None:
    with site.browser("ann") as client:
        responses = {
            "page": client.get("/projects"),
            "login": httpx.get(f"{site.url}/login"),
            "api": client.get("/api/v1/projects"),
            "error": client.get("/runs/no-such-run"),
            "static": client.get("/static/cairn.css"),
            "health": client.get("/health"),
        }
    for what, response in responses.items():
        assert response.headers["x-frame-options"] == "DENY", what
        assert response.headers["referrer-policy"] == "same-origin", what
        assert response.headers["x-content-type-options"] == "nosniff", what
    for what in ("page", "login", "api", "error"):
        assert responses[what].headers["cache-control"] == "no-store", what
    assert "no-store" not in responses["static"].headers.get("cache-control", "")


# -- without authentication -----------------------------------------------------------------------


def test_without_authentication_there_is_nobody_to_sign_in(tmp_path: Path) -> None:
    settings = ServerSettings(store_uri=str(tmp_path / "cairn.db"), blobs_uri=str(tmp_path / "blobs"), port=free_port())
    with ThreadedServer(settings) as server, httpx.Client(base_url=server.url) as client:
        server.app.state.tracking.create_model(MODEL)
        redirected(client.get("/login?next=/models"), "/models")
        redirected(client.post("/logout"), "/projects")
        response = client.get("/projects")
        assert 'action="/viewer"' in response.text and 'id="sign-out"' not in response.text
        assert "no-store" not in response.headers.get("cache-control", "")
        assert response.headers["x-frame-options"] == "DENY"
        assert f'href="/models/{MODEL}/members"' not in client.get(f"/models/{MODEL}").text
