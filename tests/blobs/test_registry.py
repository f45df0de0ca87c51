"""open_blobs: the store for a URI, by its scheme."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.blobs import open_blobs
from cairn.blobs.local import LocalBlobStore
from cairn.blobs.s3 import S3BlobStore
from cairn.core.errors import InvalidRequest


def test_a_plain_path_is_a_folder(tmp_path: Path) -> None:
    store = open_blobs(str(tmp_path / "blobs"))
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path / "blobs"
    assert store.uri == str(tmp_path / "blobs")


def test_a_file_uri_is_a_folder(tmp_path: Path) -> None:
    uri = (tmp_path / "with space").as_uri()
    store = open_blobs(uri)
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path / "with space"
    assert store.uri == uri
    assert isinstance(open_blobs(f"file://localhost{tmp_path}"), LocalBlobStore)


@pytest.mark.parametrize(
    ("uri", "bucket", "prefix"),
    [
        ("s3://bucket", "bucket", ""),
        ("s3://bucket/", "bucket", ""),
        ("s3://bucket/team/blobs/", "bucket", "team/blobs"),
    ],
)
def test_an_s3_uri_is_a_bucket_and_a_prefix(uri: str, bucket: str, prefix: str) -> None:
    store = open_blobs(uri, endpoint_url="http://127.0.0.1:9")  # nothing is contacted yet
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix, store.uri) == (bucket, prefix, uri)
    store.close()


@pytest.mark.parametrize("uri", ["s3://", "s3:///prefix", "s3://bucket/x?versionId=1", "file://server/share"])
def test_a_malformed_uri_is_refused(uri: str) -> None:
    with pytest.raises(InvalidRequest):
        open_blobs(uri)


def test_an_unknown_scheme_is_refused_with_the_known_ones() -> None:
    with pytest.raises(InvalidRequest) as caught:
        open_blobs("gs://bucket/blobs")
    assert "'gs'" in caught.value.message
    assert "file://" in caught.value.message and "s3://" in caught.value.message
