"""Who holds which role on a project (``/projects/NAME/members``) or a registered model
(``/models/NAME/members``, a tab of the model); docs/access.md.

Anyone who can see the project or model sees the list; the forms to grant, change and revoke a
role are shown to its admins only (``my_role``), and the service decides either way: a viewer's
post is refused (403) and someone who holds no role there is told it does not exist (404).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cairn.core.access import ResourceKind, Role, parse_role
from cairn.core.errors import CairnError, ModelNotFound, ProjectNotFound, Unauthenticated
from cairn.server.ui.context import now_ms, same_origin, service
from cairn.server.ui.models import model_context
from cairn.server.ui.templating import path_quote, render
from cairn.service.tracking import TrackingService

router = APIRouter(include_in_schema=False)
_WRITES = [Depends(same_origin)]

NOTICES = {"granted": "The role is granted.", "revoked": "The role is revoked."}


def members_url(kind: ResourceKind, name: str) -> str:
    return f"/{'models' if kind is ResourceKind.MODEL else 'projects'}/{path_quote(name)}/members"


def _page(
    request: Request,
    tracking: TrackingService,
    kind: ResourceKind,
    name: str,
    *,
    status_code: int = 200,
    error: CairnError | None = None,
) -> HTMLResponse:
    grants = tracking.list_grants(kind, name)  # anyone who can see it; 404 for anyone else
    context: dict[str, Any]
    if kind is ResourceKind.MODEL:
        context = model_context(tracking, name, "members")
        template = "model_members.html"
    else:
        context = {"project": tracking.get_project(name), "now": now_ms()}
        template = "project_members.html"
    return render(
        request,
        template,
        status_code=status_code,
        grants=sorted(grants, key=lambda g: (-g.role.rank, g.subject_kind.value, g.subject)),
        can_manage=tracking.my_role(kind, name) is Role.ADMIN,
        roles=[role.value for role in Role],
        action=members_url(kind, name),
        error=error,
        notice=NOTICES.get(request.query_params.get("notice", "")),
        **context,
    )


def _act(
    request: Request, kind: ResourceKind, name: str, write: Callable[[TrackingService], object], notice: str
) -> Response:
    tracking = service(request)
    try:
        write(tracking)
    except CairnError as exc:
        # The project or model unseen (404) or a server fault: the error page. The rest (a
        # viewer's 403, an unknown user) beside the forms.
        if isinstance(exc, Unauthenticated) or exc.http_status >= 500 or _hidden(exc, kind):
            raise
        return _page(request, tracking, kind, name, status_code=exc.http_status, error=exc)
    return RedirectResponse(f"{members_url(kind, name)}?notice={notice}", status_code=303)


def _hidden(exc: CairnError, kind: ResourceKind) -> bool:
    """The resource itself is not found (as opposed to the user or team named in the form)."""
    hidden = ModelNotFound if kind is ResourceKind.MODEL else ProjectNotFound
    return isinstance(exc, hidden)


_Write = Callable[[TrackingService], object]


def _grant(kind: ResourceKind, name: str, subject: str, role: str, subject_kind: str) -> _Write:
    return lambda t: t.grant_role(kind, name, subject.strip(), parse_role(role), team=subject_kind == "team")


def _revoke(kind: ResourceKind, name: str, subject: str, subject_kind: str) -> _Write:
    return lambda t: t.revoke_role(kind, name, subject, team=subject_kind == "team")


# -- registered models -------------------------------------------------------------------------


@router.get("/models/{name}/members", response_class=HTMLResponse)
def model_members(request: Request, name: str) -> HTMLResponse:
    return _page(request, service(request), ResourceKind.MODEL, name)


@router.post("/models/{name}/members", response_class=HTMLResponse, dependencies=_WRITES)
def grant_model_role(
    request: Request,
    name: str,
    subject: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    subject_kind: Annotated[str, Form()] = "user",
) -> Response:
    kind = ResourceKind.MODEL
    return _act(request, kind, name, _grant(kind, name, subject, role, subject_kind), "granted")


@router.post("/models/{name}/members/revoke", response_class=HTMLResponse, dependencies=_WRITES)
def revoke_model_role(
    request: Request, name: str, subject: Annotated[str, Form()] = "", subject_kind: Annotated[str, Form()] = "user"
) -> Response:
    kind = ResourceKind.MODEL
    return _act(request, kind, name, _revoke(kind, name, subject, subject_kind), "revoked")


# -- projects (this router comes before the runs page's /projects/{name:path}) ----------------


@router.get("/projects/{name:path}/members", response_class=HTMLResponse)
def project_members(request: Request, name: str) -> HTMLResponse:
    return _page(request, service(request), ResourceKind.PROJECT, name)


@router.post("/projects/{name:path}/members", response_class=HTMLResponse, dependencies=_WRITES)
def grant_project_role(
    request: Request,
    name: str,
    subject: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    subject_kind: Annotated[str, Form()] = "user",
) -> Response:
    kind = ResourceKind.PROJECT
    return _act(request, kind, name, _grant(kind, name, subject, role, subject_kind), "granted")


@router.post("/projects/{name:path}/members/revoke", response_class=HTMLResponse, dependencies=_WRITES)
def revoke_project_role(
    request: Request, name: str, subject: Annotated[str, Form()] = "", subject_kind: Annotated[str, Form()] = "user"
) -> Response:
    kind = ResourceKind.PROJECT
    return _act(request, kind, name, _revoke(kind, name, subject, subject_kind), "revoked")
