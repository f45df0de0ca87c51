"""``cairn server``'s single sign-on options: what is wrong stops it before it listens."""

from __future__ import annotations

from tests.cli.helpers import Invoke


def test_an_issuer_without_a_client_id_is_a_usage_error(invoke: Invoke) -> None:
    result = invoke("server", "--oidc-issuer", "https://login.example.com", code=2)
    assert "--oidc-issuer needs --oidc-client-id" in result.output


def test_the_issuer_may_come_from_the_environment(invoke: Invoke) -> None:
    result = invoke("server", code=2, env={"CAIRN_OIDC_ISSUER": "https://login.example.com"})
    assert "--oidc-issuer needs --oidc-client-id" in result.output


def test_a_public_url_must_be_an_address(invoke: Invoke) -> None:
    result = invoke("server", "--public-url", "cairn.example.com", code=2)
    assert "--public-url must be an http:// or https:// address" in result.output
