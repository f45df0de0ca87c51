"""Reviews on the dashboard (docs/registry.md, "Reviews"): a model's reviews as a tab of its
page (``/models/NAME/reviews``) and a review (``/reviews/ID``, as in the REST API).

A review's page is :meth:`review_detail` in one read: the review with its checks and the
values they saw, the votes, the thread, and the candidate beside the version it is compared
with. Commenting, approving, asking for changes, merging and closing are form posts from the
dashboard's own origin (context.same_origin) acting as the viewer, then a redirect back (303).
What the service refuses (an author approving their own review, a merge that checks or
approvals block, an empty request for changes) is shown on the page beside the form, with its
code; nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cairn.core.entities import Run
from cairn.core.errors import CairnError, NotFound
from cairn.core.registry import ModelVersion
from cairn.core.reviews import ReviewComment, describe_blockers, merge_blockers
from cairn.server.ui.context import now_ms, same_origin, service
from cairn.server.ui.models import model_context
from cairn.server.ui.templating import render
from cairn.service.tracking import TrackingService

router = APIRouter(include_in_schema=False)
#: The routes that write: each checks that the form came from the dashboard itself.
_WRITES = [Depends(same_origin)]

REVIEWS_PAGE_SIZE = 50
#: Paths of one kind of snapshot the comparison lists; the count says how many more.
MAX_PATHS_SHOWN = 50


# -- a model's reviews ----------------------------------------------------------------------------


@router.get("/models/{name}/reviews", response_class=HTMLResponse)
def model_reviews(request: Request, name: str, after: str | None = None) -> HTMLResponse:
    tracking = service(request)
    context = model_context(tracking, name, "reviews")
    page = tracking.list_reviews(model=context["model"].name, limit=REVIEWS_PAGE_SIZE, page_token=after)
    return render(
        request,
        "model_reviews.html",
        reviews=page.items,
        next_token=page.next_page_token,
        paged=after is not None,
        **context,
    )


# -- a review -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refusal:
    """What the service refused, shown beside the form that asked (``form``), with what was typed."""

    form: str
    code: str
    message: str
    typed: str = ""
    reply_to: int | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """A line of the side-by-side comparison: the compared version's value, then the candidate's."""

    key: str
    before: Any
    after: Any

    @property
    def differs(self) -> bool:
        return bool(self.before != self.after)


@router.get("/reviews/{review_id}", response_class=HTMLResponse)
def review_page(request: Request, review_id: int) -> HTMLResponse:
    return _review_page(request, service(request), review_id)


def _review_page(
    request: Request, tracking: TrackingService, review_id: int, refusal: Refusal | None = None, status_code: int = 200
) -> HTMLResponse:
    detail = tracking.review_detail(review_id)
    review = detail.review
    blockers = merge_blockers(review.checks, review.votes, review.required_approvals)
    return render(
        request,
        "review.html",
        status_code=status_code,
        detail=detail,
        review=review,
        blockers=describe_blockers(blockers) if blockers else "",
        failed_checks=[c for c in review.checks if not c.passed],
        thread=_thread(detail.comments),
        metrics=_metric_rows(detail.compared_run, detail.candidate_run),
        params=_rows(_params(detail.compared_run), _params(detail.candidate_run)),
        datasets=_dataset_rows(detail.compared_with, detail.candidate),
        max_paths=MAX_PATHS_SHOWN,
        refusal=refusal,
        now=now_ms(),
    )


def _thread(comments: Sequence[ReviewComment]) -> list[tuple[ReviewComment, int]]:
    """The entries in reading order, each with its depth: an answer right below what it answers."""
    children: dict[int | None, list[ReviewComment]] = {}
    known = {c.id for c in comments}
    for comment in comments:  # oldest first
        parent = comment.reply_to if comment.reply_to in known else None
        children.setdefault(parent, []).append(comment)
    ordered: list[tuple[ReviewComment, int]] = []
    stack = [(c, 0) for c in reversed(children.get(None, []))]
    while stack:  # depth first, without recursion: a long chain of answers is no risk
        comment, depth = stack.pop()
        ordered.append((comment, depth))
        stack.extend((c, depth + 1) for c in reversed(children.get(comment.id, [])))
    return ordered


def _params(run: Run | None) -> Mapping[str, Any]:
    return {} if run is None else run.params


def _rows(before: Mapping[str, Any], after: Mapping[str, Any], value: Callable[[Any], Any] = lambda v: v) -> list[Row]:
    keys = sorted(set(before) | set(after))
    return [Row(k, value(before[k]) if k in before else None, value(after[k]) if k in after else None) for k in keys]


def _metric_rows(before: Run | None, after: Run | None) -> list[Row]:
    """Each metric's last value on both sides."""
    return _rows(
        {} if before is None else before.metrics, {} if after is None else after.metrics, value=lambda s: s.last
    )


