"""The dashboard: server-rendered pages (Jinja2) with HTMX and ECharts, under ``/``.

:func:`install_dashboard` adds its routes and static files to the API's FastAPI app; pages call
the same :class:`~cairn.service.tracking.TrackingService` the REST API does, in process.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

from cairn.core.errors import CairnError, Unauthenticated
from cairn.server.ui import (
    accounts,
    cli_login,
    compare,
    discussion,
    events,
    members,
    mlflow_links,
    models,
    monitoring,
    reviews,
    run_page,
    runs,
    signin,
    webhooks,
)
from cairn.server.ui.templating import STATIC, render


def install_dashboard(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    # members before runs: the runs page's /projects/{name:path} would take /projects/NAME/members.
    modules = (
        signin,
        accounts,
        cli_login,
        members,
        discussion,
        run_page,
        compare,
        runs,
        models,
        monitoring,
        reviews,
        events,
        webhooks,
        mlflow_links,
    )
    for module in modules:
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/projects")


def wants_page(request: Request) -> bool:
    """Whether an error on this request should be an HTML page rather than the JSON envelope."""
    path = request.url.path
    return not (path == "/health" or path.startswith(("/api/", "/static/")))


_TITLES = {404: "Not found", 400: "That did not work", 403: "Not allowed", 409: "Conflict"}


def error_page(request: Request, status_code: int, code: str, message: str) -> HTMLResponse:
    """A friendly page for an error on a dashboard URL (unknown run, bad compare link…)."""
    title = _TITLES.get(status_code, "Something went wrong" if status_code >= 500 else "That did not work")
    response = render(request, "error.html", status_code=status_code, title=title, code=code, message=message)
    if request.headers.get("HX-Request") == "true":
        # HTMX swaps no error response; tell it to show this page whole instead.
        response.headers["HX-Retarget"] = "body"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def cairn_error_page(request: Request, exc: CairnError) -> Response:
    if isinstance(exc, Unauthenticated) and request.method in ("GET", "HEAD"):
        return sign_in_redirect(request)
    return error_page(request, exc.http_status, exc.code, exc.message)


def sign_in_redirect(request: Request) -> Response:
    """To the sign-in page, which comes back here afterwards (``next`` is this path and query,
    never another site's address). An HTMX request gets ``HX-Redirect`` so that the whole page
    goes, not a fragment."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = f"/login?{urlencode({'next': here})}"
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
