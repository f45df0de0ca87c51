"""``blob_store`` is the contract fixture: a folder, and a bucket on moto's S3 server."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cairn.blobs import BlobStore, open_blobs
from cairn.blobs.local import LocalBlobStore
from cairn.blobs.s3 import S3BlobStore


@pytest.fixture(params=["local", "s3"])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield open_blobs(str(tmp_path / "blobs"))
        return
    store = open_blobs(request.getfixturevalue("s3_bucket_uri"), endpoint_url=request.getfixturevalue("s3_endpoint"))
    assert isinstance(store, S3BlobStore)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def s3_client(s3_endpoint: str) -> Iterator[Any]:
    """A plain boto3 client on the moto server, to look behind a store's back."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def leftovers(request: pytest.FixtureRequest, blob_store: BlobStore) -> Callable[[], list[str]]:
    """What a failed or finished operation must not leave behind: temporary files and staged
    uploads on disk; objects outside ``sha256/`` and open multipart uploads in the bucket."""
    if isinstance(blob_store, LocalBlobStore):
        root = blob_store.root

        def on_disk() -> list[str]:
            return sorted(
                str(path.relative_to(root))
                for folder in ("tmp", "uploads")
                if (root / folder).exists()
                for path in (root / folder).iterdir()
            )

        return on_disk
    assert isinstance(blob_store, S3BlobStore)
    client = request.getfixturevalue("s3_client")
    bucket, blobs = blob_store.bucket, f"{blob_store.prefix}/sha256/"

    def in_bucket() -> list[str]:
        objects = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return sorted(obj["Key"] for obj in objects if not obj["Key"].startswith(blobs)) + sorted(
            f"multipart upload on {upload['Key']}" for upload in uploads
        )

    return in_bucket


@pytest.fixture
def make_stale(blob_store: BlobStore) -> Callable[..., None]:
    """Make blobs' modification time lie in the past, so that a refresh shows."""

    def stale(*digests: str) -> None:
        if isinstance(blob_store, LocalBlobStore):
            past = time.time() - 3600
            for digest in digests:
                os.utime(blob_store.root / "sha256" / digest[:2] / digest[2:4] / digest, (past, past))
        else:
            # S3 keeps LastModified to the second and lets nobody set it: wait for the next one.
            time.sleep(1.02 - time.time() % 1)

    return stale
