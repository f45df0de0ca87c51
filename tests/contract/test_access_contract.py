"""Users, API tokens, teams and role grants through the tracking interface, on every backend
(docs/access.md). Every backend here allows everything (embedded mode, a server without
sign-in), so whoever acts is an admin: what is checked is what each call stores and answers,
and that each refusal is the same error everywhere. Who may do what under a server with sign-in
is tested in tests/server and tests/service.
"""

from __future__ import annotations

import uuid

import pytest
from tests.access_helpers import TESTER
from tests.contract.helpers import signed_in

from cairn.core.access import TOKEN_PREFIX, Grant, ResourceKind, Role, SubjectKind
from cairn.core.clock import now_ms
from cairn.core.errors import (
    AlreadyExists,
    GrantNotFound,
    InvalidValue,
    ModelNotFound,
    ProjectNotFound,
    TeamNotFound,
    TokenNotFound,
    UserNotFound,
)
from cairn.service.interface import Tracking

PASSWORD = "correct horse battery staple 42"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_whoever_acts_may_do_everything_without_sign_in(tracking: Tracking) -> None:
    me = tracking.whoami()
    if signed_in(tracking):  # the http-auth backend acts with a global admin's token
        assert me.is_admin is True and me.authenticated is True and me.via == "token"
        assert me.user is not None and me.user.username == TESTER
        return
    assert me.is_admin is True and me.authenticated is False
    assert me.user is None and me.teams == ()


def test_users_are_created_read_listed_and_changed(tracking: Tracking) -> None:
    name = unique("ann")
    created = tracking.create_user(name, password=PASSWORD, display_name="Ann", email="ann@example.com")
    assert (created.username, created.display_name, created.email) == (name, "Ann", "ann@example.com")
    assert not created.is_admin and not created.disabled and not created.is_service and created.source == "local"
    assert tracking.get_user(name) == created
    assert created in tracking.list_users()

    changed = tracking.update_user(name, display_name="Ann B.", disabled=True)
    assert (changed.display_name, changed.disabled, changed.email) == ("Ann B.", True, "ann@example.com")
    assert tracking.update_user(name, disabled=False).disabled is False
    tracking.set_password(name, "another long passphrase 7")
    assert tracking.update_user(name, is_admin=True).is_admin is True


