"""The pure rules of webhooks: which URLs and addresses, secrets and their keys, the signed
body, and what each answer leads to (docs/webhooks.md)."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook as StandardWebhook

from cairn.core.errors import InvalidValue
from cairn.core.events import AUDIT_TYPES, Event, EventType, expand_types, patterns_naming, type_patterns
from cairn.core.webhook_delivery import (
    RetrySchedule,
    Verdict,
    delivery_body,
    delivery_headers,
    retry_after_seconds,
    verdict,
)
from cairn.core.webhooks import (
    check_secret,
    check_subscription,
    check_webhook_url,
    new_secret,
    refusal_reason,
    secret_fingerprint,
    signing_key,
)

EVENT = Event(7, "e" * 32, EventType.ALIAS_SET, "models/digits", "ada", 1_767_225_600_123, {"alias": "champion"})


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "any"),  # reserved; Python's tables call it private too
        ("100.64.0.1", "not globally routable"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fd12:3456::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("93.184.215.14", None),
        ("1.1.1.1", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_which_addresses_are_refused(address: str, reason: str | None) -> None:
    found = refusal_reason(ipaddress.ip_address(address))
    assert found is not None if reason == "any" else found == reason


def test_a_url_taken_apart() -> None:
    url = check_webhook_url("https://Hooks.Example.com:8443/cairn?x=1")
    assert (url.scheme, url.host, url.port, url.address) == ("https", "hooks.example.com", 8443, None)
    assert check_webhook_url("http://[::1]/x").address == ipaddress.ip_address("::1")
    assert check_webhook_url("http://93.184.215.14").port == 80
    assert check_webhook_url("https://bücher.example/").host == "bücher.example"


@pytest.mark.parametrize(
    "url",
    [
        "HTTP://x.example",
        "https://x.example:0/",
        "https://-bad-.example/",
        "https://x.example/\x01",
        "mailto:a@b.c",
        "https://x]y.example/",  # urlsplit refuses an unbalanced bracket with ValueError (was a 500)
        "https://[::1/",
    ],
)
def test_urls_refused_by_syntax(url: str) -> None:
    with pytest.raises(InvalidValue):
        check_webhook_url(url)


def test_subscriptions() -> None:
    assert check_subscription(["review.*", "*", "review.*"]) == ("review.*", "*")
    with pytest.raises(InvalidValue):
        check_subscription("*")
    with pytest.raises(InvalidValue):
        check_subscription(["*"] * 51)


@pytest.mark.parametrize("event_type", list(EventType))
def test_the_patterns_that_name_a_type_are_those_that_expand_to_it(event_type: EventType) -> None:
    # The store matches subscriptions by patterns_naming; the filters expand patterns: one rule,
    # except that a subscription to * does not take the audit trail (docs/webhooks.md).
    naming = {p for p in type_patterns() if event_type in expand_types([p])}
    if event_type in AUDIT_TYPES:
        naming.discard("*")
    assert set(patterns_naming(event_type)) == naming


def test_star_takes_the_registry_and_run_lifecycle_but_not_the_audit_trail() -> None:
    assert "*" in patterns_naming(EventType.VERSION_CREATED) and "*" in patterns_naming(EventType.RUN_CREATED)
    for audited in (EventType.USER_SIGNED_IN, EventType.TOKEN_USED, EventType.COMMENT_CREATED, EventType.RUN_TAG_SET):
        assert "*" not in patterns_naming(audited)


def test_secrets_and_their_keys() -> None:
    made = new_secret()
    assert made.startswith("whsec_") and len(signing_key(made)) == 32 and check_secret(made) == made
    assert new_secret() != made
    assert signing_key("a plain secret, 16+") == b"a plain secret, 16+"
    assert secret_fingerprint(made) != secret_fingerprint(new_secret()) and len(secret_fingerprint(made)) == 12
    with pytest.raises(InvalidValue):
        check_secret("whsec_" + base64.b64encode(b"x" * 23).decode())  # under 24 bytes
    with pytest.raises(InvalidValue):
        check_secret("whsec_" + base64.b64encode(b"x" * 65).decode())
    check_secret("whsec_" + base64.b64encode(b"x" * 64).decode())


@given(key=st.binary(min_size=24, max_size=64), msg_id=st.text("0123456789abcdef", min_size=1, max_size=32))
def test_the_signature_is_what_the_standard_webhooks_library_accepts(key: bytes, msg_id: str) -> None:
    secret = "whsec_" + base64.b64encode(key).decode()
    body = delivery_body(EVENT)
    now = int(dt.datetime.now(dt.UTC).timestamp())
    headers = delivery_headers(secret, msg_id, now, body)
    assert StandardWebhook(secret).verify(body, headers) == json.loads(body)


def test_the_body() -> None:
    body = json.loads(delivery_body(EVENT))
    assert body == {
        "type": "model_version_alias.created",
        "timestamp": "2026-01-01T00:00:00.123Z",
        "data": {"alias": "champion"},
        "event_id": "e" * 32,
        "subject": "models/digits",
        "actor": "ada",
    }
    assert delivery_body(EVENT) == delivery_body(EVENT)  # every attempt the same bytes


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (None, Verdict.RETRY),
        (200, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (301, Verdict.FAILED),
        (400, Verdict.FAILED),
        (404, Verdict.FAILED),
        (408, Verdict.RETRY),
        (409, Verdict.RETRY),
        (425, Verdict.RETRY),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (503, Verdict.RETRY),
    ],
)
def test_what_an_answer_leads_to(status: int | None, expected: Verdict) -> None:
    assert verdict(status) is expected


def test_the_retry_schedule() -> None:
    schedule = RetrySchedule()
    assert schedule.max_attempts == 8
    assert sum(schedule.delays) / 3600 == pytest.approx(21.7, abs=0.1)  # about a day
    assert schedule.wait_after(1, None, 0.0) == 5.0
    assert schedule.wait_after(1, None, 1.0) == pytest.approx(6.0) and schedule.wait_after(1, None, -1.0) == 4.0
    assert schedule.wait_after(8, None, 0.0) is None
    # Retry-After longer than the schedule's wait is honoured, up to its bound.
    assert schedule.wait_after(1, 120.0, 0.0) == 120.0
    assert schedule.wait_after(1, 1.0, 0.0) == 5.0
    assert schedule.wait_after(1, 10**9, 0.0) == schedule.max_retry_after


def test_retry_after_headers() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("Thu, 01 Jan 2026 00:01:00 GMT", now) == 60.0
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None, now) is None
