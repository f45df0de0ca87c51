"""The dashboard's forms over HTTP: comments, notes, saved views and the viewer's name, each
posted as a plain form (303 back to the page) and as HTMX (the section's fragment), with what
the service refuses shown in place and nothing stored.

One server per module; each test writes into a project of its own.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from tests.helpers import ThreadedServer, free_port

from cairn.blobs.local import LocalBlobStore
from cairn.core.entities import Run
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.settings import ServerSettings
from cairn.store.sql import SqlStore

HTMX = {"HX-Request": "true"}


@dataclass
class Site:
    url: str
    tracking: TrackingService


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root: Path = tmp_path_factory.mktemp("dashboard-writes")
    settings = ServerSettings(store_uri=str(root / "cairn.db"), blobs_uri=str(root / "blobs"), port=free_port())
    with ThreadedServer(settings) as server:
        tracking = TrackingService(
            SqlStore(settings.store_uri), Principal("tester"), blobs=LocalBlobStore(Path(settings.blobs_uri))
        )
        try:
            yield Site(server.url, tracking)
        finally:
            tracking.close()


@pytest.fixture
def tracking(site: Site) -> TrackingService:
    return site.tracking


@pytest.fixture
def run(tracking: TrackingService, request: pytest.FixtureRequest) -> Run:
    """A run in a project of this test's own."""
    return tracking.create_run(f"p {request.node.name}", name="the-run", config={"lr": 0.1})


def client(site: Site, viewer: str | None = "ada") -> httpx.Client:
    cookies = {"cairn_viewer": viewer} if viewer else {}
    return httpx.Client(base_url=site.url, timeout=30, follow_redirects=False, cookies=cookies)


@pytest.fixture
def ada(site: Site) -> Iterator[httpx.Client]:
    with client(site, "ada") as http:
        yield http


@pytest.fixture
def bob(site: Site) -> Iterator[httpx.Client]:
    with client(site, "bob") as http:
        yield http


def redirected(response: httpx.Response, location: str) -> None:
    assert response.status_code == 303, response.text[:2000]
    assert response.headers["location"] == location


