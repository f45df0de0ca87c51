"""Writes from the dashboard: notes, comments, saved views and the viewer's name.

Each is an HTML form that works without JavaScript (post, then redirect back) and, through
HTMX, swaps just its own section. A write that the service refuses (an empty comment, a view
with a bad query) shows the service's message in place; nothing is stored.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cairn.core import limits
from cairn.core.discussion import Comment
from cairn.core.entities import RunUpdate
from cairn.core.errors import CommentNotFound, InvalidInput
from cairn.server.deps import principal
from cairn.server.ui.context import VIEWER_COOKIE, is_fragment, now_ms, same_origin, service, signing_in
from cairn.server.ui.runs import split_fields
from cairn.server.ui.signin import local_path
from cairn.server.ui.templating import path_quote, render

# Every route here writes: each checks that the form came from the dashboard itself.
router = APIRouter(include_in_schema=False, dependencies=[Depends(same_origin)])


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# -- notes ------------------------------------------------------------------------------------


@router.get("/runs/{run_id}/notes", response_class=HTMLResponse)
def notes_section(request: Request, run_id: str, edit: bool = False) -> Response:
    run = service(request).get_run(run_id)
    if not is_fragment(request):
        return _back(f"/runs/{run_id}#notes")
    return render(request, "_notes.html", run=run, editing=edit)


@router.post("/runs/{run_id}/notes", response_class=HTMLResponse)
def save_notes(request: Request, run_id: str, notes: Annotated[str, Form()] = "") -> Response:
    run = service(request).update_run(run_id, RunUpdate(notes=notes.replace("\r\n", "\n")))
    if not is_fragment(request):
        return _back(f"/runs/{run_id}#notes")
    return render(request, "_notes.html", run=run, editing=False)


# -- comments ---------------------------------------------------------------------------------


@router.get("/runs/{run_id}/comments", response_class=HTMLResponse)
def comments_section(request: Request, run_id: str) -> Response:
    if not is_fragment(request):
        return _back(f"/runs/{run_id}#comments")
    return _comments(request, run_id)


def _comments(request: Request, run_id: str, error: str = "", status_code: int = 200) -> HTMLResponse:
    tracking = service(request)
    run = tracking.get_run(run_id)
    return render(
        request,
        "_comments.html",
        status_code=status_code,
        run=run,
        comments=tracking.list_comments(run_id),
        comment_error=error,
        now=now_ms(),
    )


@router.post("/runs/{run_id}/comments", response_class=HTMLResponse)
def add_comment(request: Request, run_id: str, body: Annotated[str, Form()] = "") -> Response:
    try:
        service(request).add_comment(run_id, body.replace("\r\n", "\n"))
    except InvalidInput as exc:
        if not is_fragment(request):
            raise
        # 200, not 422: HTMX swaps only successful answers, and the message belongs in place.
        return _comments(request, run_id, error=exc.message)
    if not is_fragment(request):
        return _back(f"/runs/{run_id}#comments")
    return _comments(request, run_id)


@router.get("/comments/{comment_id}/edit", response_class=HTMLResponse)
def edit_comment_form(request: Request, comment_id: str, run: str) -> Response:
    comment = _comment(request, run, comment_id)
    if not is_fragment(request):
        return _back(f"/runs/{run}#comment-{comment_id}")
    return render(request, "_comment_edit.html", comment=comment)


@router.post("/comments/{comment_id}/edit", response_class=HTMLResponse)
def edit_comment(
    request: Request, comment_id: str, run: Annotated[str, Form()], body: Annotated[str, Form()] = ""
) -> Response:
    tracking = service(request)
    comment = _comment(request, run, comment_id)
    try:
        tracking.edit_comment(comment_id, body.replace("\r\n", "\n"))
    except InvalidInput as exc:
        if not is_fragment(request):
            raise
        return _comments(request, comment.run_id, error=exc.message)
    if not is_fragment(request):
        return _back(f"/runs/{comment.run_id}#comments")
    return _comments(request, comment.run_id)


@router.post("/comments/{comment_id}/delete", response_class=HTMLResponse)
def delete_comment(request: Request, comment_id: str, run: Annotated[str, Form()]) -> Response:
    comment = _comment(request, run, comment_id)
    service(request).delete_comment(comment_id)
    if not is_fragment(request):
        return _back(f"/runs/{comment.run_id}#comments")
    return _comments(request, comment.run_id)


def _comment(request: Request, run_id: str, comment_id: str) -> Comment:
    """The comment, found among its run's (forms carry the run's id along with the comment's)."""
    for comment in service(request).list_comments(run_id):
        if comment.id == comment_id:
            return comment
    raise CommentNotFound(f"run {run_id} has no comment {comment_id}")


# -- saved views ------------------------------------------------------------------------------


@router.post("/views")
def save_view(
    request: Request,
    project: Annotated[str, Form()],
    name: Annotated[str, Form()],
    q: Annotated[str, Form()] = "",
    order: Annotated[str, Form()] = "",
    cols: Annotated[str, Form()] = "",
    group: Annotated[str, Form()] = "",
    chart: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
) -> Response:
    view = service(request).save_view(
        project, name, query=q, order_by=order, columns=split_fields(cols), charts=chart, group_by=group
    )
    return _back(f"/views/{view.id}")


@router.get("/views/{view_id}")
def open_view(request: Request, view_id: str) -> Response:
    """A saved view's stable URL: the project's runs table in that view's state."""
    view = service(request).get_view(view_id)
    return _back(f"/projects/{path_quote(view.project)}?{urlencode({'view': view.id})}")


@router.post("/views/{view_id}/delete")
def delete_view(request: Request, view_id: str) -> Response:
    tracking = service(request)
    view = tracking.get_view(view_id)
    tracking.delete_view(view_id)
    return _back(f"/projects/{path_quote(view.project)}")


# -- who is looking ---------------------------------------------------------------------------


@router.post("/viewer")
def set_viewer(request: Request, name: Annotated[str, Form()], next: Annotated[str, Form()] = "/projects") -> Response:
    name = limits.check_name(name.strip(), "name")
    target = local_path(next)
    if signing_in(request):
        # Signed in, one's name is one's account's: nothing to set (and nobody unsigned may).
        principal(request)
        return _back(target)
    response = _back(target)
    # Percent-encoded: a header is latin-1, a name need not be (context.viewer_name decodes it).
    response.set_cookie(VIEWER_COOKIE, quote(name, safe=""), max_age=365 * 86400, samesite="lax")
    return response
