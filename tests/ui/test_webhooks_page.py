"""The webhooks' pages in a real Chromium, against a server that really delivers: create a
webhook through the form and see its secret once, see an event's delivery arrive signed with
that secret and its attempt's 200, redeliver it, disable, enable and delete the webhook; a
failed delivery counted on the list; markup in a description shown as text; and a private
URL refused on the form of a server without ``--allow-private-webhooks``.

The delivering server runs its lifespan (the delivery worker) with ``allow_private_webhooks``,
so it posts to a receiving HTTP server on 127.0.0.1 (tests/helpers.Receiver). Waits are for a
condition (the delivery recorded in the store), never for a time; the page is loaded once the
condition holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect
from standardwebhooks.webhooks import Webhook as StandardWebhook
from tests.helpers import Receiver, ThreadedServer, eventually, free_port
from tests.ui.conftest import UiServer

from cairn.blobs.local import LocalBlobStore
from cairn.core.webhooks import Delivery, DeliveryStatus
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.settings import ServerSettings
from cairn.store.sql import SqlStore

pytestmark = pytest.mark.browser

PAYLOAD = "<img src=x onerror=window.__pwned=1>"
#: The receiver answers this path with 410 Gone: a failure for good, on the first attempt.
GONE = "/gone"


@dataclass
class Delivering:
    url: str
    tracking: TrackingService
    receiver: Receiver


@pytest.fixture(scope="module")
def delivering(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Delivering]:
    """A Cairn server that delivers webhooks (short waits between retries) to private
    addresses, a receiver on loopback, and a tracking service on the server's store."""
    root = tmp_path_factory.mktemp("ui-webhooks")
    settings = ServerSettings(
        store_uri=str(root / "cairn.db"),
        blobs_uri=str(root / "blobs"),
        port=free_port(),
        allow_private_webhooks=True,
        webhook_retry_delays_s=(0.05,) * 3,
        webhook_poll_interval_s=0.05,
        webhook_timeout_s=5.0,
    )
    with Receiver() as receiver, ThreadedServer(settings, lifespan=True) as server:
        receiver.answer = lambda request: 410 if request.path == GONE else 200
        tracking = TrackingService(
            SqlStore(settings.store_uri),
            Principal("tester"),
            blobs=LocalBlobStore(settings.blobs_uri),
            allow_private_webhooks=True,
        )
        try:
            yield Delivering(server.url, tracking, receiver)
        finally:
            tracking.close()


def settled(tracking: TrackingService, webhook_id: str, count: int) -> list[Delivery]:
    """The webhook's deliveries, once there are ``count`` and none is pending."""
    found: list[Delivery] = []

    def done() -> bool:
        found[:] = tracking.list_webhook_deliveries(webhook_id, limit=100).items
        return len(found) == count and all(d.status is not DeliveryStatus.PENDING for d in found)

    eventually(done, what=f"{count} deliveries finishing")
    return found


def create_through_the_form(page: Page, url: str, events: list[str], description: str = "") -> None:
    page.fill("#webhook-url", url)
    page.select_option("#webhook-events", events)
    page.fill("#webhook-description", description)
    page.click("#webhook-form button[type=submit]")


def test_create_deliver_redeliver_disable_delete(page: Page, delivering: Delivering, violations: list[str]) -> None:
    tracking, receiver = delivering.tracking, delivering.receiver
    page.goto(f"{delivering.url}/webhooks")
    expect(page.locator("#nav-webhooks")).to_have_class("active")
    create_through_the_form(page, f"{receiver.url}/hooks/cairn", ["registered_model.created"], "notify CI")

    # The answer shows the secret, and the address bar is the webhook's own page.
    secret_value = page.locator("#secret-value")
    expect(secret_value).to_have_text(re.compile(r"^whsec_[A-Za-z0-9+/]{43}=$"))
    expect(page.locator("#created-secret")).to_contain_text("will not be shown again")
    page.wait_for_url(re.compile(r"/webhooks/[0-9a-f]{32}$"))
    webhook_id = page.url.rsplit("/", 1)[1]
    secret = secret_value.inner_text()
    fingerprint = tracking.get_webhook(webhook_id).secret_fingerprint
    expect(page.locator("#no-deliveries")).to_be_visible()

    # Going away and back, or reloading, shows the fingerprint, never the secret again.
    page.goto(f"{delivering.url}/events")
    page.go_back()
    expect(page.locator("#secret-fingerprint")).to_have_text(fingerprint)
    assert page.locator("#created-secret").count() == 0 and secret not in page.content()
    page.reload()
    expect(page.locator("#secret-fingerprint")).to_have_text(fingerprint)
    assert secret not in page.content()

    # An event: its delivery arrives signed with the secret the page showed.
    tracking.create_model("iris-clf")
    got = receiver.wait_for(lambda got: any(r.path == "/hooks/cairn" for r in got))
    [request] = [r for r in got if r.path == "/hooks/cairn"]
    assert StandardWebhook(secret).verify(request.body, request.headers)["type"] == "registered_model.created"
    [delivery] = settled(tracking, webhook_id, 1)
    page.reload()
    row = page.locator(f"#delivery-{delivery.id}")
    expect(row.locator(".badge")).to_have_text("succeeded")
    expect(row.locator("td").nth(0)).to_have_text("registered_model.created")
    expect(row.locator("td").nth(1).locator("a")).to_have_attribute("href", "/models/iris-clf")
    expect(row.locator("li[data-attempt='1'] .attempt-outcome")).to_have_text("200")

    # Redeliver: the same webhook-id again, a second attempt on the same row.
    row.locator("button.redeliver").click()
    page.wait_for_url(re.compile(rf"/webhooks/{webhook_id}#delivery-{delivery.id}$"))
    eventually(lambda: len(tracking.get_webhook_delivery(webhook_id, delivery.id).attempts) == 2, what="redelivery")
    settled(tracking, webhook_id, 1)
    page.reload()
    expect(row.locator(".attempt-outcome")).to_have_text(["200", "200"])
    assert [r.headers["webhook-id"] for r in receiver.received if r.path == "/hooks/cairn"] == [delivery.id] * 2

    # Disabled, it gets nothing queued; enabled again, it does.
    page.click("#disable-webhook")
    expect(page.locator("#webhook-state")).to_have_text("disabled")
    expect(page.locator("#disabled-note")).to_be_visible()
    tracking.create_model("while-disabled")
    assert len(tracking.list_webhook_deliveries(webhook_id).items) == 1
    page.click("#enable-webhook")
    expect(page.locator("#webhook-state")).to_have_text("enabled")

    # The list has it, with its last delivery.
    page.click("#nav-webhooks")
    listed = page.locator(f"tr[data-webhook='{webhook_id}']")
    expect(listed.locator(".webhook-url")).to_have_text(f"{receiver.url}/hooks/cairn")
    expect(listed.locator(".badge.delivery-succeeded")).to_be_visible()
    expect(listed).to_contain_text(fingerprint)
    assert secret not in page.content()

    # Delete takes two clicks: the first only opens the confirmation.
    listed.locator("a").click()
    confirm = page.locator("#confirm-delete")
    expect(confirm).to_be_hidden()
    page.click("#delete-webhook summary")
    expect(confirm).to_be_visible()
    confirm.click()
    page.wait_for_url(f"{delivering.url}/webhooks")
    expect(page.locator(f"tr[data-webhook='{webhook_id}']")).to_have_count(0)
    assert webhook_id not in {w.id for w in tracking.list_webhooks()}