def fragment(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text[:2000]
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" not in response.text
    return response.text


def error_page(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text[:2000]
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text and "Traceback" not in response.text
    return response.text


# -- comments ---------------------------------------------------------------------------------


def test_comment_add_edit_delete_without_htmx(ada: httpx.Client, tracking: TrackingService, run: Run) -> None:
    redirected(
        ada.post(f"/runs/{run.id}/comments", data={"body": "First **look**\r\nat it"}), f"/runs/{run.id}#comments"
    )
    [comment] = tracking.list_comments(run.id)
    assert (comment.author, comment.body) == ("ada", "First **look**\nat it")
    page = ada.get(f"/runs/{run.id}").text
    assert "First <strong>look</strong>" in page
    assert f'hx-get="/comments/{comment.id}/edit?run={run.id}"' in page  # ada may edit her own

    # The edit form is a fragment for HTMX; asked for as a page, it leads back to the comment.
    redirected(ada.get(f"/comments/{comment.id}/edit", params={"run": run.id}), f"/runs/{run.id}#comment-{comment.id}")
    form = fragment(ada.get(f"/comments/{comment.id}/edit", params={"run": run.id}, headers=HTMX))
    assert f'action="/comments/{comment.id}/edit"' in form and "First **look**\nat it</textarea>" in form

    edited = ada.post(f"/comments/{comment.id}/edit", data={"run": run.id, "body": "Second look"})
    redirected(edited, f"/runs/{run.id}#comments")
    assert [c.body for c in tracking.list_comments(run.id)] == ["Second look"]
    assert "(edited)" in ada.get(f"/runs/{run.id}").text

    redirected(ada.post(f"/comments/{comment.id}/delete", data={"run": run.id}), f"/runs/{run.id}#comments")
    assert tracking.list_comments(run.id) == []


def test_comment_add_edit_delete_with_htmx(ada: httpx.Client, tracking: TrackingService, run: Run) -> None:
    added = fragment(ada.post(f"/runs/{run.id}/comments", data={"body": "Ping @bob about _this_"}, headers=HTMX))
    assert '<span class="mention">@bob</span>' in added and "<em>this</em>" in added
    assert 'id="comment-list"' in added and 'id="comment-form"' in added
    [comment] = tracking.list_comments(run.id)
    assert comment.author == "ada"

    edited = fragment(ada.post(f"/comments/{comment.id}/edit", data={"run": run.id, "body": "Better"}, headers=HTMX))
    assert "<p>Better</p>" in edited and "Ping" not in edited

    deleted = fragment(ada.post(f"/comments/{comment.id}/delete", data={"run": run.id}, headers=HTMX))
    assert "No comments yet." in deleted
    assert tracking.list_comments(run.id) == []


@pytest.mark.parametrize("body", ["", "   \r\n  "])
def test_an_empty_comment_is_refused_in_place(
    ada: httpx.Client, tracking: TrackingService, run: Run, body: str
) -> None:
    answer = fragment(ada.post(f"/runs/{run.id}/comments", data={"body": body}, headers=HTMX))
    assert '<div class="query-error" role="alert">a comment must not be empty</div>' in answer
    assert tracking.list_comments(run.id) == []
    # Without HTMX there is no place to show it in: an error page, and still nothing stored.
    assert "a comment must not be empty" in error_page(ada.post(f"/runs/{run.id}/comments", data={"body": body}), 400)
    assert tracking.list_comments(run.id) == []


def test_an_empty_edit_is_refused_in_place(ada: httpx.Client, tracking: TrackingService, run: Run) -> None:
    comment = tracking.acting_as(Principal("ada")).add_comment(run.id, "keep me")
    answer = fragment(ada.post(f"/comments/{comment.id}/edit", data={"run": run.id, "body": " "}, headers=HTMX))
    assert "a comment must not be empty" in answer
    assert [c.body for c in tracking.list_comments(run.id)] == ["keep me"]


def test_someone_elses_comment_cannot_be_edited_or_deleted(
    bob: httpx.Client, tracking: TrackingService, run: Run
) -> None:
    comment = tracking.acting_as(Principal("ada")).add_comment(run.id, "ada's words")
    page = bob.get(f"/runs/{run.id}").text
    assert "ada's words" in page and f"/comments/{comment.id}/edit" not in page  # no Edit for bob

    refused = error_page(bob.post(f"/comments/{comment.id}/edit", data={"run": run.id, "body": "bob's words"}), 403)
    assert "only &#39;ada&#39;, who wrote this comment, may edit it" in refused
    error_page(bob.post(f"/comments/{comment.id}/delete", data={"run": run.id}), 403)
    with_htmx = bob.post(f"/comments/{comment.id}/delete", data={"run": run.id}, headers=HTMX)
    error_page(with_htmx, 403)
    assert with_htmx.headers["HX-Retarget"] == "body"  # HTMX swaps no error unless told to
    assert [(c.author, c.body) for c in tracking.list_comments(run.id)] == [("ada", "ada's words")]


def test_a_comment_is_found_only_under_its_own_run(ada: httpx.Client, tracking: TrackingService, run: Run) -> None:
    comment = tracking.acting_as(Principal("ada")).add_comment(run.id, "here")
    other = tracking.create_run(run.project, name="other")
    error_page(ada.post(f"/comments/{comment.id}/delete", data={"run": other.id}), 404)
    error_page(ada.get(f"/comments/{comment.id}/edit", params={"run": other.id}), 404)
    assert [c.body for c in tracking.list_comments(run.id)] == ["here"]


# -- notes ------------------------------------------------------------------------------------


def test_notes_save_with_and_without_htmx(ada: httpx.Client, tracking: TrackingService, run: Run) -> None:
    redirected(ada.post(f"/runs/{run.id}/notes", data={"notes": "Plain\r\nsave"}), f"/runs/{run.id}#notes")
    assert tracking.get_run(run.id).notes == "Plain\nsave"

    editor = fragment(ada.get(f"/runs/{run.id}/notes", params={"edit": "1"}, headers=HTMX))
    assert "Plain\nsave</textarea>" in editor
    redirected(ada.get(f"/runs/{run.id}/notes", params={"edit": "1"}), f"/runs/{run.id}#notes")

    saved = fragment(ada.post(f"/runs/{run.id}/notes", data={"notes": "Now **bold**"}, headers=HTMX))
    assert "Now <strong>bold</strong>" in saved and 'id="edit-notes"' in saved
    assert tracking.get_run(run.id).notes == "Now **bold**"
    assert "Now <strong>bold</strong>" in ada.get(f"/runs/{run.id}").text


# -- saved views ------------------------------------------------------------------------------


def test_a_saved_view_opens_the_runs_table_in_its_state(ada: httpx.Client, tracking: TrackingService, run: Run) -> None:
    tracking.create_run(run.project, name="slow-one", config={"lr": 0.001})
    form = {
        "project": run.project,
        "name": "fast lr",
        "q": "params.lr > 0.05",
        "order": "params.lr desc",
        "cols": "name,params.lr",
    }
    saved = ada.post("/views", data=form)
    assert saved.status_code == 303
    view_url = saved.headers["location"]
    assert re.fullmatch(r"/views/[0-9a-zA-Z_-]+", view_url)
    [view] = tracking.list_views(run.project)
    assert (view.name, view.query, view.order_by, list(view.columns), view.created_by) == (
        "fast lr",
        "params.lr > 0.05",
        "params.lr desc",
        ["name", "params.lr"],
        "ada",
    )

    opened = ada.get(view_url)
    quoted_project = run.project.replace(" ", "%20")
    redirected(opened, f"/projects/{quoted_project}?view={view.id}")
    page = ada.get(opened.headers["location"])
    assert page.status_code == 200
    assert 'name="q" value="params.lr &gt; 0.05"' in page.text
    assert re.findall(r'<th class="[^"]*" data-field="([^"]+)"', page.text) == ["name", "params.lr"]
    assert 'class="run-link">the-run</a>' in page.text and "slow-one" not in page.text
    assert "View <strong>fast lr</strong>" in page.text
    assert f'href="/views/{view.id}" class="chip active"' in page.text

    redirected(ada.post(f"/views/{view.id}/delete"), f"/projects/{quoted_project}")
    assert tracking.list_views(run.project) == []
    error_page(ada.get(view_url), 404)


@pytest.mark.parametrize(
    ("field", "value"),
    [("q", "params.lr >"), ("order", "params.lr sideways"), ("cols", "name,bogus"), ("group", "dataset.name")],
)
def test_a_view_that_does_not_parse_is_refused(
    ada: httpx.Client, tracking: TrackingService, run: Run, field: str, value: str
) -> None:
    answer = ada.post("/views", data={"project": run.project, "name": "broken", field: value})
    text = error_page(answer, 400)
    assert "That did not work" in text
    assert tracking.list_views(run.project) == []


def test_a_view_of_an_unknown_project_is_a_404(ada: httpx.Client) -> None:
    error_page(ada.post("/views", data={"project": "no such project", "name": "v"}), 404)


# -- the viewer -------------------------------------------------------------------------------


def test_the_viewer_cookie_names_the_comment_author(site: Site, tracking: TrackingService, run: Run) -> None:
    with client(site, viewer=None) as http:
        answer = http.post("/viewer", data={"name": "  Grace Hopper ", "next": f"/runs/{run.id}"})
        redirected(answer, f"/runs/{run.id}")
        assert unquote(http.cookies["cairn_viewer"]) == "Grace Hopper"
        page = http.get(f"/runs/{run.id}").text
        assert "Commenting as <strong>Grace Hopper</strong>" in page
        http.post(f"/runs/{run.id}/comments", data={"body": "hello"})
    assert [c.author for c in tracking.list_comments(run.id)] == ["Grace Hopper"]


def test_without_a_cookie_the_viewer_is_the_local_user_on_a_loopback_server(
    site: Site, tracking: TrackingService, run: Run
) -> None:
    with client(site, viewer=None) as http:
        http.post(f"/runs/{run.id}/comments", data={"body": "hello"})
    assert [c.author for c in tracking.list_comments(run.id)] == [Principal.local_user().name]


def test_a_viewer_name_beyond_latin_1(site: Site, tracking: TrackingService, run: Run) -> None:
    with client(site, viewer=None) as http:
        redirected(http.post("/viewer", data={"name": "李雷", "next": f"/runs/{run.id}"}), f"/runs/{run.id}")
        assert "Commenting as <strong>李雷</strong>" in http.get(f"/runs/{run.id}").text
        http.post(f"/runs/{run.id}/comments", data={"body": "你好"})
    assert [c.author for c in tracking.list_comments(run.id)] == ["李雷"]


@pytest.mark.parametrize("target", ["//evil.com", "https://evil.com/x", "/\\evil.com", "evil.com", ""])
def test_the_viewer_form_redirects_only_within_the_site(ada: httpx.Client, target: str) -> None:
    answer = ada.post("/viewer", data={"name": "ada", "next": target})
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    if target in ("//evil.com", "https://evil.com/x", "evil.com"):
        assert location == "/projects"


def test_a_blank_viewer_name_is_refused(ada: httpx.Client) -> None:
    text = error_page(ada.post("/viewer", data={"name": "   ", "next": "/projects"}), 400)
    assert "must not be blank" in html.unescape(text)


def test_a_form_posted_from_another_site_is_refused(ada: httpx.Client, tracking: TrackingService, run: Run) -> None:
    before = tracking.list_comments(run.id)
    foreign = ada.post(
        f"/runs/{run.id}/comments", data={"body": "from elsewhere"}, headers={"Origin": "http://evil.example"}
    )
    assert "may not write here" in error_page(foreign, 403)
    assert tracking.list_comments(run.id) == before
    host = ada.base_url.netloc.decode()
    own = ada.post(f"/runs/{run.id}/comments", data={"body": "from here"}, headers={"Origin": f"http://{host}"})
    redirected(own, f"/runs/{run.id}#comments")
    assert [c.body for c in tracking.list_comments(run.id)][-1] == "from here"


def test_a_rebound_name_may_neither_write_nor_read(ada: httpx.Client, tracking: TrackingService, run: Run) -> None:
    """DNS rebinding: evil.example resolves to this server, so the browser sends the page's
    requests here with that Host and a matching Origin."""
    port = ada.base_url.port
    rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    response = ada.post(f"/runs/{run.id}/notes", data={"notes": "rebound"}, headers=rebound)
    assert "invalid_host" in error_page(response, 400)
    assert tracking.get_run(run.id).notes == ""
    read = ada.get(f"/api/v1/runs/{run.id}", headers=rebound)
    assert (read.status_code, read.json()["error"]["code"]) == (400, "invalid_host")
    assert ada.get("/health", headers=rebound).status_code == 200  # reveals nothing


def test_a_form_from_another_port_of_localhost_is_refused(
    ada: httpx.Client, tracking: TrackingService, run: Run
) -> None:
    """Another local web app (a notebook, a dev server) is another site, though its host is allowed."""
    port = ada.base_url.port
    other = ada.post(
        f"/runs/{run.id}/notes",
        data={"notes": "from another app"},
        headers={"Host": f"localhost:{port}", "Origin": f"http://localhost:{port + 1}"},
    )
    assert "may not write here" in error_page(other, 403)
    assert tracking.get_run(run.id).notes == ""
    same = ada.post(
        f"/runs/{run.id}/notes",
        data={"notes": "from here"},
        headers={"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"},
    )
    assert same.status_code == 303
    assert tracking.get_run(run.id).notes == "from here"
