"""The audit trail of access (docs/access.md, "Audit trail"), on SQLite and PostgreSQL: sign-ins
that work and that fail, sign-outs, tokens made, first used and revoked, roles, team
memberships and user changes each land in the event log with who, when and from which address.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.access_helpers import PASSWORD, Team

from cairn.core.access import ResourceKind, Role
from cairn.core.clock import now_ms
from cairn.core.errors import SignInFailed
from cairn.core.events import Event
from cairn.service.authn import Authenticator
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.store.base import MetadataStore
from cairn.store.sql import SqlStore

ADMIN_ADDRESS = "192.0.2.10"
ANN_ADDRESS = "198.51.100.20"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    if request.param == "postgres":
        yield request.getfixturevalue("postgres_store")
        return
    sqlite = SqlStore(str(tmp_path / "audit.db"))
    try:
        yield sqlite
    finally:
        sqlite.close()


@pytest.fixture
def admin(store: MetadataStore) -> TrackingService:
    """A global admin acting from an address, as the server makes one from a request."""
    service = TrackingService(store, Principal("root", is_admin=True, authenticated=True, address=ADMIN_ADDRESS))
    service.create_user("root", password=PASSWORD, is_admin=True)
    return service


def ann(store: MetadataStore) -> TrackingService:
    return TrackingService(store, Principal("ann", authenticated=True, address=ANN_ADDRESS, via="token"))


def next_millisecond() -> int:
    """A time after every event made so far: the clock has moved on from the last one's
    millisecond, so a filter ``since`` it leaves them out (they may share now_ms())."""
    start = now_ms()
    while now_ms() <= start:
        time.sleep(0.0005)
    return now_ms()


def events(store: MetadataStore, since: int, *types: str) -> list[Event]:
    found = Team(store).admin.list_events(types=list(types) or ["*"], since=since, limit=1000).items
    return list(reversed(found))  # oldest first


def only(store: MetadataStore, since: int, type_: str) -> Event:
    [event] = events(store, since, type_)
    return event


def assert_audited(event: Event, *, actor: str, address: str, subject: str, since: int) -> None:
    assert event.actor == actor
    assert event.data.get("address") == address
    assert event.subject == subject
    assert since <= event.created_at <= now_ms()


def test_sign_in_success_failure_and_sign_out(store: MetadataStore, admin: TrackingService) -> None:
    admin.create_user("ann", password=PASSWORD)
    authenticator = Authenticator(store)
    since = next_millisecond()
    with pytest.raises(SignInFailed):
        authenticator.sign_in("ann", "not her password at all", ANN_ADDRESS)
    with pytest.raises(SignInFailed):
        authenticator.sign_in("nobody", PASSWORD, ANN_ADDRESS)
    user = authenticator.sign_in("ann", PASSWORD, ANN_ADDRESS)
    session = authenticator.start_session(user, ANN_ADDRESS)
    authenticator.end_session(session, ANN_ADDRESS)

    failed = events(store, since, "user.sign_in_failed")
    assert [e.actor for e in failed] == ["ann", "nobody"]
    for event in failed:
        assert_audited(event, actor=event.actor, address=ANN_ADDRESS, subject=f"users/{event.actor}", since=since)
    signed_in = only(store, since, "user.signed_in")
    assert_audited(signed_in, actor="ann", address=ANN_ADDRESS, subject="users/ann", since=since)
    assert signed_in.data["via"] == "password"
    assert_audited(
        only(store, since, "user.signed_out"), actor="ann", address=ANN_ADDRESS, subject="users/ann", since=since
    )
    # No password, right or wrong, is in the log.
    logged = repr(events(store, since))
    assert PASSWORD not in logged and "not her password" not in logged


def test_a_token_made_first_used_and_revoked(store: MetadataStore, admin: TrackingService) -> None:
    admin.create_user("ann", password=PASSWORD)
    since = next_millisecond()
    token, secret = ann(store).create_token("laptop")
    subject = f"users/ann/tokens/{token.id}"
    created = only(store, since, "token.created")
    assert_audited(created, actor="ann", address=ANN_ADDRESS, subject=subject, since=since)
    assert created.data["name"] == "laptop"

    authenticator = Authenticator(store)
    for _ in range(3):
        authenticator.token_principal(secret, "203.0.113.5")
    Authenticator(store).token_principal(secret, "203.0.113.6")  # another process, the same day
    used = only(store, since, "token.used")  # the first use of the day, once
    assert_audited(used, actor="ann", address="203.0.113.5", subject=subject, since=since)

    admin.revoke_token(token.id)
    revoked = only(store, since, "token.revoked")
    assert_audited(revoked, actor="root", address=ADMIN_ADDRESS, subject=subject, since=since)
    assert secret not in repr(events(store, since))


def test_roles_and_team_memberships(store: MetadataStore, admin: TrackingService) -> None:
    admin.create_user("ann", password=PASSWORD)
    admin.create_project("vision")
    since = next_millisecond()
    admin.create_team("ml")
    admin.set_team_member("ml", "ann", True)
    admin.grant_role(ResourceKind.PROJECT, "vision", "ann", Role.EDITOR)
    admin.grant_role(ResourceKind.PROJECT, "vision", "ml", Role.VIEWER, team=True)
    admin.revoke_role(ResourceKind.PROJECT, "vision", "ann")
    admin.set_team_member("ml", "ann", False)
    admin.delete_team("ml")

    logged = events(store, since)
    assert [e.type.value for e in logged] == [
        "team.created",
        "team.member_added",
        "role.granted",
        "role.granted",
        "role.revoked",
        "team.member_removed",
        "team.deleted",
    ]
    for event in logged:
        assert event.actor == "root" and event.data["address"] == ADMIN_ADDRESS
        assert since <= event.created_at <= now_ms()
    added, granted, team_granted, role_revoked = logged[1], logged[2], logged[3], logged[4]
    assert (added.subject, added.data["user"]) == ("teams/ml", "ann")
    assert (granted.data["user"], granted.data["role"]) == ("ann", "editor")
    assert (team_granted.data["team"], team_granted.data["role"]) == ("ml", "viewer")
    assert role_revoked.data["user"] == "ann"
    assert granted.subject == team_granted.subject == role_revoked.subject == "projects/vision/members"


def test_user_changes(store: MetadataStore, admin: TrackingService) -> None:
    since = next_millisecond()
    admin.create_user("ann", password=PASSWORD, email="ann@example.org")
    admin.update_user("ann", display_name="Ann A.", is_admin=True)
    admin.update_user("ann", disabled=True)
    admin.set_password("ann", "another long password 77")
    logged = events(store, since, "user.*")
    assert [e.type.value for e in logged] == ["user.created", "user.updated", "user.updated", "user.updated"]
    for event in logged:
        assert_audited(event, actor="root", address=ADMIN_ADDRESS, subject="users/ann", since=since)
    assert logged[1].data == {"display_name": "Ann A.", "is_admin": True, "address": ADMIN_ADDRESS}
    assert logged[2].data["disabled"] is True
    assert logged[3].data["password"] == "changed"  # that it changed, never what to
    assert "another long password" not in repr(logged)


def test_a_user_changing_their_own_name_is_audited_as_them(store: MetadataStore, admin: TrackingService) -> None:
    admin.create_user("ann", password=PASSWORD)
    since = next_millisecond()
    ann(store).update_user("ann", display_name="Ann")
    event = only(store, since, "user.updated")
    assert_audited(event, actor="ann", address=ANN_ADDRESS, subject="users/ann", since=since)
