"""Content-addressed blob storage: artifact bytes stored once under their SHA-256, in a folder
or an S3 bucket, chosen by URI through :func:`open_blobs`."""

from cairn.blobs.base import BlobInfo, BlobStore, StagedUpload
from cairn.blobs.registry import open_blobs

__all__ = ["BlobInfo", "BlobStore", "StagedUpload", "open_blobs"]
