"""Bad input: each gives its typed error and leaves nothing half-written, on every backend."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from cairn.core.entities import RunStatus, RunUpdate
from cairn.core.errors import (
    CairnError,
    InvalidInput,
    InvalidKey,
    InvalidRequest,
    InvalidValue,
    RunNotActive,
    RunNotFound,
)
from cairn.core.limits import (
    MAX_HISTORY_POINTS,
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_NOTES_LENGTH,
    MAX_PAGE_SIZE,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
)
from cairn.core.metrics import MetricColumns
from cairn.service.interface import Tracking

from .helpers import batch, columns, raw_columns

BAD_KEYS = (
    "",  # empty
    "k" * (MAX_KEY_LENGTH + 1),  # one past the limit
    "loss\nval",  # control characters: newline, NUL, tab, DEL
    "loss\x00",
    "a\tb",
    "a\x7fb",
)
UNKNOWN_ID = "0" * 32


def _nothing_logged(tracking: Tracking, run_id: str) -> None:
    run = tracking.get_run(run_id)
    assert run.params == {}
    assert run.tags == {}
    assert run.metrics == {}
    for key in ("good", "also_good"):
        assert tracking.get_metric_history(run_id, key).total == 0


# -- keys --------------------------------------------------------------------------------------


def test_bad_keys_are_refused_everywhere(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    for key in BAD_KEYS:
        with pytest.raises(InvalidKey):
            tracking.log_params(run.id, {"good": 1, key: 2})
        with pytest.raises(InvalidKey):
            tracking.set_tags(run.id, {"good": "1", key: "2"})
        with pytest.raises(InvalidKey):
            tracking.log_metrics(
                run.id,
                batch(
                    columns("good", [0], [1.0]),
                    raw_columns(key, np.array([0]), np.array([1.0])),
                    columns("also_good", [0], [1.0]),
                ),
            )
        _nothing_logged(tracking, run.id)
        with pytest.raises(InvalidKey):
            tracking.get_metric_history(run.id, key)
        # The SDK's own column builder refuses it before anything is sent.
        with pytest.raises(InvalidKey, match="metric"):
            MetricColumns.from_lists(key, [0], [0], [1.0])


def test_a_bad_key_at_creation_creates_nothing(tracking: Tracking) -> None:
    with pytest.raises(InvalidKey):
        tracking.create_run("p", config={"ok": 1, "nested": {"bad\nkey": 2}})
    with pytest.raises(InvalidKey):
        tracking.create_run("p", tags={"ok": "1", "": "2"})
    assert [p.name for p in tracking.list_projects()] == []


def test_a_bad_tag_key_cannot_be_deleted(tracking: Tracking) -> None:
    run = tracking.create_run("p", tags={"a": "1"})
    for key in ("k" * (MAX_KEY_LENGTH + 1), "a\nb"):
        with pytest.raises(InvalidKey):
            tracking.delete_tag(run.id, key)
    assert tracking.get_run(run.id).tags == {"a": "1"}


def test_keys_at_the_limit_are_fine(tracking: Tracking) -> None:
    key = "k" * MAX_KEY_LENGTH
    run = tracking.create_run("p", config={key: 1}, tags={key: "v"})
    tracking.log_metrics(run.id, batch(columns(key, [0], [1.0])))
    stored = tracking.get_run(run.id)
    assert (list(stored.params), list(stored.tags), list(stored.metrics)) == ([key], [key], [key])
    assert tracking.get_metric_history(run.id, key).total == 1


# -- values ------------------------------------------------------------------------------------


def test_param_value_over_the_limit(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    with pytest.raises(InvalidValue):
        tracking.log_params(run.id, {"good": 1, "long": "x" * (MAX_PARAM_VALUE_LENGTH + 1)})
    with pytest.raises(InvalidValue):
        # A list whose JSON text is over the limit counts too.
        tracking.log_params(run.id, {"good": 1, "list": list(range(MAX_PARAM_VALUE_LENGTH))})
    with pytest.raises(InvalidValue):
        tracking.create_run("p", config={"good": 1, "long": "x" * (MAX_PARAM_VALUE_LENGTH + 1)})
    _nothing_logged(tracking, run.id)
    assert len(tracking.list_runs("p").items) == 1

    tracking.log_params(run.id, {"at_limit": "x" * MAX_PARAM_VALUE_LENGTH})
    assert tracking.get_run(run.id).params == {"at_limit": "x" * MAX_PARAM_VALUE_LENGTH}


def test_tag_value_over_the_limit(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    with pytest.raises(InvalidValue):
        tracking.set_tags(run.id, {"good": "1", "long": "x" * (MAX_TAG_VALUE_LENGTH + 1)})
    _nothing_logged(tracking, run.id)
    tracking.set_tags(run.id, {"at_limit": "x" * MAX_TAG_VALUE_LENGTH})
    assert tracking.get_run(run.id).tags == {"at_limit": "x" * MAX_TAG_VALUE_LENGTH}


def test_nul_characters_in_text_values(tracking: Tracking) -> None:
    # PostgreSQL cannot store NUL in text; every backend refuses it the same way.
    run = tracking.create_run("p")
    with pytest.raises(InvalidValue):
        tracking.set_tags(run.id, {"good": "1", "t": "a\x00b"})
    with pytest.raises(InvalidValue):
        tracking.log_params(run.id, {"good": 1, "p": "a\x00b"})
    with pytest.raises(InvalidValue):
        tracking.update_run(run.id, RunUpdate(notes="a\x00b"))
    with pytest.raises(InvalidValue):
        tracking.create_run("p", notes="a\x00b")
    _nothing_logged(tracking, run.id)
    assert len(tracking.list_runs("p").items) == 1
    assert tracking.get_run(run.id).notes == ""


def test_ints_beyond_64_bits(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    for too_big in (2**63, -(2**63) - 1, 10**30):
        with pytest.raises(InvalidValue):
            tracking.log_params(run.id, {"good": 1, "big": too_big})
    _nothing_logged(tracking, run.id)


def test_non_numeric_metric_values(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    # The SDK refuses them when the columns are built: a batch holding one cannot be made.
    for value in ("abc", "nan", "", None, [1.0], {"v": 1}):
        with pytest.raises(InvalidValue):
            MetricColumns.from_lists("bad", [0, 1], [0, 0], [1.0, value])
    # A backend refuses columns that are not float64 numbers, with every other key of the batch.
    text = np.array(["1.0", "abc"])
    with pytest.raises(InvalidValue):
        tracking.log_metrics(run.id, batch(columns("good", [0], [1.0]), raw_columns("bad", np.array([0, 1]), text)))
    _nothing_logged(tracking, run.id)


def test_non_integer_steps(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    for steps in ([0.0, 1.5], [0.0, 1.0], [0, math.inf]):
        with pytest.raises(InvalidValue):
            MetricColumns.from_lists("bad", steps, [0, 0], [1.0, 2.0])
        bad = raw_columns("bad", np.array(steps), np.array([1.0, 2.0]))
        with pytest.raises(InvalidValue):
            tracking.log_metrics(run.id, batch(columns("good", [0], [1.0]), bad))
    _nothing_logged(tracking, run.id)


def test_a_batch_with_one_bad_column_stores_nothing_and_keeps_its_seq_free(
    tracking: Tracking,
) -> None:
    run = tracking.create_run("p")
    good = columns("good", [0, 1, 2], [1.0, 2.0, 3.0])
    also_good = columns("also_good", [0], [5.0])
    bad = raw_columns("", np.array([0]), np.array([1.0]))
    with pytest.raises(InvalidKey):
        tracking.log_metrics(run.id, batch(good, bad, also_good, client_id="w", seq=1))
    _nothing_logged(tracking, run.id)
    # The refused batch did not claim its (client_id, seq): the corrected resend is stored.
    result = tracking.log_metrics(run.id, batch(good, also_good, client_id="w", seq=1))
    assert (result.points, result.duplicate) == (4, False)
    assert tracking.get_metric_history(run.id, "good").total == 3


def test_mismatched_column_lengths(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    uneven = MetricColumns(
        key="bad",
        steps=np.array([0, 1, 2]),
        timestamps=np.array([0, 0, 0]),
        values=np.array([1.0, 2.0]),
    )
    with pytest.raises(InvalidRequest):
        tracking.log_metrics(run.id, batch(columns("good", [0], [1.0]), uneven))
    _nothing_logged(tracking, run.id)


# -- names and ids -----------------------------------------------------------------------------


def test_bad_run_fields_create_nothing(tracking: Tracking) -> None:
    bad_fields: list[dict[str, Any]] = [
        {"name": "n" * (MAX_NAME_LENGTH + 1)},
        {"name": "   "},
        {"name": "two\nlines"},
        {"user": ""},
        {"notes": "n" * (MAX_NOTES_LENGTH + 1)},
    ]
    for kwargs in bad_fields:
        with pytest.raises(InvalidInput):
            tracking.create_run("p", config={"a": 1}, **kwargs)
    assert tracking.list_projects() == []


def test_bad_project_names(tracking: Tracking) -> None:
    for name in ("", "   ", "x" * (MAX_NAME_LENGTH + 1), "a\nb"):
        with pytest.raises(InvalidInput):
            tracking.create_project(name)
        with pytest.raises(InvalidInput):
            tracking.create_run(name)
    assert tracking.list_projects() == []


def test_unknown_run_everywhere(tracking: Tracking) -> None:
    calls: list[Callable[[], object]] = [
        lambda: tracking.get_run(UNKNOWN_ID),
        lambda: tracking.update_run(UNKNOWN_ID, RunUpdate(name="x")),
        lambda: tracking.delete_run(UNKNOWN_ID),
        lambda: tracking.restore_run(UNKNOWN_ID),
        lambda: tracking.log_params(UNKNOWN_ID, {"a": 1}),
        lambda: tracking.set_tags(UNKNOWN_ID, {"a": "1"}),
        lambda: tracking.delete_tag(UNKNOWN_ID, "a"),
        lambda: tracking.log_metrics(UNKNOWN_ID, batch(columns("m", [0], [1.0]))),
        lambda: tracking.get_metric_history(UNKNOWN_ID, "m"),
        lambda: tracking.create_run("p", parent_id=UNKNOWN_ID),
    ]
    for call in calls:
        with pytest.raises(RunNotFound):
            call()
    assert tracking.list_projects() == []


# -- inactive runs -----------------------------------------------------------------------------


def test_logging_to_finished_and_deleted_runs(tracking: Tracking) -> None:
    finished = tracking.create_run("p")
    tracking.update_run(finished.id, RunUpdate(status=RunStatus.KILLED))
    deleted = tracking.create_run("p")
    tracking.delete_run(deleted.id)
    for run_id in (finished.id, deleted.id):
        with pytest.raises(RunNotActive):
            tracking.log_params(run_id, {"good": 1})
        with pytest.raises(RunNotActive):
            tracking.log_metrics(run_id, batch(columns("good", [0], [1.0])))
    with pytest.raises(RunNotActive):
        tracking.set_tags(deleted.id, {"good": "1"})
    _nothing_logged(tracking, finished.id)
    _nothing_logged(tracking, deleted.id)


# -- paging ------------------------------------------------------------------------------------


def test_limits_out_of_range(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    tracking.log_metrics(run.id, batch(columns("m", [0, 1], [1.0, 2.0])))
    calls: list[Callable[[], object]] = [
        lambda: tracking.list_runs("p", limit=0),
        lambda: tracking.list_runs("p", limit=-1),
        lambda: tracking.list_runs("p", limit=MAX_PAGE_SIZE + 1),
        lambda: tracking.list_runs("p", page_token="not a token"),
        lambda: tracking.get_metric_history(run.id, "m", limit=0),
        lambda: tracking.get_metric_history(run.id, "m", limit=MAX_HISTORY_POINTS + 1),
        lambda: tracking.get_metric_history(run.id, "m", offset=-1),
        lambda: tracking.get_metric_history(run.id, "m", max_points=0),
        lambda: tracking.get_metric_history(run.id, "m", max_points=MAX_HISTORY_POINTS + 1),
    ]
    for call in calls:
        with pytest.raises(InvalidRequest):
            call()
    assert len(tracking.list_runs("p", limit=MAX_PAGE_SIZE).items) == 1
    assert len(tracking.get_metric_history(run.id, "m", limit=1, max_points=1)) == 1


def test_errors_carry_a_code_and_a_message(tracking: Tracking) -> None:
    with pytest.raises(CairnError) as raised:
        tracking.get_run(UNKNOWN_ID)
    assert raised.value.code == "run_not_found"
    assert UNKNOWN_ID in raised.value.message
    assert raised.value.details == {"run_id": UNKNOWN_ID}
