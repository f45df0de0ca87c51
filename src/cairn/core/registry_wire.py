"""The JSON wire format of the model registry, both ways: the registry's part of
:mod:`cairn.core.wire`, kept beside it so that each stays one concept long.

A page of versions goes both ways in bulk (:func:`versions_to_wire`, :func:`versions_from_wire`):
listing 10,000 versions must take at most 100 ms end to end (issue 12), and a model's versions
mostly share their signature and lineage, so each shared value is converted once per page.

The SDK asks for a page in columns (:data:`VERSION_COLUMNS_MEDIA_TYPE`,
:func:`versions_to_columns`): one list per field, and each distinct signature and lineage once,
which the versions refer to by index. The same page is a third of the bytes and a tenth of the
JSON objects to decode: most of what the client spent on a page of 10,000.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from cairn.core.registry import AliasMove, LineageDataset, ModelVersion, RegisteredModel, Stage

#: Stage by its wire text: a dict lookup, where ``Stage(text)`` costs ~0.4 µs a version.
_STAGES = {stage.value: stage for stage in Stage}


def model_to_wire(model: RegisteredModel) -> dict[str, Any]:
    return {
        "name": model.name,
        "description": model.description,
        "tags": dict(model.tags),
        "created_at": model.created_at,
        "updated_at": model.updated_at,
        "latest_version": model.latest_version,
        "aliases": dict(model.aliases),
    }


def model_from_wire(data: Mapping[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=data["name"],
        description=data["description"],
        tags=dict(data["tags"]),
        created_at=data["created_at"],
        updated_at=data["updated_at"],
        latest_version=data["latest_version"],
        aliases=dict(data["aliases"]),
    )


def version_to_wire(version: ModelVersion) -> dict[str, Any]:
    return _version_to_wire(version, _signature_to_wire(version.signature), _datasets_to_wire(version.datasets))


def versions_to_wire(versions: Sequence[ModelVersion]) -> list[dict[str, Any]]:
    """:func:`version_to_wire` of each, for orjson only: a signature or lineage that versions
    share (the store gives them one object) is written once, and each version carries it as an
    ``orjson.Fragment`` of that JSON."""
    written: dict[int, tuple[object, orjson.Fragment]] = {}

    def once(value: Any, to_wire: Callable[[Any], Any]) -> orjson.Fragment:
        # Keyed by identity, with the value kept alive beside its JSON so no id is reused.
        if (found := written.get(id(value))) is None:
            found = written[id(value)] = (value, orjson.Fragment(orjson.dumps(to_wire(value))))
        return found[1]

    return [
        _version_to_wire(
            version, once(version.signature, _signature_to_wire), once(version.datasets, _datasets_to_wire)
        )
        for version in versions
    ]


def _version_to_wire(version: ModelVersion, signature: Any, datasets: Any) -> dict[str, Any]:
    return {
        "model": version.model,
        "version": version.version,
        "source": version.source,
        "run_id": version.run_id,
        "source_path": version.source_path,
        "tree_digest": version.tree_digest,
        "flavor": version.flavor,
        "signature": signature,
        "stage": version.stage.value,
        "description": version.description,
        "aliases": list(version.aliases),
        "tags": dict(version.tags),
        "created_by": version.created_by,
        "created_at": version.created_at,
        "updated_at": version.updated_at,
        "datasets": datasets,
    }


def _signature_to_wire(signature: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if signature is None else dict(signature)


def _datasets_to_wire(datasets: Sequence[LineageDataset]) -> list[dict[str, str]]:
    return [
        {"dataset_version_id": d.dataset_version_id, "name": d.name, "digest": d.digest, "context": d.context}
        for d in datasets
    ]


#: The media type of a page of versions in columns, asked for with ``Accept``.
VERSION_COLUMNS_MEDIA_TYPE = "application/vnd.cairn.version-columns+json"

#: The fields a page in columns has a list of, each as long as the page, in this order.
_COLUMNS = (
    "model",
    "version",
    "run_id",
    "source_path",
    "tree_digest",
    "flavor",
    "signature",
    "stage",
    "description",
    "aliases",
    "tags",
    "created_by",
    "created_at",
    "updated_at",
    "datasets",
)


def versions_to_columns(versions: Sequence[ModelVersion]) -> dict[str, Any]:
    """A page of versions in columns: ``{"columns": {field: [value of each version]},
    "signatures": [...], "lineages": [...]}``, where a version's ``signature`` and ``datasets``
    are indexes into ``signatures`` and ``lineages`` (each distinct value once; the store gives
    versions that share one the same object). ``source`` is left out: it is
    ``runs:/RUN_ID/SOURCE_PATH``."""
    signatures: dict[int, int] = {}
    lineages: dict[int, int] = {}
    distinct_signatures: list[Any] = []
    distinct_lineages: list[Any] = []

    def index(value: Any, seen: dict[int, int], distinct: list[Any], to_wire: Callable[[Any], Any]) -> int:
        if (found := seen.get(id(value))) is None:
            found = seen[id(value)] = len(distinct)
            distinct.append((value, to_wire(value)))  # the value kept alive: no id is reused
        return found

    columns = {
        "model": [v.model for v in versions],
        "version": [v.version for v in versions],
        "run_id": [v.run_id for v in versions],
        "source_path": [v.source_path for v in versions],
        "tree_digest": [v.tree_digest for v in versions],
        "flavor": [v.flavor for v in versions],
        "signature": [index(v.signature, signatures, distinct_signatures, _signature_to_wire) for v in versions],
        "stage": [v.stage.value for v in versions],
        "description": [v.description for v in versions],
        "aliases": [v.aliases for v in versions],
        "tags": [v.tags for v in versions],
        "created_by": [v.created_by for v in versions],
        "created_at": [v.created_at for v in versions],
        "updated_at": [v.updated_at for v in versions],
        "datasets": [index(v.datasets, lineages, distinct_lineages, _datasets_to_wire) for v in versions],
    }
    return {
        "columns": columns,
        "signatures": [wire for _, wire in distinct_signatures],
        "lineages": [wire for _, wire in distinct_lineages],
    }


def versions_from_columns(data: Mapping[str, Any]) -> list[ModelVersion]:
    """The versions of a page in columns (:func:`versions_to_columns`)."""
    signatures = data["signatures"]
    lineages = [
        tuple(LineageDataset(d["dataset_version_id"], d["name"], d["digest"], d["context"]) for d in datasets)
        for datasets in data["lineages"]
    ]
    columns = data["columns"]
    return [
        ModelVersion(
            model,
            version,
            run_id,
            source_path,
            tree_digest,
            flavor,
            signatures[signature],
            _STAGES.get(stage) or Stage(stage),
            description,
            tuple(aliases),
            tags,
            created_by,
            created_at,
            updated_at,
            lineages[datasets],
        )
        for (
            model,
            version,
            run_id,
            source_path,
            tree_digest,
            flavor,
            signature,
            stage,
            description,
            aliases,
            tags,
            created_by,
            created_at,
            updated_at,
            datasets,
        ) in zip(*(columns[name] for name in _COLUMNS), strict=True)
    ]


def version_from_wire(data: Mapping[str, Any]) -> ModelVersion:
    return versions_from_wire([data])[0]


def versions_from_wire(items: Sequence[Mapping[str, Any]]) -> list[ModelVersion]:
    """Versions from their JSON as decoded (their tags and signature are kept, not copied);
    versions with the same lineage share one tuple of it, as the store's do."""
    lineages: dict[tuple[tuple[tuple[str, str], ...], ...], tuple[LineageDataset, ...]] = {(): ()}
    versions = []
    for data in items:
        used = tuple(tuple(d.items()) for d in data["datasets"])
        if (datasets := lineages.get(used)) is None:
            datasets = lineages[used] = tuple(
                LineageDataset(d["dataset_version_id"], d["name"], d["digest"], d["context"]) for d in data["datasets"]
            )
        versions.append(
            ModelVersion(
                model=data["model"],
                version=data["version"],
                run_id=data["run_id"],
                source_path=data["source_path"],
                tree_digest=data["tree_digest"],
                flavor=data["flavor"],
                signature=data["signature"],
                stage=_STAGES.get(data["stage"]) or Stage(data["stage"]),
                description=data["description"],
                aliases=tuple(data["aliases"]),
                tags=data["tags"],
                created_by=data["created_by"],
                created_at=data["created_at"],
                updated_at=data["updated_at"],
                datasets=datasets,
            )
        )
    return versions


def alias_move_to_wire(move: AliasMove) -> dict[str, Any]:
    return {
        "model": move.model,
        "alias": move.alias,
        "from_version": move.from_version,
        "to_version": move.to_version,
        "moved_by": move.moved_by,
        "moved_at": move.moved_at,
    }


def alias_move_from_wire(data: Mapping[str, Any]) -> AliasMove:
    return AliasMove(
        model=data["model"],
        alias=data["alias"],
        from_version=data["from_version"],
        to_version=data["to_version"],
        moved_by=data["moved_by"],
        moved_at=data["moved_at"],
    )
