"""Artifacts and datasets as entities, and the rules for an artifact's path.

An artifact is a file kept with the run that made it: a path inside the run (POSIX, relative),
the SHA-256 of its bytes, and what kind of thing it is, so the dashboard can draw a table or a
confusion matrix without downloading it. The bytes live once in the blob store, under their
digest, however many runs log them.

A dataset version is content, named: a file, a folder (a manifest of path → digest) or a data
frame, identified by the digest of that content, with its schema and a small profile. Logging
the same content under the same name twice is one version; a run that used it records it as
an input, with a context ("train", "validation", …).

A dataset logged through MLflow's API is the one exception: MLflow names its datasets by its
own digest (a short hash MLflow's client computed), not by SHA-256, and Cairn keeps that digest
as it came, with the source kind :data:`MLFLOW_SOURCE_KIND` and no files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cairn.core.errors import InvalidArtifactPath
from cairn.core.limits import MAX_ARTIFACT_PATH_LENGTH

#: Files a listing returns at most.
MAX_ARTIFACTS_LISTED = 100_000

ARTIFACT_KINDS = ("file", "text", "dict", "figure", "table", "confusion_matrix")

#: The source kind of a dataset MLflow's client logged (server/mlflow/inputs.py).
MLFLOW_SOURCE_KIND = "mlflow"
#: The longest digest such a dataset may carry (MLflow's own limit is 36 characters).
MAX_MLFLOW_DIGEST_LENGTH = 64

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# What check_artifact_path accepts, as a pattern that the OpenAPI document can state: segments
# of anything but "/", "\\" and control characters, none of them "", "." or "..", and a first
# segment that is no drive ("C:"). Ends with one optional "/".
_CHAR = r"[^/\\\x00-\x1f\x7f]"
_NOT_DOT = r"[^./\\\x00-\x1f\x7f]"
_SEGMENT = rf"(?:\.{{0,2}}{_NOT_DOT}{_CHAR}*|\.{{3,}}{_CHAR}*)"
_FIRST_SEGMENT = (
    rf"(?:\.{{1,2}}{_NOT_DOT}{_CHAR}*|\.{{3,}}{_CHAR}*"
    rf"|[^./\\A-Za-z\x00-\x1f\x7f]{_CHAR}*|[A-Za-z](?:[^:/\\\x00-\x1f\x7f]{_CHAR}*)?)"
)
#: A path :func:`check_artifact_path` accepts (its length is limited by MAX_ARTIFACT_PATH_LENGTH).
ARTIFACT_PATH_PATTERN = rf"^{_FIRST_SEGMENT}(?:/{_SEGMENT})*/?$"


def check_artifact_path(path: object, *, allow_empty: bool = False) -> str:
    """``path`` if it names a place inside a run: relative, POSIX, no ``..``, ``.`` or empty
    segments, no backslash or control characters (NUL included). A trailing slash is dropped.

    Refused paths raise InvalidArtifactPath before anything is written.
    """
    if not isinstance(path, str):
        raise InvalidArtifactPath(f"an artifact path must be a string, got {type(path).__name__}")
    cleaned = path[:-1] if path.endswith("/") and len(path) > 1 else path
    if not cleaned:
        if allow_empty:
            return ""
        raise InvalidArtifactPath("an artifact path must not be empty")

    def refuse(reason: str) -> InvalidArtifactPath:
        return InvalidArtifactPath(f"artifact path {path!r} {reason}", details={"path": path})

    if len(cleaned) > MAX_ARTIFACT_PATH_LENGTH:
        raise refuse(f"is longer than {MAX_ARTIFACT_PATH_LENGTH} characters")
    if _CONTROL.search(cleaned):
        raise refuse("contains a control character")
    if "\\" in cleaned:
        raise refuse("contains a backslash; use / between folders")
    if cleaned.startswith("/") or re.match(r"[A-Za-z]:", cleaned):
        raise refuse("is absolute; it must be relative to the run")
    for segment in cleaned.split("/"):
        if segment in ("", ".", ".."):
            raise refuse("has an empty, '.' or '..' segment; it must stay inside the run")
    return cleaned


def join_artifact_path(*parts: str) -> str:
    return "/".join(part for part in parts if part)


@dataclass(frozen=True, slots=True)
class ArtifactEntry:
    """What a client registers once the bytes are uploaded."""

    path: str
    digest: str
    size: int
    kind: str = "file"
    media_type: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Artifact:
    run_id: str
    path: str
    digest: str
    size: int
    kind: str
    media_type: str
    meta: Mapping[str, Any]
    created_at: int


@dataclass(frozen=True, slots=True)
class DatasetFileEntry:
    """One file of a dataset's manifest."""

    path: str
    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """A dataset version as the client describes it (see :mod:`cairn.client.datasets`)."""

    name: str
    digest: str
    source_uri: str
    source_kind: str
    rows: int | None = None
    columns: int | None = None
    schema: list[dict[str, Any]] = field(default_factory=list)
    profile: Mapping[str, Any] = field(default_factory=dict)
    #: The manifest: every file of a folder (one for a file; none for a data frame).
    files: list[DatasetFileEntry] = field(default_factory=list)
    #: Whether the files' bytes were uploaded to the blob store (``store=True``).
    stored: bool = False


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    id: str
    project: str
    name: str
    digest: str
    source_uri: str
    source_kind: str
    rows: int | None
    columns: int | None
    schema: list[dict[str, Any]]
    profile: Mapping[str, Any]
    stored: bool
    created_at: int
    file_count: int = 0
    #: Runs that used this version as an input: (run id, context), oldest first.
    used_by: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunInput:
    """A dataset version a run used, and how ("train", "validation", "test", …)."""

    dataset: DatasetVersion
    context: str


@dataclass(frozen=True, slots=True)
class GcReport:
    """What ``cairn gc`` did (or, with ``dry_run``, would do)."""

    purged_runs: int
    deleted_blobs: int
    freed_bytes: int
    aborted_uploads: int
    dry_run: bool = False
    #: Deleted runs left unpurged because registered model versions come from them: their
    #: files are what loading those versions reads.
    kept_runs: tuple[str, ...] = ()
    #: Prediction log and label files dropped as older than the retention asked for (their
    #: bytes are among the deleted blobs when nothing else names them).
    dropped_prediction_files: int = 0


# -- snapshots ---------------------------------------------------------------------------------

SNAPSHOT_KINDS = ("code", "environment", "command", "config", "notebook", "data")


@dataclass(frozen=True, slots=True)
class SnapshotFile:
    path: str
    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A tree of path → blob digest of one kind (code, environment…), like a git commit: the
    id is the digest of the kind and the tree, so identical trees share one snapshot, and the
    parent is the snapshot of the same kind an earlier run of the project had."""

    id: str
    project: str
    kind: str
    parent_id: str | None
    message: str
    meta: Mapping[str, Any]
    created_at: int
    files: list[SnapshotFile] = field(default_factory=list)


def snapshot_id(kind: str, files: list[SnapshotFile]) -> str:
    """sha256 over the kind and the lines ``path\\tdigest\\tsize\\n`` sorted by path."""
    import hashlib

    hasher = hashlib.sha256(f"cairn-snapshot\t{kind}\n".encode())
    for file in sorted(files, key=lambda f: f.path):
        hasher.update(f"{file.path}\t{file.digest}\t{file.size}\n".encode())
    return hasher.hexdigest()
