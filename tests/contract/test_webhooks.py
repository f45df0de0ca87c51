"""Webhooks through the tracking interface, on every backend: create, read, change and delete
them; the secret shown once; the URL rules; and the deliveries each event queues
(docs/webhooks.md).

No backend here delivers (the HTTP server runs without its lifespan, embedded mode has no
worker), so a queued delivery stays pending with no attempt: what is checked is the queue.
The HTTP and PostgreSQL backends share one store across tests, so each test looks only at
webhooks it made.
"""

from __future__ import annotations

import uuid

import pytest

from cairn.core.errors import (
    DeliveryNotFound,
    InvalidInput,
    InvalidPageToken,
    InvalidValue,
    ModelVersionNotFound,
    WebhookNotFound,
    WebhookUrlRefused,
)
from cairn.core.events import EventType
from cairn.core.webhooks import DeliveryStatus, secret_fingerprint
from cairn.service.interface import Tracking

#: A globally routable address: accepted, never called (no backend here delivers).
PUBLIC = "https://93.184.215.14/hooks/cairn"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_create_read_update_delete(tracking: Tracking) -> None:
    created = tracking.create_webhook(PUBLIC, ["model_version.*", "run.created"], description="ci")
    assert created.secret is not None and created.secret.startswith("whsec_")
    assert created.url == PUBLIC and created.events == ("model_version.*", "run.created")
    assert created.active and created.description == "ci"
    assert created.secret_fingerprint == secret_fingerprint(created.secret)
    assert created.created_at == created.updated_at

    # No read shows the secret again.
    read = tracking.get_webhook(created.id)
    assert read.secret is None and read.secret_fingerprint == created.secret_fingerprint
    assert read == tracking.get_webhook(created.id)
    listed = {w.id: w for w in tracking.list_webhooks()}
    assert listed[created.id] == read

    changed = tracking.update_webhook(created.id, events=["*"], active=False, description="paused")
    assert changed.events == ("*",) and not changed.active and changed.description == "paused"
    assert changed.url == PUBLIC and changed.secret is None
    assert changed.updated_at >= created.updated_at
    rotated = tracking.update_webhook(created.id, secret="a new secret of some length")
    assert rotated.secret_fingerprint == secret_fingerprint("a new secret of some length")

    tracking.delete_webhook(created.id)
    with pytest.raises(WebhookNotFound):
        tracking.get_webhook(created.id)
    with pytest.raises(WebhookNotFound):
        tracking.delete_webhook(created.id)
    assert created.id not in {w.id for w in tracking.list_webhooks()}


def test_a_given_secret_is_kept(tracking: Tracking) -> None:
    whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert tracking.create_webhook(PUBLIC, ["*"], secret=whsec).secret == whsec
    plain = tracking.create_webhook(PUBLIC, ["*"], secret="sixteen chars ok")
    assert plain.secret == "sixteen chars ok"


