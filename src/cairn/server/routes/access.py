"""Access: /api/v1/me, /users, /tokens, /teams, the members of projects and models, and
/auth/token, where ``cairn login`` trades a password for a token (docs/access.md).

Every rule (who may create users, whose tokens one may see, who grants roles) is the
service's: these routes parse, call and serialise. A token's secret is in the answer to its
creation only.

Included before the projects router, whose ``/projects/{name:path}`` would otherwise take
``/projects/mnist/members`` for a project named "mnist/members" (see routes/discussion.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from cairn.core.access import ResourceKind, SubjectKind
from cairn.core.access_wire import grant_to_wire, identity_to_wire, team_to_wire, token_to_wire, user_to_wire
from cairn.core.errors import NotFound
from cairn.core.wire import project_to_wire
from cairn.server.access_schemas import (
    USERNAME_RULE,
    GrantIn,
    GrantList,
    GrantOut,
    IdentityOut,
    PasswordSet,
    SignIn,
    SubjectPath,
    TeamCreate,
    TeamList,
    TeamOut,
    TeamPath,
    TokenCreate,
    TokenCreatedOut,
    TokenIdPath,
    TokenList,
    TokenOut,
    UserCreate,
    UserList,
    UsernamePath,
    UserOut,
    UserPatch,
)
from cairn.server.deps import TrackingDep
from cairn.server.errors import error_responses
from cairn.server.jsonresponse import JsonResponse, JsonRoute
from cairn.server.routes.discussion import suffix_is_a_route
from cairn.server.schemas import ModelName, ProjectName
from cairn.service.authn import Authenticator
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService

router = APIRouter(tags=["access"], route_class=JsonRoute)
#: Whose tokens to list: a user name, or * for everyone's.
TOKEN_OWNER_RULE = {**USERNAME_RULE, "pattern": f"{USERNAME_RULE['pattern']}|^\\*$"}


# -- who is signed in --------------------------------------------------------------------------


@router.get(
    "/me",
    responses=error_responses(401, 503),
    response_model=IdentityOut,
    summary="Who the request acts as: name, admin or not, teams, how they signed in",
)
def whoami(service: TrackingDep) -> JsonResponse:
    return JsonResponse(identity_to_wire(service.whoami()))


@router.post(
    "/auth/token",
    responses=error_responses(400, 401, 404, 413, 429, 503),
    response_model=TokenCreatedOut,
    status_code=201,
    summary="Trade a user name and password for a new personal API token (cairn login); rate-limited",
)
def sign_in_for_token(body: SignIn, request: Request) -> JsonResponse:
    authenticator: Authenticator | None = request.app.state.authenticator
    if authenticator is None:
        raise NotFound("this server does not require sign-in: it needs no token")
    address = request.client.host if request.client else None
    user = authenticator.sign_in(body.username, body.password, address)
    authenticator.signed_in(user, address, via="password")
    acting = Principal(user.username, is_admin=user.is_admin, authenticated=True, address=address, via="password")
    service: TrackingService = request.app.state.tracking
    token, secret = service.acting_as(acting).create_token(body.token_name, expires_at=body.expires_at)
    return JsonResponse({"token": token_to_wire(token), "secret": secret}, status_code=201)


# -- users -------------------------------------------------------------------------------------


@router.get("/users", responses=error_responses(401, 403, 503), response_model=UserList, summary="Every user (admins)")
def list_users(service: TrackingDep) -> JsonResponse:
    return JsonResponse({"users": [user_to_wire(u) for u in service.list_users()]})


@router.post(
    "/users",
    responses=error_responses(400, 401, 403, 409, 413, 503),
    response_model=UserOut,
    status_code=201,
    summary="Create a user or a service account (admins)",
)
def create_user(body: UserCreate, service: TrackingDep) -> JsonResponse:
    user = service.create_user(
        body.username,
        password=body.password,
        display_name=body.display_name,
        email=body.email,
        is_admin=body.is_admin,
        is_service=body.is_service,
    )
    return JsonResponse(user_to_wire(user), status_code=201)


@router.get(
    "/users/{username}",
    responses=error_responses(400, 401, 404, 503),
    response_model=UserOut,
    summary="A user: oneself, or anyone for an admin",
)
def get_user(username: UsernamePath, service: TrackingDep) -> JsonResponse:
    return JsonResponse(user_to_wire(service.get_user(username)))


@router.patch(
    "/users/{username}",
    responses=error_responses(400, 401, 403, 404, 413, 503),
    response_model=UserOut,
    summary="Change a user's display name or email (oneself), admin flag or disabled flag (admins)",
)
def update_user(username: UsernamePath, body: UserPatch, service: TrackingDep) -> JsonResponse:
    user = service.update_user(
        username, display_name=body.display_name, email=body.email, is_admin=body.is_admin, disabled=body.disabled
    )
    return JsonResponse(user_to_wire(user))


@router.put(
    "/users/{username}/password",
    responses=error_responses(400, 401, 403, 404, 413, 503),
    status_code=204,
    summary="Set a password: one's own (with the current one), or anyone's for an admin",
)
def set_password(username: UsernamePath, body: PasswordSet, service: TrackingDep) -> Response:
    service.set_password(username, body.password, current_password=body.current_password)
    return Response(status_code=204)


# -- API tokens --------------------------------------------------------------------------------


@router.get(
    "/tokens",
    responses=error_responses(400, 401, 404, 503),
    response_model=TokenList,
    summary="One's own API tokens (never their secrets); admins: ?user=NAME, or * for everyone's",
)
def list_tokens(
    service: TrackingDep,
    user: Annotated[str | None, Query(min_length=1, max_length=100, json_schema_extra=TOKEN_OWNER_RULE)] = None,
) -> JsonResponse:
    return JsonResponse({"tokens": [token_to_wire(t) for t in service.list_tokens(user)]})


@router.post(
    "/tokens",
    responses=error_responses(400, 401, 403, 404, 413, 503),
    response_model=TokenCreatedOut,
    status_code=201,
    summary="Create an API token for oneself (admins: for a service account); the answer holds it, once",
)
def create_token(body: TokenCreate, service: TrackingDep) -> JsonResponse:
    token, secret = service.create_token(body.name, username=body.user, expires_at=body.expires_at)
    return JsonResponse({"token": token_to_wire(token), "secret": secret}, status_code=201)


@router.delete(
    "/tokens/{token_id}",
    responses=error_responses(400, 401, 404, 503),
    response_model=TokenOut,
    summary="Revoke an API token at once (one's own, or anyone's for an admin); answers it, revoked",
)
def revoke_token(token_id: TokenIdPath, service: TrackingDep) -> JsonResponse:
    return JsonResponse(token_to_wire(service.revoke_token(token_id)))


# -- teams -------------------------------------------------------------------------------------


@router.get("/teams", responses=error_responses(401, 503), response_model=TeamList, summary="Every team, by name")
def list_teams(service: TrackingDep) -> JsonResponse:
    return JsonResponse({"teams": [team_to_wire(t) for t in service.list_teams()]})


@router.post(
    "/teams",
    responses=error_responses(400, 401, 403, 409, 413, 503),
    response_model=TeamOut,
    status_code=201,
    summary="Create a team (admins)",
)
def create_team(body: TeamCreate, service: TrackingDep) -> JsonResponse:
    return JsonResponse(team_to_wire(service.create_team(body.name, body.description)), status_code=201)


@router.delete(
    "/teams/{name}",
    responses=error_responses(400, 401, 403, 404, 503),
    status_code=204,
    summary="Delete a team and the roles it held (admins)",
)
def delete_team(name: TeamPath, service: TrackingDep) -> Response:
    service.delete_team(name)
    return Response(status_code=204)


@router.put(
    "/teams/{name}/members/{username}",
    responses=error_responses(400, 401, 403, 404, 503),
    response_model=TeamOut,
    summary="Add a user to a team (admins)",
)
def add_team_member(name: TeamPath, username: UsernamePath, service: TrackingDep) -> JsonResponse:
    return JsonResponse(team_to_wire(service.set_team_member(name, username, True)))


@router.delete(
    "/teams/{name}/members/{username}",
    responses=error_responses(400, 401, 403, 404, 503),
    response_model=TeamOut,
    summary="Take a user out of a team (admins)",
)
def remove_team_member(name: TeamPath, username: UsernamePath, service: TrackingDep) -> JsonResponse:
    return JsonResponse(team_to_wire(service.set_team_member(name, username, False)))


# -- members of projects and models ------------------------------------------------------------


def _grants(service: TrackingService, kind: ResourceKind, resource: str) -> JsonResponse:
    return JsonResponse({"members": [grant_to_wire(g) for g in service.list_grants(kind, resource)]})


def _grant(service: TrackingService, kind: ResourceKind, resource: str, body: GrantIn) -> JsonResponse:
    return JsonResponse(grant_to_wire(service.grant_role(kind, resource, body.subject, body.role, team=body.team)))


@router.get(
    "/projects/{name:path}/members",
    responses=error_responses(400, 401, 404, 503),
    response_model=GrantList,
    summary="Who holds which role on a project",
)
def list_project_members(name: ProjectName, request: Request, service: TrackingDep) -> JsonResponse:
    if not suffix_is_a_route(request, "members"):
        return JsonResponse(project_to_wire(service.get_project(f"{name}/members")))
    return _grants(service, ResourceKind.PROJECT, name)


@router.put(
    "/projects/{name:path}/members",
    responses=error_responses(400, 401, 403, 404, 413, 503),
    response_model=GrantOut,
    summary="Give a user or team a role on a project, replacing the one it held (project admins)",
)
def grant_project_role(name: ProjectName, body: GrantIn, service: TrackingDep) -> JsonResponse:
    return _grant(service, ResourceKind.PROJECT, name, body)


@router.delete(
    "/projects/{name:path}/members/{kind}/{subject}",
    responses=error_responses(400, 401, 403, 404, 503),
    status_code=204,
    summary="Take a user's or team's role on a project away (project admins)",
)
def revoke_project_role(name: ProjectName, kind: SubjectKind, subject: SubjectPath, service: TrackingDep) -> Response:
    service.revoke_role(ResourceKind.PROJECT, name, subject, team=kind is SubjectKind.TEAM)
    return Response(status_code=204)


@router.get(
    "/models/{name}/members",
    responses=error_responses(400, 401, 404, 503),
    response_model=GrantList,
    summary="Who holds which role on a registered model",
)
def list_model_members(name: ModelName, service: TrackingDep) -> JsonResponse:
    return _grants(service, ResourceKind.MODEL, name)


@router.put(
    "/models/{name}/members",
    responses=error_responses(400, 401, 403, 404, 413, 503),
    response_model=GrantOut,
    summary="Give a user or team a role on a registered model, replacing the one it held (model admins)",
)
def grant_model_role(name: ModelName, body: GrantIn, service: TrackingDep) -> JsonResponse:
    return _grant(service, ResourceKind.MODEL, name, body)


@router.delete(
    "/models/{name}/members/{kind}/{subject}",
    responses=error_responses(400, 401, 403, 404, 503),
    status_code=204,
    summary="Take a user's or team's role on a registered model away (model admins)",
)
def revoke_model_role(name: ModelName, kind: SubjectKind, subject: SubjectPath, service: TrackingDep) -> Response:
    service.revoke_role(ResourceKind.MODEL, name, subject, team=kind is SubjectKind.TEAM)
    return Response(status_code=204)
