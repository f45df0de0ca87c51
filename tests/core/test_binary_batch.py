"""The packed metric-batch format: exact round trips, and every malformed body refused."""

from __future__ import annotations

import math
import struct

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.core.binary_batch import decode_batch, encode_batch
from cairn.core.errors import InvalidRequest
from cairn.core.limits import MAX_POINTS_PER_BATCH
from cairn.core.metrics import MetricBatch, MetricColumns


def batch_of(*columns: tuple[str, list[int], list[int], list[float]]) -> MetricBatch:
    return MetricBatch(
        client_id="c1",
        seq=7,
        columns=[
            MetricColumns(k, np.array(s, np.int64), np.array(t, np.int64), np.array(v, np.float64))
            for k, s, t, v in columns
        ],
    )


def test_round_trip_is_bit_exact() -> None:
    values = [0.5, math.nan, math.inf, -math.inf, 5e-324, 1.7976931348623157e308, -0.0]
    original = batch_of(("train/loss", list(range(7)), [1000 + i for i in range(7)], values), ("empty", [], [], []))
    decoded = decode_batch(encode_batch(original))
    assert (decoded.client_id, decoded.seq) == ("c1", 7)
    assert [c.key for c in decoded.columns] == ["train/loss", "empty"]
    first = decoded.columns[0]
    assert first.steps.tolist() == list(range(7))
    assert first.timestamps.tolist() == [1000 + i for i in range(7)]
    assert first.values.tobytes() == np.array(values, np.float64).tobytes()
    assert len(decoded.columns[1]) == 0


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=20),
            st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True)), max_size=30),
        ),
        max_size=5,
    )
)
def test_any_batch_round_trips(columns: list[tuple[str, list[tuple[int, float]]]]) -> None:
    original = batch_of(*[(k, [s for s, _ in pts], [1] * len(pts), [v for _, v in pts]) for k, pts in columns])
    decoded = decode_batch(encode_batch(original))
    for a, b in zip(original.columns, decoded.columns, strict=True):
        assert a.key == b.key
        assert a.steps.tolist() == b.steps.tolist()
        assert a.values.tobytes() == b.values.tobytes()


def _framed(header: object, payload: bytes = b"") -> bytes:
    raw = orjson.dumps(header)
    return b"CRNB\x01" + struct.pack("<I", len(raw)) + raw + payload


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not a batch",
        b"CRNB\x01\x10",
        b"CRNB\x01" + struct.pack("<I", 99) + b"{}",
        b"CRNB\x01" + struct.pack("<I", 3) + b"{no",
        _framed([]),
        _framed({"client_id": "c", "seq": 1}),
        _framed({"client_id": 5, "seq": 1, "metrics": []}),
        _framed({"client_id": "c", "seq": True, "metrics": []}),
        _framed({"client_id": "c", "seq": 1, "metrics": {}}),
        _framed({"client_id": "c", "seq": 1, "metrics": [{"key": "k"}]}),
        _framed({"client_id": "c", "seq": 1, "metrics": [{"key": "k", "count": -1}]}),
        _framed({"client_id": "c", "seq": 1, "metrics": [{"key": 3, "count": 0}]}),
        _framed({"client_id": "c", "seq": 1, "metrics": [{"key": "k", "count": 2}]}, b"\x00" * 47),
        _framed({"client_id": "c", "seq": 1, "metrics": [{"key": "k", "count": 2}]}, b"\x00" * 49),
        _framed({"client_id": "c", "seq": 1, "metrics": [{"key": "k", "count": MAX_POINTS_PER_BATCH + 1}]}),
    ],
)
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        decode_batch(body)
