"""The JSON wire format of the model registry, both ways: the registry's part of
:mod:`cairn.core.wire`, kept beside it so that each stays one concept long."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cairn.core.registry import AliasMove, LineageDataset, ModelVersion, RegisteredModel, Stage


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
    return {
        "model": version.model,
        "version": version.version,
        "source": version.source,
        "run_id": version.run_id,
        "source_path": version.source_path,
        "tree_digest": version.tree_digest,
        "flavor": version.flavor,
        "signature": None if version.signature is None else dict(version.signature),
        "stage": version.stage.value,
        "description": version.description,
        "aliases": list(version.aliases),
        "tags": dict(version.tags),
        "created_by": version.created_by,
        "created_at": version.created_at,
        "updated_at": version.updated_at,
        "datasets": [
            {"dataset_version_id": d.dataset_version_id, "name": d.name, "digest": d.digest, "context": d.context}
            for d in version.datasets
        ],
    }


def version_from_wire(data: Mapping[str, Any]) -> ModelVersion:
    return ModelVersion(
        model=data["model"],
        version=data["version"],
        run_id=data["run_id"],
        source_path=data["source_path"],
        tree_digest=data["tree_digest"],
        flavor=data["flavor"],
        signature=data["signature"],
        stage=Stage(data["stage"]),
        description=data["description"],
        aliases=tuple(data["aliases"]),
        tags=dict(data["tags"]),
        created_by=data["created_by"],
        created_at=data["created_at"],
        updated_at=data["updated_at"],
        datasets=tuple(
            LineageDataset(d["dataset_version_id"], d["name"], d["digest"], d["context"]) for d in data["datasets"]
        ),
    )


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
