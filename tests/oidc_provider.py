"""A real OpenID Connect provider on a loopback port, for the single sign-on tests.

Built on authlib's server parts: ``AuthorizationServer`` with the authorization code grant,
PKCE (``CodeChallenge``) and OpenID Connect's ID tokens (``OpenIDCode``), signing with an RS256
key made by joserfc; served by a small Starlette app under uvicorn in a thread. It has its own
users, who sign in on its own form, and publishes a discovery document, its JWKS, ``/authorize``,
``/token`` and ``/userinfo``. Groups go in the ``groups`` claim.

A test makes it misbehave on purpose through :attr:`OidcProvider.fault`: an ID token with
another nonce, for another audience, already expired, or signed with a key it does not publish.
"""

from __future__ import annotations

import html
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Error, OAuth2Request, grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, JsonRequest
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, OpenIDCode, UserInfo
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from tests.helpers import free_port

#: The ways the provider can be told to misbehave.
FAULTS = ("wrong_nonce", "wrong_audience", "expired", "unpublished_key")


@dataclass
class ProviderUser:
    username: str
    password: str
    sub: str
    name: str = ""
    email: str = ""
    groups: list[str] = field(default_factory=list)
    #: Sent as preferred_username; None leaves the claim out.
    preferred_username: str | None = None


