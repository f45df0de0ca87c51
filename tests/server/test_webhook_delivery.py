"""Webhook deliveries end to end: Cairn's real server (its lifespan runs the delivery worker)
on a loopback port, a real receiving HTTP server on another, and what arrives there
(docs/webhooks.md).

Every wait is for a condition (a request arrived, a delivery finished), bounded only to stop a
broken build; nothing here measures time. The servers run with ``--allow-private-webhooks``
(the receiver is on 127.0.0.1) and short retry waits.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError
from tests.contract.test_registry import trained_run
from tests.helpers import Received, Receiver, ThreadedServer, eventually, free_port

from cairn.client.http import HttpTracking
from cairn.core.webhooks import Delivery, DeliveryStatus
from cairn.settings import ServerSettings
from cairn.store.sql import SqlStore


def settings_for(store_uri: str, tmp_path: Path, *, delays: tuple[float, ...] = (0.05,) * 4) -> ServerSettings:
    return ServerSettings(
        store_uri=store_uri,
        blobs_uri=str(tmp_path / "blobs"),
        port=free_port(),
        allow_private_webhooks=True,
        webhook_retry_delays_s=delays,
        webhook_poll_interval_s=0.05,
        webhook_timeout_s=2.0,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@contextlib.contextmanager
def serving(settings: ServerSettings) -> Iterator[HttpTracking]:
    """A Cairn server that delivers webhooks, and a client of it."""
    with ThreadedServer(settings, lifespan=True) as server:
        client = HttpTracking(server.url)
        try:
            yield client
        finally:
            client.close()


def verify_by_hand(secret: str, request: Received) -> dict[str, Any]:
    """What docs/webhooks.md tells a receiver to do without a library."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    headers = request.headers
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    sent = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if s.startswith("v1,")]
    if not any(hmac.compare_digest(expected, s) for s in sent):
        raise ValueError("bad signature")
    if abs(time.time() - int(headers["webhook-timestamp"])) > 300:
        raise ValueError("too old")
    return dict(json.loads(request.body))


def finished(tracking: HttpTracking, webhook_id: str) -> list[Delivery]:
    """The webhook's deliveries, once none is pending."""
    found: list[Delivery] = []

    def done() -> bool:
        found[:] = tracking.list_webhook_deliveries(webhook_id, limit=1000).items
        return bool(found) and all(d.status is not DeliveryStatus.PENDING for d in found)

    eventually(done, what="every delivery finishing")
    return found


def test_registry_changes_arrive_signed(tmp_path: Path, receiver: Receiver) -> None:
    with serving(settings_for(str(tmp_path / "server.db"), tmp_path)) as tracking:
        hook = tracking.create_webhook(
            f"{receiver.url}/hooks/cairn", ["model_version.created", "model_version_alias.*"], description="ci"
        )
        assert hook.secret is not None and hook.secret.startswith("whsec_")
        run_id = trained_run(tracking, tmp_path)  # run.created: not subscribed
        tracking.register_model(f"runs:/{run_id}/model", "digits")  # registered_model.created too
        tracking.register_model(f"runs:/{run_id}/model", "digits")
        tracking.set_model_alias("digits", "champion", 1)
        tracking.set_model_alias("digits", "champion", 2)
        got = receiver.wait_for(lambda r: len(r) >= 4)
        deliveries = finished(tracking, hook.id)

    assert len(got) == 4 and len(deliveries) == 4
    assert {d.status for d in deliveries} == {DeliveryStatus.SUCCEEDED}
    assert [[a.status_code for a in d.attempts] for d in deliveries] == [[200]] * 4
    # webhook-id is the delivery's id, one per event.
    assert {r.headers["webhook-id"] for r in got} == {d.id for d in deliveries}
    bodies = []
    for request in got:
        assert request.path == "/hooks/cairn"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["host"] == receiver.url.removeprefix("http://")
        # The library receivers use, and ten lines of their own, both accept the signature.
        assert StandardWebhook(hook.secret).verify(request.body, request.headers) == json.loads(request.body)
        bodies.append(verify_by_hand(hook.secret, request))
    by_type = collections.defaultdict(list)
    for body in bodies:
        by_type[body["type"]].append(body)
    assert sorted(by_type) == ["model_version.created", "model_version_alias.created"]
    moves = sorted(by_type["model_version_alias.created"], key=lambda b: b["data"]["version"])
    assert [(m["data"]["from_version"], m["data"]["version"]) for m in moves] == [(None, 1), (1, 2)]
    assert moves[0]["subject"] == "models/digits" and moves[0]["actor"] == "anonymous"
    assert moves[0]["timestamp"].endswith("Z") and "T" in moves[0]["timestamp"]
    assert sorted(b["data"]["version"] for b in by_type["model_version.created"]) == [1, 2]
    # A wrong secret does not verify.
    with pytest.raises(ValueError, match="bad signature"):
        verify_by_hand("whsec_" + base64.b64encode(b"x" * 32).decode(), got[0])


