"""``cairn server`` as its operators run it delivers webhooks: several worker processes share
one queue and send each delivery once, signed; without ``--allow-private-webhooks`` a loopback
receiver is refused (docs/webhooks.md)."""

from __future__ import annotations

import collections
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook
from tests.helpers import Receiver, eventually

from cairn.client.http import HttpTracking
from cairn.core.errors import WebhookUrlRefused
from cairn.core.webhooks import DeliveryStatus

if TYPE_CHECKING:
    from tests.e2e.conftest import ServerProcess


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def test_worker_processes_send_each_delivery_once(
    start_server: Callable[..., ServerProcess], receiver: Receiver
) -> None:
    server = start_server(workers=2, args=("--allow-private-webhooks",))
    tracking = HttpTracking(server.url)
    try:
        hook = tracking.create_webhook(f"{receiver.url}/served", ["registered_model.created"])
        assert hook.secret is not None
        for number in range(20):
            tracking.create_model(f"served-{number}")
        got = receiver.wait_for(lambda r: len(r) >= 20)

        def all_delivered() -> bool:
            found = tracking.list_webhook_deliveries(hook.id, limit=100).items
            return len(found) == 20 and all(d.status is DeliveryStatus.SUCCEEDED for d in found)

        eventually(all_delivered, what="all 20 deliveries succeeding")
    finally:
        tracking.close()
    assert len(receiver.received) == 20
    assert set(collections.Counter(r.headers["webhook-id"] for r in got).values()) == {1}
    names = sorted(StandardWebhook(hook.secret).verify(r.body, r.headers)["data"]["name"] for r in got)
    assert names == sorted(f"served-{n}" for n in range(20))
    assert {json.loads(r.body)["type"] for r in got} == {"registered_model.created"}


def test_without_the_flag_a_loopback_receiver_is_refused(
    start_server: Callable[..., ServerProcess], receiver: Receiver
) -> None:
    tracking = HttpTracking(start_server().url)
    try:
        with pytest.raises(WebhookUrlRefused, match="loopback"):
            tracking.create_webhook(f"{receiver.url}/served", ["*"])
    finally:
        tracking.close()
