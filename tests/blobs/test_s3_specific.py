"""What only the S3 store does or risks: key layout, presigned URLs, an unreachable or missing
bucket, a commit that stopped halfway. Against moto's server, over HTTP."""

from __future__ import annotations

import hashlib
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cairn.blobs import open_blobs
from cairn.blobs.s3 import S3BlobStore
from cairn.core.errors import BlobStoreUnavailable, InvalidRequest

DATA = b"weights\x00" * 1000


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(s3_bucket_uri: str, s3_endpoint: str) -> Iterator[S3BlobStore]:
    opened = open_blobs(s3_bucket_uri, endpoint_url=s3_endpoint)
    assert isinstance(opened, S3BlobStore)
    try:
        yield opened
    finally:
        opened.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_blobs_are_keyed_by_digest_under_the_prefix(store: S3BlobStore, s3_client: Any) -> None:
    digest = store.write([DATA]).digest
    keys = [obj["Key"] for obj in s3_client.list_objects_v2(Bucket=store.bucket)["Contents"]]
    assert keys == [f"prefix/sha256/{digest[:2]}/{digest}"]
    assert store.uri.endswith(f"{store.bucket}/prefix")


def test_a_presigned_url_downloads_the_blob_under_its_file_name(store: S3BlobStore) -> None:
    digest = store.write([DATA]).digest
    url = store.presigned_url(digest, expires_s=60, filename='model "best" ü.pt')
    assert url is not None
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == DATA
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="model _best_ _.pt"')
    assert "filename*=UTF-8''model%20%22best%22%20%C3%BC.pt" in disposition

    plain = store.presigned_url(digest)
    assert plain is not None
    assert httpx.get(plain).content == DATA


def test_check_fails_fast_on_an_address_nobody_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    endpoint = f"http://127.0.0.1:{closed_port()}"
    store = open_blobs("s3://some-bucket/blobs", endpoint_url=endpoint)
    started = time.monotonic()
    with pytest.raises(BlobStoreUnavailable) as caught:
        store.check()
    assert time.monotonic() - started < 10
    assert "s3://some-bucket/blobs" in caught.value.message
    assert endpoint in caught.value.message


def test_requests_to_an_address_nobody_answers_are_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # no retries: the test would wait for them
    store = open_blobs("s3://some-bucket", endpoint_url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(BlobStoreUnavailable):
        store.write([DATA])
    with pytest.raises(BlobStoreUnavailable):
        store.read(sha(DATA))
    with pytest.raises(BlobStoreUnavailable):
        list(store.list())


def test_a_missing_bucket_is_unavailable(s3_endpoint: str) -> None:
    store = open_blobs(f"s3://cairn-missing-{uuid.uuid4().hex[:12]}", endpoint_url=s3_endpoint)
    started = time.monotonic()
    with pytest.raises(BlobStoreUnavailable, match="does not exist"):
        store.check()
    assert time.monotonic() - started < 10
    with pytest.raises(BlobStoreUnavailable, match="NoSuchBucket"):
        store.write([DATA])
    with pytest.raises(BlobStoreUnavailable, match="NoSuchBucket"):
        store.stage_create()


def test_a_commit_stopped_after_completing_the_multipart_upload_can_be_finished(
    store: S3BlobStore, s3_client: Any
) -> None:
    upload = store.stage_create()
    store.stage_append(upload.upload_id, 0, [DATA])
    # As if the server died right after completing the S3 upload, before publishing it.
    key = f"prefix/uploads/{upload.upload_id}"
    (multipart,) = s3_client.list_multipart_uploads(Bucket=store.bucket)["Uploads"]
    parts = s3_client.list_parts(Bucket=store.bucket, Key=key, UploadId=multipart["UploadId"])["Parts"]
    s3_client.complete_multipart_upload(
        Bucket=store.bucket,
        Key=key,
        UploadId=multipart["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]},
    )

    assert store.stage_get(upload.upload_id).size == len(DATA)
    assert [staged.upload_id for staged in store.stage_list()] == [upload.upload_id]
    with pytest.raises(InvalidRequest):
        store.stage_append(upload.upload_id, len(DATA), [b"more"])
    assert store.stage_commit(upload.upload_id, sha(DATA)).size == len(DATA)
    assert list(store.stage_list()) == []
    keys = [obj["Key"] for obj in s3_client.list_objects_v2(Bucket=store.bucket)["Contents"]]
    assert keys == [f"prefix/sha256/{sha(DATA)[:2]}/{sha(DATA)}"]


def test_an_abort_also_removes_a_completed_staging_object(store: S3BlobStore, s3_client: Any) -> None:
    upload = store.stage_create()
    s3_client.put_object(Bucket=store.bucket, Key=f"prefix/uploads/{upload.upload_id}", Body=DATA)
    store.stage_abort(upload.upload_id)
    assert s3_client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []
    assert s3_client.list_objects_v2(Bucket=store.bucket).get("Contents", []) == []


def test_a_store_without_a_prefix(s3_bucket_uri: str, s3_endpoint: str, s3_client: Any) -> None:
    bucket_only = s3_bucket_uri.rsplit("/", 1)[0]
    store = open_blobs(bucket_only, endpoint_url=s3_endpoint)
    try:
        digest = store.write([DATA]).digest
        keys = [obj["Key"] for obj in s3_client.list_objects_v2(Bucket=bucket_only[5:])["Contents"]]
        assert keys == [f"sha256/{digest[:2]}/{digest}"]
        assert [blob.digest for blob in store.list()] == [digest]
    finally:
        assert isinstance(store, S3BlobStore)
        store.close()
