"""Blobs in a local folder, one read-only file per digest.

    root/sha256/ab/cd/<digest>    the blobs
    root/tmp/                     writes in progress
    root/uploads/<upload_id>      resumable uploads, appended at the offset the client sends,
    root/uploads/<id>.created     and when each was started

A write streams into ``root/tmp`` while hashing and is renamed into place once its digest is
known, so a blob appears whole or not at all. Nothing is fsynced: a rename survives a crash
of the process (the kernel holds the bytes) but not necessarily a power loss, the promise
SQLite makes with ``synchronous=NORMAL``, which the metadata store runs with.
"""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from io import FileIO
from pathlib import Path

from cairn.blobs.base import (
    CHUNK_SIZE,
    PART_ALIGNMENT,
    BlobInfo,
    StagedUpload,
    check_append,
    check_digest,
    check_range,
    check_upload_id,
    digest_mismatch,
    sha256_of_chunks,
)
from cairn.core.clock import now_ms
from cairn.core.errors import (
    BlobNotFound,
    BlobStoreUnavailable,
    InvalidValue,
    Unavailable,
    UploadNotFound,
)


class LocalBlobStore:
    """The blob store in a folder on this machine (``CAIRN_HOME/blobs`` by default)."""

    def __init__(self, root: Path, *, uri: str | None = None) -> None:
        self.root = Path(root)
        self.uri = str(self.root) if uri is None else uri
        self._blobs = self.root / "sha256"
        self._tmp = self.root / "tmp"
        self._uploads = self.root / "uploads"

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def close(self) -> None:
        """Nothing to release; here so that every store can be closed alike."""

    def check(self) -> None:
        try:
            for folder in (self._blobs, self._tmp, self._uploads):
                folder.mkdir(parents=True, exist_ok=True)
            probe = self._tmp / f"check-{uuid.uuid4().hex}"
            probe.touch(exist_ok=False)
            probe.unlink()
        except OSError as exc:
            raise self._unavailable(exc) from exc

    def write(self, chunks: Iterable[bytes], *, expected_digest: str | None = None) -> BlobInfo:
        if expected_digest is not None:
            check_digest(expected_digest)
        temp = self._tmp / f"{uuid.uuid4().hex}.part"
        try:
            handle = self._open_new(temp)
            with handle:
                hasher = hashlib.sha256()
                for chunk in chunks:
                    hasher.update(chunk)
                    self._write_all(handle, chunk)
            digest = hasher.hexdigest()
            if expected_digest is not None and digest != expected_digest:
                raise digest_mismatch(expected_digest, digest)
            return self._publish(temp, digest)
        except BaseException:
            with suppress(OSError):  # the error that brought us here is the one to report
                temp.unlink()
            raise

    def stat(self, digest: str) -> BlobInfo | None:
        try:
            st = self._path(digest).stat()
        except FileNotFoundError:
            return None
        return BlobInfo(digest, st.st_size, st.st_mtime_ns // 1_000_000)

    def touch(self, digest: str) -> bool:
        try:
            os.utime(self._path(digest))
        except FileNotFoundError:
            return False
        return True

    def read(self, digest: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self._path(digest)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {digest}") from None
        # Checked here, not in the generator, so errors come before the first chunk.
        stop = check_range(start, end, size)
        return self._read(path, start, stop)

    def delete(self, digest: str, *, untouched_since: int | None = None) -> bool:
        path = self._path(digest)
        try:
            if untouched_since is not None and path.stat().st_mtime_ns // 1_000_000 >= untouched_since:
                return False
            _remove(path)
        except FileNotFoundError:
            return False
        return True

    def list(self) -> Iterator[BlobInfo]:
        for first in _subfolders(self._blobs):
            for second in _subfolders(first):
                try:
                    entries = os.scandir(second)
                except FileNotFoundError:
                    continue
                with entries:
                    for entry in entries:
                        try:
                            digest = check_digest(entry.name)
                            st = entry.stat()
                        except (InvalidValue, FileNotFoundError):
                            continue  # not a blob, or deleted meanwhile
                        yield BlobInfo(digest, st.st_size, st.st_mtime_ns // 1_000_000)

    def presigned_url(self, digest: str, *, expires_s: int = 3600, filename: str | None = None) -> str | None:
        check_digest(digest)
        return None

    def presigned_part_urls(self, upload_id: str, count: int, *, expires_s: int = 3600) -> Sequence[str] | None:
        return None

    # -- resumable uploads ------------------------------------------------------------------

    def stage_create(self) -> StagedUpload:
        upload_id = uuid.uuid4().hex
        created_ms = now_ms()
        try:
            self._uploads.mkdir(parents=True, exist_ok=True)
            (self._uploads / upload_id).touch(exist_ok=False)
            # The data file's times change with every append, hence the creation time beside it.
            (self._uploads / f"{upload_id}.created").write_text(str(created_ms))
        except OSError as exc:
            raise self._unavailable(exc) from exc
        return StagedUpload(upload_id, 0, created_ms)

    def stage_get(self, upload_id: str) -> StagedUpload:
        path = self._upload_path(upload_id)
        try:
            handle = FileIO(path, "r")
        except FileNotFoundError:
            raise UploadNotFound(f"no upload {upload_id!r}") from None
        with handle:
            st = os.fstat(handle.fileno())
            size = st.st_size
            if not _try_lock(handle, shared=True):
                # A part is still arriving: what is sure to stay is the whole blocks before it.
                size -= size % PART_ALIGNMENT
        return StagedUpload(upload_id, size, self._created_ms(upload_id, st))

    def stage_append(self, upload_id: str, offset: int, chunks: Iterable[bytes]) -> StagedUpload:
        path = self._upload_path(upload_id)
        try:
            handle = FileIO(path, "r+")
        except FileNotFoundError:
            raise UploadNotFound(f"no upload {upload_id!r}") from None
        with handle:
            # One part at a time: a retry that races a part still arriving on a half-open
            # connection is told to come back, instead of writing over it.
            if not _try_lock(handle, shared=False):
                raise Unavailable(
                    f"another part of upload {upload_id} is still arriving; ask where it got to and go on from there",
                    details={"upload_id": upload_id},
                )
            st = os.fstat(handle.fileno())
            check_append(st.st_size, offset)
            handle.seek(offset)
            received = 0
            try:
                for chunk in chunks:
                    self._write_all(handle, chunk)
                    received += len(chunk)
            except BaseException:
                # Keep whole blocks only, as S3 keeps whole parts only.
                with suppress(OSError):
                    handle.truncate(offset + received // PART_ALIGNMENT * PART_ALIGNMENT)
                raise
        return StagedUpload(upload_id, offset + received, self._created_ms(upload_id, st))

    def stage_commit(self, upload_id: str, expected_digest: str, *, known_digest: str | None = None) -> BlobInfo:
        check_digest(expected_digest)
        path = self._upload_path(upload_id)
        if known_digest is not None:
            digest = check_digest(known_digest)
            if not path.exists():
                raise UploadNotFound(f"no upload {upload_id!r}")
        else:
            try:
                with open(path, "rb") as handle:
                    digest, _ = sha256_of_chunks(iter(lambda: handle.read(CHUNK_SIZE), b""))
            except FileNotFoundError:
                raise UploadNotFound(f"no upload {upload_id!r}") from None
        if digest != expected_digest:
            self.stage_abort(upload_id)
            raise digest_mismatch(expected_digest, digest)
        # The sidecar goes first: an upload without one is still listed (and collected), an
        # orphaned sidecar would not be.
        (self._uploads / f"{upload_id}.created").unlink(missing_ok=True)
        return self._publish(path, digest)

    def stage_abort(self, upload_id: str) -> None:
        try:
            path = self._upload_path(upload_id)
        except UploadNotFound:
            return
        (self._uploads / f"{upload_id}.created").unlink(missing_ok=True)
        path.unlink(missing_ok=True)

    def stage_list(self) -> Iterator[StagedUpload]:
        try:
            names = os.listdir(self._uploads)
        except FileNotFoundError:
            return
        for name in names:
            try:
                yield self.stage_get(name)
            except UploadNotFound:
                continue  # a sidecar, or finished meanwhile

    # -- helpers ----------------------------------------------------------------------------

    def _path(self, digest: str) -> Path:
        check_digest(digest)
        return self._blobs / digest[:2] / digest[2:4] / digest

    def _upload_path(self, upload_id: str) -> Path:
        return self._uploads / check_upload_id(upload_id)

    def _created_ms(self, upload_id: str, st: os.stat_result) -> int:
        try:
            return int((self._uploads / f"{upload_id}.created").read_text())
        except (OSError, ValueError):
            return st.st_mtime_ns // 1_000_000

    def _open_new(self, path: Path) -> FileIO:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return FileIO(path, "x")
        except OSError as exc:
            raise self._unavailable(exc) from exc

    def _write_all(self, handle: FileIO, data: bytes) -> None:
        # Unbuffered, so a failed write leaves nothing pending that a later truncate or close
        # would try to flush again.
        view = memoryview(data)
        try:
            while view:
                view = view[handle.write(view) :]
        except OSError as exc:
            raise self._unavailable(exc) from exc

    def _publish(self, source: Path, digest: str) -> BlobInfo:
        """Move a complete file under its digest, or drop it when the blob is there already."""
        final = self._path(digest)
        try:
            try:
                os.utime(final)
            except FileNotFoundError:
                mode = stat.S_IMODE(source.stat().st_mode) & 0o444  # read-only, umask kept
                os.chmod(source, mode)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, final)
            else:
                source.unlink()
            st = final.stat()
        except OSError as exc:
            raise self._unavailable(exc) from exc
        return BlobInfo(digest, st.st_size, st.st_mtime_ns // 1_000_000)

    def _read(self, path: Path, start: int, stop: int) -> Iterator[bytes]:
        if start == stop:
            return
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {path.name}") from None
        with handle:
            handle.seek(start)
            remaining = stop - start
            while remaining:
                chunk = handle.read(min(CHUNK_SIZE, remaining))
                if not chunk:
                    raise BlobStoreUnavailable(f"the blob {path.name} in {self.root} is shorter than it was")
                remaining -= len(chunk)
                yield chunk

    def _unavailable(self, exc: OSError) -> BlobStoreUnavailable:
        return BlobStoreUnavailable(f"the blob folder {self.root} cannot be written: {exc.strerror or exc}")


def _subfolders(path: Path) -> list[Path]:
    try:
        return [path / name for name in os.listdir(path) if len(name) == 2]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except PermissionError:
        if os.name != "nt":
            raise
        os.chmod(path, stat.S_IWRITE)  # Windows refuses to delete read-only files
        path.unlink()


def _try_lock(handle: FileIO, *, shared: bool) -> bool:
    """Take an advisory lock on an upload's file without waiting (released when it closes);
    False when another writer holds it. Where there is no fcntl (Windows), always True."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on the platforms servers run on
        return True
    try:
        fcntl.flock(handle.fileno(), (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