@pytest.mark.parametrize(
    "secret",
    ["too short", "whsec_not base64!", "whsec_" + "QUJD", "tab\tinside a long enough secret", "x" * 513],
)
def test_a_weak_or_malformed_secret_is_refused(tracking: Tracking, secret: str) -> None:
    with pytest.raises(InvalidValue, match="secret"):
        tracking.create_webhook(PUBLIC, ["*"], secret=secret)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://224.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://100.64.0.1/hook",
    ],
)
def test_a_private_address_is_refused(tracking: Tracking, url: str) -> None:
    with pytest.raises(WebhookUrlRefused) as refused:
        tracking.create_webhook(url, ["*"])
    assert refused.value.code == "webhook_url_refused" and refused.value.details["reason"]
    assert "--allow-private-webhooks" in refused.value.message


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.215.14/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "93.184.215.14/hook",
        "https://user:password@93.184.215.14/hook",
        "https:///hook",
        "https://93.184.215.14:99999/hook",
        "https://exa mple.com/hook",
        "",
    ],
)
def test_a_url_that_is_not_http_is_refused(tracking: Tracking, url: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        tracking.create_webhook(url, ["*"])
    assert type(refused.value) is InvalidValue and refused.value.details == {"field": "url"}


def test_events_must_name_known_types(tracking: Tracking) -> None:
    with pytest.raises(InvalidValue, match="not an event type"):
        tracking.create_webhook(PUBLIC, ["model.exploded"])
    with pytest.raises(InvalidValue, match="at least one"):
        tracking.create_webhook(PUBLIC, [])
    # Repeats are dropped, the order kept.
    assert tracking.create_webhook(PUBLIC, ["run.*", "*", "run.*"]).events == ("run.*", "*")


def test_unknown_ids_are_not_found(tracking: Tracking) -> None:
    for call in (
        lambda: tracking.get_webhook("0" * 32),
        lambda: tracking.update_webhook("0" * 32, description="x"),
        lambda: tracking.list_webhook_deliveries("0" * 32),
    ):
        with pytest.raises(WebhookNotFound):
            call()
    hook = tracking.create_webhook(PUBLIC, ["*"])
    with pytest.raises(DeliveryNotFound):
        tracking.get_webhook_delivery(hook.id, "0" * 32)
    with pytest.raises(DeliveryNotFound):
        tracking.redeliver_webhook_delivery(hook.id, "0" * 32)


def test_each_event_is_queued_for_the_webhooks_subscribed_to_it(tracking: Tracking) -> None:
    models = tracking.create_webhook(PUBLIC, ["registered_model.*"])
    created_only = tracking.create_webhook(PUBLIC, ["registered_model.created"])
    runs = tracking.create_webhook(PUBLIC, ["run.created"])
    paused = tracking.create_webhook(PUBLIC, ["*"], active=False)
    name = unique("queued")
    tracking.create_model(name)
    tracking.update_model(name, "described")
    events = {e.type: e for e in tracking.list_events(subject=f"models/{name}").items}

    queued = tracking.list_webhook_deliveries(models.id).items
    assert [d.event_type for d in queued] == ["registered_model.updated", "registered_model.created"]
    first = queued[-1]
    assert first.status is DeliveryStatus.PENDING and first.attempts == ()
    assert first.event_id == events[EventType.MODEL_CREATED].id and first.subject == f"models/{name}"
    assert first.event_seq == events[EventType.MODEL_CREATED].seq and first.next_attempt_at is not None
    assert tracking.get_webhook_delivery(models.id, first.id) == first
    assert [d.event_type for d in tracking.list_webhook_deliveries(created_only.id).items] == [
        "registered_model.created"
    ]
    assert tracking.list_webhook_deliveries(runs.id).items == []
    assert tracking.list_webhook_deliveries(paused.id).items == []  # disabled: nothing queued
    assert len({d.id for d in queued}) == 2


def test_a_refused_change_queues_nothing(tracking: Tracking) -> None:
    hook = tracking.create_webhook(PUBLIC, ["registered_model.*", "model_version_alias.*"])
    name = unique("refused")
    tracking.create_model(name)
    with pytest.raises(ModelVersionNotFound):
        tracking.set_model_alias(name, "champion", 7)
    assert [d.event_type for d in tracking.list_webhook_deliveries(hook.id).items] == ["registered_model.created"]


def test_deliveries_page_newest_first_and_filter_by_status(tracking: Tracking) -> None:
    hook = tracking.create_webhook(PUBLIC, ["registered_model.created"])
    names = [unique("paged") for _ in range(5)]
    for name in names:
        tracking.create_model(name)
    first = tracking.list_webhook_deliveries(hook.id, limit=2)
    assert [d.subject for d in first.items] == [f"models/{names[4]}", f"models/{names[3]}"]
    assert first.next_page_token is not None
    rest = tracking.list_webhook_deliveries(hook.id, limit=10, page_token=first.next_page_token)
    assert [d.subject for d in rest.items] == [f"models/{n}" for n in reversed(names[:3])]
    assert rest.next_page_token is None
    assert len(tracking.list_webhook_deliveries(hook.id, status="pending").items) == 5
    assert tracking.list_webhook_deliveries(hook.id, status="succeeded").items == []
    with pytest.raises(InvalidPageToken):
        tracking.list_webhook_deliveries(hook.id, page_token="not-a-token")
    with pytest.raises(InvalidInput):
        tracking.list_webhook_deliveries(hook.id, status="lost")


def test_redeliver_makes_a_delivery_due_now(tracking: Tracking) -> None:
    hook = tracking.create_webhook(PUBLIC, ["registered_model.created"])
    tracking.create_model(unique("again"))
    [delivery] = tracking.list_webhook_deliveries(hook.id).items
    again = tracking.redeliver_webhook_delivery(hook.id, delivery.id)
    assert again.id == delivery.id and again.status is DeliveryStatus.PENDING
    assert again.next_attempt_at is not None and again.next_attempt_at >= delivery.created_at


def test_deleting_a_webhook_removes_its_deliveries(tracking: Tracking) -> None:
    hook = tracking.create_webhook(PUBLIC, ["registered_model.created"])
    tracking.create_model(unique("dropped"))
    [delivery] = tracking.list_webhook_deliveries(hook.id).items
    tracking.delete_webhook(hook.id)
    with pytest.raises(WebhookNotFound):
        tracking.get_webhook_delivery(hook.id, delivery.id)
