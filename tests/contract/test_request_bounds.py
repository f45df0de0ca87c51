"""Request bounds every backend enforces alike: integers that fit in 64 bits, and at most
``MAX_ITEMS_PER_REQUEST`` params or tags however they arrive (at creation or later)."""

from __future__ import annotations

import pytest

from cairn.core.artifacts import DatasetSpec
from cairn.core.errors import InvalidInput, InvalidRequest
from cairn.core.limits import MAX_INT64, MAX_ITEMS_PER_REQUEST
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


def test_a_config_past_the_item_limit_is_refused_at_creation_like_params_later(tracking: Tracking) -> None:
    too_many = {f"k{i}": i for i in range(MAX_ITEMS_PER_REQUEST + 1)}
    for config in (too_many, {"nested": too_many}):  # flattened keys are what count
        with pytest.raises(InvalidRequest, match=f"at most {MAX_ITEMS_PER_REQUEST} params per request"):
            tracking.create_run("p", config=config)
    with pytest.raises(InvalidRequest, match=f"at most {MAX_ITEMS_PER_REQUEST} tags per request"):
        tracking.create_run("p", tags={f"t{i}": "v" for i in range(MAX_ITEMS_PER_REQUEST + 1)})
    assert not _project_exists(tracking, "p")  # refused before anything was written
    run = tracking.create_run("p", config={f"k{i}": i for i in range(MAX_ITEMS_PER_REQUEST)})
    assert len(tracking.get_run(run.id).params) == MAX_ITEMS_PER_REQUEST
    with pytest.raises(InvalidRequest, match="params per request"):
        tracking.log_params(run.id, {f"more{i}": i for i in range(MAX_ITEMS_PER_REQUEST + 1)})
    assert len(tracking.get_run(run.id).params) == MAX_ITEMS_PER_REQUEST


def _project_exists(tracking: Tracking, name: str) -> bool:
    return name in [project.name for project in tracking.list_projects()]