def test_a_given_secret_signs_as_documented(tmp_path: Path, receiver: Receiver) -> None:
    plain = "correct horse battery staple"
    with serving(settings_for(str(tmp_path / "server.db"), tmp_path)) as tracking:
        hook = tracking.create_webhook(f"{receiver.url}/plain", ["registered_model.created"], secret=plain)
        assert hook.secret == plain
        assert tracking.get_webhook(hook.id).secret is None
        tracking.create_model("signed")
        [request] = receiver.wait_for(lambda r: len(r) >= 1)
    # A secret without whsec_ is used as its UTF-8 bytes: give those bytes to the library.
    StandardWebhook(plain.encode()).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        StandardWebhook(base64.b64encode(b"some other key of 24 bytes").decode()).verify(request.body, request.headers)


def test_an_error_is_retried_then_delivered(tmp_path: Path, receiver: Receiver) -> None:
    answers = iter([500, 503])
    receiver.answer = lambda _request: next(answers, 200)
    with serving(settings_for(str(tmp_path / "server.db"), tmp_path)) as tracking:
        hook = tracking.create_webhook(f"{receiver.url}/retry", ["registered_model.*"])
        assert hook.secret is not None
        tracking.create_model("flaky")
        [delivery] = finished(tracking, hook.id)
    got = receiver.received
    assert len(got) == 3
    assert delivery.status is DeliveryStatus.SUCCEEDED and delivery.finished_at is not None
    assert [(a.number, a.status_code, a.error) for a in delivery.attempts] == [
        (1, 500, None),
        (2, 503, None),
        (3, 200, None),
    ]
    assert all(a.duration_ms >= 0 and a.started_at >= delivery.created_at for a in delivery.attempts)
    # Every attempt is the same delivery, signed anew with its own timestamp.
    assert {r.headers["webhook-id"] for r in got} == {delivery.id}
    assert len({r.body for r in got}) == 1
    for request in got:
        verify_by_hand(hook.secret, request)


@pytest.mark.parametrize("status", [404, 410, 302])
def test_a_refusal_is_final(tmp_path: Path, receiver: Receiver, status: int) -> None:
    receiver.answer = lambda _request: status
    with serving(settings_for(str(tmp_path / "server.db"), tmp_path)) as tracking:
        hook = tracking.create_webhook(f"{receiver.url}/gone", ["*"])
        tracking.create_model("refused")
        [delivery] = finished(tracking, hook.id)
    assert delivery.status is DeliveryStatus.FAILED and delivery.next_attempt_at is None
    assert [a.status_code for a in delivery.attempts] == [status]  # not retried; a redirect not followed
    assert len(receiver.received) == 1


