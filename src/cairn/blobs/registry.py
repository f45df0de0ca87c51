"""Blob stores chosen by URI scheme: a folder (a plain path or ``file://``) or ``s3://``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from cairn.blobs.base import BlobStore
from cairn.core.errors import InvalidRequest

#: Opens a store from its URI and an optional S3 endpoint.
BlobStoreFactory = Callable[[str, str | None], BlobStore]

_factories: dict[str, BlobStoreFactory] = {}


def register_blobs(scheme: str, factory: BlobStoreFactory, *, allow_override: bool = False) -> None:
    if scheme in _factories and not allow_override:
        raise ValueError(f"a blob store is already registered for {scheme!r}")
    _factories[scheme] = factory


def open_blobs(uri: str, *, endpoint_url: str | None = None) -> BlobStore:
    """The blob store at ``uri``: a folder path, ``file:///path`` or ``s3://bucket/prefix``.

    ``endpoint_url`` points an ``s3://`` store at something other than AWS (MinIO…); boto3
    also reads it from ``AWS_ENDPOINT_URL``. Nothing is contacted until the store is used:
    call ``check()`` to find out whether it can be.
    """
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else "file"
    factory = _factories.get(scheme)
    if factory is None:
        known = ", ".join(f"{name}://" for name in sorted(_factories))
        raise InvalidRequest(f"no blob store for {scheme!r} URIs (known: {known}, or a folder path)")
    return factory(uri, endpoint_url)


def _local(uri: str, endpoint_url: str | None) -> BlobStore:
    from cairn.blobs.local import LocalBlobStore

    if "://" not in uri:
        return LocalBlobStore(Path(uri).expanduser(), uri=uri)
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost") or not parts.path:
        raise InvalidRequest(f"{uri!r} is not a local folder: write file:///absolute/path or a plain path")
    return LocalBlobStore(Path(url2pathname(parts.path)), uri=uri)


def _s3(uri: str, endpoint_url: str | None) -> BlobStore:
    from cairn.blobs.s3 import S3BlobStore  # boto3 is imported only when a bucket is used

    parts = urlsplit(uri)
    if not parts.netloc or parts.query or parts.fragment:
        raise InvalidRequest(f"{uri!r} is not an S3 location: write s3://bucket or s3://bucket/prefix")
    return S3BlobStore(parts.netloc, parts.path.strip("/"), endpoint_url=endpoint_url, uri=uri)


register_blobs("file", _local)
register_blobs("s3", _s3)
