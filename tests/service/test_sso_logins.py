"""Started single sign-ons (docs/access.md, "Single sign-on"): each state is good once, for ten
minutes, in every store; and the user name a provider's claims give."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cairn.core.access import SsoLogin, check_username, credential_digest, username_from_claims
from cairn.core.errors import SingleSignOnFailed
from cairn.service.authn import SSO_LOGIN_TTL_MS, Authenticator
from cairn.store.sql import SqlStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "postgres":
        yield request.getfixturevalue("postgres_store")
        return
    sqlite = SqlStore(str(tmp_path / "cairn.db"))
    yield sqlite
    sqlite.close()


def test_a_state_finishes_its_sign_on_once(store: SqlStore) -> None:
    authenticator = Authenticator(store)
    state, login = authenticator.begin_sso("/models")
    assert authenticator.finish_sso(state) == login
    with pytest.raises(SingleSignOnFailed, match="expired or was already used"):
        authenticator.finish_sso(state)
    for wrong in ("", "x" * 500, state[:-1]):
        with pytest.raises(SingleSignOnFailed):
            authenticator.finish_sso(wrong)


def test_of_many_callbacks_with_one_state_one_gets_it(store: SqlStore) -> None:
    state, _login = Authenticator(store).begin_sso("/projects")
    with ThreadPoolExecutor(8) as pool:
        taken = list(pool.map(lambda _i: store.take_sso_login(credential_digest(state)), range(8)))
    assert sum(found is not None for found in taken) == 1


def test_an_old_state_is_refused_and_abandoned_ones_are_dropped(store: SqlStore) -> None:
    old = SsoLogin("nonce", "verifier" * 6, "/projects", created_at=1_000)
    store.save_sso_login(credential_digest("old"), old, expired_before=0)
    with pytest.raises(SingleSignOnFailed):
        Authenticator(store).finish_sso("old")
    store.save_sso_login(credential_digest("abandoned"), old, expired_before=0)
    Authenticator(store).begin_sso("/projects")  # drops what began before ten minutes ago
    assert store.take_sso_login(credential_digest("abandoned")) is None
    assert SSO_LOGIN_TTL_MS == 600_000


@pytest.mark.parametrize(
    ("preferred", "email", "subject", "expected"),
    [
        ("ann", "x@example.com", "s", "ann"),
        ("Ann Lee", None, "s", "Ann-Lee"),
        (None, "bo.smith@example.com", "s", "bo.smith"),
        ("", "", "248289761001", "248289761001"),
        ("...", "@example.com", "|cy|", "cy-"),
        ("李雷", None, "s", "s"),
        (None, None, "!!!", "user-" + credential_digest("!!!")[:12]),
        ("a" * 300, None, "s", "a" * 100),
        (42, ["not", "text"], "s", "s"),
    ],
)
def test_the_user_name_from_the_claims_is_a_valid_one(
    preferred: object, email: object, subject: str, expected: str
) -> None:
    assert check_username(username_from_claims(preferred, email, subject)) == expected
