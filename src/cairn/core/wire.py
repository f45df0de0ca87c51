"""The JSON wire format of REST API v1, both ways, in one place.

The server encodes with these functions and the HTTP client decodes with them, so the two
cannot disagree. JSON has no NaN or infinity: such values travel as the strings "NaN",
"Infinity" and "-Infinity" (what ``float()`` reads back); a param, whose type matters, travels
as ``{"float": "NaN"}`` instead (see :func:`params_to_wire`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from cairn.core.artifacts import (
    Artifact,
    ArtifactEntry,
    DatasetFileEntry,
    DatasetSpec,
    DatasetVersion,
    RunInput,
    Snapshot,
    SnapshotFile,
)
from cairn.core.diff import Change, MappingDiff, MetricChange, MetricsDiff, RunDiff, RunRef
from cairn.core.discussion import Comment, ProjectFields, SavedView
from cairn.core.entities import IngestResult, MetricSummary, Project, Run, RunGroup, RunStatus, SimilarRun
from cairn.core.errors import InvalidRequest
from cairn.core.limits import check_int64, wire_float
from cairn.core.metrics import Float64Array, MetricBatch, MetricColumns, MetricHistory


def project_to_wire(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "created_at": project.created_at,
        "run_count": project.run_count,
        "last_activity": project.last_activity,
    }


def project_from_wire(data: Mapping[str, Any]) -> Project:
    return Project(
        id=data["id"],
        name=data["name"],
        description=data["description"],
        created_at=data["created_at"],
        run_count=data["run_count"],
        last_activity=data["last_activity"],
    )


def run_to_wire(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "project": run.project,
        "project_id": run.project_id,
        "name": run.name,
        "user": run.user,
        "status": run.status.value,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "duration_ms": run.duration_ms,
        "parent_id": run.parent_id,
        "notes": run.notes,
        "deleted": run.deleted,
        "params": params_to_wire(run.params),
        "tags": dict(run.tags),
        "metrics": {key: _summary_to_wire(s) for key, s in run.metrics.items()},
        "fingerprint": run.fingerprint,
    }


def run_from_wire(data: Mapping[str, Any]) -> Run:
    return Run(
        id=data["id"],
        project_id=data["project_id"],
        project=data["project"],
        name=data["name"],
        user=data["user"],
        status=RunStatus(data["status"]),
        start_time=data["start_time"],
        end_time=data["end_time"],
        parent_id=data["parent_id"],
        notes=data["notes"],
        deleted=data["deleted"],
        params=params_from_wire(data["params"]),
        tags=dict(data["tags"]),
        metrics={k: _summary_from_wire(k, s) for k, s in data["metrics"].items()},
        fingerprint=data.get("fingerprint"),
    )


def params_to_wire(params: Mapping[str, Any]) -> dict[str, Any]:
    """Params for JSON: a float that is NaN or infinite keeps its type as ``{"float": "NaN"}``
    (a bare string would read back as text, and orjson would write null)."""
    return {key: _param_to_wire(value) for key, value in params.items()}


def params_from_wire(data: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`params_to_wire`; any other value (a nested config) is left as is."""
    return {key: _param_from_wire(value) for key, value in data.items()}


