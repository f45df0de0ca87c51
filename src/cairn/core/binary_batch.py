"""Metric batches as packed arrays: the SDK's ingest format, beside the JSON one.

JSON makes the server build a Python object per number and then an array from them; for a
batch of 100,000 points that was most of the server's work. This format carries the columns as
they are stored, so the server reads them in place:

    magic      5 bytes   b"CRNB" and format version 1
    length     uint32 little-endian: size of the header
    header     UTF-8 JSON: {"client_id": str, "seq": int, "metrics": [{"key": str, "count": int}, ...]}
    columns    per metric, in header order: count int64 steps, count int64 timestamps (ms),
               count float64 values, all little-endian

The body must end exactly where the last column does. The same rules apply as for JSON batches
(the service checks the decoded columns); this module only checks the framing.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson

from cairn.core.errors import InvalidRequest
from cairn.core.limits import MAX_POINTS_PER_BATCH, check_int64
from cairn.core.metrics import MetricBatch, MetricColumns

MEDIA_TYPE = "application/vnd.cairn.metric-batch"
_MAGIC = b"CRNB\x01"
_LENGTH = struct.Struct("<I")
_INT64 = np.dtype("<i8")
_FLOAT64 = np.dtype("<f8")
_BYTES_PER_POINT = 8 * 3


def encode_batch(batch: MetricBatch) -> bytes:
    header = orjson.dumps(
        {
            "client_id": batch.client_id,
            "seq": batch.seq,
            "metrics": [{"key": c.key, "count": len(c)} for c in batch.columns],
        }
    )
    parts = [_MAGIC, _LENGTH.pack(len(header)), header]
    for c in batch.columns:
        parts.append(np.ascontiguousarray(c.steps, dtype=_INT64).tobytes())
        parts.append(np.ascontiguousarray(c.timestamps, dtype=_INT64).tobytes())
        parts.append(np.ascontiguousarray(c.values, dtype=_FLOAT64).tobytes())
    return b"".join(parts)


def decode_batch(body: bytes) -> MetricBatch:
    """The batch in ``body``; a body that is not exactly one well-formed batch is refused."""
    if not body.startswith(_MAGIC):
        raise InvalidRequest(f"not a Cairn metric batch (expected it to start with {_MAGIC!r})")
    start = len(_MAGIC) + _LENGTH.size
    if len(body) < start:
        raise InvalidRequest("the metric batch is truncated in its header")
    (header_length,) = _LENGTH.unpack_from(body, len(_MAGIC))
    if start + header_length > len(body):
        raise InvalidRequest("the metric batch is truncated in its header")
    try:
        header = orjson.loads(body[start : start + header_length])
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the metric batch header is not valid JSON: {exc}") from None
    client_id, seq, metrics = _checked_header(header)
    offset = start + header_length
    expected = offset + sum(count for _, count in metrics) * _BYTES_PER_POINT
    if expected != len(body):
        raise InvalidRequest(
            f"the metric batch should be {expected} bytes long by its header, but is {len(body)}",
            details={"expected": expected, "received": len(body)},
        )
    columns = []
    for key, count in metrics:
        arrays = []
        for dtype in (_INT64, _INT64, _FLOAT64):
            arrays.append(np.frombuffer(body, dtype=dtype, count=count, offset=offset))
            offset += count * 8
        columns.append(
            MetricColumns(
                key,
                arrays[0].astype(np.int64, copy=False),
                arrays[1].astype(np.int64, copy=False),
                arrays[2].astype(np.float64, copy=False),
            )
        )
    return MetricBatch(client_id=client_id, seq=seq, columns=columns)


def _checked_header(header: Any) -> tuple[str, int, list[tuple[str, int]]]:
    if not isinstance(header, dict) or set(header) != {"client_id", "seq", "metrics"}:
        raise InvalidRequest("the metric batch header must hold exactly client_id, seq and metrics")
    client_id, seq, metrics = header["client_id"], header["seq"], header["metrics"]
    if not isinstance(client_id, str):
        raise InvalidRequest("client_id must be a string")
    seq = check_int64(seq, "seq", minimum=0, error=InvalidRequest)
    if not isinstance(metrics, list):
        raise InvalidRequest("metrics must be a list of {key, count}")
    checked: list[tuple[str, int]] = []
    for item in metrics:
        if not isinstance(item, dict) or set(item) != {"key", "count"}:
            raise InvalidRequest("each metric in the header must be an object with exactly key and count")
        key = item["key"]
        if not isinstance(key, str):
            raise InvalidRequest("each metric in the header needs a string key")
        checked.append(
            (key, check_int64(item["count"], f"count of metric {key[:50]!r}", minimum=0, error=InvalidRequest))
        )
    if sum(count for _, count in checked) > MAX_POINTS_PER_BATCH:
        raise InvalidRequest(
            f"a batch may hold at most {MAX_POINTS_PER_BATCH} points", details={"limit": MAX_POINTS_PER_BATCH}
        )
    return client_id, seq, checked
