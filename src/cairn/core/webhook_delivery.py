"""What a webhook delivery sends and what becomes of it, as the Standard Webhooks
specification describes (docs/webhooks.md): the body, its signature, and the retry rules.

- The body is ``{"type", "timestamp", "data"}`` with the event's id, subject and actor beside
  them: ``type`` is the event type, ``timestamp`` the time of the event in ISO 8601 (UTC, with
  milliseconds), ``data`` the event's data. It is made from the stored event, so every
  attempt sends the same bytes.
- The signature is ``v1,`` and the base64 of HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}``,
  keyed by :func:`cairn.core.webhooks.signing_key`.
- An answer of 2xx delivers. No answer (a timeout, a refused or broken connection), 408, 409,
  425, 429 and 5xx are tried again later, on :class:`RetrySchedule`; any other status (a
  redirect, 4xx) fails the delivery for good, as does running out of attempts.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import hmac
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import orjson

from cairn.core.events import Event
from cairn.core.webhooks import signing_key

#: Statuses that say "not now" rather than "never".
RETRY_STATUSES = frozenset({408, 409, 425, 429})


def delivery_body(event: Event) -> bytes:
    """The JSON body of every attempt to deliver ``event``: the same bytes each time."""
    when = dt.datetime.fromtimestamp(event.created_at / 1000, tz=dt.UTC)
    return orjson.dumps(
        {
            "type": event.type.value,
            "timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "data": dict(event.data),
            "event_id": event.id,
            "subject": event.subject,
            "actor": event.actor,
        }
    )


def signature(secret: str, delivery_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header's value: ``v1,`` and base64 of the HMAC-SHA256."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def delivery_headers(secret: str, delivery_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one attempt; ``timestamp`` is the attempt's, in Unix seconds."""
    return {
        "content-type": "application/json",
        "user-agent": "cairn-webhooks",
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, delivery_id, timestamp, body),
    }


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


def verdict(status_code: int | None) -> Verdict:
    """What an attempt's answer means; None is no answer (timeout, connection error)."""
    if status_code is None or status_code >= 500 or status_code in RETRY_STATUSES:
        return Verdict.RETRY
    if 200 <= status_code < 300:
        return Verdict.DELIVERED
    return Verdict.FAILED


def retry_after_seconds(value: str | None, now: dt.datetime) -> float | None:
    """A ``Retry-After`` header in seconds from ``now``: delay-seconds or an HTTP date; None
    when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


#: Seconds before the 2nd, 3rd… attempt: 8 attempts over about 22 hours, growing about
#: fivefold at first and then more slowly, as the specification's example schedule does.
DEFAULT_RETRY_DELAYS = (5.0, 60.0, 300.0, 1800.0, 7200.0, 18000.0, 50400.0)


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """When to try again, and when to stop.

    ``delays[i]`` is the wait before attempt ``i + 2``; after ``len(delays) + 1`` attempts the
    delivery fails. Each wait is spread by up to ``jitter`` either way, so that endpoints that
    failed together are not all retried in the same second. A ``Retry-After`` longer than the
    scheduled wait is honoured, up to ``max_retry_after``.
    """

    delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    jitter: float = 0.2
    max_retry_after: float = 6 * 3600.0

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def wait_after(self, attempt: int, retry_after: float | None, spread: float) -> float | None:
        """Seconds to wait after the ``attempt``-th attempt (counting from 1) before the next,
        or None when that was the last; ``spread`` is a number in [-1, 1] (random in use)."""
        if attempt >= self.max_attempts:
            return None
        wait = self.delays[attempt - 1] * (1 + self.jitter * max(-1.0, min(1.0, spread)))
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait
