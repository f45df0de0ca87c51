"""The JSON wire format of users, API tokens, teams, role grants and identities, both ways.

A token's secret is never part of :func:`token_to_wire`: only the answer to its creation
carries it, beside the token (``{"token": ..., "secret": ...}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cairn.core.access import ApiToken, Grant, Identity, ResourceKind, Role, SubjectKind, Team, User


def user_to_wire(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "is_admin": user.is_admin,
        "disabled": user.disabled,
        "is_service": user.is_service,
        "source": user.source,
        "created_at": user.created_at,
    }


def user_from_wire(data: Mapping[str, Any]) -> User:
    return User(
        id=data["id"],
        username=data["username"],
        display_name=data["display_name"],
        email=data["email"],
        is_admin=data["is_admin"],
        disabled=data["disabled"],
        is_service=data["is_service"],
        source=data["source"],
        created_at=data["created_at"],
    )


def token_to_wire(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "username": token.username,
        "name": token.name,
        "hint": token.hint,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }


def token_from_wire(data: Mapping[str, Any]) -> ApiToken:
    return ApiToken(
        id=data["id"],
        username=data["username"],
        name=data["name"],
        hint=data["hint"],
        created_at=data["created_at"],
        expires_at=data["expires_at"],
        last_used_at=data["last_used_at"],
        revoked_at=data["revoked_at"],
    )


def team_to_wire(team: Team) -> dict[str, Any]:
    return {
        "name": team.name,
        "description": team.description,
        "members": list(team.members),
        "created_at": team.created_at,
    }


def team_from_wire(data: Mapping[str, Any]) -> Team:
    return Team(
        name=data["name"],
        description=data["description"],
        members=tuple(data["members"]),
        created_at=data["created_at"],
    )


def grant_to_wire(grant: Grant) -> dict[str, Any]:
    return {
        "resource_kind": grant.resource_kind.value,
        "resource": grant.resource,
        "subject_kind": grant.subject_kind.value,
        "subject": grant.subject,
        "role": grant.role.value,
        "granted_by": grant.granted_by,
        "granted_at": grant.granted_at,
    }


def grant_from_wire(data: Mapping[str, Any]) -> Grant:
    return Grant(
        resource_kind=ResourceKind(data["resource_kind"]),
        resource=data["resource"],
        subject_kind=SubjectKind(data["subject_kind"]),
        subject=data["subject"],
        role=Role(data["role"]),
        granted_by=data["granted_by"],
        granted_at=data["granted_at"],
    )


def identity_to_wire(identity: Identity) -> dict[str, Any]:
    return {
        "username": identity.username,
        "is_admin": identity.is_admin,
        "authenticated": identity.authenticated,
        "via": identity.via,
        "teams": list(identity.teams),
        "user": None if identity.user is None else user_to_wire(identity.user),
    }


def identity_from_wire(data: Mapping[str, Any]) -> Identity:
    user = data["user"]
    return Identity(
        username=data["username"],
        is_admin=data["is_admin"],
        authenticated=data["authenticated"],
        via=data["via"],
        teams=tuple(data["teams"]),
        user=None if user is None else user_from_wire(user),
    )
