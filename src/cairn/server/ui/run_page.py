"""A run's pages: overview with charts, system metrics, artifacts, datasets, code, console log.

Each tab is its own URL (``/runs/{id}``, ``/runs/{id}/artifacts?path=…``), so a link to a
preview or a folder can be shared. Charts are drawn in the browser from the metric history API
(``charts.js``); this module only decides which charts a page has and how they are grouped.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cairn.core.artifacts import Artifact, Snapshot, SnapshotFile
from cairn.core.diff import diff_runs, snapshot_changes
from cairn.core.entities import Run
from cairn.core.errors import ArtifactNotFound, NotFound
from cairn.core.headline import SYSTEM_PREFIX, headline_metric, is_system_metric, lower_is_better
from cairn.core.query.text import comparison
from cairn.server.ui.charts import chart_groups
from cairn.server.ui.context import now_ms, service
from cairn.server.ui.previews import preview_artifact
from cairn.server.ui.templating import render
from cairn.service.tracking import TrackingService

router = APIRouter(include_in_schema=False)

CONSOLE_LOG = "cairn/console.log"
#: What the Logs tab shows of a console log: its end, where a failure is.
CONSOLE_TAIL_BYTES = 256 * 1024
#: The largest snapshot file shown as text (and diffed).
MAX_TEXT_BYTES = 1024 * 1024
#: The model versions registered from a run that its overview names (the rest are counted).
REGISTERED_SHOWN = 20


def _header(tracking: TrackingService, run_id: str) -> dict[str, Any]:
    run = tracking.get_run(run_id)
    return {"run": run, "now": now_ms()}


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_overview(request: Request, run_id: str) -> HTMLResponse:
    tracking = service(request)
    context = _header(tracking, run_id)
    run: Run = context["run"]
    duplicates = [
        r for r in (tracking.find_duplicates(run.project, run.fingerprint) if run.fingerprint else []) if r.id != run.id
    ]
    similar = tracking.similar_runs(run.id, limit=3)
    children = tracking.list_runs(run.project, where=comparison("parent", "=", run.id), limit=20).items
    parent = _maybe_run(tracking, run.parent_id)
    user_keys = [k for k in run.metrics if not is_system_metric(k)]
    peak = run.metrics.get(f"{SYSTEM_PREFIX}peak_rss_mb")
    # The nearest earlier run is the first similar one (what diff_runs would search for again);
    # none for the project's first run.
    change = diff_runs(run, similar[0].run) if similar else None
    return render(
        request,
        "run_overview.html",
        tab="overview",
        duplicates=duplicates,
        similar=similar,
        children=children,
        parent=parent,
        chart_groups=chart_groups(user_keys),
        # The capture logs peak memory in MiB (system/peak_rss_mb); shown as every size is.
        peak_rss_bytes=None
        if peak is None or peak.max is None or not math.isfinite(peak.max)
        else round(peak.max * 1024 * 1024),
        comments=tracking.list_comments(run.id),
        change=change,
        standing=standing(tracking, run, user_keys),
        inputs=tracking.run_inputs(run.id),
        registered=tracking.run_model_versions(run.id),
        registered_shown=REGISTERED_SHOWN,
        **context,
    )


@router.get("/runs/{run_id}/system", response_class=HTMLResponse)
def run_system(request: Request, run_id: str) -> HTMLResponse:
    tracking = service(request)
    context = _header(tracking, run_id)
    keys = [k for k in context["run"].metrics if is_system_metric(k)]
    return render(request, "run_system.html", tab="system", chart_groups=chart_groups(keys), **context)


@router.get("/runs/{run_id}/artifacts", response_class=HTMLResponse)
def run_artifacts(request: Request, run_id: str, path: str = "") -> HTMLResponse:
    tracking = service(request)
    context = _header(tracking, run_id)
    artifacts = tracking.list_artifacts(run_id)
    selected = next((a for a in artifacts if a.path == path), None)
    folder = path.rstrip("/") if selected is None else path.rsplit("/", 1)[0] if "/" in path else ""
    if path and selected is None and not any(a.path.startswith(folder + "/") for a in artifacts):
        raise ArtifactNotFound(f"run {run_id} has no artifact or folder {path!r}")
    return render(
        request,
        "run_artifacts.html",
        tab="artifacts",
        folder=folder,
        entries=folder_entries(artifacts, folder),
        selected=selected,
        preview=preview_artifact(tracking, selected) if selected else None,
        total_files=len(artifacts),
        **context,
    )


@dataclass(frozen=True, slots=True)
class FolderEntry:
    name: str
    path: str
    is_folder: bool
    size: int
    files: int
    artifact: Artifact | None


def folder_entries(artifacts: list[Artifact], folder: str) -> list[FolderEntry]:
    """The direct children of ``folder``: sub-folders (with their file count and size) first."""
    prefix = folder + "/" if folder else ""
    folders: dict[str, list[Artifact]] = {}
    files: list[FolderEntry] = []
    for artifact in artifacts:
        if not artifact.path.startswith(prefix):
            continue
        rest = artifact.path[len(prefix) :]
        head, _, tail = rest.partition("/")
        if tail:
            folders.setdefault(head, []).append(artifact)
        else:
            files.append(FolderEntry(head, artifact.path, False, artifact.size, 1, artifact))
    entries = [
        FolderEntry(name, prefix + name, True, sum(a.size for a in items), len(items), None)
        for name, items in sorted(folders.items())
    ]
    return entries + sorted(files, key=lambda e: e.name)


@router.get("/runs/{run_id}/datasets", response_class=HTMLResponse)
def run_datasets(request: Request, run_id: str) -> HTMLResponse:
    tracking = service(request)
    context = _header(tracking, run_id)
    return render(request, "run_datasets.html", tab="datasets", inputs=tracking.run_inputs(run_id), **context)


@router.get("/runs/{run_id}/code", response_class=HTMLResponse)
def run_code(request: Request, run_id: str, snapshot: str = "", file: str = "") -> HTMLResponse:
    """A snapshot's files, what changed since the previous run's snapshot of the same kind
    (its parent), and one file, as it is or as a diff against the parent's version."""
    tracking = service(request)
    context = _header(tracking, run_id)
    snapshots = tracking.run_snapshots(run_id)
    chosen = next((s for s in snapshots if s.id == snapshot), snapshots[0] if snapshots else None)
    parent = _parent_snapshot(tracking, chosen)
    changes = snapshot_changes(parent, chosen) if chosen is not None and parent is not None else {}
    content, diff = None, None
    if chosen is not None and file:
        current = next((f for f in chosen.files if f.path == file), None)
        if current is None:
            raise ArtifactNotFound(f"the snapshot has no file {file!r}")
        content = _snapshot_text(tracking, chosen, current)
        if parent is not None and changes.get(file) == "changed":
            before = next(f for f in parent.files if f.path == file)
            diff = _unified_diff(_snapshot_text(tracking, parent, before), content, file)
    return render(
        request,
        "run_code.html",
        tab="code",
        snapshots=snapshots,
        chosen=chosen,
        parent=parent,
        changes=changes,
        removed=sorted(path for path, change in changes.items() if change == "removed"),
        file=file,
        content=content,
        diff=diff,
        **context,
    )