def test_a_delivery_gives_up_after_its_attempts(tmp_path: Path, receiver: Receiver) -> None:
    receiver.answer = lambda _request: 503
    with serving(settings_for(str(tmp_path / "server.db"), tmp_path, delays=(0.05, 0.05))) as tracking:
        hook = tracking.create_webhook(f"{receiver.url}/down", ["*"])
        tracking.create_model("never")
        [delivery] = finished(tracking, hook.id)
        failed = tracking.list_webhook_deliveries(hook.id, status="failed").items
    assert delivery.status is DeliveryStatus.FAILED
    assert [a.status_code for a in delivery.attempts] == [503, 503, 503]
    assert [d.id for d in failed] == [delivery.id]


def test_a_slow_endpoint_never_holds_up_the_change(tmp_path: Path, receiver: Receiver) -> None:
    receiver.gate.clear()  # every request waits until the test opens the gate
    settings = dataclasses.replace(settings_for(str(tmp_path / "server.db"), tmp_path), webhook_timeout_s=0.5)
    with serving(settings) as tracking:
        hook = tracking.create_webhook(f"{receiver.url}/slow", ["registered_model.created"])
        tracking.create_model("first")
        receiver.wait_while_waiting(1)  # the first delivery is held by the endpoint

        # While it is held, more changes are made and answered: delivery is not on their path.
        for name in ("second", "third"):
            assert tracking.create_model(name).name == name
        assert not receiver.gate.is_set() and receiver.waiting >= 1

        def timed_out() -> bool:
            attempts = [a for d in tracking.list_webhook_deliveries(hook.id).items for a in d.attempts]
            return any(a.status_code is None and "no answer within 0.5 s" in (a.error or "") for a in attempts)

        eventually(timed_out, what="an attempt ending at the timeout")
        receiver.gate.set()
        deliveries = finished(tracking, hook.id)
    assert len(deliveries) == 3 and {d.status for d in deliveries} == {DeliveryStatus.SUCCEEDED}


def test_a_pending_delivery_is_sent_after_a_restart(tmp_path: Path, receiver: Receiver) -> None:
    down = True
    receiver.answer = lambda _request: 503 if down else 200
    store_uri = str(tmp_path / "server.db")
    settings = settings_for(store_uri, tmp_path, delays=(1.0,) * 7)
    with serving(settings) as tracking:
        hook = tracking.create_webhook(f"{receiver.url}/restart", ["registered_model.created"])
        tracking.create_model("survivor")
        receiver.wait_for(lambda r: len(r) >= 1)
    # The first server is gone with the delivery still queued in the store.
    store = SqlStore(store_uri)
    try:
        [queued] = store.list_deliveries(hook.id, status=None, before_seq=None, limit=10)
    finally:
        store.close()
    assert queued.status is DeliveryStatus.PENDING and queued.attempts[0].status_code == 503

    down = False
    with serving(dataclasses.replace(settings, port=free_port())) as tracking:
        [delivery] = finished(tracking, hook.id)
    assert delivery.id == queued.id and delivery.status is DeliveryStatus.SUCCEEDED
    assert delivery.attempts[-1].status_code == 200
    assert receiver.received[-1].headers["webhook-id"] == delivery.id


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_servers_on_one_store_send_each_delivery_once(
    tmp_path: Path, receiver: Receiver, request: pytest.FixtureRequest, backend: str
) -> None:
    if backend == "postgres":
        request.getfixturevalue("postgres_store")  # emptied afterwards
        store_uri = request.getfixturevalue("postgres_url")
    else:
        store_uri = str(tmp_path / "shared.db")
    settings = settings_for(store_uri, tmp_path)
    count = 40
    with serving(settings) as first, serving(dataclasses.replace(settings, port=free_port())):
        hook = first.create_webhook(f"{receiver.url}/shared", ["registered_model.created"])
        for number in range(count):
            first.create_model(f"model-{backend}-{number}")
        deliveries = finished(first, hook.id)
        got = receiver.wait_for(lambda r: len(r) >= count)
    assert len(deliveries) == count and {d.status for d in deliveries} == {DeliveryStatus.SUCCEEDED}
    sent = collections.Counter(r.headers["webhook-id"] for r in got)
    assert len(got) == count and set(sent.values()) == {1}
    assert set(sent) == {d.id for d in deliveries}
