"""Artifacts on the client: which files a ``log_artifact`` call means, their digests, the
upload of what the server lacks, and downloads that are checked against their digest.

Files are hashed when they are logged, in the caller's thread: what the run records is the
file as it was at that moment. The upload happens later in the background writer; if the file
changed meanwhile, the server sees bytes that do not match and refuses them (digest_mismatch),
and the writer warns instead of recording something else. Content made in memory (a figure, a
table, a dict) is written once to ``CAIRN_HOME/staging/<digest>`` first, so that it can be
uploaded, spooled and replayed like any file.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.client.artifact_formats import EncodedArtifact
from cairn.client.datasets import file_digest, walk_folder
from cairn.core import limits
from cairn.core.archive import ArchivedFile
from cairn.core.artifacts import (
    Artifact,
    ArtifactEntry,
    check_artifact_path,
    join_artifact_path,
)
from cairn.core.errors import DigestMismatch, InvalidArtifactPath, InvalidValue
from cairn.service.interface import Tracking
from cairn.settings import cairn_home

#: Files from this size on show a progress bar when stderr is a terminal, or in a notebook.
PROGRESS_ABOVE_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class LocalArtifact:
    """A file to upload: where it goes in the run, where it is now, and what it holds."""

    path: str
    source: Path
    digest: str
    size: int
    kind: str = "file"
    media_type: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def entry(self) -> ArtifactEntry:
        return ArtifactEntry(self.path, self.digest, self.size, self.kind, self.media_type, self.meta)

    def to_payload(self) -> dict[str, Any]:
        """The JSON shape the writer queues and spools."""
        return {
            "path": self.path,
            "source": str(self.source),
            "digest": self.digest,
            "size": self.size,
            "kind": self.kind,
            "media_type": self.media_type,
            "meta": self.meta,
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> LocalArtifact:
        return cls(
            data["path"],
            Path(data["source"]),
            data["digest"],
            data["size"],
            data["kind"],
            data["media_type"],
            data["meta"],
        )


def collect(source: str | os.PathLike[str], name: str | None = None, *, copy: bool = False) -> list[LocalArtifact]:
    """The files ``run.log_artifact(source, name)`` logs, hashed.

    A file goes to ``name`` (its own name by default); a folder's files go below ``name`` (the
    folder's name by default; "" puts them at the top of the run). Symlinks inside a folder are
    followed if they stay inside it; one pointing outside is refused with InvalidArtifactPath,
    and then nothing is logged. ``copy=True`` copies each file into CAIRN_HOME/staging first
    (hashing the copy), so the original may change or go before the upload.
    """
    root = Path(source)
    if not root.exists():
        raise InvalidValue(f"{root} does not exist", details={"path": str(root)})
    target = root.resolve().name if name is None else check_artifact_path(name, allow_empty=root.is_dir())
    if root.is_file():
        if not target:
            raise InvalidArtifactPath("a file needs a name to be logged under")
        return [_local(target, root.resolve(), copy)]
    if not root.is_dir():
        raise InvalidValue(f"{root} is neither a file nor a folder", details={"path": str(root)})
    files = []
    for relative, absolute in sorted(walk_folder(root.resolve())):
        check_artifact_path(relative)
        files.append(_local(join_artifact_path(target, relative), absolute, copy))
    return files


def _local(path: str, source: Path, copy: bool) -> LocalArtifact:
    if copy:
        return stage_copy(path, source)
    digest, size = file_digest(source)
    return LocalArtifact(path, source, digest, size, media_type=_media_type(source))


def stage_copy(path: str, source: Path) -> LocalArtifact:
    """``source`` copied into CAIRN_HOME/staging/<digest> (the digest of the copy, so a file
    rewritten meanwhile is logged as it was copied), uploaded like content made in memory and
    removed once the store has it: the original may be deleted at once (a checkpoint a
    training loop rotates out)."""
    return stage_written(path, lambda temporary: shutil.copyfile(source, temporary), media_type=_media_type(source))


def stage_written(path: str, write: Callable[[Path], object], *, media_type: str = "") -> LocalArtifact:
    """A file that ``write`` makes at the path it is given, kept as CAIRN_HOME/staging/<digest>
    like content made in memory; for content too large to hold as bytes first (stored arrays)."""
    folder = cairn_home() / "staging"
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".write.{uuid.uuid4().hex}.tmp"
    try:
        write(temporary)
        digest, size = file_digest(temporary)
        os.replace(temporary, folder / digest)
    finally:
        temporary.unlink(missing_ok=True)
    return LocalArtifact(path, folder / digest, digest, size, media_type=media_type)


def stage(encoded: EncodedArtifact, path: str) -> LocalArtifact:
    """Keep content made in memory as a file under CAIRN_HOME/staging, named by its digest."""
    return stage_bytes(
        check_artifact_path(path), encoded.data, kind=encoded.kind, media_type=encoded.media_type, meta=encoded.meta
    )


def stage_bytes(
    path: str,
    data: bytes,
    *,
    kind: str = "file",
    media_type: str = "",
    meta: Mapping[str, Any] | None = None,
    digest: str | None = None,
) -> LocalArtifact:
    """``data`` written once to CAIRN_HOME/staging/<digest>, to be uploaded (and spooled,
    and replayed) like a file; the staged copy goes once the store has it. ``digest`` is the
    data's SHA-256 when the caller already has it."""
    digest = digest or hashlib.sha256(data).hexdigest()
    folder = cairn_home() / "staging"
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / digest
    if not staged.exists():
        temporary = folder / f".{digest}.{os.getpid()}.tmp"
        temporary.write_bytes(data)
        os.replace(temporary, staged)
    return LocalArtifact(path, staged, digest, len(data), kind, media_type, dict(meta or {}))


