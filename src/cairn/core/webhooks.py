"""Webhooks: an HTTP endpoint subscribed to event types, and the deliveries queued for it
(docs/webhooks.md).

A webhook names its URL, the event type patterns it wants (``model_version.created``,
``review.*``, ``*``) and a signing secret. The secret is kept (every delivery is signed with it)
but shown only once, in the answer to the webhook's creation; reads carry a fingerprint of it.

Which URLs a server may call is decided here without I/O: the syntax (http or https, a host,
no credentials), and whether an address is one a server must not reach on a user's behalf
(loopback, private, link-local, multicast, unspecified, reserved). Resolving a host name is
the service's (cairn.service.outbound), at creation and again before every attempt.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

from cairn.core import limits
from cairn.core.errors import InvalidValue, WebhookUrlRefused
from cairn.core.events import Event, check_event_types

MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 1000
#: Patterns one webhook subscribes to at most.
MAX_EVENT_PATTERNS = 50
#: What the OpenAPI document states of a URL; the service checks it and more (the port, the
#: host's characters, the address it names).
URL_PATTERN = r"^https?://[^\s/?#@\\\x00-\x1f\x7f]+(?:[/?#][^\s\x00-\x1f\x7f]*)?$"
_URL = re.compile(URL_PATTERN)
_HOST_NAME = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*\.?$")

#: Standard Webhooks' prefix of a base64-encoded signing key.
SECRET_PREFIX = "whsec_"
#: Bytes of a generated key, and the bounds of a ``whsec_`` key's (the specification's).
GENERATED_SECRET_BYTES = 32
MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64
#: Characters of a secret given in the clear (not ``whsec_``): its UTF-8 bytes are the key.
MIN_PLAIN_SECRET_LENGTH, MAX_SECRET_LENGTH = 16, 512
SECRET_PATTERN = limits.KEY_PATTERN
_SECRET = re.compile(SECRET_PATTERN)
#: Hex digits of a secret's fingerprint: enough to tell two apart, nothing to sign with.
FINGERPRINT_LENGTH = 12


class DeliveryStatus(enum.StrEnum):
    #: Waiting for its first attempt, or for a retry.
    PENDING = "pending"
    #: The endpoint answered 2xx.
    SUCCEEDED = "succeeded"
    #: Refused for good (a 4xx, a redirect, a forbidden address) or out of attempts.
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    url: str
    #: Event type patterns, as given (deduplicated, in order).
    events: tuple[str, ...]
    description: str
    #: A disabled webhook gets no new deliveries, and its pending ones wait.
    active: bool
    #: The first hex digits of SHA-256 of the secret's text: to tell which secret is set.
    secret_fingerprint: str
    created_by: str
    created_at: int
    updated_at: int
    #: The signing secret: only in the answer to the webhook's creation, None in every read.
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    #: 1 for the first attempt of a delivery, then counting on across redeliveries.
    number: int
    started_at: int
    duration_ms: int
    #: The endpoint's HTTP status, None when no answer came (timeout, connection error).
    status_code: int | None
    #: Why the attempt failed without a status (or what was wrong with one), else None.
    error: str | None
    #: The start of the answer's body, as text (capped), for seeing why an endpoint refused.
    response: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event queued for one webhook; its ``id`` is the ``webhook-id`` header of every
    attempt, so a receiver can tell a retry from a new event."""

    id: str
    webhook_id: str
    event_id: str
    event_seq: int
    event_type: str
    subject: str
    status: DeliveryStatus
    #: Milliseconds since the epoch: when the next attempt is due (None once finished).
    next_attempt_at: int | None
    created_at: int
    finished_at: int | None
    attempts: tuple[Attempt, ...]


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A due delivery that one worker holds under a lease, with what an attempt needs."""

    id: str
    webhook_id: str
    url: str
    secret: str
    event: Event
    #: This attempt's number: one more than the attempts made so far.
    number: int
    #: Its place among the attempts since the delivery was queued or last redelivered (the
    #: retry schedule counts these).
    round_number: int
    #: Proof of the lease: the outcome is recorded only while the lease is still this one.
    lease_token: str


# -- URLs and addresses ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookUrl:
    url: str
    scheme: str
    #: Lowercase, without the brackets of an IPv6 literal.
    host: str
    port: int
    #: The address the host is written as, when it is one.
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None


def check_webhook_url(url: object) -> WebhookUrl:
    """The URL taken apart if it is one a webhook may have: ``http://`` or ``https://``, a
    host, a valid port, no user name or password (reads show the URL). Raises InvalidValue."""
    if not isinstance(url, str):
        raise InvalidValue(f"a webhook URL must be a string, got {type(url).__name__}", details={"field": "url"})
    if len(url) > MAX_URL_LENGTH:
        raise _bad_url(url, f"is {len(url)} characters long; the limit is {MAX_URL_LENGTH}")
    if not _URL.fullmatch(url):
        # "@" is refused with the rest: a user name or password in the URL would show in
        # every read, and the signature authenticates deliveries anyway.
        raise _bad_url(url, "is not an http:// or https:// URL with a host (and no user name or password)")
    try:
        parts: SplitResult = urlsplit(url)
    except ValueError:  # an unbalanced "[" or "]" around the host
        raise _bad_url(url, "has a host that is neither a name nor an IP address") from None
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise _bad_url(url, "has a port that is not a number from 1 to 65535")
    address = _address(host)
    if address is None and not _is_host_name(host):
        raise _bad_url(url, "has a host that is neither a name nor an IP address")
    default_port = 443 if parts.scheme == "https" else 80
    return WebhookUrl(url, parts.scheme, host, default_port if port is None else port, address)


def _is_host_name(host: str) -> bool:
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return len(ascii_host) <= 253 and _HOST_NAME.fullmatch(ascii_host) is not None


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _bad_url(url: str, why: str) -> InvalidValue:
    return InvalidValue(f"the webhook URL {url[:200]!r} {why}", details={"field": "url"})


def refusal_reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a server must not deliver to ``address`` on a user's behalf, or None when it is a
    globally routable unicast address. An IPv6 address that carries an IPv4 one (mapped,
    6to4, Teredo) is judged by that one too."""
    for reason, test in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if test:
            return reason
    if isinstance(address, ipaddress.IPv6Address):
        carried = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
        for inner in carried:
            inner_reason = None if inner is None else refusal_reason(inner)
            if inner_reason is not None:
                return inner_reason
    if not address.is_global:  # shared address space (100.64/10), benchmarking, and the like
        return "not globally routable"
    return None


