"""Single sign-on with OpenID Connect: the authorization code flow with PKCE (S256), ``state``
and ``nonce`` (docs/access.md, "Single sign-on").

``GET /auth/oidc/login?next=PATH`` begins a sign-on: the authenticator keeps its state, nonce,
PKCE verifier and ``next`` in the store (so any server process can finish it, and only once),
the browser keeps the state in a short-lived cookie, and goes to the provider.
``GET /auth/oidc/callback`` finishes it: the state must be the cookie's (a link carrying
someone else's state, a sign-in forced on the victim, goes no further) and one the store still
holds; the code is exchanged with the verifier; the ID token must verify against the provider's
keys and name this issuer, this client, an unexpired time and the nonce; then the user is found
or provisioned, a session starts, and the browser goes back to ``next``.

authlib's protocol parts build the requests and check the claims; the HTTP is this module's own
httpx, with a timeout and a size limit, so a provider that hangs or answers nonsense ends in a
page that says so, never in a 500. Without ``oidc_issuer`` none of this is installed.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from authlib.common.urls import add_params_to_qs
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata, get_well_known_url
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from cairn.core.access import SsoLogin, username_from_claims
from cairn.core.errors import AlreadyExists, SingleSignOnFailed, Unauthenticated
from cairn.server.sessions import safe_next, served_over_https, set_session_cookie
from cairn.server.ui.templating import render
from cairn.service.authn import SSO_EXPIRED, SSO_LOGIN_TTL_MS, Authenticator
from cairn.settings import ServerSettings

log = logging.getLogger(__name__)

LOGIN_PATH = "/auth/oidc/login"
CALLBACK_PATH = "/auth/oidc/callback"
#: Holds the state of the sign-on under way in this browser, for the callback only.
STATE_COOKIE = "cairn_sso_state"
SECURE_STATE_COOKIE = "__Host-cairn_sso_state"
#: The provider's discovery document and keys are fetched again after this long.
METADATA_TTL_S = 3600.0
#: Each request to the provider may take this long, and its answer be this large.
PROVIDER_TIMEOUT_S = 10.0
MAX_PROVIDER_ANSWER = 1 << 20
#: Seconds of clock difference with the provider forgiven in ``exp`` and ``iat``.
CLOCK_LEEWAY_S = 60
SCOPES = "openid profile email"

_UNREACHABLE = "the identity provider could not be reached, or answered wrongly: try again later, or tell an admin"
_UNVERIFIED = "the identity provider's answer could not be verified: try again, or tell an admin"
_DECLINED = "the identity provider did not sign you in: try again"


class ProviderTrouble(Exception):
    """The provider did not answer, or answered something that is not what it should be;
    the message is for the server log, never for the browser."""


@dataclass(frozen=True)
class Identity:
    """Who the provider vouches for, from a verified ID token (and its userinfo)."""

    subject: str
    claims: dict[str, Any]


class IdentityProvider:
    """This server's client of one OpenID provider: its discovery document and signing keys,
    fetched when first needed and kept for :data:`METADATA_TTL_S`, and the three exchanges of
    the code flow."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.client_secret = client_secret
        self._transport = transport
        self._metadata: tuple[float, OpenIDProviderMetadata] | None = None
        self._keys: tuple[float, KeySet] | None = None

    async def metadata(self) -> OpenIDProviderMetadata:
        """The provider's discovery document, checked: it must name this issuer (OpenID
        Connect Discovery 1.0, section 4.3) and the endpoints the code flow needs."""
        cached = self._metadata
        if cached is not None and time.monotonic() - cached[0] < METADATA_TTL_S:
            return cached[1]
        # Two requests that find it stale both fetch it: harmless, and no lock to share
        # between event loops.
        url = get_well_known_url(self.issuer, external=True)
        document = OpenIDProviderMetadata(await self._get_json(url))
        try:
            document.validate()
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderTrouble(f"{url}: not a valid discovery document: {exc}") from exc
        if document.get("issuer") != self.issuer:
            raise ProviderTrouble(f"{url} names the issuer {document.get('issuer')!r}, not {self.issuer!r}")
        for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(needed), str):
                raise ProviderTrouble(f"{url} has no {needed}")
        self._metadata = (time.monotonic(), document)
        return document

    async def keys(self, *, refresh: bool = False) -> KeySet:
        """The provider's public signing keys (its JWKS)."""
        cached = self._keys
        if not refresh and cached is not None and time.monotonic() - cached[0] < METADATA_TTL_S:
            return cached[1]
        url = (await self.metadata())["jwks_uri"]
        try:
            keys = KeySet.import_key_set(await self._get_json(url))  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise ProviderTrouble(f"{url}: not a key set: {exc}") from exc
        self._keys = (time.monotonic(), keys)
        return keys

    async def authorization_url(self, redirect_uri: str, state: str, login: SsoLogin) -> str:
        endpoint = (await self.metadata())["authorization_endpoint"]
        return str(
            prepare_grant_uri(
                endpoint,
                client_id=self.client_id,
                response_type="code",
                redirect_uri=redirect_uri,
                scope=SCOPES,
                state=state,
                nonce=login.nonce,
                code_challenge=create_s256_code_challenge(login.code_verifier),
                code_challenge_method="S256",
            )
        )

    async def exchange(self, code: str, redirect_uri: str, login: SsoLogin) -> dict[str, Any]:
        """The token endpoint's answer for ``code``: it must hold an ID token."""
        endpoint = (await self.metadata())["token_endpoint"]
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=login.code_verifier
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        if self.client_secret:
            # HTTP Basic, which every provider must accept, with both parts form-encoded first
            # (RFC 6749, 2.3.1: a secret may hold ':' or '%').
            pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        else:
            # A public client names itself and proves itself by the PKCE verifier alone.
            body = add_params_to_qs(body, [("client_id", self.client_id)])
        answer = await self._request("POST", endpoint, headers=headers, content=body)
        if not isinstance(answer.get("id_token"), str):
            raise ProviderTrouble(f"{endpoint} gave no ID token: {answer.get('error', 'no error named')}")
        return answer

    async def identity(self, tokens: dict[str, Any], nonce: str, groups_claim: str) -> Identity:
        """The verified claims of the ID token in ``tokens``: signed by one of the provider's
        keys, for this issuer and client, unexpired, with this nonce (and ``at_hash``, if
        given, matching the access token). Groups the ID token lacks come from userinfo."""
        metadata = await self.metadata()
        algorithms = [
            alg for alg in metadata.get("id_token_signing_alg_values_supported") or ["RS256"] if alg != "none"
        ]
        registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
        keys = await self.keys()
        try:
            try:
                token = jwt.decode(tokens["id_token"], keys, registry=registry)
            except JoseError:
                # The provider may have rotated its keys since they were fetched.
                token = jwt.decode(tokens["id_token"], await self.keys(refresh=True), registry=registry)
            params = {"nonce": nonce, "client_id": self.client_id}
            if isinstance(tokens.get("access_token"), str):
                params["access_token"] = tokens["access_token"]
            options = {
                "iss": {"essential": True, "value": self.issuer},
                "aud": {"essential": True, "value": self.client_id},
                "sub": {"essential": True},
                "exp": {"essential": True},
                "nonce": {"essential": True, "value": nonce},
            }
            claims = CodeIDToken(token.claims, token.header, options, params)
            claims.validate(leeway=CLOCK_LEEWAY_S)
        except (JoseError, ValueError, TypeError) as exc:
            raise _Unverified(f"the ID token does not verify: {type(exc).__name__}: {exc}") from exc
        subject = claims["sub"]
        if not isinstance(subject, str) or not 0 < len(subject) <= 255:
            raise _Unverified("the ID token's sub is not a string of 1 to 255 characters")
        found = dict(claims)
        userinfo = metadata.get("userinfo_endpoint")
        if groups_claim not in found and isinstance(userinfo, str) and isinstance(tokens.get("access_token"), str):
            extra = await self._get_json(userinfo, headers={"Authorization": f"Bearer {tokens['access_token']}"})
            # Userinfo about anyone but the ID token's subject is ignored (OpenID Connect
            # Core 1.0, 5.3.2: the sub must match).
            if extra.get("sub") == subject:
                found = {**extra, **found}
        return Identity(subject, found)

    async def _get_json(self, url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        return await self._request("GET", url, headers={"Accept": "application/json", **(headers or {})})

    async def _request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """A JSON object from the provider, read up to :data:`MAX_PROVIDER_ANSWER` bytes."""
        try:
            async with (
                httpx.AsyncClient(timeout=PROVIDER_TIMEOUT_S, transport=self._transport) as client,
                client.stream(method, url, **kwargs) as response,
            ):
                body = bytearray()
                async for piece in response.aiter_bytes():
                    body += piece
                    if len(body) > MAX_PROVIDER_ANSWER:
                        raise ProviderTrouble(f"{method} {url}: the answer is over {MAX_PROVIDER_ANSWER} bytes")
                status = response.status_code
        except httpx.HTTPError as exc:
            raise ProviderTrouble(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        try:
            document = json.loads(bytes(body))
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise ProviderTrouble(f"{method} {url}: HTTP {status}, not a JSON object")
        if status != 200:
            # A token endpoint's refusal (a used or wrong code, a wrong verifier) is a JSON error.
            raise _Unverified(f"{method} {url}: HTTP {status}: {document.get('error', 'no error named')}")
        return document


class _Unverified(ProviderTrouble):
    """The provider answered, but its answer does not prove who signed in."""


# -- routes ---------------------------------------------------------------------------------------

router = APIRouter(include_in_schema=False)


@router.get(LOGIN_PATH)
async def sso_login(request: Request, next: str | None = None) -> Response:
    """Off to the identity provider, to come back to ``next`` (a local path) signed in."""
    authenticator, provider = _parts(request)
    try:
        state, login = authenticator.begin_sso(safe_next(next))
        target = await provider.authorization_url(_redirect_uri(request), state, login)
    except ProviderTrouble as exc:
        log.warning("single sign-on with %s could not start: %s", provider.issuer, exc)
        return _failure(request, SingleSignOnFailed(_UNREACHABLE), next)
    response = RedirectResponse(target, status_code=303)
    secure = served_over_https(request)
    response.set_cookie(
        SECURE_STATE_COOKIE if secure else STATE_COOKIE,
        state,
        max_age=SSO_LOGIN_TTL_MS // 1000,
        path="/",
        secure=secure,
        httponly=True,
        # Lax: the provider's redirect back is a top-level GET, which carries it.
        samesite="lax",
    )
    return response


@router.get(CALLBACK_PATH)
async def sso_callback(request: Request) -> Response:
    """The provider sends the browser back here with a code (or an error) and the state."""
    authenticator, provider = _parts(request)
    params = request.query_params
    state = params.get("state") or ""
    cookie = request.cookies.get(SECURE_STATE_COOKIE) or request.cookies.get(STATE_COOKIE) or ""
    address = request.client.host if request.client else None
    try:
        # Taken before anything else, so a state is spent even by a callback that fails.
        login = authenticator.finish_sso(state)
        if cookie != state:
            raise SingleSignOnFailed(SSO_EXPIRED)
        code = params.get("code")
        if not code:
            log.info("single sign-on declined by %s: %s", provider.issuer, params.get("error", "no code")[:100])
            raise SingleSignOnFailed(_DECLINED)
        tokens = await provider.exchange(code, _redirect_uri(request), login)
        settings: ServerSettings = request.app.state.settings
        identity = await provider.identity(tokens, login.nonce, settings.oidc_groups_claim)
        user = authenticator.sso_user(
            provider.issuer,
            identity.subject,
            username=username_from_claims(
                identity.claims.get("preferred_username"), identity.claims.get("email"), identity.subject
            ),
            display_name=_text(identity.claims.get("name"), 250),
            email=_text(identity.claims.get("email"), 320),
            teams=_groups(identity.claims.get(settings.oidc_groups_claim)),
            address=address,
        )
        secret = authenticator.start_session(user, address, via="sso")
    except _Unverified as exc:
        log.warning("single sign-on with %s refused: %s", provider.issuer, exc)
        return _failure(request, SingleSignOnFailed(_UNVERIFIED), login.next_path)
    except ProviderTrouble as exc:
        log.warning("single sign-on with %s failed: %s", provider.issuer, exc)
        return _failure(request, SingleSignOnFailed(_UNREACHABLE), login.next_path)
    except (Unauthenticated, AlreadyExists) as exc:
        return _failure(request, exc, None)
    response = RedirectResponse(login.next_path, status_code=303)
    _clear_state_cookie(response, request)
    set_session_cookie(response, request, secret)
    return response


def install_single_sign_on(app: FastAPI, settings: ServerSettings) -> None:
    """Add the sign-on routes, when the server has an issuer and authentication is on; without
    them ``/auth/oidc/…`` answers 404."""
    if not settings.oidc_issuer or app.state.authenticator is None:
        return
    if not settings.oidc_client_id:
        raise ValueError("single sign-on needs the client id this server has at the identity provider")
    app.state.identity_provider = IdentityProvider(
        settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret
    )
    app.include_router(router)


def _parts(request: Request) -> tuple[Authenticator, IdentityProvider]:
    return request.app.state.authenticator, request.app.state.identity_provider


def _redirect_uri(request: Request) -> str:
    """Where the provider sends the browser back: under ``public_url`` when a proxy in front
    changes the address, else under the address this request came to. The provider compares
    it with the one registered there, character for character."""
    public_url: str | None = request.app.state.settings.public_url
    base = public_url if public_url else str(request.base_url)
    return base.rstrip("/") + CALLBACK_PATH


def _failure(request: Request, exc: Unauthenticated | AlreadyExists, next_path: str | None) -> Response:
    """The page that says why the sign-on did not happen, with a way to try again."""
    again = f"{LOGIN_PATH}?{urlencode({'next': safe_next(next_path)})}"
    response = render(
        request, "sso_failed.html", status_code=exc.http_status, code=exc.code, message=exc.message, again=again
    )
    _clear_state_cookie(response, request)
    return response


def _clear_state_cookie(response: Response, request: Request) -> None:
    secure = served_over_https(request)
    response.delete_cookie(
        SECURE_STATE_COOKIE if secure else STATE_COOKIE, path="/", secure=secure, httponly=True, samesite="lax"
    )


def _text(value: object, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _groups(value: object) -> list[str]:
    """The groups claim as names: a list of strings, or one string (some providers send one
    group so); anything else is no groups."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [group for group in value if isinstance(group, str)]
    return []
