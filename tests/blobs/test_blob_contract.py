"""The blob store contract: every test runs on a folder and on an S3 bucket (moto's server,
over HTTP). Backend-specific behaviour is tested beside, in test_local.py and test_s3.py."""

from __future__ import annotations

import functools
import hashlib
import random
import uuid
from collections.abc import Callable, Iterator

import pytest

from cairn.blobs import BlobStore
from cairn.blobs.base import CHUNK_SIZE, PART_ALIGNMENT
from cairn.core.clock import now_ms
from cairn.core.errors import (
    BlobNotFound,
    DigestMismatch,
    InvalidRequest,
    InvalidValue,
    UploadNotFound,
    UploadOffsetMismatch,
)

EMPTY = hashlib.sha256(b"").hexdigest()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunked(data: bytes, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def read_all(store: BlobStore, digest: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(store.read(digest, start, end))


def dropped_after(data: bytes) -> Iterator[bytes]:
    """A client that sends ``data`` and then loses its connection."""
    yield from chunked(data)
    raise ConnectionResetError("the client went away")


@functools.cache
def big() -> bytes:
    """Two whole parts and a tail."""
    return random.Random(7).randbytes(2 * PART_ALIGNMENT + 12_345)


def bigger_than_a_part() -> bytes:
    """A whole part and a tail: what makes S3 writes multipart."""
    return big()[: PART_ALIGNMENT + 12_345]


SMALL = b"a small blob\n" * 100


# -- writing and reading ---------------------------------------------------------------------


def test_bytes_written_are_read_back_under_their_digest(blob_store: BlobStore) -> None:
    before = now_ms()
    info = blob_store.write(chunked(SMALL, 100))
    assert (info.digest, info.size) == (sha(SMALL), len(SMALL))
    assert before - 2000 <= info.modified_ms <= now_ms() + 2000
    assert blob_store.stat(info.digest) == info
    assert read_all(blob_store, info.digest) == SMALL


def test_an_empty_blob(blob_store: BlobStore) -> None:
    assert blob_store.write([]).digest == EMPTY
    info = blob_store.write([b"", b""], expected_digest=EMPTY)
    assert (info.digest, info.size) == (EMPTY, 0)
    assert read_all(blob_store, EMPTY) == b""
    assert [blob.digest for blob in blob_store.list()] == [EMPTY]


@pytest.mark.parametrize("digest_known", [True, False], ids=["digest-known", "digest-unknown"])
def test_a_blob_of_several_parts(blob_store: BlobStore, leftovers: Callable[[], list[str]], digest_known: bool) -> None:
    data = bigger_than_a_part()
    info = blob_store.write(chunked(data), expected_digest=sha(data) if digest_known else None)
    assert (info.digest, info.size) == (sha(data), len(data))
    chunks = list(blob_store.read(info.digest))
    assert b"".join(chunks) == data
    assert max(len(chunk) for chunk in chunks) <= CHUNK_SIZE
    assert leftovers() == []


def test_the_same_bytes_are_stored_once_and_refreshed(blob_store: BlobStore, make_stale: Callable[..., None]) -> None:
    first = blob_store.write([SMALL])
    other = blob_store.write([b"other"])
    make_stale(first.digest, other.digest)
    stale_first, stale_other = blob_store.stat(first.digest), blob_store.stat(other.digest)
    assert stale_first is not None and stale_other is not None

    again = blob_store.write(chunked(SMALL, 7), expected_digest=first.digest)
    assert again.digest == first.digest
    assert again.modified_ms > stale_first.modified_ms
    assert blob_store.write([SMALL]).digest == first.digest  # without a digest, too
    assert blob_store.touch(other.digest) is True
    refreshed = blob_store.stat(other.digest)
    assert refreshed is not None and refreshed.modified_ms > stale_other.modified_ms
    assert sorted(blob.digest for blob in blob_store.list()) == sorted([first.digest, other.digest])
    assert read_all(blob_store, first.digest) == SMALL


@pytest.mark.parametrize("size", ["small", "big"])
def test_bytes_that_do_not_match_their_digest_leave_nothing(
    blob_store: BlobStore, leftovers: Callable[[], list[str]], size: str
) -> None:
    data = SMALL if size == "small" else bigger_than_a_part()
    with pytest.raises(DigestMismatch) as caught:
        blob_store.write(chunked(data), expected_digest=sha(b"something else"))
    assert caught.value.details == {"expected": sha(b"something else"), "actual": sha(data)}
    assert list(blob_store.list()) == []
    assert blob_store.stat(sha(b"something else")) is None
    assert leftovers() == []


def test_wrong_bytes_for_a_stored_digest_are_refused_and_the_blob_kept(blob_store: BlobStore) -> None:
    info = blob_store.write([SMALL])
    with pytest.raises(DigestMismatch):
        blob_store.write([b"not those bytes"], expected_digest=info.digest)
    assert read_all(blob_store, info.digest) == SMALL


@pytest.mark.parametrize("sent", [0, 3 * CHUNK_SIZE, PART_ALIGNMENT + CHUNK_SIZE], ids=["nothing", "some", "a-part"])
@pytest.mark.parametrize("digest_known", [True, False], ids=["digest-known", "digest-unknown"])
def test_a_dropped_writer_leaves_nothing(
    blob_store: BlobStore, leftovers: Callable[[], list[str]], sent: int, digest_known: bool
) -> None:
    data = big()[:sent]
    with pytest.raises(ConnectionResetError):
        blob_store.write(dropped_after(data), expected_digest=sha(big()) if digest_known else None)
    assert list(blob_store.list()) == []
    assert leftovers() == []


# -- reading ---------------------------------------------------------------------------------


def test_ranges_of_a_blob(blob_store: BlobStore) -> None:
    data = random.Random(3).randbytes(2 * CHUNK_SIZE + 17)
    digest = blob_store.write([data]).digest
    for start, end in [
        (0, None),
        (0, len(data)),
        (10, 20),
        (CHUNK_SIZE - 5, 2 * CHUNK_SIZE + 5),
        (len(data) - 1, None),
        (len(data), None),
        (5, 5),
    ]:
        chunks = list(blob_store.read(digest, start, end))
        assert b"".join(chunks) == data[start:end], (start, end)
        assert all(0 < len(chunk) <= CHUNK_SIZE for chunk in chunks)


def test_a_range_outside_the_blob_is_refused_before_any_chunk(blob_store: BlobStore) -> None:
    digest = blob_store.write([b"abc"]).digest
    for start, end in [(-1, None), (0, 4), (4, None), (2, 1), (0, -1)]:
        with pytest.raises(InvalidValue):
            blob_store.read(digest, start, end)  # not iterated: the call itself raises


def test_reading_a_missing_blob_fails_before_the_first_chunk(blob_store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        blob_store.read(sha(b"never written"))  # not iterated: the call itself raises
    with pytest.raises(BlobNotFound):
        blob_store.read(sha(b"never written"), 0, 0)


def test_what_is_not_a_digest_is_refused(blob_store: BlobStore) -> None:
    for digest in ["abc", "A" * 64, sha(b"x")[:-1] + "g", "../" + sha(b"x")[3:]]:
        with pytest.raises(InvalidValue):
            blob_store.stat(digest)
        with pytest.raises(InvalidValue):
            blob_store.read(digest)
        with pytest.raises(InvalidValue):
            blob_store.touch(digest)
        with pytest.raises(InvalidValue):
            blob_store.delete(digest)
        with pytest.raises(InvalidValue):
            blob_store.write([b"x"], expected_digest=digest)
        with pytest.raises(InvalidValue):
            blob_store.presigned_url(digest)


# -- everything else about blobs -------------------------------------------------------------


def test_delete_stat_touch_and_list(blob_store: BlobStore) -> None:
    contents = [b"one", b"two", b"three", b""]
    infos = [blob_store.write([content]) for content in contents]
    listed = {blob.digest: blob for blob in blob_store.list()}
    assert {digest: blob.size for digest, blob in listed.items()} == {sha(c): len(c) for c in contents}
    assert all(listed[info.digest].modified_ms // 1000 == info.modified_ms // 1000 for info in infos)

    assert blob_store.delete(sha(b"two")) is True
    assert blob_store.delete(sha(b"two")) is False
    assert blob_store.stat(sha(b"two")) is None
    assert blob_store.touch(sha(b"two")) is False
    with pytest.raises(BlobNotFound):
        blob_store.read(sha(b"two"))
    assert sorted(blob.digest for blob in blob_store.list()) == sorted(sha(c) for c in contents if c != b"two")
    assert blob_store.stat(sha(b"missing")) is None


def test_an_empty_store_lists_nothing(blob_store: BlobStore) -> None:
    assert list(blob_store.list()) == []
    assert list(blob_store.stage_list()) == []


def test_check_passes_on_a_working_store(blob_store: BlobStore) -> None:
    blob_store.check()
    blob_store.check()


# -- resumable uploads -----------------------------------------------------------------------


def test_a_resumable_upload_in_whole_parts_and_a_short_last_one(
    blob_store: BlobStore, leftovers: Callable[[], list[str]]
) -> None:
    data = big()
    upload = blob_store.stage_create()
    assert upload.size == 0 and abs(upload.created_ms - now_ms()) < 5000
    one, two, tail = data[:PART_ALIGNMENT], data[PART_ALIGNMENT : 2 * PART_ALIGNMENT], data[2 * PART_ALIGNMENT :]

    assert blob_store.stage_append(upload.upload_id, 0, chunked(one)).size == PART_ALIGNMENT
    # A part may span several blocks, in chunks of any size.
    after = blob_store.stage_append(upload.upload_id, PART_ALIGNMENT, chunked(two + tail, 3 << 20))
    assert after.size == len(data)
    assert after.created_ms == blob_store.stage_get(upload.upload_id).created_ms
    assert blob_store.stage_get(upload.upload_id).size == len(data)
    assert [(staged.upload_id, staged.size) for staged in blob_store.stage_list()] == [(upload.upload_id, len(data))]

    with pytest.raises(UploadOffsetMismatch) as caught:
        blob_store.stage_append(upload.upload_id, PART_ALIGNMENT, [b"again"])
    assert caught.value.details == {"offset": len(data)}
    with pytest.raises(InvalidRequest, match="only the last part may be shorter"):
        blob_store.stage_append(upload.upload_id, len(data), [b"more"])
    assert list(blob_store.list()) == []  # nothing visible before the commit

    info = blob_store.stage_commit(upload.upload_id, sha(data))
    assert (info.digest, info.size) == (sha(data), len(data))
    assert read_all(blob_store, info.digest) == data
    with pytest.raises(UploadNotFound):
        blob_store.stage_get(upload.upload_id)
    assert list(blob_store.stage_list()) == []
    assert leftovers() == []


def test_a_short_upload_committed_with_a_known_digest(
    blob_store: BlobStore, leftovers: Callable[[], list[str]]
) -> None:
    upload = blob_store.stage_create()
    blob_store.stage_append(upload.upload_id, 0, chunked(SMALL, 10))
    info = blob_store.stage_commit(upload.upload_id, sha(SMALL), known_digest=sha(SMALL))
    assert (info.digest, info.size) == (sha(SMALL), len(SMALL))
    assert read_all(blob_store, info.digest) == SMALL
    assert leftovers() == []


def test_an_upload_of_bytes_stored_already(blob_store: BlobStore, leftovers: Callable[[], list[str]]) -> None:
    blob_store.write([SMALL])
    upload = blob_store.stage_create()
    blob_store.stage_append(upload.upload_id, 0, [SMALL])
    assert blob_store.stage_commit(upload.upload_id, sha(SMALL)).digest == sha(SMALL)
    assert [blob.digest for blob in blob_store.list()] == [sha(SMALL)]
    assert leftovers() == []


def test_an_empty_upload(blob_store: BlobStore) -> None:
    upload = blob_store.stage_create()
    blob_store.stage_append(upload.upload_id, 0, [])
    assert blob_store.stage_get(upload.upload_id).size == 0
    info = blob_store.stage_commit(upload.upload_id, EMPTY)
    assert (info.digest, info.size) == (EMPTY, 0)
    assert read_all(blob_store, EMPTY) == b""


@pytest.mark.parametrize("known", [False, True], ids=["hashed-again", "digest-known"])
def test_a_commit_that_does_not_match_discards_the_upload(
    blob_store: BlobStore, leftovers: Callable[[], list[str]], known: bool
) -> None:
    upload = blob_store.stage_create()
    blob_store.stage_append(upload.upload_id, 0, [SMALL])
    with pytest.raises(DigestMismatch) as caught:
        blob_store.stage_commit(upload.upload_id, sha(b"else"), known_digest=sha(SMALL) if known else None)
    assert caught.value.details["actual"] == sha(SMALL)
    with pytest.raises(UploadNotFound):
        blob_store.stage_get(upload.upload_id)
    assert list(blob_store.list()) == []
    assert list(blob_store.stage_list()) == []
    assert leftovers() == []


def test_an_append_cut_off_midway_keeps_its_whole_parts(blob_store: BlobStore) -> None:
    data = bigger_than_a_part()
    upload = blob_store.stage_create()
    with pytest.raises(ConnectionResetError):
        blob_store.stage_append(upload.upload_id, 0, dropped_after(data[: 3 * CHUNK_SIZE]))
    assert blob_store.stage_get(upload.upload_id).size == 0
    with pytest.raises(ConnectionResetError):
        blob_store.stage_append(upload.upload_id, 0, dropped_after(data[: PART_ALIGNMENT + 3 * CHUNK_SIZE]))
    assert blob_store.stage_get(upload.upload_id).size == PART_ALIGNMENT

    # The client goes on from where the store says, and the bytes come out whole.
    blob_store.stage_append(upload.upload_id, PART_ALIGNMENT, chunked(data[PART_ALIGNMENT:]))
    assert blob_store.stage_commit(upload.upload_id, sha(data)).size == len(data)
    assert read_all(blob_store, sha(data)) == data


def test_an_aborted_upload_is_gone(blob_store: BlobStore, leftovers: Callable[[], list[str]]) -> None:
    upload = blob_store.stage_create()
    blob_store.stage_append(upload.upload_id, 0, [SMALL])
    other = blob_store.stage_create()
    assert sorted(staged.upload_id for staged in blob_store.stage_list()) == sorted([upload.upload_id, other.upload_id])

    blob_store.stage_abort(upload.upload_id)
    blob_store.stage_abort(upload.upload_id)  # twice is fine
    blob_store.stage_abort("not an upload")
    with pytest.raises(UploadNotFound):
        blob_store.stage_get(upload.upload_id)
    with pytest.raises(UploadNotFound):
        blob_store.stage_commit(upload.upload_id, sha(SMALL))
    assert [staged.upload_id for staged in blob_store.stage_list()] == [other.upload_id]
    blob_store.stage_abort(other.upload_id)
    assert leftovers() == []


def test_an_unknown_upload(blob_store: BlobStore) -> None:
    for upload_id in [uuid.uuid4().hex, "../../sha256", "", "A" * 32]:
        with pytest.raises(UploadNotFound):
            blob_store.stage_get(upload_id)
        with pytest.raises(UploadNotFound):
            blob_store.stage_append(upload_id, 0, [b"x"])
        with pytest.raises(UploadNotFound):
            blob_store.stage_commit(upload_id, sha(b"x"))
        with pytest.raises(UploadNotFound):
            blob_store.stage_commit(upload_id, sha(b"x"), known_digest=sha(b"x"))
        blob_store.stage_abort(upload_id)
