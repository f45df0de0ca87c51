"""The model registry's pages: the models list, a model (versions and aliases), a version.

URLs follow the REST API's (docs/registry.md): ``/models``, ``/models/NAME``,
``/models/NAME/aliases``, ``/models/NAME/versions/N``. Models and versions come a page at a
time, through the registry's page tokens (``after`` for models, ``before`` for versions), so a
model of 10,000 versions opens as fast as one of ten; more rows load as the table scrolls, and
the same link without JavaScript opens the next page whole.

The pages only read. A model's sections are tabs (:data:`MODEL_TABS`), each one entry there and
one template extending ``model_base.html``; the Reviews tab and the review page are in
:mod:`cairn.server.ui.reviews`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cairn.core.artifacts import Artifact
from cairn.core.entities import Run
from cairn.core.errors import CairnError, InvalidInput, NotFound
from cairn.core.models.manifest import MANIFEST_NAME, ModelManifest, model_tree_digest
from cairn.core.registry import AliasMove, ModelVersion, RegisteredModel
from cairn.core.reviews import Review, ReviewState
from cairn.server.ui.context import is_fragment, now_ms, service
from cairn.server.ui.templating import path_quote, render
from cairn.service.registry import MAX_MANIFEST_BYTES, read_model_manifest
from cairn.service.tracking import TrackingService

router = APIRouter(include_in_schema=False)

MODELS_PAGE_SIZE = 50
VERSIONS_PAGE_SIZE = 50
#: The newest alias moves the Aliases tab lists; the REST API and `cairn models show` have all.
MAX_HISTORY_SHOWN = 1000
#: Open reviews of a model the version page reads to find those of one version.
OPEN_REVIEWS_READ = 200
#: The tabs of a model's page: key, label, path below ``/models/NAME``.
MODEL_TABS: tuple[tuple[str, str, str], ...] = (
    ("versions", "Versions", ""),
    ("aliases", "Aliases", "/aliases"),
    ("reviews", "Reviews", "/reviews"),
    ("monitoring", "Monitoring", "/monitoring"),
    # Shown only with authentication (model_base.html): without it nobody holds a role.
    ("members", "Members", "/members"),
)


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, q: str = "") -> Response:
    """Registered models by name; ``q`` narrows them by name (see :func:`name_pattern`)."""
    tracking = service(request)
    after = request.query_params.get("after")
    query = q.strip()
    models: list[RegisteredModel] = []
    next_token: str | None = None
    error: InvalidInput | None = None
    try:
        page = tracking.list_models(name_like=name_pattern(query), limit=MODELS_PAGE_SIZE, page_token=after)
        models, next_token = page.items, page.next_page_token
    except InvalidInput as exc:  # a filter too long, a page token not handed out
        error = exc
    context: dict[str, Any] = dict(models=models, next_token=next_token, now=now_ms())
    if after is not None and is_fragment(request):
        return render(request, "_models_rows.html", **context)
    return render(request, "models.html", q=query, error=error, paged=after is not None, **context)


def name_pattern(text: str) -> str | None:
    """The filter box's text as the registry's LIKE pattern: a pattern if it holds ``%``,
    otherwise names containing the text (``_`` still stands for any one character)."""
    if not text:
        return None
    return text if "%" in text else f"%{text}%"


def model_context(tracking: TrackingService, name: str, tab: str) -> dict[str, Any]:
    model = tracking.get_model(name)
    return {"model": model, "tab": tab, "tabs": MODEL_TABS, "now": now_ms()}


@router.get("/models/{name}", response_class=HTMLResponse)
def model_page(request: Request, name: str) -> Response:
    """The model's description, tags and aliases, and its versions newest first, a page at a
    time (``before`` is the version the page starts below)."""
    tracking = service(request)
    before = request.query_params.get("before")
    if before is not None and is_fragment(request):
        page = tracking.list_model_versions(name, limit=VERSIONS_PAGE_SIZE, page_token=before)
        return render(
            request,
            "_model_version_rows.html",
            model_name=name,
            versions=page.items,
            next_token=page.next_page_token,
            now=now_ms(),
        )
    context = model_context(tracking, name, "versions")
    model: RegisteredModel = context["model"]
    page = tracking.list_model_versions(model.name, limit=VERSIONS_PAGE_SIZE, page_token=before)
    return render(
        request,
        "model_versions.html",
        versions=page.items,
        next_token=page.next_page_token,
        model_name=model.name,
        paged=before is not None,
        aliases=current_aliases(model, tracking.model_alias_history(model.name)),
        **context,
    )


@router.get("/models/{name}/versions", response_class=HTMLResponse)
def go_to_version(request: Request, name: str, number: str = "") -> Response:
    """The model page's "go to version" box: to that version's page, or back to the model."""
    service(request).get_model(name)  # who may not see the model is not sent on to it
    target = f"/models/{path_quote(name)}"
    text = number.strip().lstrip("vV")
    if text.isascii() and text.isdigit():
        target += f"/versions/{int(text)}"
    return RedirectResponse(target, status_code=303)


@router.get("/models/{name}/aliases", response_class=HTMLResponse)
def model_aliases(request: Request, name: str) -> HTMLResponse:
    """Each alias with the version it names, and every move of every alias, newest first."""
    tracking = service(request)
    context = model_context(tracking, name, "aliases")
    model: RegisteredModel = context["model"]
    history = tracking.model_alias_history(model.name)
    return render(
        request,
        "model_aliases.html",
        aliases=current_aliases(model, history),
        history=list(reversed(history[-MAX_HISTORY_SHOWN:])),
        history_count=len(history),
        protections=tracking.list_alias_protections(model.name),
        **context,
    )


@dataclass(frozen=True, slots=True)
class CurrentAlias:
    """An alias as the model page lists it: the version it names, and its last move."""

    alias: str
    version: int
    last_move: AliasMove | None


def current_aliases(model: RegisteredModel, history: list[AliasMove]) -> list[CurrentAlias]:
    """The model's aliases by name, each with the move that put it where it is."""
    last: dict[str, AliasMove] = {}
    for move in history:  # oldest first: the last one seen is the latest
        last[move.alias] = move
    return [CurrentAlias(alias, version, last.get(alias)) for alias, version in sorted(model.aliases.items())]


