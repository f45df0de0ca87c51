"""The event log: /api/v1/events, newest first, filtered (docs/events.md). It is read-only
here: no route adds, changes or removes an event; changes write their own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cairn.core import limits
from cairn.core.events import event_to_wire, type_patterns
from cairn.server.deps import TrackingDep
from cairn.server.errors import error_responses
from cairn.server.jsonresponse import JsonResponse, JsonRoute
from cairn.server.schemas import EventList
from cairn.service.events import (
    DEFAULT_EVENT_PAGE,
    EVENT_PAGE_TOKEN_PATTERN,
    MAX_EVENT_PAGE,
    MAX_EVENT_PAGE_TOKEN_LENGTH,
    MAX_SUBJECT_LENGTH,
)

router = APIRouter(tags=["events"], route_class=JsonRoute)

Timestamp = Annotated[int | None, Query(ge=0, le=limits.MAX_INT64, description="milliseconds since the epoch")]


@router.get("/events", responses=error_responses(400, 503), response_model=EventList, summary="The event log")
def list_events(
    service: TrackingDep,
    type: Annotated[
        list[str] | None,
        Query(
            max_length=50,
            description="event types or patterns (review.*, *); repeat for several",
            json_schema_extra={"items": {"type": "string", "enum": type_patterns()}},
        ),
    ] = None,
    subject: Annotated[
        str | None,
        Query(
            max_length=MAX_SUBJECT_LENGTH,
            description="a subject path; PATH/* also takes the subjects under it",
            json_schema_extra={"pattern": limits.TEXT_PATTERN},
        ),
    ] = None,
    actor: Annotated[
        str | None,
        Query(min_length=1, max_length=limits.MAX_NAME_LENGTH, json_schema_extra={"pattern": limits.NAME_PATTERN}),
    ] = None,
    since: Timestamp = None,
    until: Timestamp = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENT_PAGE)] = DEFAULT_EVENT_PAGE,
    page_token: Annotated[
        str | None,
        Query(json_schema_extra={"pattern": EVENT_PAGE_TOKEN_PATTERN, "maxLength": MAX_EVENT_PAGE_TOKEN_LENGTH}),
    ] = None,
) -> JsonResponse:
    page = service.list_events(
        types=type or (),
        subject=subject,
        actor=actor,
        since=since,
        until=until,
        limit=limit,
        page_token=page_token,
    )
    return JsonResponse({"events": [event_to_wire(e) for e in page.items], "next_page_token": page.next_page_token})