def is_local_name(host: str) -> bool:
    """``localhost`` and names under it, which resolve to loopback without asking DNS."""
    return host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost")


def refuse_address(url: WebhookUrl, address: str, reason: str) -> WebhookUrlRefused:
    shown = url.host if address == url.host else f"{url.host} ({address})"
    return WebhookUrlRefused(
        f"the webhook URL's host {shown} is a {reason} address; a server started with "
        "--allow-private-webhooks delivers to such addresses",
        details={"url": url.url[:200], "host": url.host, "address": address, "reason": reason},
    )


# -- subscriptions -----------------------------------------------------------------------------


def check_subscription(patterns: Iterable[str]) -> tuple[str, ...]:
    """Event type patterns a webhook may subscribe to: at least one, at most
    MAX_EVENT_PATTERNS, each known (see :func:`cairn.core.events.check_event_types`); repeats
    are dropped. Raises InvalidValue."""
    if isinstance(patterns, str):
        raise InvalidValue("a webhook's events are a list of event types or patterns, not one string")
    listed = list(patterns)
    if not listed:
        raise InvalidValue("a webhook needs at least one event type or pattern (* for every event)")
    if len(listed) > MAX_EVENT_PATTERNS:
        raise InvalidValue(f"a webhook subscribes to at most {MAX_EVENT_PATTERNS} patterns, got {len(listed)}")
    return tuple(dict.fromkeys(check_event_types(listed)))


# -- secrets -----------------------------------------------------------------------------------