@dataclass(frozen=True, slots=True)
class ModelFile:
    """A file of a version's model folder, with its path relative to the folder."""

    name: str
    artifact: Artifact


@router.get("/models/{name}/versions/{version}", response_class=HTMLResponse)
def version_page(request: Request, name: str, version: int) -> HTMLResponse:
    """A version: where it came from (its run, and the datasets that run used), what it takes
    and gives (its signature), the files of its folder, and the aliases that name it."""
    tracking = service(request)
    found = tracking.get_model_version(name, version)
    model = tracking.get_model(found.model)
    run = _maybe_run(tracking, found.run_id)
    files = _model_files(tracking, found) if run is not None else []
    manifest, manifest_problem = _manifest(tracking, found, files)
    return render(
        request,
        "model_version.html",
        model=model,
        version=found,
        run=run,
        files=files,
        files_match=bool(files) and _tree_digest(files) == found.tree_digest,
        manifest=manifest,
        manifest_problem=manifest_problem,
        open_reviews=open_reviews_of(tracking, found),
        now=now_ms(),
    )


def open_reviews_of(tracking: TrackingService, version: ModelVersion) -> list[Review]:
    """The open reviews proposing ``version`` for an alias (among the model's newest open ones)."""
    page = tracking.list_reviews(model=version.model, state=ReviewState.OPEN.value, limit=OPEN_REVIEWS_READ)
    return [r for r in page.items if r.version == version.version]


def _maybe_run(tracking: TrackingService, run_id: str) -> Run | None:
    try:
        return tracking.get_run(run_id)
    except NotFound:  # purged: the version's record outlives it
        return None


def _model_files(tracking: TrackingService, version: ModelVersion) -> list[ModelFile]:
    prefix = version.source_path + "/"
    return [
        ModelFile(a.path.removeprefix(prefix), a)
        for a in tracking.list_artifacts(version.run_id, version.source_path)
        if a.path.startswith(prefix)
    ]


def _tree_digest(files: list[ModelFile]) -> str:
    """The folder's tree digest as it is now, computed as registering it did."""
    return model_tree_digest((f.name, f.artifact.digest, f.artifact.size) for f in files)


def _manifest(
    tracking: TrackingService, version: ModelVersion, files: list[ModelFile]
) -> tuple[ModelManifest | None, str]:
    """The folder's manifest (framework, Python, requirements), or why it cannot be shown.

    The page shows the version whatever state its files are in, so a manifest that is gone or
    unreadable is a line on the page, not an error page."""
    entry = next((f.artifact for f in files if f.name == MANIFEST_NAME), None)
    if entry is None:
        return None, f"the folder has no {MANIFEST_NAME} any more"
    if entry.size > MAX_MANIFEST_BYTES:
        return None, f"{MANIFEST_NAME} is {entry.size} bytes, more than a manifest holds"
    try:
        raw = b"".join(tracking.read_artifact(version.run_id, entry.path))
        return read_model_manifest(raw, version.source), ""
    except CairnError as exc:
        return None, exc.message
