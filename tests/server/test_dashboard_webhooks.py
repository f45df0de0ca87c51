"""The webhooks' dashboard pages over HTTP, without a browser: creating one through the form
(the secret in that answer only), what the service refuses shown on the form with nothing
stored, enable, disable, delete and redeliver as posts that come back with a redirect, paging
and filtering deliveries, forms from another site refused, and no markup from the data.

One server per module (the real app under uvicorn on a loopback port, without its lifespan, so
no delivery worker runs and every delivery stays pending), seeded through a TrackingService on
the same database. Webhook URLs name hosts under ``.invalid``, which resolve to nothing: the
check at creation accepts them and nothing is ever sent.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from markupsafe import escape
from tests.helpers import ThreadedServer, free_port
from tests.server.test_dashboard_pages import ATTRIBUTE_XSS, ESCAPED_XSS, XSS, _handlers_and_inline_scripts

from cairn.blobs.local import LocalBlobStore
from cairn.core.webhooks import Webhook
from cairn.server.ui.webhooks import COUNT_LIMIT, DELIVERIES_PAGE_SIZE
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.settings import ServerSettings
from cairn.store.sql import SqlStore

HTMX = {"HX-Request": "true"}
RECEIVER = "https://hooks.example.invalid"
#: Events of the paged webhook: more than two pages of deliveries and more than the list counts.
MANY = 120
assert MANY > 2 * DELIVERIES_PAGE_SIZE and MANY > COUNT_LIMIT


@dataclass
class Site:
    client: httpx.Client
    tracking: TrackingService
    paged: Webhook  # subscribed to MANY tag events, all pending
    hostile: Webhook  # URL and description are markup


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root: Path = tmp_path_factory.mktemp("dashboard-webhooks")
    settings = ServerSettings(store_uri=str(root / "cairn.db"), blobs_uri=str(root / "blobs"), port=free_port())
    tracking = TrackingService(
        SqlStore(settings.store_uri), Principal("tester"), blobs=LocalBlobStore(settings.blobs_uri)
    )
    paged = tracking.create_webhook(f"{RECEIVER}/paged", ["registered_model_tag.set"], description="many")
    tracking.create_model("tagged")
    for i in range(MANY):
        tracking.set_model_tag("tagged", "round", str(i))
    hostile = tracking.create_webhook(
        f"{RECEIVER}/{XSS}", ["registered_model.*"], description=XSS + ATTRIBUTE_XSS, secret="x" * 20
    )
    try:
        with ThreadedServer(settings) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            yield Site(client, tracking, paged, hostile)
    finally:
        tracking.close()


def page(site: Site, url: str, status: int = 200) -> str:
    response = site.client.get(url)
    assert response.status_code == status, (url, response.status_code, response.text[:2000])
    assert response.headers["content-type"].startswith("text/html"), url
    return response.text


def delivery_ids(text: str) -> list[str]:
    return re.findall(r'data-delivery="([^"]*)"', text)


def webhook_ids(site: Site) -> set[str]:
    return {w.id for w in site.tracking.list_webhooks()}


def redirected(response: httpx.Response, location: str) -> None:
    assert response.status_code == 303, response.text[:2000]
    assert response.headers["location"] == location


# -- creating --------------------------------------------------------------------------------


def test_the_form_creates_a_webhook_and_shows_its_secret_once(site: Site) -> None:
    before = webhook_ids(site)
    response = site.client.post(
        "/webhooks",
        data={"url": f" {RECEIVER}/ci ", "events": ["model_version.*", "review.merged"], "description": "CI\r\nbuild"},
    )
    assert response.status_code == 200, response.text[:2000]
    assert response.headers["cache-control"] == "no-store"
    [new_id] = webhook_ids(site) - before
    hook = site.tracking.get_webhook(new_id)
    assert hook.url == f"{RECEIVER}/ci" and hook.description == "CI\nbuild"
    assert hook.events == ("model_version.*", "review.merged")
    [secret] = re.findall(r'id="secret-value">([^<]*)<', response.text)
    assert secret.startswith("whsec_") and "will not be shown again" in response.text
    assert 'hx-history="false"' in response.text
    # Every later page shows the fingerprint, never the secret.
    for url in (f"/webhooks/{new_id}", "/webhooks"):
        text = page(site, url)
        assert secret not in text and hook.secret_fingerprint in text, url
    site.tracking.delete_webhook(new_id)


def test_a_given_secret_is_the_one_shown(site: Site) -> None:
    given = "correct horse battery staple"
    response = site.client.post(
        "/webhooks", data={"url": f"{RECEIVER}/given", "events": ["*"], "secret": given}, headers=HTMX
    )
    assert response.status_code == 200
    # Through HTMX the address bar moves to the webhook's own page: reloading posts nothing.
    pushed = response.headers["hx-push-url"]
    assert re.fullmatch(r"/webhooks/[0-9a-f]{32}", pushed)
    assert f'id="secret-value">{given}<' in response.text
    assert given not in page(site, pushed)
    site.tracking.delete_webhook(pushed.rsplit("/", 1)[1])


@pytest.mark.parametrize(
    ("form", "code", "says"),
    [
        ({"url": "http://127.0.0.1:8080/hook", "events": ["*"]}, "webhook_url_refused", "loopback address"),
        ({"url": "http://10.1.2.3/hook", "events": ["*"]}, "webhook_url_refused", "private address"),
        ({"url": "http://localhost/hook", "events": ["*"]}, "webhook_url_refused", "loopback address"),
        ({"url": "ftp://files.example.invalid/x", "events": ["*"]}, "invalid_value", "http:// or https://"),
        ({"url": "", "events": ["*"]}, "invalid_value", "http:// or https://"),
        ({"url": f"{RECEIVER}/none"}, "invalid_value", "at least one event type"),
        ({"url": f"{RECEIVER}/x", "events": ["nothing.real"]}, "invalid_value", "nothing.real"),
        ({"url": f"{RECEIVER}/x", "events": ["*"], "secret": "short"}, "invalid_value", "16 characters"),
        ({"url": f"{RECEIVER}/x", "events": ["*"], "description": "d" * 1001}, "invalid_value", "1000"),
    ],
)
def test_what_the_service_refuses_is_shown_on_the_form(site: Site, form: dict[str, Any], code: str, says: str) -> None:
    before = webhook_ids(site)
    typed = {**form, "description": form.get("description", f"kept {XSS}")}
    plain = site.client.post("/webhooks", data=typed)
    assert plain.status_code == 400 and "<html" in plain.text
    through_htmx = site.client.post("/webhooks", data=typed, headers=HTMX)
    assert through_htmx.status_code == 200 and "hx-push-url" not in through_htmx.headers
    for text in (plain.text, through_htmx.text):
        [error] = re.findall(r'<div class="query-error" role="alert" id="create-error">(.*?)</div>', text, re.S)
        assert says in html.unescape(error) and f"({code})" in error
        assert 'id="webhook-form"' in text and 'id="secret-value"' not in text
        # What was typed is back in the form, escaped; a secret never is.
        assert f'value="{escape(typed["url"])}"' in text
        if "*" in typed.get("events", []):
            assert '<option value="*" selected>' in text
        if "secret" in typed:
            assert str(typed["secret"]) not in text.split('id="webhook-form"')[1]
        assert "<script>alert(1)" not in text
    assert webhook_ids(site) == before  # nothing half-written


def test_a_form_from_another_site_is_refused(site: Site) -> None:
    before = webhook_ids(site)
    evil = {"Origin": "http://evil.example"}
    response = site.client.post("/webhooks", data={"url": f"{RECEIVER}/evil", "events": ["*"]}, headers=evil)
    assert response.status_code == 403 and "permission_denied" in response.text
    for action in ("disable", "delete"):
        assert site.client.post(f"/webhooks/{site.hostile.id}/{action}", headers=evil).status_code == 403
    assert webhook_ids(site) == before and site.tracking.get_webhook(site.hostile.id).active


# -- one webhook -------------------------------------------------------------------------------


def test_enable_disable_and_delete_come_back_with_a_redirect(site: Site) -> None:
    hook = site.tracking.create_webhook(f"{RECEIVER}/toggle", ["run.*"])
    url = f"/webhooks/{hook.id}"
    assert 'id="disable-webhook"' in page(site, url)
    redirected(site.client.post(f"{url}/disable"), url)
    assert not site.tracking.get_webhook(hook.id).active
    text = page(site, url)
    assert 'id="disabled-note"' in text and 'id="enable-webhook"' in text and ">disabled</span>" in text
    redirected(site.client.post(f"{url}/enable"), url)
    assert site.tracking.get_webhook(hook.id).active
    # Deleting is a form inside a details element: the summary is the first click.
    confirm = re.search(r'<details class="confirm" id="delete-webhook">.*?</details>', page(site, url), re.S)
    assert confirm is not None and f'action="{url}/delete"' in confirm.group(0)
    redirected(site.client.post(f"{url}/delete"), "/webhooks")
    assert hook.id not in webhook_ids(site) and hook.id not in page(site, "/webhooks")
    assert 'class="error-page"' in page(site, url, 404)
    assert site.client.post(f"{url}/enable").status_code == 404


def test_deliveries_come_newest_first_a_page_at_a_time(site: Site) -> None:
    url = f"/webhooks/{site.paged.id}"
    every = [d.id for d in site.tracking.list_webhook_deliveries(site.paged.id, limit=1000).items]
    assert len(every) == MANY
    shown: list[str] = []
    next_url: str | None = url
    while next_url is not None:
        text = page(site, next_url)
        rows = delivery_ids(text)
        assert 0 < len(rows) <= DELIVERIES_PAGE_SIZE
        shown += rows
        found = re.search(r'<a href="([^"]*)" rel="next">', text)
        next_url = html.unescape(found.group(1)) if found else None
    assert shown == every  # newest first, none twice, none left out
    first = page(site, url)
    assert first.count('<span class="badge delivery-pending">pending</span>') == DELIVERIES_PAGE_SIZE
    assert "registered_model_tag.set" in first and 'href="/models/tagged">models/tagged</a>' in first
    assert "none yet" in first  # no attempts: no worker runs here
    assert delivery_ids(page(site, f"{url}?status=failed")) == []
    assert 'id="no-deliveries"' in page(site, f"{url}?status=failed")
    assert len(delivery_ids(page(site, f"{url}?status=pending"))) == DELIVERIES_PAGE_SIZE


def test_the_list_counts_pending_and_failed_deliveries(site: Site) -> None:
    text = page(site, "/webhooks")
    row = re.search(rf'<tr data-webhook="{site.paged.id}">(.*?)</tr>', text, re.S)
    assert row is not None
    cells = row.group(1)
    assert f'data-count="pending">{COUNT_LIMIT}+<' in cells and 'data-count="failed">0<' in cells
    assert '<span class="badge delivery-pending">pending</span>' in cells  # the last delivery
    assert "registered_model_tag.set" in cells and site.paged.secret_fingerprint in cells and "tester" in cells


def test_redeliver_comes_back_to_the_same_page(site: Site) -> None:
    url = f"/webhooks/{site.paged.id}"
    token = re.search(r'href="[^"]*before=(\d+)" rel="next"', page(site, f"{url}?status=pending"))
    assert token is not None
    second_page = page(site, f"{url}?status=pending&before={token.group(1)}")
    delivery = delivery_ids(second_page)[0]
    assert f'<input type="hidden" name="before" value="{token.group(1)}">' in second_page
    response = site.client.post(
        f"{url}/deliveries/{delivery}/redeliver", data={"status": "pending", "before": token.group(1)}
    )
    redirected(response, f"{url}?status=pending&before={token.group(1)}#delivery-{delivery}")
    assert site.client.post(f"{url}/deliveries/nope/redeliver").status_code == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [("/webhooks/nope", 404), ("/webhooks/PAGED?status=bogus", 400), ("/webhooks/PAGED?before=abc", 400)],
)
def test_bad_links_are_pages_not_500s(site: Site, path: str, status: int) -> None:
    assert 'class="error-page"' in page(site, path.replace("PAGED", site.paged.id), status)


def test_nothing_in_a_webhook_reaches_the_html_unescaped(site: Site) -> None:
    for url in ("/webhooks", f"/webhooks/{site.hostile.id}"):
        text = page(site, url)
        assert "<script>alert(1)" not in text, url
        assert _handlers_and_inline_scripts(text) == [], url
        assert ESCAPED_XSS in text and str(escape(ATTRIBUTE_XSS)) in text and ATTRIBUTE_XSS not in text, url


def test_the_sections_nav_marks_webhooks(site: Site) -> None:
    for url in ("/webhooks", f"/webhooks/{site.paged.id}"):
        assert '<a href="/webhooks" id="nav-webhooks" class="active" aria-current="true">' in page(site, url)
    assert '<a href="/webhooks" id="nav-webhooks">' in page(site, "/events")
