"""Webhooks: /api/v1/webhooks, their deliveries and redelivery (docs/webhooks.md).

The secret is in the answer to the creation only; every other answer has its fingerprint.
Deliveries are queued with each event and sent by the server's delivery worker: no route here
waits for an endpoint.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from cairn.core.webhooks import DeliveryStatus, delivery_to_wire, webhook_to_wire
from cairn.server.deps import TrackingDep
from cairn.server.errors import error_responses
from cairn.server.jsonresponse import JsonResponse, JsonRoute
from cairn.server.schemas import (
    DeliveryList,
    DeliveryOut,
    WebhookCreate,
    WebhookCreatedOut,
    WebhookList,
    WebhookOut,
    WebhookPatch,
)
from cairn.service.webhooks import (
    DEFAULT_DELIVERY_PAGE,
    DELIVERY_PAGE_TOKEN_PATTERN,
    MAX_DELIVERY_PAGE,
    MAX_DELIVERY_PAGE_TOKEN_LENGTH,
    MAX_ID_LENGTH,
)

router = APIRouter(tags=["webhooks"], route_class=JsonRoute)

WebhookId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)]
DeliveryId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)]


@router.get("/webhooks", responses=error_responses(400, 503), response_model=WebhookList, summary="Every webhook")
def list_webhooks(service: TrackingDep) -> JsonResponse:
    return JsonResponse({"webhooks": [webhook_to_wire(w) for w in service.list_webhooks()]})


@router.post(
    "/webhooks",
    responses=error_responses(400, 413, 503),
    response_model=WebhookCreatedOut,
    status_code=201,
    summary="Subscribe a URL to event types; the answer holds the signing secret, once",
)
def create_webhook(body: WebhookCreate, service: TrackingDep) -> JsonResponse:
    webhook = service.create_webhook(
        body.url, body.events, secret=body.secret, description=body.description, active=body.active
    )
    return JsonResponse(webhook_to_wire(webhook), status_code=201)


@router.get(
    "/webhooks/{webhook_id}", responses=error_responses(400, 404, 503), response_model=WebhookOut, summary="A webhook"
)
def get_webhook(webhook_id: WebhookId, service: TrackingDep) -> JsonResponse:
    return JsonResponse(webhook_to_wire(service.get_webhook(webhook_id)))


@router.patch(
    "/webhooks/{webhook_id}",
    responses=error_responses(400, 404, 413, 503),
    response_model=WebhookOut,
    summary="Change a webhook's URL, events, description, secret, or enable or disable it",
)
def update_webhook(webhook_id: WebhookId, body: WebhookPatch, service: TrackingDep) -> JsonResponse:
    webhook = service.update_webhook(
        webhook_id,
        url=body.url,
        events=body.events,
        description=body.description,
        active=body.active,
        secret=body.secret,
    )
    return JsonResponse(webhook_to_wire(webhook))


@router.delete(
    "/webhooks/{webhook_id}",
    responses=error_responses(400, 404, 503),
    status_code=204,
    summary="Delete a webhook and its deliveries, pending ones too",
)
def delete_webhook(webhook_id: WebhookId, service: TrackingDep) -> Response:
    service.delete_webhook(webhook_id)
    return Response(status_code=204)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    responses=error_responses(400, 404, 503),
    response_model=DeliveryList,
    summary="A webhook's deliveries with their attempts, newest event first",
)
def list_deliveries(
    webhook_id: WebhookId,
    service: TrackingDep,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_DELIVERY_PAGE)] = DEFAULT_DELIVERY_PAGE,
    page_token: Annotated[
        str | None,
        Query(json_schema_extra={"pattern": DELIVERY_PAGE_TOKEN_PATTERN, "maxLength": MAX_DELIVERY_PAGE_TOKEN_LENGTH}),
    ] = None,
) -> JsonResponse:
    page = service.list_webhook_deliveries(
        webhook_id, status=None if status is None else status.value, limit=limit, page_token=page_token
    )
    return JsonResponse(
        {"deliveries": [delivery_to_wire(d) for d in page.items], "next_page_token": page.next_page_token}
    )


@router.get(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}",
    responses=error_responses(400, 404, 503),
    response_model=DeliveryOut,
    summary="One delivery with its attempts",
)
def get_delivery(webhook_id: WebhookId, delivery_id: DeliveryId, service: TrackingDep) -> JsonResponse:
    return JsonResponse(delivery_to_wire(service.get_webhook_delivery(webhook_id, delivery_id)))


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    responses=error_responses(400, 404, 503),
    response_model=DeliveryOut,
    summary="Send a delivery again (same webhook-id); a finished one gets a new round of attempts",
)
def redeliver(webhook_id: WebhookId, delivery_id: DeliveryId, service: TrackingDep) -> JsonResponse:
    return JsonResponse(delivery_to_wire(service.redeliver_webhook_delivery(webhook_id, delivery_id)))