def new_secret() -> str:
    """A random signing secret, as Standard Webhooks writes one: ``whsec_`` and base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(GENERATED_SECRET_BYTES)).decode()


def check_secret(secret: object) -> str:
    """A secret a webhook may sign with: ``whsec_`` and the base64 of 24 to 64 random bytes,
    or any other text of 16 to 512 characters without control characters. Raises InvalidValue."""
    if not isinstance(secret, str):
        raise InvalidValue(f"a webhook secret must be a string, got {type(secret).__name__}")
    if len(secret) > MAX_SECRET_LENGTH or not _SECRET.fullmatch(secret):
        raise _bad_secret(f"is at most {MAX_SECRET_LENGTH} characters without control characters")
    if secret.startswith(SECRET_PREFIX):
        try:
            key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise _bad_secret(f"that starts with {SECRET_PREFIX} must continue in base64") from None
        if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
            raise _bad_secret(f"that starts with {SECRET_PREFIX} must encode {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes")
    elif len(secret) < MIN_PLAIN_SECRET_LENGTH:
        raise _bad_secret(f"is at least {MIN_PLAIN_SECRET_LENGTH} characters long (omit it to have one made)")
    return secret


def _bad_secret(why: str) -> InvalidValue:
    return InvalidValue(f"a webhook secret {why}", details={"field": "secret"})


def signing_key(secret: str) -> bytes:
    """The HMAC-SHA256 key of a secret: the base64-decoded bytes after ``whsec_`` (as the
    ``standardwebhooks`` library reads such a secret), else the secret's UTF-8 bytes (as
    MLflow's webhooks do; pass those bytes to ``standardwebhooks.Webhook``)."""
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX) :])
    return secret.encode()


def secret_fingerprint(secret: str) -> str:
    """``hashlib.sha256(secret.encode()).hexdigest()[:12]``: shown instead of the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()[:FINGERPRINT_LENGTH]


# -- the wire format ---------------------------------------------------------------------------


def webhook_to_wire(webhook: Webhook) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "id": webhook.id,
        "url": webhook.url,
        "events": list(webhook.events),
        "description": webhook.description,
        "active": webhook.active,
        "secret_fingerprint": webhook.secret_fingerprint,
        "created_by": webhook.created_by,
        "created_at": webhook.created_at,
        "updated_at": webhook.updated_at,
    }
    if webhook.secret is not None:
        wire["secret"] = webhook.secret
    return wire


def webhook_from_wire(data: Mapping[str, Any]) -> Webhook:
    return Webhook(
        id=data["id"],
        url=data["url"],
        events=tuple(data["events"]),
        description=data["description"],
        active=data["active"],
        secret_fingerprint=data["secret_fingerprint"],
        created_by=data["created_by"],
        created_at=data["created_at"],
        updated_at=data["updated_at"],
        secret=data.get("secret"),
    )


def delivery_to_wire(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "event_id": delivery.event_id,
        "event_seq": delivery.event_seq,
        "event_type": delivery.event_type,
        "subject": delivery.subject,
        "status": delivery.status.value,
        "next_attempt_at": delivery.next_attempt_at,
        "created_at": delivery.created_at,
        "finished_at": delivery.finished_at,
        "attempts": [
            {
                "number": a.number,
                "started_at": a.started_at,
                "duration_ms": a.duration_ms,
                "status_code": a.status_code,
                "error": a.error,
                "response": a.response,
            }
            for a in delivery.attempts
        ],
    }


def delivery_from_wire(data: Mapping[str, Any]) -> Delivery:
    return Delivery(
        id=data["id"],
        webhook_id=data["webhook_id"],
        event_id=data["event_id"],
        event_seq=data["event_seq"],
        event_type=data["event_type"],
        subject=data["subject"],
        status=DeliveryStatus(data["status"]),
        next_attempt_at=data["next_attempt_at"],
        created_at=data["created_at"],
        finished_at=data["finished_at"],
        attempts=tuple(Attempt(**attempt) for attempt in data["attempts"]),
    )
