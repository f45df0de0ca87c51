"""Every integer read from a request is checked against one pair of 64-bit bounds.

Past them SQLite and PostgreSQL fail inside the driver (a 500 on the server); here such a value
must be an ``InvalidInput`` with a stable code, whichever format it came in.
"""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cairn.core.binary_batch import decode_batch
from cairn.core.errors import InvalidInput, InvalidRequest, InvalidValue
from cairn.core.limits import MAX_INT64, MIN_INT64, check_int64
from cairn.core.metrics import MetricBatch
from cairn.core.wire import batch_from_wire

#: Integers no store column holds: beyond 64 bits either way, far beyond too.
beyond_int64 = st.one_of(
    st.integers(min_value=MAX_INT64 + 1),
    st.integers(max_value=MIN_INT64 - 1),
    st.sampled_from([2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30]),
)


@given(st.integers(MIN_INT64, MAX_INT64))
def test_every_int64_passes(value: int) -> None:
    assert check_int64(value, "n") == value
    assert check_int64(np.int64(value), "n") == value


@given(beyond_int64)
def test_an_integer_beyond_64_bits_is_invalid_value(value: int) -> None:
    with pytest.raises(InvalidValue, match="does not fit in 64 bits") as raised:
        check_int64(value, "seq")
    assert raised.value.code == "invalid_value"
    assert raised.value.details["field"] == "seq"


@pytest.mark.parametrize("value", [True, 1.0, "1", None, [1]])
def test_only_integers_pass(value: object) -> None:
    with pytest.raises(InvalidValue, match="must be an integer"):
        check_int64(value, "seq")


def test_a_minimum_is_named_in_the_message_and_the_caller_may_name_the_error() -> None:
    with pytest.raises(InvalidValue, match="size -1 must be at least 0"):
        check_int64(-1, "size", minimum=0)
    with pytest.raises(InvalidRequest, match="seq -1 must be at least 0"):
        check_int64(-1, "seq", minimum=0, error=InvalidRequest)


def _json_batch(seq: int = 0, step: int = 0, timestamp: int = 0) -> object:
    # Through the JSON text, as the server receives it (orjson reads up to 64 unsigned bits).
    text = (
        f'{{"client_id": "c", "seq": {seq}, "metrics": '
        f'[{{"key": "m", "steps": [{step}], "timestamps": [{timestamp}], "values": [1.0]}}]}}'
    )
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pytest.skip("orjson itself refuses integers past 64 unsigned bits")


@given(value=st.one_of(beyond_int64, st.integers(max_value=-1)))
def test_json_batch_with_seq_out_of_range_is_refused(value: int) -> None:
    data = {"client_id": "c", "seq": value, "metrics": []}
    with pytest.raises(InvalidInput):
        batch_from_wire(data)


@given(value=beyond_int64)
def test_json_batch_with_a_step_or_timestamp_beyond_64_bits_is_refused(value: int) -> None:
    column = {"key": "m", "steps": [0, value], "timestamps": [0, 0], "values": [1.0, 2.0]}
    with pytest.raises(InvalidInput):
        batch_from_wire({"client_id": "c", "seq": 0, "metrics": [column]})
    column = {"key": "m", "steps": [0, 1], "timestamps": [0, value], "values": [1.0, 2.0]}
    with pytest.raises(InvalidInput):
        batch_from_wire({"client_id": "c", "seq": 0, "metrics": [column]})


def test_the_seq_of_the_hostile_report_is_refused_from_json_text() -> None:
    with pytest.raises(InvalidRequest, match="seq 9223372036854775808 does not fit in 64 bits"):
        batch_from_wire(_json_batch(seq=2**63))


def _binary_body(header: bytes) -> bytes:
    return b"CRNB\x01" + struct.pack("<I", len(header)) + header


@given(value=st.one_of(beyond_int64, st.integers(max_value=-1)))
def test_binary_batch_with_seq_or_count_out_of_range_is_refused(value: int) -> None:
    # The header is JSON: write the integer as text, as a hostile client would.
    for header in (
        f'{{"client_id": "c", "seq": {value}, "metrics": []}}',
        f'{{"client_id": "c", "seq": 0, "metrics": [{{"key": "m", "count": {value}}}]}}',
    ):
        with pytest.raises(InvalidInput):
            decode_batch(_binary_body(header.encode()))


def test_a_batch_built_in_process_is_held_to_the_same_seq_bounds() -> None:
    for seq in (-1, 2**63):
        with pytest.raises(InvalidRequest):
            MetricBatch(client_id="c", seq=seq, columns=[]).check()
