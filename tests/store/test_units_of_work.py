"""``store.atomic()``: a change and its event are kept together or not at all, on SQLite and
PostgreSQL; store methods inside a unit read back what it wrote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.core.errors import ModelNotFound
from cairn.core.events import EventType
from cairn.store.sql import SqlStore


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "postgresql":
        yield request.getfixturevalue("postgres_store")
        return
    opened = SqlStore(str(tmp_path / "units.db"))
    try:
        yield opened
    finally:
        opened.close()


class Boom(Exception):
    pass


def test_an_error_inside_a_unit_keeps_nothing(store: SqlStore) -> None:
    with pytest.raises(Boom), store.atomic():
        store.create_model("half-made", "", {})
        store.append_event(EventType.MODEL_CREATED, "models/half-made", "ada", {"name": "half-made"})
        raise Boom
    with pytest.raises(ModelNotFound):
        store.get_model("half-made")
    found = store.list_events(
        types=None,
        subject="models/half-made",
        subject_prefix=False,
        actor=None,
        since=None,
        until=None,
        before_seq=None,
        limit=10,
    )
    assert found == []


def test_a_unit_reads_its_own_writes_and_commits_once(store: SqlStore) -> None:
    with store.atomic():
        made = store.create_model("whole", "first", {"team": "risk"})
        # Read back inside the unit, before it commits: the store's reads join it.
        assert store.get_model("whole") == made
        event = store.append_event(EventType.MODEL_CREATED, "models/whole", "ada", {"name": "whole"})
    assert store.get_model("whole").tags == {"team": "risk"}
    kept = store.list_events(
        types={EventType.MODEL_CREATED},
        subject="models/whole",
        subject_prefix=False,
        actor="ada",
        since=None,
        until=None,
        before_seq=None,
        limit=10,
    )
    assert kept == [event]
