"""The model registry as entities: registered models, their numbered versions, aliases and
stages, and the rules for their names.

A registered model is a name (unique in the store, like MLflow's) with a description and tags.
Each version is numbered from 1 in the order it was registered, and numbers are never reused,
even after a model is deleted and made again under the same name. A version points at a model
folder logged by a run (``runs:/RUN_ID/PATH``) and records what that folder was when it was
registered: its tree digest, flavor and signature from the manifest, and the dataset versions
its run used (lineage, which can be asked both ways).

An alias (``champion``) points at one version of its model at a time; moving or removing it is
kept in the alias history with who and when. Stages are MLflow's classic four, spelled as
MLflow spells them.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cairn.core.artifacts import ARTIFACT_PATH_PATTERN, check_artifact_path
from cairn.core.errors import InvalidValue
from cairn.core.limits import MAX_ARTIFACT_PATH_LENGTH, MAX_KEY_LENGTH, check_name

#: What an alias looks like: a lowercase letter, then lowercase letters, digits, ``_`` and ``-``.
ALIAS_PATTERN = "^[a-z][a-z0-9_-]*$"
#: Characters of an alias.
MAX_ALIAS_LENGTH = MAX_KEY_LENGTH
#: A model name (:func:`check_model_name`): a name as :func:`cairn.core.limits.check_name` has
#: it, without ``/`` or ``@``, which separate the parts of ``models:/NAME/VERSION`` and
#: ``models:/NAME@ALIAS``.
MODEL_NAME_PATTERN = r"^[^/@\x00-\x1f\x7f]*[^/@\s\x00-\x1f\x7f][^/@\x00-\x1f\x7f]*$"
#: Characters of a model source, ``runs:/RUN_ID/PATH``.
MAX_MODEL_SOURCE_LENGTH = MAX_ARTIFACT_PATH_LENGTH
#: A model source: a run id (1 to 64 characters, no "/" or control character), then an
#: artifact path as check_artifact_path has it.
RUNS_URI_PATTERN = r"^runs:/[^/\x00-\x1f\x7f]{1,64}/" + ARTIFACT_PATH_PATTERN.removeprefix("^")
#: The file at the root of a logged model's folder that describes it (docs/models.md).
MANIFEST_NAME = "cairn-model.json"

_ALIAS = re.compile(ALIAS_PATTERN)
# "v3" reads as version 3 in a URI, and "latest" as the newest version (MLflow reserves both).
_VERSION_LIKE = re.compile(r"^v[0-9]+$")
_RESERVED_ALIASES = frozenset({"latest"})


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
        return runs_uri(self.run_id, self.source_path)


@dataclass(frozen=True, slots=True)
class AliasMove:
    """One change of an alias: set (``from_version`` None), moved, or deleted (``to_version`` None)."""

    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    moved_by: str
    moved_at: int


@dataclass(frozen=True, slots=True)
class ModelManifest:
    """What the registry reads from a logged model's ``cairn-model.json`` (docs/models.md)."""

    flavor: str
    signature: Mapping[str, Any] | None
    #: Every other file of the folder: relative path → sha256.
    files: Mapping[str, str]


def check_model_name(name: object) -> str:
    """A model name: a name (not blank, no control characters, at most 250 characters) without
    ``/`` or ``@``. Raises InvalidValue."""
    checked = check_name(name, "model name")
    for separator in "/@":
        if separator in checked:
            raise InvalidValue(
                f"model name {checked!r} contains {separator!r}, which separates the parts of a models:/ URI",
                details={"model": checked},
            )
    return checked


def check_alias(alias: object) -> str:
    """An alias matching ``[a-z][a-z0-9_-]*``, at most 250 characters, that cannot be read as a
    version (``v3``, ``latest``). Raises InvalidValue."""
    if not isinstance(alias, str):
        raise InvalidValue(f"an alias must be text, got {type(alias).__name__}")
    if len(alias) > MAX_ALIAS_LENGTH or not _ALIAS.match(alias):
        raise InvalidValue(
            f"alias {alias[:60]!r} must start with a lowercase letter and hold only lowercase letters, "
            f"digits, '_' and '-' (at most {MAX_ALIAS_LENGTH} characters)",
            details={"alias": alias[:MAX_ALIAS_LENGTH]},
        )
    if _VERSION_LIKE.match(alias) or alias in _RESERVED_ALIASES:
        raise InvalidValue(f"alias {alias!r} reads as a version; choose another name", details={"alias": alias})
    return alias


def check_stage(stage: object) -> Stage:
    """One of None, Staging, Production, Archived (MLflow's spelling; any case). Raises InvalidValue."""
    if isinstance(stage, str):
        for known in Stage:
            if stage.lower() == known.value.lower():
                return known
    choices = ", ".join(s.value for s in Stage)
    raise InvalidValue(f"a stage is one of {choices}, got {stage!r}", details={"stage": str(stage)[:50]})


def check_version_number(version: object) -> int:
    """A version number: an integer from 1. Raises InvalidValue."""
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version < 2**63:
        raise InvalidValue(f"a model version is an integer from 1, got {version!r}", details={"version": str(version)})
    return version


def runs_uri(run_id: str, path: str) -> str:
    return f"runs:/{run_id}/{path}"


def parse_runs_uri(uri: object) -> tuple[str, str]:
    """``runs:/RUN_ID/PATH`` as (run id, artifact path). Raises InvalidValue for anything else,
    and InvalidArtifactPath for a path that would leave the run."""
    if not isinstance(uri, str) or not uri.startswith("runs:/"):
        raise InvalidValue(f"a model source is runs:/RUN_ID/PATH, got {str(uri)[:200]!r}", details={"source": uri})
    if len(uri) > MAX_MODEL_SOURCE_LENGTH:
        raise InvalidValue(f"a model source is at most {MAX_MODEL_SOURCE_LENGTH} characters, got {len(uri)}")
    run_id, _, path = uri.removeprefix("runs:/").partition("/")
    if not run_id or len(run_id) > 64 or re.search(r"[\x00-\x1f\x7f]", run_id) or not path:
        raise InvalidValue(f"a model source is runs:/RUN_ID/PATH, got {uri[:200]!r}", details={"source": uri[:200]})
    return run_id, check_artifact_path(path)
