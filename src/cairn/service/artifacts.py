"""The rules for artifacts, datasets and blobs, mixed into :class:`TrackingService`.

- bytes are stored first and verified against their digest; an artifact may then point at them
  (the store refuses a digest it has no record of), so a run never lists a file whose bytes
  are missing or wrong;
- artifact paths stay inside the run (:func:`cairn.core.artifacts.check_artifact_path`);
- artifacts may still be added after a run ended (an evaluation plot made later), not to a
  deleted run;
- garbage collection purges deleted runs, then deletes blobs nothing points at and nobody
  touched within the grace period; it forgets the record before it deletes the bytes, so an
  upload that asks for the same bytes meanwhile is told to send them again. A deleted run that
  a registered model version comes from is not purged: the version must stay loadable, so its
  files stay until the version (or its model) is deleted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.blobs.base import PART_ALIGNMENT, BlobInfo, BlobStore, StagedUpload, check_digest
from cairn.core import limits
from cairn.core.access import ResourceKind
from cairn.core.archive import ArchivedFile
from cairn.core.artifacts import (
    ARTIFACT_KINDS,
    MAX_ARTIFACTS_LISTED,
    MAX_MLFLOW_DIGEST_LENGTH,
    MLFLOW_SOURCE_KIND,
    SNAPSHOT_KINDS,
    Artifact,
    ArtifactEntry,
    DatasetSpec,
    DatasetVersion,
    GcReport,
    RunInput,
    Snapshot,
    SnapshotFile,
    check_artifact_path,
)
from cairn.core.clock import now_ms
from cairn.core.errors import ArtifactNotFound, CairnError, InvalidRequest, InvalidValue, NotFound
from cairn.service.policy import Action, check_run, hidden_as
from cairn.service.uploads import file_chunks

if TYPE_CHECKING:
    from cairn.core.entities import Run
    from cairn.service.policy import Policy, Principal
    from cairn.store.base import MetadataStore

#: Blobs touched within this long are never collected: uploads in flight, and artifacts about
#: to be registered, finish well within it.
DEFAULT_GC_GRACE_MS = 60 * 60 * 1000
_MAX_DIRECT_PARTS = 10_000
_DATASET_SOURCE_KINDS = ("file", "folder", "dataframe", "array", MLFLOW_SOURCE_KIND)


class ArtifactRules:
    store: MetadataStore
    principal: Principal
    policy: Policy
    _blobs: BlobStore | None

    @property
    def blobs(self) -> BlobStore:
        if self._blobs is None:
            raise CairnError("this service was made without a blob store, so it cannot keep artifacts")
        return self._blobs

    def _writable_run(self, run_id: str, action: Action, *, allow_ended: bool) -> Run:
        raise NotImplementedError  # provided by TrackingService

    # -- blobs ------------------------------------------------------------------------------

    def missing_blobs(self, digests: Sequence[str]) -> list[str]:
        """The digests whose bytes the store lacks; the rest are marked as just seen, so gc
        leaves them alone while the caller registers artifacts that point at them."""
        if len(digests) > limits.MAX_DIGESTS_PER_REQUEST:
            raise InvalidRequest(f"at most {limits.MAX_DIGESTS_PER_REQUEST} digests per request, got {len(digests)}")
        for digest in digests:
            check_digest(digest)
        self._may_store_bytes()
        present = self.store.touch_blobs(digests)
        return [digest for digest in dict.fromkeys(digests) if digest not in present]

    def write_blob(self, chunks: Iterable[bytes], digest: str) -> BlobInfo:
        """Store bytes that must hash to ``digest`` (DigestMismatch, and nothing kept, if not)."""
        check_digest(digest)
        self._may_store_bytes()
        info = self.blobs.write(chunks, expected_digest=digest)
        self.store.record_blob(info.digest, info.size)
        return info

    def upload_file(self, path: Path, digest: str, size: int, progress: Callable[[int], None] | None = None) -> None:
        """Store a local file's bytes (embedded mode: straight into the blob store)."""
        self.write_blob(file_chunks(path, 0, size, progress), digest)

    def create_upload(
        self, size: int | None = None, *, direct: bool = False
    ) -> tuple[StagedUpload, DirectParts | None]:
        """Start a resumable upload. With ``direct`` and the ``size`` known, a blob store that
        can (S3) also hands out presigned URLs for the parts, so the client sends the bytes
        straight to it; the digest is still checked at completion."""
        self._may_store_bytes()
        if size is not None:
            limits.check_int64(size, "size", minimum=0)
        upload = self.blobs.stage_create()
        if not direct or size is None:
            return upload, None
        part_size = direct_part_size(size)
        count = max(1, -(-size // part_size))
        urls = self.blobs.presigned_part_urls(upload.upload_id, count)
        return upload, None if urls is None else DirectParts(part_size, list(urls))

    def upload_status(self, upload_id: str) -> StagedUpload:
        self._may_store_bytes()
        return self.blobs.stage_get(_upload_id(upload_id))

    def append_upload(self, upload_id: str, offset: int, chunks: Iterable[bytes]) -> StagedUpload:
        self._may_store_bytes()
        limits.check_int64(offset, "offset", minimum=0)
        return self.blobs.stage_append(_upload_id(upload_id), offset, chunks)

    def commit_upload(self, upload_id: str, digest: str, *, known_digest: str | None = None) -> BlobInfo:
        check_digest(digest)
        self._may_store_bytes()
        info = self.blobs.stage_commit(_upload_id(upload_id), digest, known_digest=known_digest)
        self.store.record_blob(info.digest, info.size)
        return info

    def abort_upload(self, upload_id: str) -> None:
        self._may_store_bytes()
        self.blobs.stage_abort(_upload_id(upload_id))

    # -- artifacts --------------------------------------------------------------------------

    def log_artifacts(self, run_id: str, entries: Sequence[ArtifactEntry]) -> list[Artifact]:
        """Register files whose bytes are already stored, all or none."""
        if not entries:
            return []
        if len(entries) > limits.MAX_ARTIFACTS_PER_REQUEST:
            raise InvalidRequest(
                f"at most {limits.MAX_ARTIFACTS_PER_REQUEST} artifacts per request, got {len(entries)}"
            )
        seen: set[str] = set()
        checked = []
        for entry in entries:
            path = check_artifact_path(entry.path)
            if path in seen:
                raise InvalidRequest(f"artifact path {path!r} appears twice in one request")
            seen.add(path)
            check_digest(entry.digest)
            limits.check_int64(entry.size, f"the size of {path!r}", minimum=0)
            if entry.kind not in ARTIFACT_KINDS:
                raise InvalidValue(f"artifact kind must be one of {', '.join(ARTIFACT_KINDS)}, got {entry.kind!r}")
            limits.check_text(entry.media_type, "media type", limits.MAX_MEDIA_TYPE_LENGTH)
            checked.append(ArtifactEntry(path, entry.digest, entry.size, entry.kind, entry.media_type, entry.meta))
        self._writable_run(run_id, Action.WRITE, allow_ended=True)
        return self.store.add_artifacts(run_id, checked)

    def write_artifact(self, run_id: str, path: str, chunks: Iterable[bytes], *, media_type: str = "") -> Artifact:
        """Store one file's bytes as they arrive and make them the run's artifact at ``path``
        (replacing one there): for a client that sends a file without its digest first, as
        MLflow's artifact proxy does. The path and the right to write are checked before a
        byte is read, so a refused upload stores nothing."""
        checked = check_artifact_path(path)
        limits.check_text(media_type, "media type", limits.MAX_MEDIA_TYPE_LENGTH)
        self._writable_run(run_id, Action.WRITE, allow_ended=True)
        info = self.blobs.write(chunks)
        self.store.record_blob(info.digest, info.size)
        entry = ArtifactEntry(checked, info.digest, info.size, "file", media_type)
        return self.store.add_artifacts(run_id, [entry])[0]

    def list_artifacts(self, run_id: str, path: str = "") -> list[Artifact]:
        """The run's files at ``path`` or below it (all of them for ""), by path."""
        prefix = check_artifact_path(path, allow_empty=True)
        self._readable_run(run_id)
        return self.store.list_artifacts(run_id, prefix, MAX_ARTIFACTS_LISTED)

    def get_artifact(self, run_id: str, path: str) -> Artifact:
        checked = check_artifact_path(path)
        self._readable_run(run_id)
        return self.store.get_artifact(run_id, checked)

    def read_artifact(self, run_id: str, path: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The artifact's bytes in [start, end), in chunks. Raises ArtifactNotFound, or
        BlobNotFound when the bytes went missing from the blob store."""
        artifact = self.get_artifact(run_id, path)
        return self.blobs.read(artifact.digest, start, end)

    def read_artifact_folder(self, run_id: str, path: str) -> Iterator[tuple[ArchivedFile, Iterator[bytes]]]:
        """Every file at ``path`` (a folder, or one file) and below, by path, each with its
        bytes in chunks. Every file is found, and its bytes, before this returns, so a missing
        one raises here (ArtifactNotFound, BlobNotFound), not halfway through."""
        opened = self.open_artifact_folder(run_id, path)
        return iter([(ArchivedFile(a.path, a.digest, a.size), chunks) for a, chunks in opened])

    def open_artifact_folder(self, run_id: str, path: str) -> list[tuple[Artifact, Iterator[bytes]]]:
        """:meth:`read_artifact_folder` with each file's whole artifact: what the archive route
        sends. At most MAX_ARCHIVE_FILES files (InvalidRequest for a bigger folder)."""
        self._readable_run(run_id)
        return self._open_folder(run_id, path)

    def _open_folder(self, run_id: str, path: str) -> list[tuple[Artifact, Iterator[bytes]]]:
        """:meth:`open_artifact_folder` without asking the policy: a registered model version's
        files are read with the right to read the model, not its source run's project."""
        prefix = check_artifact_path(path, allow_empty=True)
        listed = self.store.list_artifacts(run_id, prefix, limits.MAX_ARCHIVE_FILES + 1)
        if not listed:
            details = {"run_id": run_id, "path": path}
            raise ArtifactNotFound(f"run {run_id} has no artifact at {path!r}", details=details)
        if len(listed) > limits.MAX_ARCHIVE_FILES:
            raise InvalidRequest(
                f"{path!r} holds more than {limits.MAX_ARCHIVE_FILES} files: too many for one archive; "
                "list them and download each",
                details={"limit": limits.MAX_ARCHIVE_FILES},
            )
        # Each read finds its blob before it yields, so missing bytes raise here, not mid-stream.
        return [(artifact, self.blobs.read(artifact.digest)) for artifact in listed]

    def artifact_url(self, artifact: Artifact, expires_s: int = 3600) -> str | None:
        """A URL the client may fetch the bytes from directly (S3), or None."""
        return self.blobs.presigned_url(artifact.digest, expires_s=expires_s, filename=artifact.path.rsplit("/", 1)[-1])

    # -- datasets ---------------------------------------------------------------------------

    def log_dataset(self, run_id: str, spec: DatasetSpec, context: str = "train") -> DatasetVersion:
        """Record a dataset version (once per name and content) as an input of the run."""
        _check_dataset(spec)
        limits.check_key(context, "dataset context")
        if len(context) > 64:
            raise InvalidValue("a dataset context is at most 64 characters")
        run = self._writable_run(run_id, Action.WRITE, allow_ended=False)
        return self.store.log_dataset(run.project_id, spec, run_id, context)

    def list_datasets(self, project: str, name: str | None = None) -> list[DatasetVersion]:
        project_ = self.store.get_project(project, with_counts=False)
        self.policy.check(self.principal, Action.READ, project_.name)
        return self.store.list_datasets(project_.id, name)

    def run_inputs(self, run_id: str) -> list[RunInput]:
        self._readable_run(run_id)
        return self.store.run_inputs(run_id)

    # -- snapshots --------------------------------------------------------------------------

    def save_snapshot(
        self,
        run_id: str,
        kind: str,
        files: Sequence[SnapshotFile],
        *,
        message: str = "",
        meta: Mapping[str, Any] | None = None,
    ) -> Snapshot:
        """Record the run's snapshot of ``kind``: files whose bytes are already uploaded."""
        if kind not in SNAPSHOT_KINDS:
            raise InvalidValue(f"a snapshot kind is one of {', '.join(SNAPSHOT_KINDS)}, got {kind!r}")
        if len(files) > limits.MAX_SNAPSHOT_FILES:
            raise InvalidRequest(f"a snapshot holds at most {limits.MAX_SNAPSHOT_FILES} files, got {len(files)}")
        seen: set[str] = set()
        for file in files:
            check_artifact_path(file.path)
            check_digest(file.digest)
            if file.path in seen:
                raise InvalidRequest(f"{file.path!r} appears twice in one snapshot")
            seen.add(file.path)
        limits.check_text(message, "snapshot message", limits.MAX_NOTES_LENGTH)
        self._writable_run(run_id, Action.WRITE, allow_ended=True)
        return self.store.save_snapshot(run_id, kind, files, message=message, meta=meta)

    def run_snapshots(self, run_id: str) -> list[Snapshot]:
        self._readable_run(run_id)
        return self.store.run_snapshots(run_id)

    def get_snapshot(self, snapshot_id: str) -> Snapshot:
        check_digest(snapshot_id)
        snapshot = self.store.get_snapshot(snapshot_id)
        with hidden_as(NotFound(f"no snapshot {snapshot_id!r}", details={"snapshot": snapshot_id})):
            self.policy.check(self.principal, Action.READ, snapshot.project)
        return snapshot

    def read_snapshot_file(self, snapshot_id: str, path: str) -> Iterator[bytes]:
        checked = check_artifact_path(path)
        snapshot = self.get_snapshot(snapshot_id)
        for file in snapshot.files:
            if file.path == checked:
                return self.blobs.read(file.digest)
        raise NotFound(f"snapshot {snapshot_id[:12]} has no file {path!r}", details={"path": path})

    # -- garbage collection -----------------------------------------------------------------

    def collect_garbage(
        self,
        *,
        grace_ms: int = DEFAULT_GC_GRACE_MS,
        purge_deleted: bool = True,
        dry_run: bool = False,
        prediction_retention_ms: int | None = None,
    ) -> GcReport:
        """Purge deleted runs (except those registered model versions come from, which the
        report lists), drop prediction log and label files whose last row is older than
        ``prediction_retention_ms`` (docs/monitoring.md, "Retention"), then delete unreferenced
        blobs untouched for ``grace_ms`` and resumable uploads abandoned for as long."""
        if grace_ms < 0:
            raise InvalidValue("the grace period must not be negative")
        if prediction_retention_ms is not None and prediction_retention_ms <= 0:
            raise InvalidValue("the retention of prediction logs must be positive")
        # The whole store's garbage, across every project: a global admin's job.
        self.policy.check(self.principal, Action.ADMIN, None)
        dropped = 0
        if prediction_retention_ms is not None:
            dropped = self.store.drop_prediction_files(now_ms() - prediction_retention_ms, dry_run=dry_run)
        purged = 0
        kept: list[str] = []
        if purge_deleted:
            for run_id in self.store.deleted_run_ids():
                if self.store.versions_of_run(run_id):
                    kept.append(run_id)
                    continue
                purged += dry_run or self.store.purge_run(run_id)
            if not dry_run:
                self.store.purge_orphan_snapshots()
        cutoff = now_ms() - grace_ms
        deleted = freed = 0
        for digest, size in self.store.unreferenced_blobs(cutoff):
            if dry_run or self.store.forget_blob(digest, cutoff):
                deleted += 1
                freed += size
                if not dry_run:
                    # An upload that found these bytes since the record went has touched them.
                    self.blobs.delete(digest, untouched_since=cutoff)
        # Bytes without a record: an upload that died between storing and recording them.
        listed = [info for info in self.blobs.list() if info.modified_ms < cutoff]
        recorded = self.store.recorded_blobs([info.digest for info in listed])
        for info in listed:
            if info.digest not in recorded:
                deleted += 1
                freed += info.size
                if not dry_run:
                    self.blobs.delete(info.digest, untouched_since=cutoff)
        aborted = 0
        for upload in self.blobs.stage_list():
            if upload.created_ms < cutoff:
                aborted += 1
                if not dry_run:
                    self.blobs.stage_abort(upload.upload_id)
        return GcReport(purged, deleted, freed, aborted, dry_run, tuple(kept), dropped)

    def _may_store_bytes(self) -> None:
        """Bytes are content-addressed and belong to no project until an artifact of a run names
        them (which needs the right to write to that run): storing them needs the editor role
        somewhere, so that a viewer cannot fill the blob store."""
        self.policy.check_somewhere(self.principal, Action.WRITE, ResourceKind.PROJECT)

    def _readable_run(self, run_id: str) -> Run:
        run = self.store.get_run(run_id, details=False)
        check_run(self.policy, self.principal, Action.READ, run)
        return run


@dataclass(frozen=True, slots=True)
class DirectParts:
    """Where a client PUTs the parts of a resumable upload itself: part ``n`` (from 1) holds
    bytes [(n-1) * part_size, n * part_size) and goes to ``urls[n-1]``."""

    part_size: int
    urls: list[str]


def direct_part_size(size: int) -> int:
    """Parts of 8 MiB, or larger multiples of it when a file needs more than S3's 10,000 parts."""
    needed = -(-size // _MAX_DIRECT_PARTS)
    return max(PART_ALIGNMENT, -(-needed // PART_ALIGNMENT) * PART_ALIGNMENT)


def _upload_id(upload_id: str) -> str:
    if not isinstance(upload_id, str) or len(upload_id) > 64 or not re.search(limits.UPLOAD_ID_PATTERN, upload_id):
        raise InvalidRequest(f"{upload_id!r} is not an upload id")
    return upload_id


def _check_dataset(spec: DatasetSpec) -> None:
    limits.check_name(spec.name, "dataset name")
    if spec.source_kind == MLFLOW_SOURCE_KIND:
        _check_mlflow_dataset(spec)
    else:
        check_digest(spec.digest)
    limits.check_text(spec.source_uri, "dataset source", limits.MAX_DATASET_SOURCE_LENGTH)
    if spec.source_kind not in _DATASET_SOURCE_KINDS:
        raise InvalidValue(f"a dataset source is one of {', '.join(_DATASET_SOURCE_KINDS)}, got {spec.source_kind!r}")
    for count, what in ((spec.rows, "rows"), (spec.columns, "columns")):
        if count is not None:
            limits.check_int64(count, f"dataset {what}", minimum=0)
    if len(spec.files) > limits.MAX_ARTIFACTS_PER_REQUEST:
        raise InvalidRequest(f"a dataset manifest holds at most {limits.MAX_ARTIFACTS_PER_REQUEST} files")
    for file in spec.files:
        check_artifact_path(file.path)
        check_digest(file.digest)
        limits.check_int64(file.size, f"the size of {file.path!r}", minimum=0)
    if spec.stored and not spec.files:
        raise InvalidRequest("a stored dataset needs its files (a data frame is stored as a table file)")


def _check_mlflow_dataset(spec: DatasetSpec) -> None:
    """MLflow's digest is its own short hash, and its dataset has no files Cairn could hold."""
    limits.check_text(spec.digest, "dataset digest", MAX_MLFLOW_DIGEST_LENGTH)
    if not spec.digest.strip():
        raise InvalidValue("a dataset digest must not be empty")
    if spec.files or spec.stored:
        raise InvalidRequest("a dataset logged through MLflow's API has no files")
