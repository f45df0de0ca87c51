"""Protected aliases and reviews: /api/v1/models/{name}/protections and /api/v1/reviews
(docs/registry.md, "Reviews"). Who votes, comments and merges is the request's principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from cairn.core import limits
from cairn.core.models.uri import MAX_ALIAS_LENGTH
from cairn.core.reviews_wire import (
    protection_to_wire,
    review_comment_to_wire,
    review_detail_to_wire,
    review_to_wire,
)
from cairn.server.deps import TrackingDep
from cairn.server.errors import error_responses
from cairn.server.jsonresponse import JsonResponse, JsonRoute
from cairn.server.schemas import (
    ALIAS_RULE,
    MODEL_NAME_RULE,
    AliasName,
    ApprovalIn,
    ChangesIn,
    ModelName,
    ProtectionIn,
    ProtectionList,
    ProtectionOut,
    ReviewCommentIn,
    ReviewCommentOut,
    ReviewCreate,
    ReviewDetailOut,
    ReviewId,
    ReviewList,
    ReviewOut,
)
from cairn.service.reviews import (
    DEFAULT_REVIEW_PAGE,
    MAX_REVIEW_PAGE,
    MAX_REVIEW_PAGE_TOKEN_LENGTH,
    REVIEW_PAGE_TOKEN_PATTERN,
)

router = APIRouter(tags=["reviews"], route_class=JsonRoute)


# -- protections --------------------------------------------------------------------------------


@router.get(
    "/models/{name}/protections",
    responses=error_responses(400, 404, 503),
    response_model=ProtectionList,
    summary="A model's protected aliases",
)
def list_protections(name: ModelName, service: TrackingDep) -> JsonResponse:
    return JsonResponse({"protections": [protection_to_wire(p) for p in service.list_alias_protections(name)]})


@router.put(
    "/models/{name}/protections/{alias}",
    responses=error_responses(400, 404, 413, 503),
    response_model=ProtectionOut,
    summary="Protect an alias (or replace its protection): it then moves only by a merged review",
)
def protect_alias(name: ModelName, alias: AliasName, body: ProtectionIn, service: TrackingDep) -> JsonResponse:
    protection = service.protect_alias(
        name,
        alias,
        approvals=body.approvals,
        checks=body.checks,
        approve_role=body.approve_role,
        merge_role=body.merge_role,
    )
    return JsonResponse(protection_to_wire(protection))


@router.get(
    "/models/{name}/protections/{alias}",
    responses=error_responses(400, 404, 503),
    response_model=ProtectionOut,
    summary="An alias's protection",
)
def get_protection(name: ModelName, alias: AliasName, service: TrackingDep) -> JsonResponse:
    return JsonResponse(protection_to_wire(service.get_alias_protection(name, alias)))


@router.delete(
    "/models/{name}/protections/{alias}",
    responses=error_responses(400, 404, 503),
    status_code=204,
    summary="Lift an alias's protection",
)
def unprotect_alias(name: ModelName, alias: AliasName, service: TrackingDep) -> Response:
    service.unprotect_alias(name, alias)
    return Response(status_code=204)


# -- reviews ------------------------------------------------------------------------------------


@router.post(
    "/reviews",
    responses=error_responses(400, 404, 409, 413, 503),
    response_model=ReviewOut,
    status_code=201,
    summary="Open a review proposing to move an alias to a version; its checks run now",
)
def open_review(body: ReviewCreate, service: TrackingDep) -> JsonResponse:
    review = service.open_review(body.model, body.version, body.alias, description=body.description)
    return JsonResponse(review_to_wire(review), status_code=201)


@router.get(
    "/reviews",
    responses=error_responses(400, 404, 503),
    response_model=ReviewList,
    summary="Reviews, newest first",
)
def list_reviews(
    service: TrackingDep,
    model: Annotated[
        str | None, Query(min_length=1, max_length=limits.MAX_NAME_LENGTH, json_schema_extra=MODEL_NAME_RULE)
    ] = None,
    alias: Annotated[str | None, Query(max_length=MAX_ALIAS_LENGTH, json_schema_extra=ALIAS_RULE)] = None,
    state: Annotated[str | None, Query(json_schema_extra={"enum": ["open", "merged", "closed"]})] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_REVIEW_PAGE)] = DEFAULT_REVIEW_PAGE,
    page_token: Annotated[
        str | None,
        Query(json_schema_extra={"pattern": REVIEW_PAGE_TOKEN_PATTERN, "maxLength": MAX_REVIEW_PAGE_TOKEN_LENGTH}),
    ] = None,
) -> JsonResponse:
    page = service.list_reviews(model=model, alias=alias, state=state, limit=limit, page_token=page_token)
    return JsonResponse({"reviews": [review_to_wire(r) for r in page.items], "next_page_token": page.next_page_token})


@router.get(
    "/reviews/{review_id}", responses=error_responses(400, 404, 503), response_model=ReviewOut, summary="A review"
)
def get_review(review_id: ReviewId, service: TrackingDep) -> JsonResponse:
    return JsonResponse(review_to_wire(service.get_review(review_id)))


@router.get(
    "/reviews/{review_id}/detail",
    responses=error_responses(400, 404, 503),
    response_model=ReviewDetailOut,
    summary="A review with its thread, and the candidate beside the version it is compared with",
)
def review_detail(review_id: ReviewId, service: TrackingDep) -> JsonResponse:
    return JsonResponse(review_detail_to_wire(service.review_detail(review_id)))


@router.post(
    "/reviews/{review_id}/approve",
    responses=error_responses(400, 403, 404, 409, 413, 503),
    response_model=ReviewOut,
    summary="Approve a review (not its author's own)",
)
def approve_review(review_id: ReviewId, body: ApprovalIn, service: TrackingDep) -> JsonResponse:
    return JsonResponse(review_to_wire(service.approve_review(review_id, body.body)))


@router.post(
    "/reviews/{review_id}/request-changes",
    responses=error_responses(400, 403, 404, 409, 413, 503),
    response_model=ReviewOut,
    summary="Ask for changes; the review does not merge until the same reviewer approves",
)
def request_changes(review_id: ReviewId, body: ChangesIn, service: TrackingDep) -> JsonResponse:
    return JsonResponse(review_to_wire(service.request_changes(review_id, body.body)))


@router.post(
    "/reviews/{review_id}/comments",
    responses=error_responses(400, 404, 413, 503),
    response_model=ReviewCommentOut,
    status_code=201,
    summary="Comment on a review, or answer an entry of its thread",
)
def comment_review(review_id: ReviewId, body: ReviewCommentIn, service: TrackingDep) -> JsonResponse:
    comment = service.comment_review(review_id, body.body, reply_to=body.reply_to)
    return JsonResponse(review_comment_to_wire(comment), status_code=201)


@router.post(
    "/reviews/{review_id}/checks",
    responses=error_responses(400, 404, 409, 503),
    response_model=ReviewOut,
    summary="Run an open review's checks again",
)
def run_checks(review_id: ReviewId, service: TrackingDep) -> JsonResponse:
    return JsonResponse(review_to_wire(service.run_review_checks(review_id)))


@router.post(
    "/reviews/{review_id}/merge",
    responses=error_responses(400, 404, 409, 503),
    response_model=ReviewOut,
    summary="Merge: run the checks again and, if nothing blocks it, move the alias",
)
def merge_review(review_id: ReviewId, service: TrackingDep) -> JsonResponse:
    return JsonResponse(review_to_wire(service.merge_review(review_id)))


@router.post(
    "/reviews/{review_id}/close",
    responses=error_responses(400, 404, 409, 503),
    response_model=ReviewOut,
    summary="Close a review without moving the alias",
)
def close_review(review_id: ReviewId, service: TrackingDep) -> JsonResponse:
    return JsonResponse(review_to_wire(service.close_review(review_id)))
