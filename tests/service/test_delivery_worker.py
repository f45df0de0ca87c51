"""The delivery worker one attempt at a time (``run_once``), over an embedded store, against a
real receiver on loopback: what the guard refuses at delivery time (an address that became
private: DNS rebinding), that a deleted webhook's pending deliveries are never sent, and that
claims under a lease go to one worker only.

The resolver handed to a worker here stands in for DNS answering differently than it did when
the webhook was made; everything else is the real code.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers import Receiver

from cairn.core.clock import now_ms
from cairn.core.events import EventType
from cairn.core.webhook_delivery import RetrySchedule
from cairn.core.webhooks import Attempt, ClaimedDelivery, DeliveryStatus
from cairn.service.deliveries import DeliveryOptions, DeliveryWorker
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.store.sql import SqlStore

#: Retries are due at once: each run_once is the next attempt.
AT_ONCE = RetrySchedule(delays=(0.0,) * 4, jitter=0.0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = SqlStore(str(tmp_path / "worker.db"))
    yield opened
    opened.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def service(store: SqlStore, *, allow_private: bool) -> TrackingService:
    return TrackingService(store, Principal("ada"), allow_private_webhooks=allow_private)


@pytest.fixture
def worker(store: SqlStore) -> Iterator[DeliveryWorker]:
    """A worker that refuses private addresses, as a server without the flag does."""
    running = DeliveryWorker(store, DeliveryOptions(allow_private=False, timeout_s=5.0, schedule=AT_ONCE))
    yield running
    running.close()


def test_a_private_address_is_refused_at_delivery_too(
    store: SqlStore, receiver: Receiver, worker: DeliveryWorker
) -> None:
    # Made by a service that allowed it; delivered by one that does not: nothing is sent.
    hook = service(store, allow_private=True).create_webhook(f"{receiver.url}/hook", ["*"])
    service(store, allow_private=True).create_model("guarded")
    assert worker.run_once() == 1
    [delivery] = store.list_deliveries(hook.id, status=None, before_seq=None, limit=10)
    assert delivery.status is DeliveryStatus.FAILED  # final: no retry will make it public
    [attempt] = delivery.attempts
    assert attempt.status_code is None and "loopback" in (attempt.error or "")
    assert receiver.received == []


def test_a_name_that_now_resolves_to_loopback_is_refused(store: SqlStore, receiver: Receiver) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    # The name does not resolve when the webhook is made (accepted: checked again later) …
    hook = service(store, allow_private=False).create_webhook(f"http://rebinding.invalid:{port}/hook", ["*"])
    service(store, allow_private=False).create_model("rebound")
    # … and resolves to 127.0.0.1 when the delivery is due.
    rebinding = DeliveryWorker(
        store, DeliveryOptions(schedule=AT_ONCE), resolver=lambda _host, _port: ["93.184.215.14", "127.0.0.1"]
    )
    try:
        assert rebinding.run_once() == 1
    finally:
        rebinding.close()
    [delivery] = store.list_deliveries(hook.id, status=None, before_seq=None, limit=10)
    assert delivery.status is DeliveryStatus.FAILED
    assert "127.0.0.1" in (delivery.attempts[0].error or "") and receiver.received == []


def test_the_checked_address_is_called_with_the_host_named(store: SqlStore, receiver: Receiver) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    hook = service(store, allow_private=True).create_webhook(f"http://localhost:{port}/named", ["*"])
    service(store, allow_private=True).create_model("named")
    # localhost may resolve to ::1 first, where the receiver does not listen: the next is tried.
    allowing = DeliveryWorker(store, DeliveryOptions(allow_private=True, schedule=AT_ONCE))
    try:
        assert allowing.run_once() == 1
    finally:
        allowing.close()
    [request] = receiver.received
    assert request.headers["host"] == f"localhost:{port}" and request.path == "/named"
    [delivery] = store.list_deliveries(hook.id, status=None, before_seq=None, limit=10)
    assert delivery.status is DeliveryStatus.SUCCEEDED


def test_a_deleted_webhook_sends_nothing_more(store: SqlStore, receiver: Receiver) -> None:
    receiver.answer = lambda _request: 503
    embedded = service(store, allow_private=True)
    hook = embedded.create_webhook(f"{receiver.url}/hook", ["*"])
    embedded.create_model("doomed")
    allowing = DeliveryWorker(store, DeliveryOptions(allow_private=True, schedule=AT_ONCE))
    try:
        assert allowing.run_once() == 1  # 503: a retry is due at once
        [delivery] = store.list_deliveries(hook.id, status=None, before_seq=None, limit=10)
        assert delivery.status is DeliveryStatus.PENDING and len(receiver.received) == 1
        embedded.delete_webhook(hook.id)
        assert allowing.run_once() == 0
    finally:
        allowing.close()
    assert len(receiver.received) == 1


def test_an_attempt_outlived_by_its_lease_records_nothing(store: SqlStore) -> None:
    hook = service(store, allow_private=False).create_webhook("https://93.184.215.14/x", ["*"])
    store.append_event(EventType.MODEL_CREATED, "models/m", "ada", {"name": "m"})
    now = now_ms()
    [first] = store.claim_deliveries(now=now, lease_ms=1000, limit=10)
    assert store.claim_deliveries(now=now + 999, lease_ms=1000, limit=10) == []  # leased
    [second] = store.claim_deliveries(now=now + 1000, lease_ms=1000, limit=10)  # the lease ran out
    assert second.id == first.id and second.lease_token != first.lease_token and second.number == 1
    attempt = Attempt(1, now, 5, 200, None, "ok")
    assert not store.finish_attempt(first, attempt, status=DeliveryStatus.SUCCEEDED, next_attempt_at=None)
    assert store.finish_attempt(second, attempt, status=DeliveryStatus.SUCCEEDED, next_attempt_at=None)
    [delivery] = store.list_deliveries(hook.id, status=None, before_seq=None, limit=10)
    assert delivery.status is DeliveryStatus.SUCCEEDED and [a.number for a in delivery.attempts] == [1]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_concurrent_claims_take_each_delivery_once(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    store = request.getfixturevalue("postgres_store") if backend == "postgres" else SqlStore(str(tmp_path / "c.db"))
    try:
        service(store, allow_private=False).create_webhook("https://93.184.215.14/x", ["*"])
        service(store, allow_private=False).create_webhook("https://93.184.215.15/y", ["run.*", "registered_model.*"])
        for number in range(60):
            store.append_event(EventType.MODEL_CREATED, f"models/m{number}", "ada", {"name": f"m{number}"})
        claimed: list[list[ClaimedDelivery]] = [[] for _ in range(6)]
        start = threading.Barrier(len(claimed))
        now = now_ms()

        def claim(mine: list[ClaimedDelivery]) -> None:
            start.wait()
            while batch := store.claim_deliveries(now=now, lease_ms=60_000, limit=7):
                mine.extend(batch)

        threads = [threading.Thread(target=claim, args=(mine,)) for mine in claimed]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ids = [c.id for mine in claimed for c in mine]
        assert len(ids) == 120 and len(set(ids)) == 120
    finally:
        if backend == "sqlite":
            store.close()


def test_a_rolled_back_event_queues_nothing(store: SqlStore) -> None:
    hook = service(store, allow_private=False).create_webhook("https://93.184.215.14/x", ["*"])

    class Refused(Exception):
        pass

    with pytest.raises(Refused), store.atomic():
        store.append_event(EventType.MODEL_CREATED, "models/never", "ada", {"name": "never"})
        raise Refused
    assert store.list_deliveries(hook.id, status=None, before_seq=None, limit=10) == []
    assert store.claim_deliveries(now=now_ms(), lease_ms=1000, limit=10) == []
