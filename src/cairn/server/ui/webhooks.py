"""Webhooks on the dashboard: every webhook with a form to create one (``/webhooks``), and a
webhook with its deliveries and their attempts (``/webhooks/ID``); docs/webhooks.md.

The signing secret appears on one page only: the answer to the form that created the webhook.
That answer is marked ``no-store`` and, through HTMX, moves the address bar to the webhook's
own page (``hx-history="false"`` keeps it out of HTMX's history cache), so neither reloading
nor going back shows the secret again or posts the form twice. Every other page shows the
secret's fingerprint.

Every write is a form post from the dashboard's own origin (context.same_origin), then a
redirect back (303), so it works without JavaScript. What the service refuses on creation (a
URL that is not http(s), a private address on a server without ``--allow-private-webhooks``, no
event types) is shown above the form with what was typed; nothing is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cairn.core.errors import InvalidInput
from cairn.core.events import type_patterns
from cairn.core.webhooks import MAX_DESCRIPTION_LENGTH, MAX_SECRET_LENGTH, MAX_URL_LENGTH, Delivery, DeliveryStatus
from cairn.core.webhooks import Webhook as WebhookEntity
from cairn.server.ui.context import is_fragment, now_ms, same_origin, service
from cairn.server.ui.events import subject_href
from cairn.server.ui.templating import render
from cairn.service.tracking import TrackingService
from cairn.service.webhooks import DEFAULT_DELIVERY_PAGE

router = APIRouter(include_in_schema=False)
#: The routes that write: each checks that the form came from the dashboard itself.
_WRITES = [Depends(same_origin)]

DELIVERIES_PAGE_SIZE = DEFAULT_DELIVERY_PAGE
#: Failed and pending deliveries the list counts per webhook; beyond that it says "100+".
#: The store counts nothing, so each count is a page of deliveries read and measured.
COUNT_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Tally:
    """A count read up to a limit: ``100+`` when there were more."""

    count: int
    more: bool

    def __str__(self) -> str:
        return f"{self.count}+" if self.more else str(self.count)


@dataclass(frozen=True, slots=True)
class WebhookRow:
    webhook: WebhookEntity
    last: Delivery | None
    failed: Tally
    pending: Tally


@dataclass(frozen=True, slots=True)
class Typed:
    """What the create form held, to fill it again beside the reason it was refused (the
    secret is never written back into the page)."""

    url: str = ""
    events: Sequence[str] = field(default_factory=tuple)
    description: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    delivery: Delivery
    #: The dashboard page of the event's subject, when it has one.
    href: str | None


# -- the list, and creating one -----------------------------------------------------------------


@router.get("/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request) -> HTMLResponse:
    return _list_page(request, service(request))


@router.post("/webhooks", response_class=HTMLResponse, dependencies=_WRITES)
def create_webhook(
    request: Request,
    url: Annotated[str, Form()] = "",
    events: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    secret: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    tracking = service(request)
    typed = Typed(url.strip(), tuple(events), description.replace("\r\n", "\n"))
    try:
        # A secret pasted with a space around it would sign with that space: never meant.
        created = tracking.create_webhook(
            typed.url, typed.events, secret=secret.strip() or None, description=typed.description
        )
    except InvalidInput as exc:
        # HTMX swaps only successful answers (200); a plain post is told what it is (400).
        status = 200 if is_fragment(request) else exc.http_status
        return _list_page(request, tracking, status_code=status, typed=typed, error=exc)
    response = _webhook_page(request, tracking, created.id, created_secret=created.secret)
    # The one page with the secret: no cache keeps it, and the address bar leaves the form's
    # URL for the webhook's own page, which shows the fingerprint only.
    response.headers["Cache-Control"] = "no-store"
    if is_fragment(request):
        response.headers["HX-Push-Url"] = _webhook_url(created.id)
    return response


def _list_page(
    request: Request,
    tracking: TrackingService,
    *,
    status_code: int = 200,
    typed: Typed | None = None,
    error: InvalidInput | None = None,
) -> HTMLResponse:
    return render(
        request,
        "webhooks.html",
        status_code=status_code,
        rows=[_row(tracking, w) for w in tracking.list_webhooks()],
        patterns=type_patterns(),
        typed=typed or Typed(),
        error=error,
        max_url=MAX_URL_LENGTH,
        max_secret=MAX_SECRET_LENGTH,
        max_description=MAX_DESCRIPTION_LENGTH,
        now=now_ms(),
    )


def _row(tracking: TrackingService, webhook: WebhookEntity) -> WebhookRow:
    latest = tracking.list_webhook_deliveries(webhook.id, limit=1).items
    return WebhookRow(
        webhook,
        latest[0] if latest else None,
        _tally(tracking, webhook.id, DeliveryStatus.FAILED),
        _tally(tracking, webhook.id, DeliveryStatus.PENDING),
    )


def _tally(tracking: TrackingService, webhook_id: str, status: DeliveryStatus) -> Tally:
    page = tracking.list_webhook_deliveries(webhook_id, status=status.value, limit=COUNT_LIMIT)
    return Tally(len(page.items), page.next_page_token is not None)


# -- one webhook --------------------------------------------------------------------------------


@router.get("/webhooks/{webhook_id}", response_class=HTMLResponse)
def webhook_page(request: Request, webhook_id: str) -> HTMLResponse:
    """The webhook, and its deliveries newest first, a page at a time (``before`` is the
    page token the page starts below; ``status`` keeps one state)."""
    return _webhook_page(request, service(request), webhook_id)


def _webhook_page(
    request: Request, tracking: TrackingService, webhook_id: str, *, created_secret: str | None = None
) -> HTMLResponse:
    webhook = tracking.get_webhook(webhook_id)
    # Read from the query only on the webhook's own URL: the create form's answer shows the
    # first page, whatever the form posted.
    query = request.query_params if request.method == "GET" else {}
    status = query.get("status") or None
    before = query.get("before")
    page = tracking.list_webhook_deliveries(webhook.id, status=status, limit=DELIVERIES_PAGE_SIZE, page_token=before)
    context: dict[str, Any] = dict(
        webhook=webhook,
        created_secret=created_secret,
        deliveries=[DeliveryRow(d, subject_href(d.subject)) for d in page.items],
        next_token=page.next_page_token,
        statuses=[s.value for s in DeliveryStatus],
        chosen_status=status or "",
        paged=before is not None,
        before=before or "",
        now=now_ms(),
    )
    return render(request, "webhook.html", **context)


@router.post("/webhooks/{webhook_id}/enable", dependencies=_WRITES)
def enable_webhook(request: Request, webhook_id: str) -> RedirectResponse:
    webhook = service(request).update_webhook(webhook_id, active=True)
    return _back(_webhook_url(webhook.id))


@router.post("/webhooks/{webhook_id}/disable", dependencies=_WRITES)
def disable_webhook(request: Request, webhook_id: str) -> RedirectResponse:
    webhook = service(request).update_webhook(webhook_id, active=False)
    return _back(_webhook_url(webhook.id))


@router.post("/webhooks/{webhook_id}/delete", dependencies=_WRITES)
def delete_webhook(request: Request, webhook_id: str) -> RedirectResponse:
    service(request).delete_webhook(webhook_id)
    return _back("/webhooks")


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", dependencies=_WRITES)
def redeliver(
    request: Request,
    webhook_id: str,
    delivery_id: str,
    status: Annotated[str, Form()] = "",
    before: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Queue the delivery again, then back to the page of deliveries the button was on."""
    delivery = service(request).redeliver_webhook_delivery(webhook_id, delivery_id)
    query = urlencode([(k, v) for k, v in (("status", status), ("before", before)) if v])
    target = _webhook_url(delivery.webhook_id) + (f"?{query}" if query else "")
    return _back(f"{target}#delivery-{quote(delivery.id, safe='')}")


def _webhook_url(webhook_id: str) -> str:
    return f"/webhooks/{quote(webhook_id, safe='')}"


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