@dataclass
class _Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(part for part in scope.split() if part in ("openid", "profile", "email", "groups"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post") if endpoint == "token" else True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class _Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    username: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return None

    def get_amr(self) -> list[str] | None:
        return None


class _Request(OAuth2Request):
    """A Starlette request as authlib's servers read one."""

    def __init__(self, request: Request, form: dict[str, str]) -> None:
        super().__init__(request.method, str(request.url), headers=request.headers)
        self._args = dict(request.query_params)
        self._form = form
        self.payload = BasicOAuth2Payload({**self._args, **form})

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class OidcProvider:
    """The provider, its users, its one client (Cairn), and what it has issued."""

    def __init__(self, client_id: str = "cairn", client_secret: str | None = None) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client = _Client(client_id, client_secret or secrets.token_urlsafe(24), [])
        self.users: dict[str, ProviderUser] = {}
        self.codes: dict[str, _Code] = {}
        self.access_tokens: dict[str, str] = {}
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"})
        #: One of FAULTS, or None to behave.
        self.fault: str | None = None
        #: Whether the groups claim goes in the ID token, or only in userinfo.
        self.groups_in_id_token = True
        #: Token requests received: a test reads what Cairn sent.
        self.token_requests: list[dict[str, str]] = []
        self.server = self._authorization_server()
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/jwks", self._jwks),
                Route("/authorize", self._authorize, methods=["GET", "POST"]),
                Route("/token", self._token, methods=["POST"]),
                Route("/userinfo", self._userinfo),
                # A browser asks for one; a 404 would be a console error in the browser tests.
                Route("/favicon.ico", lambda _request: Response(status_code=204)),
            ]
        )

    def add_user(self, user: ProviderUser) -> ProviderUser:
        self.users[user.username] = user
        return user

    def allow_redirect(self, uri: str) -> None:
        self.client.redirect_uris.append(uri)

    # -- running it -------------------------------------------------------------------------

    def __enter__(self) -> OidcProvider:
        import uvicorn

        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="error", log_config=None, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test identity provider did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    # -- authlib's server -------------------------------------------------------------------

    def _authorization_server(self) -> AuthorizationServer:
        provider = self

        class Server(AuthorizationServer):
            def query_client(self, client_id: str) -> _Client | None:
                return provider.client if client_id == provider.client.client_id else None

            def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
                provider.access_tokens[token["access_token"]] = request.user.username

            def create_oauth2_request(self, request: Any) -> OAuth2Request:
                return request  # type: ignore[no-any-return]

            def create_json_request(self, request: Any) -> JsonRequest:
                raise NotImplementedError

            def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
                if isinstance(body, dict):
                    return JSONResponse(body, status_code=status, headers=dict(headers))
                return Response(body, status_code=status, headers=dict(headers))

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                pass

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
                data = request.payload.data
                provider.codes[code] = _Code(
                    code=code,
                    client_id=request.client.client_id,
                    redirect_uri=data.get("redirect_uri", ""),
                    scope=request.scope or "",
                    username=request.user.username,
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                    auth_time=int(time.time()),
                )

            def query_authorization_code(self, code: str, client: _Client) -> _Code | None:
                found = provider.codes.get(code)
                return found if found is not None and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code: _Code) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: _Code) -> ProviderUser | None:
                return provider.users.get(authorization_code.username)

        class IdTokens(OpenIDCode):
            def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
                return any(code.nonce == nonce for code in provider.codes.values())

            def resolve_client_private_key(self, client: _Client) -> RSAKey:
                return provider.other_key if provider.fault == "unpublished_key" else provider.key

            def get_client_algorithm(self, client: _Client) -> str:
                return "RS256"

            def get_encode_header(self, client: _Client) -> dict[str, str]:
                return {"alg": "RS256", "kid": "test-key"}

            def get_client_claims(self, client: _Client) -> dict[str, Any]:
                now = int(time.time())
                claims: dict[str, Any] = {"iss": provider.issuer, "aud": [client.client_id]}
                if provider.fault == "wrong_audience":
                    claims["aud"] = ["someone-else"]
                if provider.fault == "expired":
                    claims.update(iat=now - 7200, exp=now - 3600)
                return claims

            def get_authorization_code_claims(self, authorization_code: _Code) -> dict[str, Any]:
                claims: dict[str, Any] = super().get_authorization_code_claims(authorization_code)
                if provider.fault == "wrong_nonce":
                    claims["nonce"] = "not-the-nonce-that-was-sent"
                return claims

            def generate_user_info(self, user: ProviderUser, scope: str) -> UserInfo:
                return provider.user_info(user, in_id_token=True)

        server = Server(scopes_supported=["openid", "profile", "email", "groups"])
        server.register_token_generator(
            "default", BearerTokenGenerator(lambda *_args, **_kwargs: secrets.token_urlsafe(32))
        )
        server.register_grant(CodeGrant, [CodeChallenge(required=True), IdTokens(require_nonce=True)])
        return server

    def user_info(self, user: ProviderUser, *, in_id_token: bool) -> UserInfo:
        claims: dict[str, Any] = {"sub": user.sub, "name": user.name, "email": user.email}
        if user.preferred_username is not None:
            claims["preferred_username"] = user.preferred_username
        if not in_id_token or self.groups_in_id_token:
            claims["groups"] = list(user.groups)
        return UserInfo(claims)

    # -- endpoints --------------------------------------------------------------------------

    async def _discovery(self, _request: Request) -> Response:
        document = OpenIDProviderMetadata(
            issuer=self.issuer,
            authorization_endpoint=f"{self.issuer}/authorize",
            token_endpoint=f"{self.issuer}/token",
            userinfo_endpoint=f"{self.issuer}/userinfo",
            jwks_uri=f"{self.issuer}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            scopes_supported=["openid", "profile", "email", "groups"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
            code_challenge_methods_supported=["S256"],
            claims_supported=["sub", "name", "email", "preferred_username", "groups"],
        )
        document.validate()
        return JSONResponse(dict(document))

    async def _jwks(self, _request: Request) -> Response:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def _authorize(self, request: Request) -> Response:
        """GET: the sign-in form; POST: the user's name and password, then back to the client."""
        form = {key: str(value) for key, value in (await request.form()).items()}
        oauth_request = _Request(request, {})
        try:
            grant = self.server.get_consent_grant(oauth_request)
        except OAuth2Error as error:
            return JSONResponse({"error": error.error, "error_description": error.description}, status_code=400)
        if request.method == "GET":
            return self._form(request, "")
        user = self.users.get(form.get("username", ""))
        if user is None or not secrets.compare_digest(user.password, form.get("password", "")):
            return self._form(request, "Wrong user name or password.", status_code=401)
        response: Response = self.server.create_authorization_response(oauth_request, grant_user=user, grant=grant)
        return response

    def _form(self, request: Request, message: str, status_code: int = 200) -> HTMLResponse:
        action = html.escape(f"/authorize?{urlencode(dict(request.query_params))}")
        page = f"""<!doctype html>
<html><head><title>Test identity provider</title></head>
<body><h1>Sign in to the test identity provider</h1>
<p id="provider-message">{html.escape(message)}</p>
<form method="post" action="{action}">
  <label>User name <input name="username" id="provider-username"></label>
  <label>Password <input name="password" type="password" id="provider-password"></label>
  <button type="submit" id="provider-sign-in">Sign in</button>
</form></body></html>"""
        return HTMLResponse(page, status_code=status_code)

    async def _token(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        self.token_requests.append(form)
        response: Response = self.server.create_token_response(_Request(request, form))
        return response

    async def _userinfo(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        username = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
        if username is None or username not in self.users:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse(dict(self.user_info(self.users[username], in_id_token=False)))
