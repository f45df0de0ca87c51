"""Request bounds every backend enforces alike: integers that fit in 64 bits, and at most
``MAX_ITEMS_PER_REQUEST`` params or tags however they arrive (at creation or later)."""

from __future__ import annotations

import pytest

from cairn.core.artifacts import DatasetSpec
from cairn.core.errors import InvalidInput, InvalidRequest
from cairn.core.limits import MAX_INT64
from cairn.service.interface import Tracking

from .helpers import batch, columns

DIGEST = "0" * 64


@pytest.mark.parametrize("seq", [MAX_INT64 + 1, 2**64 - 1])
def test_a_seq_beyond_64_bits_is_refused_and_nothing_is_stored(tracking: Tracking, seq: int) -> None:
    run = tracking.create_run("p")
    with pytest.raises(InvalidRequest, match="seq"):
        tracking.log_metrics(run.id, batch(columns("loss", [0], [1.0]), seq=seq))
    assert tracking.get_metric_history(run.id, "loss").total == 0
    # The largest seq there is still works.
    tracking.log_metrics(run.id, batch(columns("loss", [0], [1.0]), seq=MAX_INT64))
    assert tracking.get_metric_history(run.id, "loss").total == 1


def test_dataset_counts_beyond_64_bits_are_refused(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    for counts in ({"rows": MAX_INT64 + 1}, {"columns": MAX_INT64 + 1}, {"rows": -1}):
        spec = DatasetSpec(name="d", digest=DIGEST, source_uri="", source_kind="file", **counts)
        with pytest.raises(InvalidInput):
            tracking.log_dataset(run.id, spec)
    assert tracking.run_inputs(run.id) == []
