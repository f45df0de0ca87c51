"""The authenticator against a real store, SQLite and PostgreSQL (docs/access.md, "Signing in"):
every wrong sign-in is the same answer, whatever was wrong and however odd the input; the rate
limit per user and per address; an unknown user's sign-in verifies a password hash as a real
one does; credentials refused at once when revoked, expired or their user disabled.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import argon2
import pytest
from tests.access_helpers import PASSWORD, Team

from cairn.core.access import TOKEN_HINT_LENGTH, credential_digest, new_token
from cairn.core.clock import now_ms
from cairn.core.errors import CairnError, SignInFailed, TooManyAttempts, Unauthenticated
from cairn.service import authn
from cairn.service.access import PASSWORDS
from cairn.service.authn import SIGN_IN_ATTEMPTS_PER_MINUTE, Authenticator, SessionLimits
from cairn.store.base import MetadataStore
from cairn.store.sql import SqlStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    if request.param == "postgres":
        yield request.getfixturevalue("postgres_store")
        return
    sqlite = SqlStore(str(tmp_path / "authn.db"))
    try:
        yield sqlite
    finally:
        sqlite.close()


@pytest.fixture
def team(store: MetadataStore) -> Team:
    team = Team(store)
    team.user("ann")
    return team


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hashes argon2 verifies passwords against, in order (argon2's own verify still runs)."""
    hashes: list[str] = []
    real = argon2.PasswordHasher.verify

    def verify(self: argon2.PasswordHasher, hashed: str, password: str) -> bool:
        hashes.append(hashed)
        return real(self, hashed, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", verify)
    return hashes


def refusal(call: object) -> CairnError:
    assert callable(call)
    with pytest.raises(CairnError) as caught:
        call()
    return caught.value


# -- one answer for every wrong sign-in --------------------------------------------------------


def test_the_right_password_signs_in(store: MetadataStore, team: Team) -> None:
    user = Authenticator(store).sign_in("ann", PASSWORD, "192.0.2.1")
    assert user.username == "ann" and not user.disabled


WRONG = {
    "a wrong password": ("ann", PASSWORD + "!"),
    "an unknown user": ("nobody", PASSWORD),
    "the name in another case": ("ANN", PASSWORD),
    "an empty password": ("ann", ""),
    "an empty name": ("", PASSWORD),
    "a NUL in the name": ("ann\x00", PASSWORD),
    "a NUL in the password": ("ann", PASSWORD + "\x00"),
    "a 1 MB password": ("ann", "x" * 1_000_000),
    "a 10 kB name": ("a" * 10_000, PASSWORD),
    "a non-ASCII name": ("änn✓", PASSWORD),
}


@pytest.mark.parametrize(("username", "password"), WRONG.values(), ids=WRONG.keys())
def test_every_wrong_sign_in_is_the_same_answer(store: MetadataStore, team: Team, username: str, password: str) -> None:
    reference = refusal(lambda: Authenticator(store).sign_in("ann", "not her password at all", None))
    assert isinstance(reference, SignInFailed)
    refused = refusal(lambda: Authenticator(store).sign_in(username, password, "192.0.2.1"))
    assert type(refused) is SignInFailed
    assert (refused.code, refused.http_status, refused.message, refused.details) == (
        reference.code,
        reference.http_status,
        reference.message,
        reference.details,
    )
    assert refused.code == "sign_in_failed" and refused.http_status == 401
    assert password not in refused.message or not password


def test_a_disabled_user_or_a_service_account_cannot_sign_in_with_a_password(store: MetadataStore, team: Team) -> None:
    team.admin.create_user("robot", is_service=True)
    team.admin.update_user("ann", disabled=True)
    authenticator = Authenticator(store)
    wrong = refusal(lambda: authenticator.sign_in("ann", "not her password at all", None))
    for username, password in (("ann", PASSWORD), ("robot", "")):
        refused = refusal(lambda u=username, p=password: authenticator.sign_in(u, p, None))  # type: ignore[misc]
        assert (type(refused), refused.message) == (SignInFailed, wrong.message)


def test_non_strings_are_the_same_answer(store: MetadataStore, team: Team) -> None:
    wrong = refusal(lambda: Authenticator(store).sign_in("ann", "not her password at all", None))
    for username, password in ((None, PASSWORD), ("ann", None), (["ann"], PASSWORD), ("ann", b"bytes")):
        refused = refusal(lambda u=username, p=password: Authenticator(store).sign_in(u, p, None))  # type: ignore[misc]
        assert (type(refused), refused.message) == (SignInFailed, wrong.message)


# -- an unknown user costs what a known one does ---------------------------------------------


def test_an_unknown_user_is_verified_against_a_hash_like_a_real_one(
    store: MetadataStore, team: Team, verified: list[str]
) -> None:
    """Not a timing test: the same work is done, one argon2 verification with the same
    parameters, whether the user exists or not, and for oversized input too."""
    authenticator = Authenticator(store)
    for username, password in (("ann", "wrong password here"), ("nobody", PASSWORD), ("a" * 10_000, PASSWORD)):
        with pytest.raises(SignInFailed):
            authenticator.sign_in(username, password, None)
    with pytest.raises(SignInFailed):
        authenticator.sign_in("ann", "x" * 1_000_000, None)
    real_hash = store.password_hash("ann")[1]  # type: ignore[index]
    assert verified == [real_hash, authn._DUMMY_HASH, authn._DUMMY_HASH, authn._DUMMY_HASH]
    assert argon2.extract_parameters(authn._DUMMY_HASH) == argon2.extract_parameters(real_hash)
    assert not PASSWORDS.check_needs_rehash(authn._DUMMY_HASH)


# -- the rate limit ---------------------------------------------------------------------------


def test_the_eleventh_attempt_in_a_minute_for_one_user_is_refused(store: MetadataStore, team: Team) -> None:
    authenticator = Authenticator(store)
    for attempt in range(SIGN_IN_ATTEMPTS_PER_MINUTE):  # each from another address
        with pytest.raises(SignInFailed):
            authenticator.sign_in("ann", "wrong password here", f"192.0.2.{attempt}")
    refused = refusal(lambda: authenticator.sign_in("ann", PASSWORD, "198.51.100.7"))  # even the right one
    assert isinstance(refused, TooManyAttempts)
    assert (refused.code, refused.http_status) == ("too_many_attempts", 429)
    assert "10 a minute" in refused.message
    # Another user is not held back by ann's attempts.
    team.user("bob")
    assert authenticator.sign_in("bob", PASSWORD, "198.51.100.8").username == "bob"


def test_the_eleventh_attempt_in_a_minute_from_one_address_is_refused(store: MetadataStore, team: Team) -> None:
    authenticator = Authenticator(store)
    for attempt in range(SIGN_IN_ATTEMPTS_PER_MINUTE):  # each for another name
        with pytest.raises(SignInFailed):
            authenticator.sign_in(f"guess-{attempt}", PASSWORD, "203.0.113.9")
    refused = refusal(lambda: authenticator.sign_in("ann", PASSWORD, "203.0.113.9"))
    assert isinstance(refused, TooManyAttempts)
    assert authenticator.sign_in("ann", PASSWORD, "203.0.113.10").username == "ann"  # another address


def test_an_unknown_users_rate_limit_is_that_of_a_known_one(store: MetadataStore, team: Team) -> None:
    """Names that do not exist are limited too, so the limit does not tell them apart."""
    authenticator = Authenticator(store)
    for attempt in range(SIGN_IN_ATTEMPTS_PER_MINUTE):
        with pytest.raises(SignInFailed):
            authenticator.sign_in("nobody", PASSWORD, f"192.0.2.{attempt}")
    assert isinstance(refusal(lambda: authenticator.sign_in("nobody", PASSWORD, "192.0.2.99")), TooManyAttempts)


def test_oversized_names_share_one_limit_and_are_not_stored(store: MetadataStore, team: Team) -> None:
    authenticator = Authenticator(store)
    name = "a" * 10_000
    for attempt in range(SIGN_IN_ATTEMPTS_PER_MINUTE):
        with pytest.raises(SignInFailed):
            authenticator.sign_in(name, PASSWORD, f"192.0.2.{attempt}")
    assert isinstance(refusal(lambda: authenticator.sign_in(name, PASSWORD, "192.0.2.99")), TooManyAttempts)
    events = team.admin.list_events(types=["user.sign_in_failed"], limit=100).items
    assert events and all(name not in (e.subject + e.actor) for e in events)


# -- tokens and sessions -----------------------------------------------------------------------


def test_a_cached_token_is_refused_at_once_when_revoked(store: MetadataStore, team: Team) -> None:
    authenticator = Authenticator(store)
    secret = team.token("ann")
    assert authenticator.token_principal(secret, None).name == "ann"
    [token] = team.admin.list_tokens("ann")
    team.admin.revoke_token(token.id)
    assert isinstance(refusal(lambda: authenticator.token_principal(secret, None)), Unauthenticated)


def test_a_cached_token_is_refused_at_once_when_its_user_is_disabled(store: MetadataStore, team: Team) -> None:
    authenticator = Authenticator(store)
    secret = team.token("ann")
    assert authenticator.token_principal(secret, None).authenticated
    team.admin.update_user("ann", disabled=True)
    assert isinstance(refusal(lambda: authenticator.token_principal(secret, None)), Unauthenticated)


def test_a_cached_token_is_refused_once_it_expires(store: MetadataStore, team: Team) -> None:
    authenticator = Authenticator(store)
    secret = new_token()
    store.create_token(
        "ann",
        name="short",
        digest=credential_digest(secret),
        hint=secret[:TOKEN_HINT_LENGTH],
        expires_at=now_ms() + 300,
    )
    assert authenticator.token_principal(secret, None).name == "ann"  # now cached
    time.sleep(0.4)
    assert isinstance(refusal(lambda: authenticator.token_principal(secret, None)), Unauthenticated)


def test_every_refused_credential_is_the_same_answer(store: MetadataStore, team: Team) -> None:
    authenticator = Authenticator(store)
    session = authenticator.start_session(store.get_user("ann"), None)
    messages = set()
    for call in (
        lambda: authenticator.token_principal("cairn_unknown", None),
        lambda: authenticator.token_principal("not even the prefix", None),
        lambda: authenticator.token_principal("cairn_" + "A" * 10_000, None),
        lambda: authenticator.token_principal(session, None),
        lambda: authenticator.session_principal("", None),
        lambda: authenticator.session_principal("x" * 10_000, None),
        lambda: authenticator.session_principal(team.token("ann"), None),
    ):
        refused = refusal(call)
        assert type(refused) is Unauthenticated
        messages.add(refused.message)
    assert len(messages) == 1


def test_sessions_end_when_idle_or_old(store: MetadataStore, team: Team) -> None:
    user = store.get_user("ann")
    for limits in (SessionLimits(idle_ms=0), SessionLimits(absolute_ms=0)):
        authenticator = Authenticator(store, limits)
        session = authenticator.start_session(user, None)
        assert isinstance(refusal(lambda a=authenticator, s=session: a.session_principal(s, None)), Unauthenticated)  # type: ignore[misc]
        assert store.session_owner(credential_digest(session)) is None  # and it is gone from the store


def test_a_new_password_ends_the_users_sessions(store: MetadataStore, team: Team) -> None:
    authenticator = Authenticator(store)
    session = authenticator.start_session(store.get_user("ann"), None)
    assert authenticator.session_principal(session, None).via == "session"
    team.admin.set_password("ann", "another long password 77")
    assert isinstance(refusal(lambda: authenticator.session_principal(session, None)), Unauthenticated)


def test_sign_in_starts_a_new_session_every_time(store: MetadataStore, team: Team) -> None:
    """No fixation: a session id is never reused."""
    authenticator = Authenticator(store)
    user = authenticator.sign_in("ann", PASSWORD, None)
    first, second = authenticator.start_session(user, None), authenticator.start_session(user, None)
    assert first != second and len(first) >= 43
    assert authenticator.session_principal(first, None).name == authenticator.session_principal(second, None).name