def stage_moved(file: LocalArtifact) -> LocalArtifact:
    """``file``, already hashed, moved into CAIRN_HOME/staging/<digest> (a rename when it is
    on the same disk) to be uploaded like content made in memory; its old place may go."""
    folder = cairn_home() / "staging"
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / file.digest
    if staged.exists():
        file.source.unlink(missing_ok=True)
    else:
        temporary = folder / f".{file.digest}.{os.getpid()}.tmp"
        shutil.move(file.source, temporary)
        os.replace(temporary, staged)
    return dataclasses.replace(file, source=staged)


def upload_missing(tracking: Tracking, files: Sequence[LocalArtifact]) -> None:
    """Send the bytes of ``files`` the store lacks (each digest once)."""
    missing = set(tracking.missing_blobs([f.digest for f in files]))
    for file in _unique_by_digest(f for f in files if f.digest in missing):
        if not file.source.exists():
            raise InvalidValue(f"{file.source} was removed before it could be uploaded", details={"path": file.path})
        with _progress(file) as report:
            try:
                tracking.upload_file(file.source, file.digest, file.size, report)
            except DigestMismatch as exc:
                raise DigestMismatch(
                    f"{file.source} changed after it was logged as {file.path!r} (its SHA-256 is no longer "
                    f"{file.digest[:12]}…); log it again to keep the new content",
                    details={**exc.details, "path": file.path},
                ) from exc


def upload(tracking: Tracking, run_id: str, files: Sequence[LocalArtifact]) -> list[Artifact]:
    """Send the bytes the store lacks, then register every file, all or none."""
    upload_missing(tracking, files)
    artifacts: list[Artifact] = []
    for start in range(0, len(files), limits.MAX_ARTIFACTS_PER_REQUEST):
        batch = files[start : start + limits.MAX_ARTIFACTS_PER_REQUEST]
        artifacts += tracking.log_artifacts(run_id, [f.entry() for f in batch])
    discard_staged(files)
    return artifacts


def discard_staged(files: Sequence[LocalArtifact]) -> None:
    """Remove the staging copies of content made in memory, once the store has it."""
    staging = cairn_home() / "staging"
    for file in files:
        if file.source.parent == staging:
            file.source.unlink(missing_ok=True)


def _unique_by_digest(files: Iterable[LocalArtifact]) -> list[LocalArtifact]:
    seen: dict[str, LocalArtifact] = {}
    for file in files:
        seen.setdefault(file.digest, file)
    return list(seen.values())


