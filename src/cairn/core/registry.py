"""The model registry as entities: registered models, their numbered versions, aliases and
stages.

A registered model is a name (unique in the store, like MLflow's) with a description and tags.
Each version is numbered from 1 in the order it was registered, and numbers are never reused,
even after a model is deleted and made again under the same name. A version points at a model
folder logged by a run (``runs:/RUN_ID/PATH``) and records what that folder was when it was
registered: its tree digest, flavor and signature from the manifest, and the dataset versions
its run used (lineage, which can be asked both ways).

An alias (``champion``) points at one version of its model at a time; moving or removing it is
kept in the alias history with who and when. Stages are MLflow's classic four, spelled as
MLflow spells them.

The rules for model names, aliases, version numbers and the ``runs:/`` source are those of
model URIs, in :mod:`cairn.core.models.uri`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cairn.core.archive import ArchivedFile
from cairn.core.errors import InvalidValue
from cairn.core.models.uri import RunModelUri


class Stage(enum.StrEnum):
    """A version's classic stage; a new version is in ``None``."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"


@dataclass(frozen=True, slots=True)
class LineageDataset:
    """A dataset version the source run used, as recorded with the model version."""

    #: The dataset version's id (as ``DatasetVersion.id``).
    dataset_version_id: str
    name: str
    digest: str
    #: How the run used it: "train", "validation", …
    context: str


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    name: str
    description: str
    tags: Mapping[str, str]
    created_at: int
    updated_at: int
    #: The highest version number given out, None before the first version.
    latest_version: int | None
    #: Each alias of the model and the version it points at.
    aliases: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelVersion:
    model: str
    version: int
    run_id: str
    #: The model folder's path among the run's artifacts ("model").
    source_path: str
    #: The sha256 of the folder's tree of path → digest when it was registered.
    tree_digest: str
    flavor: str
    signature: Mapping[str, Any] | None
    stage: Stage
    description: str
    aliases: tuple[str, ...]
    tags: Mapping[str, str]
    created_by: str
    created_at: int
    updated_at: int
    datasets: tuple[LineageDataset, ...] = ()

    @property
    def source(self) -> str:
        """Where the version came from: ``runs:/RUN_ID/PATH``."""
        return str(RunModelUri(self.run_id, self.source_path))


@dataclass(frozen=True, slots=True)
class ModelVersionFolder:
    """A version's model folder as it is read to load it: where it was logged, the tree digest
    the version recorded, and every file with its digest and bytes, by path (read each file's
    bytes to the end before the next)."""

    model: str
    version: int
    run_id: str
    source_path: str
    tree_digest: str
    files: Iterator[tuple[ArchivedFile, Iterator[bytes]]]


@dataclass(frozen=True, slots=True)
class AliasMove:
    """One change of an alias: set (``from_version`` None), moved, or deleted (``to_version`` None)."""

    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    moved_by: str
    moved_at: int


def check_stage(stage: object) -> Stage:
    """One of None, Staging, Production, Archived (MLflow's spelling; any case). Raises InvalidValue."""
    if isinstance(stage, str):
        for known in Stage:
            if stage.lower() == known.value.lower():
                return known
    choices = ", ".join(s.value for s in Stage)
    raise InvalidValue(f"a stage is one of {choices}, got {stage!r}", details={"stage": str(stage)[:50]})