def _param_to_wire(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": wire_float(value)}
    return value


def _param_from_wire(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1 and value.get("float") in _NON_FINITE:
        return float(value["float"])
    return value


_NON_FINITE = ("NaN", "Infinity", "-Infinity")
V = TypeVar("V")


def _summary_to_wire(summary: MetricSummary) -> dict[str, Any]:
    return {
        "last": wire_float(summary.last),
        "last_step": summary.last_step,
        "last_timestamp": summary.last_timestamp,
        "min": None if summary.min is None else wire_float(summary.min),
        "max": None if summary.max is None else wire_float(summary.max),
        "count": summary.count,
    }


def _summary_from_wire(key: str, data: Mapping[str, Any]) -> MetricSummary:
    return MetricSummary(
        key=key,
        last=float(data["last"]),
        last_step=data["last_step"],
        last_timestamp=data["last_timestamp"],
        min=None if data["min"] is None else float(data["min"]),
        max=None if data["max"] is None else float(data["max"]),
        count=data["count"],
    )


def values_to_wire(values: Float64Array) -> Any:
    """A value column for JSON: the array itself when all finite (orjson writes it fast)."""
    if bool(np.isfinite(values).all()):
        return values
    return [wire_float(v) for v in values.tolist()]


def history_to_wire(history: MetricHistory) -> dict[str, Any]:
    return {
        "key": history.key,
        "total": history.total,
        "downsampled": history.downsampled,
        "next_offset": history.next_offset,
        "steps": history.steps,
        "timestamps": history.timestamps,
        "values": values_to_wire(history.values),
    }


def history_from_wire(data: Mapping[str, Any]) -> MetricHistory:
    return MetricHistory(
        key=data["key"],
        steps=np.array(data["steps"], dtype=np.int64),
        timestamps=np.array(data["timestamps"], dtype=np.int64),
        values=np.array(data["values"], dtype=np.float64),
        total=data["total"],
        downsampled=data["downsampled"],
        next_offset=data["next_offset"],
    )


def batch_to_wire(batch: MetricBatch) -> dict[str, Any]:
    return {
        "client_id": batch.client_id,
        "seq": batch.seq,
        "metrics": [
            {"key": c.key, "steps": c.steps, "timestamps": c.timestamps, "values": values_to_wire(c.values)}
            for c in batch.columns
        ],
    }


def batch_from_wire(data: object) -> MetricBatch:
    """Validate a decoded JSON batch; every problem becomes a clear ``InvalidInput``."""
    if not isinstance(data, dict):
        raise InvalidRequest("a metric batch must be a JSON object")
    unknown = set(data) - {"client_id", "seq", "metrics"}
    if unknown:
        raise InvalidRequest(f"unknown fields in metric batch: {', '.join(sorted(unknown))}")
    client_id, seq, metrics = data.get("client_id"), data.get("seq"), data.get("metrics")
    if not isinstance(client_id, str):
        raise InvalidRequest("client_id must be a string")
    seq = check_int64(seq, "seq", minimum=0, error=InvalidRequest)
    if not isinstance(metrics, list):
        raise InvalidRequest("metrics must be a list of {key, steps, timestamps, values}")
    columns = []
    for item in metrics:
        if not isinstance(item, dict) or set(item) != {"key", "steps", "timestamps", "values"}:
            raise InvalidRequest("each metric must be an object with exactly key, steps, timestamps, values")
        columns.append(MetricColumns.from_lists(item["key"], item["steps"], item["timestamps"], item["values"]))
    return MetricBatch(client_id=client_id, seq=seq, columns=columns)


def ingest_result_to_wire(result: IngestResult) -> dict[str, Any]:
    return {"points": result.points, "duplicate": result.duplicate}


def ingest_result_from_wire(data: Mapping[str, Any]) -> IngestResult:
    return IngestResult(points=data["points"], duplicate=data["duplicate"])


def group_to_wire(group: RunGroup) -> dict[str, Any]:
    return {
        "value": _param_to_wire(group.value),
        "count": group.count,
        "mean": None if group.mean is None else wire_float(group.mean),
        "min": None if group.min is None else wire_float(group.min),
        "max": None if group.max is None else wire_float(group.max),
    }


def group_from_wire(data: Mapping[str, Any]) -> RunGroup:
    def number(value: Any) -> float | None:
        return None if value is None else float(value)

    return RunGroup(
        value=_param_from_wire(data["value"]),
        count=data["count"],
        mean=number(data["mean"]),
        min=number(data["min"]),
        max=number(data["max"]),
    )


# -- insight: similar runs and what changed ------------------------------------------------------


def similar_to_wire(similar: Sequence[SimilarRun]) -> dict[str, Any]:
    return {"runs": [{"run": run_to_wire(s.run), "distance": s.distance} for s in similar]}


def similar_from_wire(data: Mapping[str, Any]) -> list[SimilarRun]:
    return [SimilarRun(run_from_wire(item["run"]), item["distance"]) for item in data["runs"]]


def diff_to_wire(diff: RunDiff) -> dict[str, Any]:
    """A :class:`~cairn.core.diff.RunDiff`; sections added later (datasets, code,
    environment) become more top-level keys."""
    metrics = diff.metrics
    return {
        "run": _ref_to_wire(diff.run),
        "baseline": _ref_to_wire(diff.baseline),
        "distance": diff.distance,
        "params": _mapping_diff_to_wire(diff.params, _param_to_wire),
        "metrics": {
            "added": {k: _summary_to_wire(s) for k, s in metrics.added.items()},
            "removed": {k: _summary_to_wire(s) for k, s in metrics.removed.items()},
            "changed": {
                k: {
                    "before": _summary_to_wire(c.before),
                    "after": _summary_to_wire(c.after),
                    "last": wire_float(c.last),
                    "min": None if c.min is None else wire_float(c.min),
                    "max": None if c.max is None else wire_float(c.max),
                }
                for k, c in metrics.changed.items()
            },
            "unchanged": metrics.unchanged,
        },
        "tags": _mapping_diff_to_wire(diff.tags, str),
        "notes": None if diff.notes is None else {"before": diff.notes.before, "after": diff.notes.after},
    }


def diff_from_wire(data: Mapping[str, Any]) -> RunDiff:
    metrics = data["metrics"]
    notes = data["notes"]
    return RunDiff(
        run=_ref_from_wire(data["run"]),
        baseline=_ref_from_wire(data["baseline"]),
        params=_mapping_diff_from_wire(data["params"], _param_from_wire),
        metrics=MetricsDiff(
            added={k: _summary_from_wire(k, s) for k, s in metrics["added"].items()},
            removed={k: _summary_from_wire(k, s) for k, s in metrics["removed"].items()},
            changed={
                k: MetricChange(_summary_from_wire(k, c["before"]), _summary_from_wire(k, c["after"]))
                for k, c in metrics["changed"].items()
            },
            unchanged=metrics["unchanged"],
        ),
        tags=_mapping_diff_from_wire(data["tags"], str),
        notes=None if notes is None else Change(notes["before"], notes["after"]),
    )


def _ref_to_wire(ref: RunRef) -> dict[str, Any]:
    return {
        "id": ref.id,
        "name": ref.name,
        "project": ref.project,
        "user": ref.user,
        "status": ref.status.value,
        "start_time": ref.start_time,
    }


def _ref_from_wire(data: Mapping[str, Any]) -> RunRef:
    return RunRef(
        id=data["id"],
        name=data["name"],
        project=data["project"],
        user=data["user"],
        status=RunStatus(data["status"]),
        start_time=data["start_time"],
    )


def _mapping_diff_to_wire(diff: MappingDiff[V], value: Callable[[V], Any]) -> dict[str, Any]:
    return {
        "added": {k: value(v) for k, v in diff.added.items()},
        "removed": {k: value(v) for k, v in diff.removed.items()},
        "changed": {k: {"before": value(c.before), "after": value(c.after)} for k, c in diff.changed.items()},
        "unchanged": diff.unchanged,
    }


def _mapping_diff_from_wire(data: Mapping[str, Any], value: Callable[[Any], V]) -> MappingDiff[V]:
    return MappingDiff(
        added={k: value(v) for k, v in data["added"].items()},
        removed={k: value(v) for k, v in data["removed"].items()},
        changed={k: Change(value(c["before"]), value(c["after"])) for k, c in data["changed"].items()},
        unchanged=data["unchanged"],
    )


# -- artifacts and datasets --------------------------------------------------------------------


def artifact_to_wire(artifact: Artifact) -> dict[str, Any]:
    return {
        "run_id": artifact.run_id,
        "path": artifact.path,
        "digest": artifact.digest,
        "size": artifact.size,
        "kind": artifact.kind,
        "media_type": artifact.media_type,
        "meta": dict(artifact.meta),
        "created_at": artifact.created_at,
    }


def artifact_from_wire(data: Mapping[str, Any]) -> Artifact:
    return Artifact(
        run_id=data["run_id"],
        path=data["path"],
        digest=data["digest"],
        size=data["size"],
        kind=data["kind"],
        media_type=data["media_type"],
        meta=data["meta"],
        created_at=data["created_at"],
    )


def artifact_entry_to_wire(entry: ArtifactEntry) -> dict[str, Any]:
    return {
        "path": entry.path,
        "digest": entry.digest,
        "size": entry.size,
        "kind": entry.kind,
        "media_type": entry.media_type,
        "meta": dict(entry.meta),
    }


def dataset_spec_to_wire(spec: DatasetSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "digest": spec.digest,
        "source_uri": spec.source_uri,
        "source_kind": spec.source_kind,
        "rows": spec.rows,
        "columns": spec.columns,
        "schema": spec.schema,
        "profile": dict(spec.profile),
        "files": [{"path": f.path, "digest": f.digest, "size": f.size} for f in spec.files],
        "stored": spec.stored,
    }


def dataset_spec_from_wire(data: Mapping[str, Any]) -> DatasetSpec:
    return DatasetSpec(
        name=data["name"],
        digest=data["digest"],
        source_uri=data["source_uri"],
        source_kind=data["source_kind"],
        rows=data.get("rows"),
        columns=data.get("columns"),
        schema=list(data.get("schema") or []),
        profile=dict(data.get("profile") or {}),
        files=[DatasetFileEntry(f["path"], f["digest"], f["size"]) for f in data.get("files") or []],
        stored=bool(data.get("stored", False)),
    )


def dataset_version_to_wire(version: DatasetVersion) -> dict[str, Any]:
    return {
        "id": version.id,
        "project": version.project,
        "name": version.name,
        "digest": version.digest,
        "source_uri": version.source_uri,
        "source_kind": version.source_kind,
        "rows": version.rows,
        "columns": version.columns,
        "schema": version.schema,
        "profile": dict(version.profile),
        "stored": version.stored,
        "created_at": version.created_at,
        "file_count": version.file_count,
        "used_by": [{"run_id": run_id, "context": context} for run_id, context in version.used_by],
    }


def dataset_version_from_wire(data: Mapping[str, Any]) -> DatasetVersion:
    return DatasetVersion(
        id=data["id"],
        project=data["project"],
        name=data["name"],
        digest=data["digest"],
        source_uri=data["source_uri"],
        source_kind=data["source_kind"],
        rows=data["rows"],
        columns=data["columns"],
        schema=data["schema"],
        profile=data["profile"],
        stored=data["stored"],
        created_at=data["created_at"],
        file_count=data["file_count"],
        used_by=[(item["run_id"], item["context"]) for item in data["used_by"]],
    )


def run_input_to_wire(run_input: RunInput) -> dict[str, Any]:
    return {"dataset": dataset_version_to_wire(run_input.dataset), "context": run_input.context}


def run_input_from_wire(data: Mapping[str, Any]) -> RunInput:
    return RunInput(dataset=dataset_version_from_wire(data["dataset"]), context=data["context"])


def snapshot_to_wire(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "project": snapshot.project,
        "kind": snapshot.kind,
        "parent_id": snapshot.parent_id,
        "message": snapshot.message,
        "meta": dict(snapshot.meta),
        "created_at": snapshot.created_at,
        "files": [{"path": f.path, "digest": f.digest, "size": f.size} for f in snapshot.files],
    }


def snapshot_from_wire(data: Mapping[str, Any]) -> Snapshot:
    return Snapshot(
        id=data["id"],
        project=data["project"],
        kind=data["kind"],
        parent_id=data["parent_id"],
        message=data["message"],
        meta=data["meta"],
        created_at=data["created_at"],
        files=[SnapshotFile(f["path"], f["digest"], f["size"]) for f in data["files"]],
    )


def comment_to_wire(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "run_id": comment.run_id,
        "author": comment.author,
        "body": comment.body,
        "mentions": list(comment.mentions),
        "created_at": comment.created_at,
        "updated_at": comment.updated_at,
    }


def comment_from_wire(data: Mapping[str, Any]) -> Comment:
    return Comment(
        id=data["id"],
        run_id=data["run_id"],
        author=data["author"],
        body=data["body"],
        mentions=tuple(data["mentions"]),
        created_at=data["created_at"],
        updated_at=data["updated_at"],
    )


def view_to_wire(view: SavedView) -> dict[str, Any]:
    return {
        "id": view.id,
        "project": view.project,
        "name": view.name,
        "query": view.query,
        "order_by": view.order_by,
        "columns": list(view.columns),
        "charts": list(view.charts),
        "group_by": view.group_by,
        "created_by": view.created_by,
        "created_at": view.created_at,
        "updated_at": view.updated_at,
    }


def view_from_wire(data: Mapping[str, Any]) -> SavedView:
    return SavedView(
        id=data["id"],
        project=data["project"],
        name=data["name"],
        query=data["query"],
        order_by=data["order_by"],
        columns=tuple(data["columns"]),
        charts=tuple(data["charts"]),
        group_by=data["group_by"],
        created_by=data["created_by"],
        created_at=data["created_at"],
        updated_at=data["updated_at"],
    )


def project_fields_to_wire(fields: ProjectFields) -> dict[str, Any]:
    return {"params": fields.params, "metrics": fields.metrics, "tags": fields.tags}


def project_fields_from_wire(data: Mapping[str, Any]) -> ProjectFields:
    return ProjectFields(params=list(data["params"]), metrics=list(data["metrics"]), tags=list(data["tags"]))
