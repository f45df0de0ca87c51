"""The event log page: every change to the registry and every run's lifecycle, newest first,
filtered by type, subject and actor (docs/events.md). A page of events at a time; the state
lives in the URL, so a filtered log can be shared by its address."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cairn.core.events import Event, detail_fields, type_patterns
from cairn.server.ui.context import now_ms, service
from cairn.server.ui.templating import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100


@dataclass(frozen=True)
class EventRow:
    event: Event
    #: The dashboard page of the event's subject, when it has one.
    href: str | None
    #: The data as (key, value) pairs to show, what the subject already says left out.
    fields: list[tuple[str, str]]


@router.get("/events", response_class=HTMLResponse)
def events_page(
    request: Request, type: str = "", subject: str = "", actor: str = "", after: str | None = None
) -> HTMLResponse:
    tracking = service(request)
    page = tracking.list_events(
        types=[type] if type else (),
        subject=subject or None,
        actor=actor or None,
        limit=PAGE_SIZE,
        page_token=after,
    )
    return render(
        request,
        "events.html",
        rows=[EventRow(e, subject_href(e.subject), shown_fields(e)) for e in page.items],
        next_token=page.next_page_token,
        patterns=type_patterns(),
        chosen_type=type,
        subject=subject,
        actor=actor,
        paged=after is not None,
        now=now_ms(),
    )


def subject_href(subject: str) -> str | None:
    """``runs/ID`` → the run page, ``models/NAME[/versions/N]`` → the model or version page,
    ``models/NAME/reviews/ID`` → the review page (reviews are numbered across models)."""
    parts = subject.split("/")
    if len(parts) == 2 and parts[0] == "runs":
        return f"/runs/{parts[1]}"
    if parts[0] == "models" and len(parts) >= 2:
        if len(parts) == 4 and parts[2] == "reviews" and parts[3].isascii() and parts[3].isdigit():
            return f"/reviews/{parts[3]}"
        if len(parts) == 4 and parts[2] == "versions":
            return f"/models/{_quote(parts[1])}/versions/{parts[3]}"
        return f"/models/{_quote(parts[1])}"
    return None


def shown_fields(event: Event) -> list[tuple[str, str]]:
    return [(key, _text(value)) for key, value in detail_fields(event)]


def _text(value: Any) -> str:
    return "—" if value is None else str(value)


def _quote(segment: str) -> str:
    return quote(segment, safe="")