def _parent_snapshot(tracking: TrackingService, snapshot: Snapshot | None) -> Snapshot | None:
    if snapshot is None or not snapshot.parent_id:
        return None
    try:
        return tracking.get_snapshot(snapshot.parent_id)
    except NotFound:
        return None


def _snapshot_text(tracking: TrackingService, snapshot: Snapshot, file: SnapshotFile) -> str:
    if file.size > MAX_TEXT_BYTES:
        return f"({file.size} bytes: too large to show here)"
    data = b"".join(tracking.read_snapshot_file(snapshot.id, file.path))
    if b"\0" in data[:8192]:
        return f"(binary file, {file.size} bytes)"
    return _text_of(data)


def _unified_diff(before: str, after: str, path: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


@router.get("/runs/{run_id}/logs", response_class=HTMLResponse)
def run_logs(request: Request, run_id: str) -> HTMLResponse:
    tracking = service(request)
    context = _header(tracking, run_id)
    log = next((a for a in tracking.list_artifacts(run_id, CONSOLE_LOG) if a.path == CONSOLE_LOG), None)
    text, cut = None, False
    if log is not None:
        start = max(0, log.size - CONSOLE_TAIL_BYTES)
        text, cut = _text_of(b"".join(tracking.read_artifact(run_id, CONSOLE_LOG, start))), start > 0
    return render(request, "run_logs.html", tab="logs", log=log, text=text, cut=cut, **context)


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a run ranks in its project by one metric: 1 is the best of ``of`` runs."""

    metric: str
    value: float
    rank: int
    of: int
    goal: str  # "max" or "min"


def standing(tracking: TrackingService, run: Run, keys: list[str]) -> Standing | None:
    """The run's rank by its headline metric (validation accuracy or the like: higher is
    better; a loss or an error: lower is better), from two indexed counts."""
    metric = headline_metric(keys)
    if metric is None:
        return None
    value = run.metrics[metric].last
    goal = "min" if lower_is_better(metric) else "max"
    rank = tracking.metric_rank(run.id, metric, lower_is_better=goal == "min")
    if rank is None:
        return None
    return Standing(metric, value, rank[0], rank[1], goal)


def _mib_to_bytes(mib: float | None) -> int | None:
    # The capture logs peak memory in MiB (system/peak_rss_mb); the page shows it as every size.
    return None if mib is None or not math.isfinite(mib) else round(mib * 1024 * 1024)


def _maybe_run(tracking: TrackingService, run_id: str | None) -> Run | None:
    if not run_id:
        return None
    try:
        return tracking.get_run(run_id)
    except NotFound:
        return None


def _text_of(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")
