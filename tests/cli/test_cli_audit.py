"""``cairn events list --actor NAME --type 'user.*'``: an admin reads one user's sign-ins and
account changes from the audit trail (docs/access.md, "Audit trail"), from the store and from a
server that requires authentication."""

from __future__ import annotations

import json

import pytest
from tests.access_helpers import PASSWORD, Team
from tests.helpers import ThreadedServer

from cairn.core.errors import SignInFailed
from cairn.service.authn import Authenticator
from cairn.store.base import MetadataStore
from cairn.store.sql import SqlStore

from .helpers import Invoke


def sign_ins(store: MetadataStore) -> None:
    """ann signs in, fails once and signs out; bob signs in; ann makes a token."""
    team = Team(store)
    team.user("ann")
    team.user("bob")
    authenticator = Authenticator(store)
    with pytest.raises(SignInFailed):
        authenticator.sign_in("ann", "not her password at all", "198.51.100.1")
    session = authenticator.start_session(authenticator.sign_in("ann", PASSWORD, "198.51.100.1"), "198.51.100.1")
    authenticator.end_session(session, "198.51.100.1")
    authenticator.start_session(authenticator.sign_in("bob", PASSWORD, "198.51.100.2"), "198.51.100.2")


def test_one_users_sign_ins_from_the_store(invoke: Invoke, store_uri: str) -> None:
    store = SqlStore(store_uri)
    try:
        sign_ins(store)
    finally:
        store.close()
    listed = json.loads(invoke("events", "list", "--uri", store_uri, "--actor", "ann", "-t", "user.*", "--json").stdout)
    assert [e["type"] for e in listed] == ["user.signed_out", "user.signed_in", "user.sign_in_failed"]
    assert {e["actor"] for e in listed} == {"ann"}
    assert {e["data"]["address"] for e in listed} == {"198.51.100.1"}
    table = invoke("events", "list", "--uri", store_uri, "--actor", "bob", "--type", "user.*").stdout
    assert "user.signed_in" in table and "ann" not in table and "address=198.51.100.2" in table


def test_one_users_sign_ins_through_a_server_with_authentication(invoke: Invoke, auth_server: ThreadedServer) -> None:
    store = auth_server.app.state.tracking.store
    sign_ins(store)
    token = Team(store).user("auditor", is_admin=True, password=None)
    listed = json.loads(
        invoke(
            "events", "list", "--uri", auth_server.url, "--actor", "ann", "--type", "user.*", "--json",
            env={"CAIRN_TOKEN": token},
        ).stdout
    )  # fmt: skip
    assert [e["type"] for e in listed] == ["user.signed_out", "user.signed_in", "user.sign_in_failed"]
    # Without a token the server answers nothing but the refusal.
    refused = invoke("events", "list", "--uri", auth_server.url, code=1, env={"CAIRN_TOKEN": ""})
    assert "sign in" in refused.output.lower() and "user.signed_in" not in refused.output
