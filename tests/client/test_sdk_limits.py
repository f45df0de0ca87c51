"""The SDK against the request limits: what a call can never store is refused where it is made,
and what it can is stored whole, embedded and through a server alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from store_doubles import warnings_in

import cairn
from cairn.client.connect import connect
from cairn.core.errors import InvalidValue
from cairn.core.limits import MAX_CONFIG_DEPTH, MAX_ITEMS_PER_REQUEST

#: One more than a request may carry, as in the hostile report; and a config of several requests.
JUST_PAST = MAX_ITEMS_PER_REQUEST + 1
SEVERAL = 2 * MAX_ITEMS_PER_REQUEST + 5


@pytest.fixture(params=["embedded", "http"])
def where(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, clean_environ: Path) -> str:
    if request.param == "http":
        monkeypatch.setenv("CAIRN_URI", request.getfixturevalue("server").url)
    return str(request.param)


def _nested(depth: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value  # type: ignore[no-any-return]


def test_a_config_nested_ten_thousand_deep_is_refused_by_init(where: str) -> None:
    with pytest.raises(InvalidValue, match=f"nested more than {MAX_CONFIG_DEPTH} levels"):
        cairn.init("deep", config=_nested(10_000))
    with cairn.Api() as api:
        assert [p.name for p in api.projects()] == []  # nothing was created


def test_params_nested_ten_thousand_deep_are_refused_by_log_params(where: str) -> None:
    with cairn.init("deep", flush_interval=0.05) as run:
        with pytest.raises(InvalidValue, match="nested more than"):
            run.log_params(_nested(10_000))
        with pytest.raises(InvalidValue, match="nested more than"):
            run.config["deep"] = [_nested(10_000)]
        assert dict(run.config) == {}


# -- calls past the request limit are sent in requests within it ------------------------------


def test_set_tags_and_log_params_past_the_item_limit_store_everything(where: str) -> None:
    tags = {f"tag{i}": str(i) for i in range(JUST_PAST)}
    params = {f"p{i}": i for i in range(JUST_PAST)}
    with cairn.init("big", flush_interval=0.05) as run:
        run.set_tags(tags)
        run.log_params(params)
        assert run.flush(timeout=60)
        assert len(run.config) == JUST_PAST
    run.set_tags({f"after{i}": "end" for i in range(JUST_PAST)})  # after the end: sent directly
    with cairn.Api() as api:
        stored = api.run(run.id)
    assert stored.params == params
    assert {k: v for k, v in stored.tags.items() if k.startswith("tag")} == tags
    assert sum(k.startswith("after") for k in stored.tags) == JUST_PAST


def test_init_with_a_config_and_tags_past_the_item_limit_stores_all_of_them(where: str) -> None:
    config = {"model": {f"layer{i}": i for i in range(SEVERAL)}}
    tags = {f"t{i}": "x" for i in range(JUST_PAST)}
    with cairn.init("big", config=config, tags=tags, flush_interval=0.05) as run:
        assert len(run.config) == SEVERAL
        assert run.config["model.layer20004"] == 20004
    with cairn.Api() as api:
        stored = api.run(run.id)
    assert stored.params == {f"model.layer{i}": i for i in range(SEVERAL)}
    assert stored.tags == tags


# -- a write the store refuses is never lost quietly ------------------------------------------


def test_each_refused_write_warns_with_what_was_lost_and_config_does_not_claim_it(
    where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cairn.init("refused", config={"lr": 0.1}, flush_interval=0.05)
    other = connect()  # another process that logs the same params first, with other values
    try:
        other.log_params(run.id, {"seed": 1})
        run.log_params({"seed": 2, "batch": 64})
        run.flush(timeout=30)
        first = warnings_in(capsys.readouterr().err)
        other.log_params(run.id, {"dropout": 0.5})
        run.config["dropout"] = 0.1
        run.flush(timeout=30)
        second = warnings_in(capsys.readouterr().err)
    finally:
        other.close()
        run.finish()
    # Each loss has its own warning, naming what was lost; the second is not hidden by the first.
    assert len(first) == 1 and "2 params ('seed', 'batch')" in first[0] and "not stored" in first[0], first
    assert len(second) == 1 and "1 param ('dropout')" in second[0], second
    # run.config shows what the store holds, not what it refused.
    assert dict(run.config) == {"lr": 0.1}
    with cairn.Api() as api:
        assert api.run(run.id).params == {"lr": 0.1, "seed": 1, "dropout": 0.5}


def test_many_refusals_of_one_cause_are_told_a_few_times_then_summed_up(
    where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cairn.init("refused", flush_interval=0.05)
    other = connect()
    try:
        other.delete_run(run.id)  # someone deletes the run while it trains
        for step in range(6):
            run.log({"loss": float(step)}, step=step)
            run.flush(timeout=30)  # one batch, one refusal each
    finally:
        other.close()
    run.finish()
    warned = warnings_in(capsys.readouterr().err)
    told = [line for line in warned if "metric points of 'loss'" in line]
    assert len(told) == 3 and "counted and reported when the run ends" in told[-1], warned
    assert f"run {run.id}: the store also refused 3 more metrics writes, 3 metric points in all" in warned[-1]
