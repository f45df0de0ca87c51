"""The JSON wire format of the model registry, both ways: the registry's part of
:mod:`cairn.core.wire`, kept beside it so that each stays one concept long.

A page of versions goes both ways in bulk (:func:`versions_to_wire`, :func:`versions_from_wire`):
listing 10,000 versions must take at most 100 ms end to end (issue 12), and a model's versions
mostly share their signature and lineage, so each shared value is converted once per page.
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
