"""``cairn webhooks``: create (the secret printed once), list, deliveries with their attempts'
status codes, redeliver and delete; refusals are one ``Error:`` line and store nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tests.helpers import Receiver

from cairn.core.webhook_delivery import RetrySchedule
from cairn.service.deliveries import DeliveryOptions, DeliveryWorker
from cairn.service.interface import Tracking
from cairn.store.sql import SqlStore

from .helpers import Invoke

PUBLIC = "https://93.184.215.14/hooks/cairn"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def deliver_once(store_uri: str) -> None:
    """One round of attempts by a delivery worker, as a server's would make."""
    store = SqlStore(store_uri)
    worker = DeliveryWorker(store, DeliveryOptions(allow_private=True, schedule=RetrySchedule(delays=(0.0,) * 3)))
    try:
        worker.run_once()
    finally:
        worker.close()
        store.close()


def test_create_list_and_delete(invoke: Invoke, store_uri: str) -> None:
    assert "No webhooks yet" in invoke("webhooks", "list", "--uri", store_uri).stdout
    created = invoke(
        "webhooks", "create", PUBLIC, "--events", "model_version.*,review.*", "-e", "run.created", "--uri", store_uri
    ).stdout.splitlines()
    hook_id = created[0].split()[2]
    assert created[0] == f"Created webhook {hook_id} for {PUBLIC}"
    assert created[1] == "  events: model_version.*, review.*, run.created"
    secret = created[2].split()[1]
    assert secret.startswith("whsec_") and "shown once" in created[2]

    table = invoke("webhooks", "list", "--uri", store_uri).stdout
    assert hook_id in table and PUBLIC in table and secret not in table
    [listed] = json.loads(invoke("webhooks", "list", "--uri", store_uri, "--json").stdout)
    assert listed["id"] == hook_id and "secret" not in listed and listed["active"] is True
    assert listed["events"] == ["model_version.*", "review.*", "run.created"]

    given = invoke("webhooks", "create", PUBLIC, "--events", "*", "--secret", "sixteen chars ok", "--uri", store_uri)
    assert "sixteen chars ok" not in given.stdout and "fingerprint" in given.stdout

    assert invoke("webhooks", "delete", hook_id, "--uri", store_uri).stdout == f"Deleted webhook {hook_id}\n"
    assert len(json.loads(invoke("webhooks", "list", "--uri", store_uri, "--json").stdout)) == 1
    gone = invoke("webhooks", "delete", hook_id, "--uri", store_uri, code=1)
    assert gone.stderr.startswith(f"Error: no webhook with id '{hook_id}'")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://93.184.215.14/x", "is not an http:// or https:// URL"),
        ("http://127.0.0.1:9/x", "is a loopback address"),
        ("http://10.0.0.7/x", "is a private address"),
    ],
)
def test_a_refused_url_is_one_error_line(invoke: Invoke, store_uri: str, url: str, message: str) -> None:
    result = invoke("webhooks", "create", url, "--events", "*", "--uri", store_uri, code=1)
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: ") and message in line
    assert json.loads(invoke("webhooks", "list", "--uri", store_uri, "--json").stdout) == []


def test_private_addresses_with_the_environment_setting(invoke: Invoke, store_uri: str) -> None:
    env = {"CAIRN_ALLOW_PRIVATE_WEBHOOKS": "1"}
    invoke("webhooks", "create", "http://127.0.0.1:9/x", "--events", "*", "--uri", store_uri, env=env)


def test_deliveries_show_each_attempt(invoke: Invoke, store_uri: str, embedded: Tracking, receiver: Receiver) -> None:
    answers = iter([500])
    receiver.answer = lambda _request: next(answers, 200)
    env = {"CAIRN_ALLOW_PRIVATE_WEBHOOKS": "1"}
    created = invoke(
        "webhooks",
        "create",
        f"{receiver.url}/cli",
        "--events",
        "registered_model.*",
        "--uri",
        store_uri,
        "--json",
        env=env,
    )
    hook = json.loads(created.stdout)
    assert hook["secret"].startswith("whsec_")
    assert "No deliveries yet" in invoke("webhooks", "deliveries", hook["id"], "--uri", store_uri).stdout
    embedded.create_model("digits")

    pending = invoke("webhooks", "deliveries", hook["id"], "--uri", store_uri).stdout.splitlines()
    assert pending[0].split()[:5] == ["delivery", "event", "subject", "status", "attempts"]
    assert pending[2].split()[1:5] == ["registered_model.created", "models/digits", "pending", "-"]

    deliver_once(store_uri)  # 500: retried at once
    deliver_once(store_uri)  # 200
    done = invoke("webhooks", "deliveries", hook["id"], "--uri", store_uri).stdout.splitlines()
    assert done[2].split()[3:6] == ["succeeded", "500", "200"]
    [delivery] = json.loads(invoke("webhooks", "deliveries", hook["id"], "--uri", store_uri, "--json").stdout)
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]
    assert len(receiver.received) == 2

    again = invoke("webhooks", "redeliver", hook["id"], delivery["id"], "--uri", store_uri).stdout
    assert again.startswith(f"Delivery {delivery['id']} is queued again")
    deliver_once(store_uri)
    assert receiver.received[-1].headers["webhook-id"] == delivery["id"] and len(receiver.received) == 3
    only_failed = invoke("webhooks", "deliveries", hook["id"], "--status", "failed", "--uri", store_uri).stdout
    assert only_failed == "No deliveries match.\n"