def test_a_service_account_has_no_password(tracking: Tracking) -> None:
    name = unique("ci")
    assert tracking.create_user(name, is_service=True).is_service
    with pytest.raises(InvalidValue, match="service account"):
        tracking.create_user(unique("ci"), password=PASSWORD, is_service=True)
    with pytest.raises(InvalidValue, match="service account"):
        tracking.set_password(name, PASSWORD)


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("bad name", PASSWORD, "user name"),
        ("-leading", PASSWORD, "user name"),
        ("fine", "short", "at least 12"),
        ("fine", "x" * 1025, "at most 1024"),
        ("fine", "password1234", "too common"),
    ],
)
def test_bad_users_are_refused_alike(tracking: Tracking, username: str, password: str, message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        tracking.create_user(username, password=password)
    assert all(u.username != username for u in tracking.list_users())


def test_a_taken_name_and_unknown_users(tracking: Tracking) -> None:
    name = unique("bob")
    tracking.create_user(name, password=PASSWORD)
    with pytest.raises(AlreadyExists):
        tracking.create_user(name, password=PASSWORD)
    with pytest.raises(UserNotFound):
        tracking.get_user(unique("nobody"))
    with pytest.raises(UserNotFound):
        tracking.update_user(unique("nobody"), disabled=True)


def test_tokens_are_shown_once_listed_without_secret_and_revoked(tracking: Tracking) -> None:
    owner = unique("svc")
    tracking.create_user(owner, is_service=True)
    expires = now_ms() + 86_400_000
    token, secret = tracking.create_token("deploy", username=owner, expires_at=expires)
    assert secret.startswith(TOKEN_PREFIX) and len(secret) > 40
    assert (token.username, token.name, token.expires_at, token.revoked_at) == (owner, "deploy", expires, None)
    assert secret.startswith(token.hint) and token.hint != secret

    listed = tracking.list_tokens(owner)
    assert listed == [token]
    assert secret not in repr(listed)
    assert token in tracking.list_tokens("*")

    revoked = tracking.revoke_token(token.id)
    assert revoked.id == token.id and revoked.revoked_at is not None
    assert tracking.list_tokens(owner)[0].revoked_at == revoked.revoked_at
    with pytest.raises(TokenNotFound):
        tracking.revoke_token("no-such-token")


@pytest.mark.parametrize(("offset_ms", "message"), [(-1000, "in the future"), (400 * 86_400_000, "at most a year")])
def test_a_token_expires_within_a_year(tracking: Tracking, offset_ms: int, message: str) -> None:
    owner = unique("svc")
    tracking.create_user(owner, is_service=True)
    with pytest.raises(InvalidValue, match=message):
        tracking.create_token("t", username=owner, expires_at=now_ms() + offset_ms)
    assert tracking.list_tokens(owner) == []


def test_a_token_for_an_unknown_or_disabled_user_is_refused(tracking: Tracking) -> None:
    with pytest.raises(UserNotFound):
        tracking.create_token("t", username=unique("nobody"))
    with pytest.raises(UserNotFound):
        tracking.list_tokens(unique("nobody"))
    owner = unique("svc")
    tracking.create_user(owner, is_service=True)
    tracking.update_user(owner, disabled=True)
    with pytest.raises(Exception, match="disabled") as refused:
        tracking.create_token("t", username=owner)
    assert refused.value.code == "permission_denied"  # type: ignore[attr-defined]


def test_teams_gain_and_lose_members(tracking: Tracking) -> None:
    team, ann, bob = unique("ml"), unique("ann"), unique("bob")
    for user in (ann, bob):
        tracking.create_user(user, password=PASSWORD)
    created = tracking.create_team(team, "the modelling team")
    assert (created.name, created.description, created.members) == (team, "the modelling team", ())
    tracking.set_team_member(team, ann)
    assert tracking.set_team_member(team, bob).members == tuple(sorted((ann, bob)))
    assert tracking.set_team_member(team, ann, False).members == (bob,)
    assert [t for t in tracking.list_teams() if t.name == team][0].members == (bob,)
    with pytest.raises(AlreadyExists):
        tracking.create_team(team)
    with pytest.raises(UserNotFound):
        tracking.set_team_member(team, unique("nobody"))
    tracking.delete_team(team)
    assert team not in [t.name for t in tracking.list_teams()]
    with pytest.raises(TeamNotFound):
        tracking.delete_team(team)


def test_roles_on_projects_are_granted_replaced_listed_and_revoked(tracking: Tracking) -> None:
    project, ann, team = unique("mnist"), unique("ann"), unique("ml")
    tracking.create_project(project)
    tracking.create_user(ann, password=PASSWORD)
    tracking.create_team(team)

    granted = tracking.grant_role(ResourceKind.PROJECT, project, ann, Role.VIEWER)
    assert (granted.resource_kind, granted.resource, granted.subject_kind, granted.subject, granted.role) == (
        ResourceKind.PROJECT,
        project,
        SubjectKind.USER,
        ann,
        Role.VIEWER,
    )
    tracking.grant_role(ResourceKind.PROJECT, project, ann, Role.EDITOR)  # replaces the viewer role
    tracking.grant_role(ResourceKind.PROJECT, project, team, Role.MAINTAINER, team=True)
    held = {(g.subject_kind, g.subject): g.role for g in others(tracking.list_grants(ResourceKind.PROJECT, project))}
    assert held == {(SubjectKind.USER, ann): Role.EDITOR, (SubjectKind.TEAM, team): Role.MAINTAINER}

    tracking.revoke_role(ResourceKind.PROJECT, project, team, team=True)
    assert [g.subject for g in others(tracking.list_grants(ResourceKind.PROJECT, project))] == [ann]
    with pytest.raises(GrantNotFound):
        tracking.revoke_role(ResourceKind.PROJECT, project, team, team=True)


def test_roles_on_models_and_what_is_not_there(tracking: Tracking) -> None:
    model, ann = unique("classifier"), unique("ann")
    tracking.create_model(model)
    tracking.create_user(ann, password=PASSWORD)
    tracking.grant_role(ResourceKind.MODEL, model, ann, Role.MAINTAINER)
    assert [(g.subject, g.role) for g in others(tracking.list_grants(ResourceKind.MODEL, model))] == [
        (ann, Role.MAINTAINER)
    ]
    tracking.revoke_role(ResourceKind.MODEL, model, ann)
    assert others(tracking.list_grants(ResourceKind.MODEL, model)) == []

    with pytest.raises(ModelNotFound):
        tracking.grant_role(ResourceKind.MODEL, unique("nomodel"), ann, Role.VIEWER)
    with pytest.raises(ProjectNotFound):
        tracking.list_grants(ResourceKind.PROJECT, unique("noproject"))
    with pytest.raises(UserNotFound):
        tracking.grant_role(ResourceKind.MODEL, model, unique("nobody"), Role.VIEWER)
    with pytest.raises(TeamNotFound):
        tracking.grant_role(ResourceKind.MODEL, model, unique("noteam"), Role.VIEWER, team=True)


def test_a_project_whose_name_has_a_slash_has_members(tracking: Tracking) -> None:
    project, ann = f"{unique('team')}/members", unique("ann")
    tracking.create_project(project)
    tracking.create_user(ann, password=PASSWORD)
    tracking.grant_role(ResourceKind.PROJECT, project, ann, Role.VIEWER)
    assert [g.resource for g in others(tracking.list_grants(ResourceKind.PROJECT, project))] == [project]
    assert tracking.get_project(project).name == project


def others(grants: list[Grant]) -> list[Grant]:
    """The grants a test made: without the admin role a signed-in creator gets on what they
    create (the http-auth backend creates as the user "tester")."""
    return [g for g in grants if g.subject != TESTER]
