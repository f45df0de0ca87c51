"""The ASGI application, built from settings by :func:`create_app`; nothing happens at import."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from cairn.blobs.base import BlobStore
from cairn.blobs.registry import open_blobs
from cairn.core.version import __version__
from cairn.core.webhook_delivery import RetrySchedule
from cairn.server import mlflow as mlflow_api
from cairn.server.body_limit import BodyLimitMiddleware
from cairn.server.csp import HEADER as CSP_HEADER
from cairn.server.csp import ContentSecurityPolicyMiddleware, with_inline_scripts
from cairn.server.errors import install_error_handlers
from cairn.server.hosts import AllowedHosts, HostCheckMiddleware
from cairn.server.mlflow.paths import ARTIFACTS_PREFIX
from cairn.server.oidc import install_single_sign_on
from cairn.server.routes import (
    access,
    artifacts,
    discussion,
    events,
    health,
    insight,
    labels,
    metrics,
    monitors,
    prediction_logs,
    projects,
    registry,
    reviews,
    runs,
    snapshots,
    webhooks,
)
from cairn.server.routes import blobs as blobs_routes
from cairn.server.security_headers import SecurityHeadersMiddleware
from cairn.server.ui import install_dashboard
from cairn.server.ui.templating import STATIC
from cairn.server.upload_hashes import RunningHashes
from cairn.service.authn import Authenticator, SessionLimits
from cairn.service.deliveries import DeliveryOptions, DeliveryWorker
from cairn.service.monitor_worker import MonitorWorker
from cairn.service.policy import AllowAll, Principal, RolePolicy
from cairn.service.tracking import TrackingService
from cairn.settings import ServerSettings
from cairn.store.base import MetadataStore
from cairn.store.registry import open_store

API_PREFIX = "/api/v1"


def create_app(settings: ServerSettings, store: MetadataStore | None = None, blobs: BlobStore | None = None) -> FastAPI:
    """The server for ``settings``; ``store`` and ``blobs`` override what its URIs name (tests).

    The blob store is checked here, so a wrong bucket or an unreachable endpoint stops the
    server at start with BlobStoreUnavailable, not at the first upload.
    """
    store = store or open_store(settings.store_uri)
    if blobs is None:
        blobs = open_blobs(settings.blobs_uri, endpoint_url=settings.blobs_endpoint)
        blobs.check()
    worker = DeliveryWorker(store, delivery_options(settings)) if settings.deliver_webhooks else None

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Webhook deliveries go out from background threads of each server process, while it
        # serves: the queue is in the store, so a restart picks up where this one stopped.
        # So do monitor evaluations, each claimed under a lease in the store.
        for background in (worker, _app.state.monitors):
            if background is not None:
                background.start()
        try:
            yield
        finally:
            for background in (worker, _app.state.monitors):
                if background is not None:
                    background.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="Cairn",
        version=__version__,
        description="Model management: log every experiment, version every model.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served below from the packaged Swagger UI: no CDN, works offline
        redoc_url=None,
        debug=False,
    )
    app.state.settings = settings
    # With authentication, roles decide and credentials say who acts; without, everyone may
    # do everything (one person's `cairn ui`, or a proxy in front that authenticates).
    policy = RolePolicy(store) if settings.require_auth else AllowAll()
    app.state.authenticator = (
        Authenticator(store, SessionLimits(settings.session_idle_s * 1000, settings.session_max_s * 1000))
        if settings.require_auth
        else None
    )
    app.state.tracking = TrackingService(
        store, Principal("anonymous"), policy, blobs=blobs, allow_private_webhooks=settings.allow_private_webhooks
    )
    app.state.deliveries = worker
    app.state.monitors = (
        MonitorWorker(app.state.tracking, settings.monitor_poll_interval_s) if settings.evaluate_monitors else None
    )
    app.state.upload_hashes = RunningHashes()
    install_error_handlers(app, debug=settings.debug)
    # Blob uploads, and MLflow's artifact uploads, stream to the blob store in constant memory,
    # so they are exempt.
    streamed = (f"{API_PREFIX}/blobs/", f"{ARTIFACTS_PREFIX}/artifacts/")
    app.add_middleware(BodyLimitMiddleware, streamed_prefixes=streamed)
    # Middleware added later runs earlier: a request for a host this server is not gets no
    # further than the host check, and the policy and security headers, added outermost, reach
    # its page too.
    app.state.hosts = AllowedHosts(settings.host, settings.allowed_hosts)
    app.add_middleware(HostCheckMiddleware, hosts=app.state.hosts)
    app.add_middleware(ContentSecurityPolicyMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, private=settings.require_auth)
    app.include_router(health.router)
    # insight before runs: its /runs/duplicates would otherwise be taken for a run id;
    # discussion and access before projects: /projects/{name:path} would take
    # /projects/NAME/views and /projects/NAME/members.
    for router in (
        access.router,
        discussion.router,
        projects.router,
        insight.router,
        runs.router,
        metrics.router,
        artifacts.router,
        blobs_routes.router,
        snapshots.router,
        registry.router,
        prediction_logs.router,
        labels.router,
        monitors.router,
        reviews.router,
        events.router,
        webhooks.router,
    ):
        app.include_router(router, prefix=API_PREFIX)

    # Swagger UI 5 from npm, copied into the package by `make install` (no CDN: works offline).
    app.mount(
        f"{API_PREFIX}/docs-assets", StaticFiles(directory=str(STATIC / "vendor" / "swagger")), name="docs-assets"
    )

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=f"{API_PREFIX}/openapi.json",
            title="Cairn API",
            swagger_js_url=f"{API_PREFIX}/docs-assets/swagger-ui-bundle.js",
            swagger_css_url=f"{API_PREFIX}/docs-assets/swagger-ui.css",
            swagger_favicon_url=f"{API_PREFIX}/docs-assets/favicon-32x32.png",
        )
        # FastAPI starts Swagger UI with an inline script: this page allows that one, by hash.
        page.headers[CSP_HEADER] = with_inline_scripts(bytes(page.body).decode())
        return page

    mlflow_api.install(app)
    install_dashboard(app)
    install_single_sign_on(app, settings)
    return app


def delivery_options(settings: ServerSettings) -> DeliveryOptions:
    """How this server delivers webhooks, from its settings."""
    delays = settings.webhook_retry_delays_s
    return DeliveryOptions(
        allow_private=settings.allow_private_webhooks,
        timeout_s=settings.webhook_timeout_s,
        schedule=RetrySchedule() if delays is None else RetrySchedule(delays=tuple(delays)),
        poll_interval_s=settings.webhook_poll_interval_s,
    )
