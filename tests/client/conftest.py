"""Fixtures for the SDK tests: a store that fails on demand and where its writer spools."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_doubles import FlakyTracking

from cairn.settings import cairn_home


@pytest.fixture
def flaky(tmp_path: Path) -> Iterator[FlakyTracking]:
    tracking = FlakyTracking(tmp_path / "flaky.db")
    try:
        yield tracking
    finally:
        tracking.really_close()


@pytest.fixture
def spool_root(clean_environ: Path) -> Path:
    """Where ``cairn.init`` spools: ``CAIRN_HOME/spool`` (CAIRN_HOME is per test)."""
    return cairn_home() / "spool"
