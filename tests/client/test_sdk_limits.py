"""The SDK against the request limits: what a call can never store is refused where it is made,
and what it can is stored whole, embedded and through a server alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import cairn
from cairn.core.errors import InvalidValue
from cairn.core.limits import MAX_CONFIG_DEPTH


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