def _dataset_rows(before: ModelVersion | None, after: ModelVersion) -> list[Row]:
    """Each dataset (by name and context) with the digest each side trained on."""

    def digests(version: ModelVersion | None) -> dict[str, str]:
        # The digest's first 16 hex digits, as the version page shows it: enough to tell two apart.
        return {} if version is None else {f"{d.name} ({d.context})": d.digest[:16] for d in version.datasets}

    return _rows(digests(before), digests(after))


# -- writes ---------------------------------------------------------------------------------------


def _back(review_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/reviews/{review_id}{anchor}", status_code=303)


def _act(
    request: Request, review_id: int, refusal: Refusal, write: Callable[[TrackingService], object], anchor: str
) -> Response:
    """Do ``write`` as the viewer and go back to the review; if the service refuses, the page
    again with why, beside the form (``refusal`` without its code and message yet)."""
    tracking = service(request)
    try:
        write(tracking)
    except CairnError as exc:
        if isinstance(exc, NotFound) or exc.http_status >= 500:
            raise  # no review to show it on, or nothing the viewer did: the error page says so
        shown = Refusal(refusal.form, exc.code, exc.message, refusal.typed, refusal.reply_to)
        return _review_page(request, tracking, review_id, refusal=shown, status_code=exc.http_status)
    return _back(review_id, anchor)


def _text(body: str) -> str:
    return body.replace("\r\n", "\n")


@router.post("/reviews/{review_id}/comments", response_class=HTMLResponse, dependencies=_WRITES)
def comment(
    request: Request,
    review_id: int,
    body: Annotated[str, Form()] = "",
    reply_to: Annotated[int | None, Form()] = None,
) -> Response:
    text = _text(body)
    return _act(
        request,
        review_id,
        Refusal("comment", "", "", text, reply_to),
        lambda t: t.comment_review(review_id, text, reply_to=reply_to),
        "#thread",
    )


@router.post("/reviews/{review_id}/approve", response_class=HTMLResponse, dependencies=_WRITES)
def approve(request: Request, review_id: int, body: Annotated[str, Form()] = "") -> Response:
    text = _text(body)
    return _act(
        request, review_id, Refusal("vote", "", "", text), lambda t: t.approve_review(review_id, text), "#votes"
    )


@router.post("/reviews/{review_id}/request-changes", response_class=HTMLResponse, dependencies=_WRITES)
def request_changes(request: Request, review_id: int, body: Annotated[str, Form()] = "") -> Response:
    text = _text(body)
    return _act(
        request, review_id, Refusal("vote", "", "", text), lambda t: t.request_changes(review_id, text), "#votes"
    )


@router.post("/reviews/{review_id}/merge", response_class=HTMLResponse, dependencies=_WRITES)
def merge(request: Request, review_id: int) -> Response:
    return _act(request, review_id, Refusal("state", "", ""), lambda t: t.merge_review(review_id), "")


@router.post("/reviews/{review_id}/close", response_class=HTMLResponse, dependencies=_WRITES)
def close(request: Request, review_id: int) -> Response:
    return _act(request, review_id, Refusal("state", "", ""), lambda t: t.close_review(review_id), "")
