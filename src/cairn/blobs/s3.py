"""Blobs in an S3 bucket (or any store that speaks its protocol: MinIO, Ceph, R2…).

    <prefix>/sha256/ab/<digest>    the blobs
    <prefix>/tmp/<uuid>            large writes whose digest is not known in advance
    <prefix>/uploads/<upload_id>   resumable uploads: an S3 multipart upload on this key

A blob appears only when its bytes are complete and their SHA-256 matched: a multipart upload
is completed, or an object put, only then. A write that fails midway aborts its multipart
upload; one lost with the process leaves an incomplete multipart upload or a ``tmp/`` object,
so give the bucket a lifecycle rule that aborts incomplete multipart uploads after a few days.

Credentials, region and endpoint come from the usual AWS settings (environment,
``~/.aws/config``, instance roles); ``AWS_ENDPOINT_URL`` points at a store other than AWS.
Stores that reject the checksum headers boto3 sends since 1.36 want
``AWS_REQUEST_CHECKSUM_CALCULATION=when_required``.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any
from urllib.parse import quote

import botocore.exceptions
import botocore.loaders
import botocore.session
from boto3.s3.transfer import TransferConfig, create_transfer_manager
from botocore.config import Config

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
    InvalidRequest,
    InvalidValue,
    PayloadTooLarge,
    UploadNotFound,
)

#: S3 numbers the parts of a multipart upload from 1 to 10,000.
MAX_PARTS = 10_000

_ClientError = botocore.exceptions.ClientError
#: Errors that say the store is out of reach, not that the request was wrong.
_UNREACHABLE = (
    botocore.exceptions.ConnectionError,  # refused, DNS, TLS, proxy, connect timeout
    botocore.exceptions.HTTPClientError,  # read timeout, connection dropped midway
    botocore.exceptions.NoCredentialsError,
    botocore.exceptions.PartialCredentialsError,
    botocore.exceptions.CredentialRetrievalError,
)
#: Error codes that are the store's configuration or health, not the blob's.
_UNAVAILABLE_CODES = {
    "403",
    "AccessDenied",
    "AccountProblem",
    "AllAccessDisabled",
    "AuthorizationHeaderMalformed",
    "ExpiredToken",
    "InvalidAccessKeyId",
    "InvalidToken",
    "NoSuchBucket",
    "PermanentRedirect",
    "RequestTimeTooSkewed",
    "SignatureDoesNotMatch",
}
_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}
#: Above this a copy is done in parts (CopyObject stops at 5 GiB); below, in one request.
_TRANSFER = TransferConfig(multipart_threshold=1 << 30, multipart_chunksize=256 << 20)


class S3BlobStore:
    """The blob store in an S3 bucket, under an optional key prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        uri: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = uri if uri is not None else f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._endpoint_url = endpoint_url
        self._region = region
        # A session of its own: credentials and settings are read afresh for each store.
        self._session = botocore.session.get_session()
        self._session.register_component("data_loader", _shared_loader())
        # SigV4 everywhere: presigned URLs default to the older scheme, which newer regions
        # refuse. The number of attempts is left to AWS_MAX_ATTEMPTS (3 by default).
        self._client: Any = self._new_client(Config(signature_version="s3v4", retries={"mode": "standard"}))

    def __repr__(self) -> str:
        return f"S3BlobStore({self.uri!r})"

    def close(self) -> None:
        """Close the connections to S3 (the store must not be used after)."""
        self._client.close()

    def check(self) -> None:
        # Its own client, impatient: a wrong address should fail the server's start in
        # seconds, not after the retries a transfer deserves.
        client = self._new_client(
            Config(
                signature_version="s3v4",
                connect_timeout=3,
                read_timeout=5,
                retries={"mode": "standard", "total_max_attempts": 2},
            )
        )
        where = f"the bucket {self.bucket!r} at {self._endpoint()}"
        try:
            client.head_bucket(Bucket=self.bucket)
        except _UNREACHABLE as exc:
            raise BlobStoreUnavailable(f"the blob store {self.uri} cannot be used: {exc}") from exc
        except _ClientError as exc:
            code = _code(exc)
            if code in _MISSING_CODES or code == "NoSuchBucket":
                reason = "it does not exist"
            elif code in ("403", "AccessDenied", "Forbidden"):
                reason = "access is denied (check the credentials and the bucket policy)"
            else:
                reason = f"it answered {code}"
            raise BlobStoreUnavailable(f"the blob store {self.uri} cannot be used: {where}: {reason}") from exc
        finally:
            client.close()

    def write(self, chunks: Iterable[bytes], *, expected_digest: str | None = None) -> BlobInfo:
        if expected_digest is not None:
            check_digest(expected_digest)
        with self._errors():
            if expected_digest is not None:
                final = self._blob_key(expected_digest)
                head = self._head(final)
                if head is not None:
                    # Stored already: the bytes are still read, and checked, so that the
                    # caller learns of a mismatch whether or not someone uploaded them first.
                    digest, _ = sha256_of_chunks(chunks)
                    if digest != expected_digest:
                        raise digest_mismatch(expected_digest, digest)
                    self._touch(final, head)
                    return self._info(final, digest)
            hasher = hashlib.sha256()
            pieces = _pieces(_hashed(chunks, hasher), _growing_part_sizes())
            first = next(pieces, b"")
            if len(first) < PART_ALIGNMENT:  # all of it, so one request
                digest = hasher.hexdigest()
                if expected_digest is not None and digest != expected_digest:
                    raise digest_mismatch(expected_digest, digest)
                final = self._blob_key(digest)
                head = self._head(final)
                if head is not None:
                    self._touch(final, head)
                else:
                    self._client.put_object(Bucket=self.bucket, Key=final, Body=first)
                return self._info(final, digest)
            # With the digest known, straight to its key; without, to a temporary key to copy.
            key = self._blob_key(expected_digest) if expected_digest else self._key("tmp", uuid.uuid4().hex)
            upload_id = self._client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
            try:
                parts = [self._upload_part(key, upload_id, 1, first)]
                del first  # one part in memory at a time
                for number, piece in enumerate(pieces, start=2):
                    if number > MAX_PARTS:
                        raise PayloadTooLarge("the blob is larger than an S3 multipart upload can hold")
                    parts.append(self._upload_part(key, upload_id, number, piece))
                    del piece
                digest = hasher.hexdigest()
                if expected_digest is not None and digest != expected_digest:
                    raise digest_mismatch(expected_digest, digest)
                final = self._blob_key(digest)
                head = None if key == final else self._head(final)
                if head is not None:
                    self._abort(key, upload_id)
                    self._touch(final, head)
                    return self._info(final, digest)
                self._client.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
            except BaseException:
                self._abort(key, upload_id)
                raise
            if key != final:
                try:
                    self._copy(key, final)
                finally:
                    self._delete_quietly(key)
            return self._info(final, digest)

    def stat(self, digest: str) -> BlobInfo | None:
        key = self._blob_key(digest)
        with self._errors():
            head = self._head(key)
        return None if head is None else BlobInfo(digest, int(head["ContentLength"]), _ms(head["LastModified"]))

    def touch(self, digest: str) -> bool:
        key = self._blob_key(digest)
        with self._errors():
            head = self._head(key)
            if head is None:
                return False
            self._touch(key, head)
        return True

    def read(self, digest: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        key = self._blob_key(digest)
        with self._errors():
            head = self._head(key)
        if head is None:
            raise BlobNotFound(f"no blob {digest}")
        # Checked here, not in the generator, so errors come before the first chunk.
        size = int(head["ContentLength"])
        stop = check_range(start, end, size)
        return self._read(key, start, stop, whole=start == 0 and stop == size)

    def delete(self, digest: str, *, untouched_since: int | None = None) -> bool:
        key = self._blob_key(digest)
        with self._errors():
            head = self._head(key)
            if head is None:  # S3 deletes a missing key without a word
                return False
            if untouched_since is not None and _ms(head["LastModified"]) >= untouched_since:
                return False
            self._client.delete_object(Bucket=self.bucket, Key=key)
        return True

    def list(self) -> Iterator[BlobInfo]:
        with self._errors():
            for obj in self._objects(self._key("sha256") + "/"):
                try:
                    digest = check_digest(obj["Key"].rsplit("/", 1)[-1])
                except InvalidValue:
                    continue
                yield BlobInfo(digest, int(obj["Size"]), _ms(obj["LastModified"]))

    def presigned_url(self, digest: str, *, expires_s: int = 3600, filename: str | None = None) -> str | None:
        params = {"Bucket": self.bucket, "Key": self._blob_key(digest)}
        if filename:
            params["ResponseContentDisposition"] = _attachment(filename)
        with self._errors():
            return str(self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s))

    def presigned_part_urls(self, upload_id: str, count: int, *, expires_s: int = 3600) -> Sequence[str] | None:
        if not 1 <= count <= MAX_PARTS:
            raise InvalidRequest(f"an upload has 1 to {MAX_PARTS} parts, not {count}")
        key = self._upload_key(upload_id)
        with self._errors():
            upload = self._multipart(key)
            if upload is None:
                raise UploadNotFound(f"no upload {upload_id!r}")
            return [
                str(
                    self._client.generate_presigned_url(
                        "upload_part",
                        Params={"Bucket": self.bucket, "Key": key, "UploadId": upload["UploadId"], "PartNumber": n},
                        ExpiresIn=expires_s,
                    )
                )
                for n in range(1, count + 1)
            ]

    # -- resumable uploads ------------------------------------------------------------------

    def stage_create(self) -> StagedUpload:
        upload_id = uuid.uuid4().hex
        with self._errors():
            self._client.create_multipart_upload(Bucket=self.bucket, Key=self._upload_key(upload_id))
        return StagedUpload(upload_id, 0, now_ms())

    def stage_get(self, upload_id: str) -> StagedUpload:
        key = self._upload_key(upload_id)
        with self._errors():
            upload = self._multipart(key)
            if upload is not None:
                size = sum(int(part["Size"]) for part in self._parts(key, upload["UploadId"]))
                return StagedUpload(upload_id, size, _ms(upload["Initiated"]))
            # Completed by a commit that did not finish: still an upload until it is published.
            head = self._head(key)
        if head is None:
            raise UploadNotFound(f"no upload {upload_id!r}")
        return StagedUpload(upload_id, int(head["ContentLength"]), _ms(head["LastModified"]))

    def stage_append(self, upload_id: str, offset: int, chunks: Iterable[bytes]) -> StagedUpload:
        key = self._upload_key(upload_id)
        with self._errors():
            upload = self._multipart(key)
            if upload is None:
                current = self.stage_get(upload_id)  # UploadNotFound, unless being committed
                check_append(current.size, offset)
                raise InvalidRequest("the upload is being committed: commit it again to finish")
            size = sum(int(part["Size"]) for part in self._parts(key, upload["UploadId"]))
            check_append(size, offset)
            number = size // PART_ALIGNMENT
            # Parts go up whole: one cut off midway is not sent, and the parts before it stay.
            for piece in _pieces(chunks, itertools.repeat(PART_ALIGNMENT)):
                number += 1
                if number > MAX_PARTS:
                    raise PayloadTooLarge(
                        f"a resumable upload holds at most {MAX_PARTS} parts of {PART_ALIGNMENT >> 20} MiB"
                    )
                self._upload_part(key, upload["UploadId"], number, piece)
                size += len(piece)
                del piece  # before the next one is cut
        return StagedUpload(upload_id, size, _ms(upload["Initiated"]))

    def stage_commit(self, upload_id: str, expected_digest: str, *, known_digest: str | None = None) -> BlobInfo:
        check_digest(expected_digest)
        if known_digest is not None:
            check_digest(known_digest)
        key = self._upload_key(upload_id)
        with self._errors():
            upload = self._multipart(key)
            if upload is not None:
                parts = [
                    {"PartNumber": part["PartNumber"], "ETag": part["ETag"]}
                    for part in self._parts(key, upload["UploadId"])
                ]
                if parts:
                    self._client.complete_multipart_upload(
                        Bucket=self.bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
                    )
                else:  # S3 completes no upload without parts
                    self._client.put_object(Bucket=self.bucket, Key=key, Body=b"")
                    self._abort(key, upload["UploadId"])
            elif self._head(key) is None:
                raise UploadNotFound(f"no upload {upload_id!r}")
            if known_digest is not None:
                digest = known_digest
            else:
                digest, _ = sha256_of_chunks(self._read(key, 0, None, whole=True))
            if digest != expected_digest:
                self._client.delete_object(Bucket=self.bucket, Key=key)
                raise digest_mismatch(expected_digest, digest)
            final = self._blob_key(digest)
            head = self._head(final)
            if head is not None:
                self._touch(final, head)
            else:
                self._copy(key, final)
            self._client.delete_object(Bucket=self.bucket, Key=key)
            return self._info(final, digest)

    def stage_abort(self, upload_id: str) -> None:
        try:
            key = self._upload_key(upload_id)
        except UploadNotFound:
            return
        with self._errors():
            upload = self._multipart(key)
            if upload is not None:
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload["UploadId"])
            self._client.delete_object(Bucket=self.bucket, Key=key)

    def stage_list(self) -> Iterator[StagedUpload]:
        prefix = self._key("uploads") + "/"
        seen = set()
        with self._errors():
            pages = self._client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for upload in page.get("Uploads", []):
                    upload_id = upload["Key"].rsplit("/", 1)[-1]
                    if upload_id in seen:
                        continue
                    seen.add(upload_id)
                    try:
                        size = sum(int(part["Size"]) for part in self._parts(upload["Key"], upload["UploadId"]))
                    except _ClientError as exc:
                        if _code(exc) == "NoSuchUpload":
                            continue  # finished meanwhile
                        raise
                    yield StagedUpload(upload_id, size, _ms(upload["Initiated"]))
            for obj in self._objects(prefix):
                upload_id = obj["Key"].rsplit("/", 1)[-1]
                if upload_id not in seen:
                    seen.add(upload_id)
                    yield StagedUpload(upload_id, int(obj["Size"]), _ms(obj["LastModified"]))

    # -- helpers ----------------------------------------------------------------------------

    def _new_client(self, config: Config) -> Any:
        return self._session.create_client(
            "s3", region_name=self._region, endpoint_url=self._endpoint_url, config=config
        )

    def _endpoint(self) -> str:
        return str(self._client.meta.endpoint_url)

    def _key(self, *parts: str) -> str:
        return "/".join((self.prefix, *parts) if self.prefix else parts)

    def _blob_key(self, digest: str) -> str:
        check_digest(digest)
        return self._key("sha256", digest[:2], digest)

    def _upload_key(self, upload_id: str) -> str:
        return self._key("uploads", check_upload_id(upload_id))

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """botocore's errors about the store itself, as BlobStoreUnavailable."""
        try:
            yield
        except _UNREACHABLE as exc:
            raise BlobStoreUnavailable(
                f"the blob store {self.uri} at {self._endpoint()} cannot be used: {exc}"
            ) from exc
        except _ClientError as exc:
            code = _code(exc)
            if code == "NoSuchUpload":
                raise UploadNotFound("the upload was committed or aborted meanwhile") from exc
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if code in _UNAVAILABLE_CODES or status >= 500:
                message = exc.response.get("Error", {}).get("Message") or code
                raise BlobStoreUnavailable(f"the blob store {self.uri} refused a request: {code}: {message}") from exc
            raise

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self._client.head_object(Bucket=self.bucket, Key=key)
        except _ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                return None
            raise
        return head

    def _info(self, key: str, digest: str) -> BlobInfo:
        head = self._head(key)
        if head is None:  # deleted by gc in the instant since it was written
            raise BlobNotFound(f"no blob {digest}")
        return BlobInfo(digest, int(head["ContentLength"]), _ms(head["LastModified"]))

    def _touch(self, key: str, head: dict[str, Any]) -> None:
        """Rewrite the object onto itself, which is what moves S3's LastModified."""
        source = {"Bucket": self.bucket, "Key": key}
        if int(head["ContentLength"]) > _TRANSFER.multipart_threshold:
            self._copy(key, key)  # a copy in parts is a new object, no directive needed
        else:
            self._client.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource=source,
                MetadataDirective="REPLACE",
                Metadata=head.get("Metadata", {}),
            )

    def _copy(self, source: str, target: str) -> None:
        """A copy inside the bucket, in parts above 1 GiB (one CopyObject stops at 5 GiB)."""
        with create_transfer_manager(self._client, _TRANSFER) as manager:
            manager.copy(copy_source={"Bucket": self.bucket, "Key": source}, bucket=self.bucket, key=target).result()

    def _read(self, key: str, start: int, stop: int | None, *, whole: bool) -> Iterator[bytes]:
        if start == stop:
            return
        args = {} if whole else {"Range": f"bytes={start}-{(stop or 0) - 1}"}
        with self._errors():
            try:
                body = self._client.get_object(Bucket=self.bucket, Key=key, **args)["Body"]
            except _ClientError as exc:
                if _code(exc) in _MISSING_CODES:
                    raise BlobNotFound(f"no blob {key.rsplit('/', 1)[-1]}") from None
                raise
            try:
                yield from body.iter_chunks(CHUNK_SIZE)
            finally:
                body.close()

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            yield from page.get("Contents", [])

    def _multipart(self, key: str) -> dict[str, Any] | None:
        """The S3 multipart upload on ``key`` (the oldest, should a race have made two)."""
        found: list[dict[str, Any]] = []
        pages = self._client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=key)
        for page in pages:
            found.extend(upload for upload in page.get("Uploads", []) if upload["Key"] == key)
        return min(found, key=lambda upload: upload["Initiated"]) if found else None

    def _parts(self, key: str, upload_id: str) -> Iterator[dict[str, Any]]:
        pages = self._client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key, UploadId=upload_id)
        for page in pages:
            yield from page.get("Parts", [])

    def _upload_part(self, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        response = self._client.upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
        return {"PartNumber": number, "ETag": response["ETag"]}

    def _abort(self, key: str, upload_id: str) -> None:
        # Best effort on the way out of an error: the lifecycle rule collects what is missed.
        with suppress(_ClientError, *_UNREACHABLE):
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def _delete_quietly(self, key: str) -> None:
        with suppress(_ClientError, *_UNREACHABLE):
            self._client.delete_object(Bucket=self.bucket, Key=key)


@functools.cache
def _shared_loader() -> Any:
    """botocore's service descriptions, read once for every store: reading them again for
    each session costs a tenth of a second."""
    return botocore.loaders.create_loader()


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _hashed(chunks: Iterable[bytes], hasher: hashlib._Hash) -> Iterator[bytes]:
    for chunk in chunks:
        hasher.update(chunk)
        yield chunk


def _growing_part_sizes() -> Iterator[int]:
    """8 MiB parts, growing by 8 MiB every thousand: S3's 10,000 parts then hold some 400 GiB
    while a blob of a few GiB still moves through one 8 MiB buffer."""
    for number in itertools.count():
        yield PART_ALIGNMENT * (1 + number // 1000)


def _pieces(chunks: Iterable[bytes], sizes: Iterator[int]) -> Iterator[bytes]:
    """The concatenated chunks cut into pieces of the given sizes, the last one shorter; one
    piece is buffered at a time. Nothing is yielded of a piece the chunks broke off in."""
    buffer = bytearray()
    size = next(sizes)
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            with memoryview(buffer) as view:
                piece = bytes(view[:size])
            del buffer[:size]
            yield piece
            del piece
            size = next(sizes)
    if buffer:
        yield bytes(buffer)


def _attachment(filename: str) -> str:
    """A Content-Disposition that saves under ``filename``, also for names beyond ASCII."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