class _progress:
    """A progress bar for a large file when someone is watching, otherwise nothing: on stderr in a
    terminal; in a notebook (where stderr is no terminal) a widget when ipywidgets is installed
    (``pip install 'cairn[jupyter]'``), else a text bar in the cell's output."""

    def __init__(self, file: LocalArtifact) -> None:
        self.file = file
        self.bar: Any = None

    def __enter__(self) -> Callable[[int], None] | None:
        if self.file.size < PROGRESS_ABOVE_BYTES:
            return None
        from cairn.client.capture.notebook import in_kernel

        notebook = in_kernel()
        if not notebook and not sys.stderr.isatty():
            return None
        tqdm = _bar_class()
        # In a notebook the finished bar stays, as a record of the upload; a terminal's goes.
        self.bar = tqdm(
            total=self.file.size, unit="B", unit_scale=True, desc=f"cairn: {self.file.path}", leave=notebook
        )
        bar = self.bar
        return lambda sent: bar.update(sent - bar.n)

    def __exit__(self, *_exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def _bar_class() -> Any:
    """tqdm.auto's bar (a widget in a notebook, text in a terminal or a Qt console) when ipywidgets
    can draw it; else tqdm's text bar, which a notebook shows too, without tqdm.auto's warning
    that ipywidgets is missing on every first upload."""
    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm  # type: ignore[import-untyped]
    else:
        from tqdm.std import tqdm  # type: ignore[import-untyped]
    return tqdm


def download(tracking: Tracking, run_id: str, path: str, destination: str | os.PathLike[str]) -> list[Path]:
    """Download an artifact file, or every file of an artifact folder, into ``destination``.

    A file lands as ``destination/<its name>``; a folder's files keep their paths below the
    folder's name. Each file is written to a temporary name, checked against its digest, then
    renamed, so a cut-off or corrupted download never passes for the real thing.
    """
    prefix = check_artifact_path(path, allow_empty=True)
    listed = tracking.list_artifacts(run_id, prefix)
    if not listed:
        from cairn.core.errors import ArtifactNotFound

        raise ArtifactNotFound(f"run {run_id} has no artifact at {path!r}", details={"run_id": run_id, "path": path})
    root = Path(destination)
    if len(listed) == 1 and listed[0].path == prefix:  # a file
        return [_download_one(tracking, listed[0], root / prefix.rsplit("/", 1)[-1])]
    parent = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
    written = []
    for artifact in listed:
        relative = artifact.path[len(parent) + 1 :] if parent else artifact.path
        written.append(_download_one(tracking, artifact, root / relative))
    return written


def download_folder(tracking: Tracking, run_id: str, path: str, destination: str | os.PathLike[str]) -> list[Path]:
    """:func:`download` of a folder in one request (an archive over HTTP), as model loading
    fetches a model folder: each file checked against its digest the same way. Files land
    with their paths below the folder's name; a path that names one file lands as that file.

    :func:`download` keeps one request per file: it may be sent to S3 (``--presign-downloads``)
    instead of streaming a large file through the server, which an archive always does.
    """
    prefix = check_artifact_path(path, allow_empty=True)
    return write_folder(tracking.read_artifact_folder(run_id, prefix), prefix, destination)


def write_folder(
    files: Iterable[tuple[ArchivedFile, Iterable[bytes]]], prefix: str, destination: str | os.PathLike[str]
) -> list[Path]:
    """Write the files of the folder ``prefix`` (as :meth:`Tracking.read_artifact_folder` gives
    them) below ``destination``, with their paths below the folder's name, each checked against
    its digest (:func:`write_checked`). A file outside the folder is refused."""
    parent = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
    root = Path(destination)
    written = []
    try:
        for file, chunks in files:
            if prefix and file.path != prefix and not file.path.startswith(prefix + "/"):
                raise InvalidArtifactPath(
                    f"the archive of {prefix!r} holds {file.path!r}, which is not below it",
                    details={"path": file.path},
                )
            relative = file.path[len(parent) + 1 :] if parent else file.path
            written.append(write_checked(chunks, root / relative, file.path, file.digest, file.size))
    finally:
        close = getattr(files, "close", None)
        if close is not None:  # an archive being read off a socket: let the socket go now
            close()
    return written


def _download_one(tracking: Tracking, artifact: Artifact, target: Path) -> Path:
    chunks = tracking.read_artifact(artifact.run_id, artifact.path)
    return write_checked(chunks, target, artifact.path, artifact.digest, artifact.size)


#: Files from this size on are hashed on a thread beside the writes (below it, a thread costs more).
_HASH_THREAD_ABOVE_BYTES = 4 * 1024 * 1024


def write_checked(chunks: Iterable[bytes], target: Path, path: str, digest: str, size: int) -> Path:
    """Write ``chunks`` to ``target`` if their SHA-256 is ``digest`` (DigestMismatch naming
    ``path`` otherwise). They go to a temporary name first and are renamed once they match, so
    a cut-off or corrupted download never passes for the real thing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.cairn-part")
    hasher = hashlib.sha256()
    try:
        with open(temporary, "wb") as out:
            if size < _HASH_THREAD_ABOVE_BYTES:
                for chunk in chunks:
                    hasher.update(chunk)
                    out.write(chunk)
            else:
                _write_hashing_beside(chunks, out, hasher)
        if hasher.hexdigest() != digest:
            raise DigestMismatch(
                f"{path} arrived with SHA-256 {hasher.hexdigest()}, expected {digest}",
                details={"path": path, "expected": digest, "got": hasher.hexdigest()},
            )
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def _write_hashing_beside(chunks: Iterable[bytes], out: Any, hasher: Any) -> None:
    # Hashing runs beside the socket reads and file writes (all three release the GIL),
    # one chunk behind, so a download costs about the slowest of them, not their sum.
    with ThreadPoolExecutor(1, thread_name_prefix="cairn-hash") as pool:
        hashed: Future[None] | None = None
        for chunk in chunks:
            if hashed is not None:
                hashed.result()
            hashed = pool.submit(hasher.update, chunk)
            out.write(chunk)
        if hashed is not None:
            hashed.result()


def encoded_to_local(encoded: EncodedArtifact, name: str) -> LocalArtifact:
    """Content made in memory, under ``name`` (its format's suffix added when it has none)."""
    if "." not in name.rsplit("/", 1)[-1]:
        name += encoded.suffix
    return stage(encoded, name)


_MEDIA_TYPES = {
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".csv": "text/csv",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
}


def _media_type(path: Path) -> str:
    return _MEDIA_TYPES.get(path.suffix.lower(), "")


def dataset_payload(source: Any, name: str, context: str, store: bool) -> dict[str, Any]:
    """What the writer needs to record a dataset: its description (read now, in the caller's
    thread, so it is the data as it is at this call) and, with ``store``, the files to upload."""
    from cairn.client.dataset_arrays import is_array_source, named_arrays, write_npz
    from cairn.client.datasets import describe_arrays, describe_dataset
    from cairn.core.artifacts import DatasetFileEntry
    from cairn.core.wire import dataset_spec_to_wire

    # Arrays are read once: a tensor is copied off the GPU for both the digest and the file.
    arrays = named_arrays(source) if is_array_source(source) else None
    description = describe_dataset(source) if arrays is None else describe_arrays(arrays)
    manifest = [DatasetFileEntry(f.path, f.digest, f.size) for f in description.files]
    uploads: list[LocalArtifact] = []
    if store and arrays is not None:
        staged = stage_written("data.npz", functools.partial(write_npz, arrays))
        manifest = [DatasetFileEntry(staged.path, staged.digest, staged.size)]
        uploads = [staged]
    elif store and description.source_kind == "dataframe":
        from cairn.client.artifact_formats import encode_table

        staged = encoded_to_local(encode_table(source), "data")
        manifest = [DatasetFileEntry(staged.path, staged.digest, staged.size)]
        uploads = [staged]
    elif store:
        uploads = [
            LocalArtifact(f.path, f.local_path, f.digest, f.size) for f in description.files if f.local_path is not None
        ]
    spec = description.spec(name, files=manifest, stored=store)
    return {"spec": dataset_spec_to_wire(spec), "context": context, "files": [f.to_payload() for f in uploads]}
