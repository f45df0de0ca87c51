"""The review pages over HTTP, without a browser: the model's Reviews tab, the protections on
the Aliases tab, a review's page with its checks, comparison and thread; every write a form post
that comes back with a redirect (303), or with the page and the service's refusal in place
(its code and message, what was typed kept, nothing stored); forms from another site refused;
unknown or malformed review ids an error page, not a 500; no markup from the data.

One server per module (the real app under uvicorn on a loopback port), seeded through a
TrackingService on the same database: two versions of a model from tiny logged model folders,
@champion on v1 and protected (one approval, a params condition), a review of v2 opened by "ada"
with markup in its description. The viewer is the ``cairn_viewer`` cookie, as the header form
sets it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.contract.test_registry import trained_run
from tests.helpers import ThreadedServer, free_port
from tests.server.test_dashboard_pages import ATTRIBUTE_XSS, ESCAPED_XSS, XSS, _handlers_and_inline_scripts

from cairn.blobs.local import LocalBlobStore
from cairn.core.reviews import Review
from cairn.server.ui.events import subject_href
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.settings import ServerSettings
from cairn.store.sql import SqlStore

MODEL = "clf"
CHECK = "params.lr >= 0.05"
CHECK_HTML = "params.lr &gt;= 0.05"
EVIL = {"Origin": "http://evil.example"}


@dataclass
class Site:
    client: httpx.Client
    tracking: TrackingService
    review: Review  # of v2 for @champion, by ada, with XSS in its description


def _client(site: Site, viewer: str) -> httpx.Client:
    site.client.cookies.set("cairn_viewer", viewer)
    return site.client


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root: Path = tmp_path_factory.mktemp("dashboard-reviews")
    settings = ServerSettings(store_uri=str(root / "cairn.db"), blobs_uri=str(root / "blobs"), port=free_port())
    tracking = TrackingService(
        SqlStore(settings.store_uri), Principal("tester"), blobs=LocalBlobStore(settings.blobs_uri)
    )
    for weights in (b"weights one", b"weights two"):
        tracking.register_model(f"runs:/{trained_run(tracking, root, weights)}/model", MODEL)
    tracking.set_model_alias(MODEL, "champion", 1)
    tracking.protect_alias(MODEL, "champion", approvals=1, checks=[CHECK])
    review = tracking.acting_as(Principal("ada")).open_review(
        MODEL, 2, "champion", description=f"**faster** {XSS}{ATTRIBUTE_XSS}"
    )
    try:
        with ThreadedServer(settings) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            yield Site(client, tracking, review)
    finally:
        tracking.close()


def page(client: httpx.Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.text[:2000])
    assert response.headers["content-type"].startswith("text/html"), url
    return response.text


def redirected(response: httpx.Response, location: str) -> None:
    assert response.status_code == 303, response.text[:2000]
    assert response.headers["location"] == location


def test_the_review_page_shows_checks_votes_and_the_comparison(site: Site) -> None:
    text = page(site.client, f"/reviews/{site.review.id}")
    assert 'id="review-state">open<' in text
    assert re.search(r'id="current-holder"><a href="/models/clf/versions/1">v1</a>', text)
    assert f"<code>{CHECK_HTML}</code>" in text and "params.lr = 0.1" in text
    assert '<span class="pass">pass</span>' in text
    # Nobody approved yet: the merge button is disabled and says why.
    assert re.search(r'id="merge-review" disabled title="0 of 1 approvals"', text)
    assert 'id="compare-params"' in text and 'data-key="lr"' in text
    assert "<strong>faster</strong>" in text  # the description is markdown
    assert XSS not in text and ESCAPED_XSS in text and ATTRIBUTE_XSS not in text
    assert _handlers_and_inline_scripts(text) == []


def test_the_model_tabs_list_reviews_and_protections_and_the_version_links_its_review(site: Site) -> None:
    reviews = page(site.client, f"/models/{MODEL}/reviews")
    row = re.search(rf'<tr data-review="{site.review.id}">(.*?)</tr>', reviews, re.S)
    assert row is not None
    assert "v2</a> → <code>@champion</code>" in row.group(1) and "ada" in row.group(1)
    assert "0 / 1" in row.group(1) and "1 passed" in row.group(1)
    assert XSS not in reviews
    aliases = page(site.client, f"/models/{MODEL}/aliases")
    protection = re.search(r'<tr data-alias="champion">(.*?)</tr>', aliases.split('id="protections-table"')[1], re.S)
    assert protection is not None and f'<code class="chip">{CHECK_HTML}</code>' in protection.group(1)
    version = page(site.client, f"/models/{MODEL}/versions/2")
    assert f'<a href="/reviews/{site.review.id}">review #{site.review.id}</a>' in version
    assert 'id="version-reviews"' not in page(site.client, f"/models/{MODEL}/versions/1")


def test_an_unknown_or_malformed_review_is_an_error_page(site: Site) -> None:
    assert "review_not_found" in page(site.client, "/reviews/999999", status=404)
    for bad in ("/reviews/abc", "/reviews/0"):
        response = site.client.get(bad)
        assert 400 <= response.status_code < 500 and response.headers["content-type"].startswith("text/html")
    response = site.client.post("/reviews/999999/approve", data={"body": "ok"})
    assert response.status_code == 404 and "review_not_found" in response.text


def test_the_author_approving_is_refused_in_place_and_nothing_is_stored(site: Site) -> None:
    client = _client(site, "ada")
    response = client.post(f"/reviews/{site.review.id}/approve", data={"body": "mine is fine"})
    assert response.status_code == 403
    refusal = re.search(r'id="refusal-vote"><code>(\w+)</code>', response.text)
    assert refusal is not None and refusal.group(1) == "self_approval"
    assert ">mine is fine</textarea>" in response.text  # what was typed is kept
    assert site.tracking.get_review(site.review.id).votes == ()


def test_asking_for_changes_without_saying_what_is_refused_and_a_blocked_merge_says_why(site: Site) -> None:
    client = _client(site, "grace")
    response = client.post(f"/reviews/{site.review.id}/request-changes", data={"body": "  "})
    assert response.status_code == 400 and 'id="refusal-vote"><code>invalid_value</code>' in response.text
    response = client.post(f"/reviews/{site.review.id}/merge")
    assert response.status_code == 409 and 'id="refusal-state"><code>review_not_mergeable</code>' in response.text
    assert "0 of 1 approvals" in response.text
    after = site.tracking.get_review(site.review.id)
    assert after.votes == () and after.state.value == "open"
    assert site.tracking.get_model(MODEL).aliases["champion"] == 1


def test_comments_and_replies_are_posted_and_threaded(site: Site) -> None:
    client = _client(site, "grace")
    url = f"/reviews/{site.review.id}"
    redirected(client.post(f"{url}/comments", data={"body": f"@ada why? {XSS}"}), f"{url}#thread")
    [first] = [c for c in site.tracking.review_detail(site.review.id).comments if c.body.startswith("@ada why?")]
    redirected(client.post(f"{url}/comments", data={"body": "because", "reply_to": str(first.id)}), f"{url}#thread")
    text = page(client, url)
    assert '<span class="mention">@ada</span>' in text and XSS not in text
    entries = re.findall(r'<article class="comment depth-(\d)" id="entry-(\d+)"', text)
    assert (str(0), str(first.id)) in entries and entries[entries.index(("0", str(first.id))) + 1][0] == "1"
    response = client.post(f"{url}/comments", data={"body": "x", "reply_to": "999999"})
    assert response.status_code == 404  # an entry of no review: the error page


def test_a_form_from_another_site_is_refused(site: Site) -> None:
    url = f"/reviews/{site.review.id}"
    client = _client(site, "grace")
    for action in ("approve", "request-changes", "merge", "close", "comments"):
        response = client.post(f"{url}/{action}", data={"body": "from elsewhere"}, headers=EVIL)
        assert response.status_code == 403 and "permission_denied" in response.text, action
    detail = site.tracking.review_detail(site.review.id)
    assert detail.review.votes == () and detail.review.state.value == "open"
    assert not any(c.body == "from elsewhere" for c in detail.comments)


def test_closing_ends_the_review_without_moving_the_alias(site: Site, tmp_path: Path) -> None:
    version = site.tracking.register_model(
        f"runs:/{trained_run(site.tracking, tmp_path, b'weights three')}/model", MODEL
    )
    review = site.tracking.acting_as(Principal("ada")).open_review(MODEL, version.version, "champion")
    url = f"/reviews/{review.id}"
    redirected(_client(site, "grace").post(f"{url}/close"), url)
    text = page(site.client, url)
    assert 'id="review-state">closed<' in text and 'id="closed-by">by grace' in text
    assert 'id="vote-form"' not in text and 'id="merge-review"' not in text
    assert site.tracking.get_model(MODEL).aliases["champion"] == 1
    response = site.client.post(f"{url}/merge")  # a stale form: refused in place
    assert response.status_code == 409 and 'id="refusal-state"><code>review_not_open</code>' in response.text


def test_review_events_link_to_the_review_page() -> None:
    assert subject_href("models/clf/reviews/7") == "/reviews/7"
    assert subject_href("models/clf/reviews/x") == "/models/clf"
    assert subject_href("models/clf/versions/3") == "/models/clf/versions/3"