def test_a_failed_delivery_shows_its_status_and_is_counted(page: Page, delivering: Delivering) -> None:
    tracking = delivering.tracking
    hook = tracking.create_webhook(f"{delivering.receiver.url}{GONE}", ["registered_model_tag.*"])
    tracking.create_model("tagged")
    tracking.set_model_tag("tagged", "team", "vision")
    [delivery] = settled(tracking, hook.id, 1)
    assert delivery.status is DeliveryStatus.FAILED
    page.goto(f"{delivering.url}/webhooks")
    listed = page.locator(f"tr[data-webhook='{hook.id}']")
    expect(listed.locator("[data-count=failed]")).to_have_text("1")
    expect(listed.locator("[data-count=pending]")).to_have_text("0")
    expect(listed.locator(".badge.delivery-failed")).to_have_text("failed")
    listed.locator("a").click()
    row = page.locator(f"#delivery-{delivery.id}")
    expect(row.locator(".badge")).to_have_text("failed")
    expect(row.locator(".attempt-outcome")).to_have_text("410")
    # The status filter applies on change, without an inline handler.
    page.select_option("#delivery-filter select", "succeeded")
    page.wait_for_url(re.compile(r"\?status=succeeded$"))
    expect(page.locator("#no-deliveries")).to_be_visible()
    tracking.delete_webhook(hook.id)


def test_markup_in_a_description_is_text(page: Page, delivering: Delivering, violations: list[str]) -> None:
    page.goto(f"{delivering.url}/webhooks")
    create_through_the_form(page, f"{delivering.receiver.url}/xss", ["*"], PAYLOAD)
    expect(page.locator("#webhook-description")).to_have_text(PAYLOAD)
    webhook_id = page.url.rsplit("/", 1)[1]
    page.click("#nav-webhooks")
    expect(page.locator(f"tr[data-webhook='{webhook_id}'] td.description")).to_have_text(PAYLOAD)
    assert page.locator("main img").count() == 0
    assert page.evaluate("window.__pwned") is None
    delivering.tracking.delete_webhook(webhook_id)


def test_a_private_url_is_refused_on_the_form(page: Page, ui_server: UiServer) -> None:
    """``ui_server`` runs without --allow-private-webhooks."""
    page.goto(f"{ui_server.url}/webhooks")
    create_through_the_form(page, "http://127.0.0.1:9/hook", ["run.*", "review.*"], "local")
    error = page.locator("#create-error")
    expect(error).to_contain_text("127.0.0.1 is a loopback address")
    expect(error).to_contain_text("webhook_url_refused")
    # What was typed is still there to correct; the address is the list's still.
    expect(page.locator("#webhook-url")).to_have_value("http://127.0.0.1:9/hook")
    expect(page.locator("#webhook-description")).to_have_value("local")
    chosen = page.locator("#webhook-events").evaluate("s => [...s.selectedOptions].map(o => o.value)")
    assert chosen == ["review.*", "run.*"]  # in the list's order
    assert page.url == f"{ui_server.url}/webhooks"
    assert ui_server.tracking.list_webhooks() == []

    # A URL that is no http(s) one: the service's reason, in the same place.
    page.fill("#webhook-url", "ftp://files.example.invalid/hook")
    page.click("#webhook-form button[type=submit]")
    expect(error).to_contain_text("is not an http:// or https:// URL")
    expect(error).to_contain_text("invalid_value")
    assert ui_server.tracking.list_webhooks() == []
