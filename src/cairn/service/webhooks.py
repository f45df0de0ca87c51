"""The rules of webhooks, mixed into :class:`TrackingService` (docs/webhooks.md).

- a webhook's URL is http(s) with a host and no credentials, and names no loopback, private,
  link-local, multicast or unspecified address, unless this service allows private webhooks
  (cairn.service.outbound);
- it subscribes to at least one event type or pattern (``model_version.created``, ``review.*``,
  ``*``), each naming a known type;
- its secret is given (``whsec_`` and base64, or 16 characters or more of text) or made; it is
  in the answer to the creation and in no read after it;
- webhooks belong to the whole server: one may subscribe to every project's and model's events,
  and its deliveries carry them, so only a global admin reads or manages webhooks
  (docs/access.md);
- deliveries are queued by the store with each event and sent by the server's delivery worker
  (cairn.service.deliveries), never on the path of the change that made the event.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cairn.core import limits
from cairn.core.entities import Page
from cairn.core.errors import InvalidPageToken, InvalidValue
from cairn.core.events import EventType
from cairn.core.webhooks import (
    MAX_DESCRIPTION_LENGTH,
    Delivery,
    DeliveryStatus,
    Webhook,
    check_secret,
    check_subscription,
    check_webhook_url,
    new_secret,
)
from cairn.service import outbound
from cairn.service.events import EventRules
from cairn.service.policy import Action

if TYPE_CHECKING:
    from cairn.service.policy import Policy, Principal
    from cairn.store.base import MetadataStore

#: Deliveries one page holds at most, and by default.
MAX_DELIVERY_PAGE = 1000
DEFAULT_DELIVERY_PAGE = 50
#: A page token of deliveries: the event ``seq`` the next page starts below.
MAX_DELIVERY_PAGE_TOKEN_LENGTH = 19
DELIVERY_PAGE_TOKEN_PATTERN = f"^[0-9]{{1,{MAX_DELIVERY_PAGE_TOKEN_LENGTH}}}$"
_DELIVERY_TOKEN = re.compile(DELIVERY_PAGE_TOKEN_PATTERN)
#: Characters of a webhook or delivery id (32 hex digits are made; longer is never found).
MAX_ID_LENGTH = 64


class WebhookRules(EventRules):
    store: MetadataStore
    principal: Principal
    policy: Policy
    #: Whether webhooks may call private and loopback addresses (``--allow-private-webhooks``).
    allow_private_webhooks: bool

    def create_webhook(
        self,
        url: str,
        events: Sequence[str],
        *,
        secret: str | None = None,
        description: str = "",
        active: bool = True,
    ) -> Webhook:
        checked_url = self._check_url(url)
        patterns = check_subscription(events)
        limits.check_text(description, "webhook description", MAX_DESCRIPTION_LENGTH)
        signing_secret = new_secret() if secret is None else check_secret(secret)
        _check_flag(active, "active")
        self._require_webhook_admin()
        with self.store.atomic():
            webhook = self.store.create_webhook(
                url=checked_url,
                events=patterns,
                description=description,
                secret=signing_secret,
                active=active,
                created_by=self.principal.name,
            )
            self._record(EventType.WEBHOOK_CREATED, _subject(webhook.id), _audit(webhook))
        # The one answer that carries the secret: the caller keeps it, reads never show it.
        return dataclasses.replace(webhook, secret=signing_secret)

    def get_webhook(self, webhook_id: str) -> Webhook:
        self._require_webhook_admin()
        return self.store.get_webhook(_check_id(webhook_id, "webhook id"))

    def list_webhooks(self) -> list[Webhook]:
        self._require_webhook_admin()
        return self.store.list_webhooks()

    def update_webhook(
        self,
        webhook_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        description: str | None = None,
        active: bool | None = None,
        secret: str | None = None,
    ) -> Webhook:
        checked_id = _check_id(webhook_id, "webhook id")
        checked_url = None if url is None else self._check_url(url)
        patterns = None if events is None else check_subscription(events)
        if description is not None:
            limits.check_text(description, "webhook description", MAX_DESCRIPTION_LENGTH)
        if active is not None:
            _check_flag(active, "active")
        checked_secret = None if secret is None else check_secret(secret)
        self._require_webhook_admin()
        with self.store.atomic():
            updated = self.store.update_webhook(
                checked_id,
                url=checked_url,
                events=patterns,
                description=description,
                active=active,
                secret=checked_secret,
            )
            self._record(
                EventType.WEBHOOK_UPDATED,
                _subject(checked_id),
                {**_audit(updated), "secret_changed": secret is not None},
            )
        return updated

    def delete_webhook(self, webhook_id: str) -> None:
        checked_id = _check_id(webhook_id, "webhook id")
        self._require_webhook_admin()
        with self.store.atomic():
            self.store.delete_webhook(checked_id)
            self._record(EventType.WEBHOOK_DELETED, _subject(checked_id), {})

    def list_webhook_deliveries(
        self,
        webhook_id: str,
        *,
        status: str | None = None,
        limit: int = DEFAULT_DELIVERY_PAGE,
        page_token: str | None = None,
    ) -> Page[Delivery]:
        checked_id = _check_id(webhook_id, "webhook id")
        wanted = None if status is None else _check_status(status)
        limits.check_listing_limit(limit, MAX_DELIVERY_PAGE)
        before = None if page_token is None else _seq_from_token(page_token)
        self._require_webhook_admin()
        found = self.store.list_deliveries(checked_id, status=wanted, before_seq=before, limit=limit + 1)
        items = found[:limit]
        return Page(items, str(items[-1].event_seq) if len(found) > limit else None)

    def get_webhook_delivery(self, webhook_id: str, delivery_id: str) -> Delivery:
        ids = _check_id(webhook_id, "webhook id"), _check_id(delivery_id, "delivery id")
        self._require_webhook_admin()
        return self.store.get_delivery(*ids)

    def redeliver_webhook_delivery(self, webhook_id: str, delivery_id: str) -> Delivery:
        ids = _check_id(webhook_id, "webhook id"), _check_id(delivery_id, "delivery id")
        self._require_webhook_admin()
        return self.store.redeliver(*ids)

    def _require_webhook_admin(self) -> None:
        self.policy.check(self.principal, Action.ADMIN, None)

    def _check_url(self, url: str) -> str:
        parsed = check_webhook_url(url)
        outbound.check_new_url(parsed, allow_private=self.allow_private_webhooks)
        return parsed.url


def _check_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise InvalidValue(f"a {what} is a string of 1 to {MAX_ID_LENGTH} characters, got {str(value)[:80]!r}")
    return value


def _check_flag(value: object, what: str) -> None:
    if not isinstance(value, bool):
        raise InvalidValue(f"{what} must be true or false, got {value!r}")


def _check_status(status: object) -> DeliveryStatus:
    try:
        return DeliveryStatus(str(status))
    except ValueError:
        known = ", ".join(s.value for s in DeliveryStatus)
        raise InvalidValue(f"{str(status)[:40]!r} is not a delivery status; they are {known}") from None


def _seq_from_token(token: str) -> int:
    if not isinstance(token, str) or not _DELIVERY_TOKEN.fullmatch(token):
        raise InvalidPageToken(f"{str(token)[:40]!r} is not a page token of webhook deliveries")
    return int(token)


def _subject(webhook_id: str) -> str:
    return f"webhooks/{webhook_id}"


def _audit(webhook: Webhook) -> dict[str, Any]:
    """What the event log keeps of a webhook: never its secret."""
    return {"url": webhook.url, "events": list(webhook.events), "active": webhook.active}
