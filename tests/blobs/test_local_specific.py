"""What only the folder store does: its layout, read-only blobs, a folder that cannot be made."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from cairn.blobs.local import LocalBlobStore
from cairn.core.errors import BlobStoreUnavailable


def test_blobs_are_read_only_files_named_by_digest(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    digest = store.write([b"weights"]).digest
    path = tmp_path / "sha256" / digest[:2] / digest[2:4] / digest
    assert digest == hashlib.sha256(b"weights").hexdigest()
    assert path.read_bytes() == b"weights"
    assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0
    assert list((tmp_path / "tmp").iterdir()) == []
    assert store.presigned_url(digest) is None
    assert store.delete(digest) is True


def test_a_resumable_upload_is_one_file_appended_in_place(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    upload = store.stage_create()
    store.stage_append(upload.upload_id, 0, [b"abc", b"def"])
    assert (tmp_path / "uploads" / upload.upload_id).read_bytes() == b"abcdef"
    # The creation time survives appends, which move the file's own times.
    os.utime(tmp_path / "uploads" / upload.upload_id, (0, 0))
    assert store.stage_get(upload.upload_id).created_ms == upload.created_ms


def test_a_folder_that_cannot_be_made_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    store = LocalBlobStore(tmp_path / "a-file" / "blobs")
    with pytest.raises(BlobStoreUnavailable, match="cannot be written"):
        store.check()
    with pytest.raises(BlobStoreUnavailable):
        store.write([b"x"])
    with pytest.raises(BlobStoreUnavailable):
        store.stage_create()
