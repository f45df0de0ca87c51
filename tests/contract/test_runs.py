"""Runs: creation, names, nesting, updates, the status machine, deletion and paging."""

from __future__ import annotations

import re
import uuid

import pytest
from tests.access_helpers import TESTER
from tests.contract.helpers import signed_in

from cairn.core.clock import now_ms
from cairn.core.entities import Run, RunStatus, RunUpdate
from cairn.core.errors import AlreadyExists, InvalidInput, InvalidValue, RunNotActive, RunNotFound
from cairn.service.interface import Tracking

READABLE_NAME = re.compile(r"^[a-z]+-[a-z]+-\d{1,2}$")
UNKNOWN_ID = "0" * 32


def _ids(runs: list[Run]) -> list[str]:
    return [r.id for r in runs]


def test_create_with_defaults(tracking: Tracking) -> None:
    before = now_ms()
    run = tracking.create_run("p")
    assert READABLE_NAME.match(run.name), run.name
    assert run.user  # whoever the backend acts for
    assert run.status is RunStatus.RUNNING
    assert before - 1000 <= run.start_time <= now_ms() + 1000
    assert run.end_time is None
    assert run.duration_ms is None
    assert run.parent_id is None
    assert run.notes == ""
    assert run.deleted is False
    assert (run.params, run.tags, run.metrics) == ({}, {}, {})
    assert tracking.get_run(run.id) == run

    names = {tracking.create_run("p").name for _ in range(8)}
    assert len(names) > 1
    assert all(READABLE_NAME.match(name) for name in names)


def test_create_with_everything(tracking: Tracking) -> None:
    run = tracking.create_run(
        "p",
        name="baseline",
        user="alice",
        config={"lr": 0.1},
        tags={"team": "vision"},
        notes="first try\nwith a second line",
        start_time=1_700_000_000_000,
    )
    assert run.name == "baseline"
    # Signed in, a run is the signed-in user's whatever name the client sends.
    assert run.user == (TESTER if signed_in(tracking) else "alice")
    assert run.notes == "first try\nwith a second line"
    assert run.start_time == 1_700_000_000_000
    assert run.params == {"lr": 0.1}
    assert run.tags == {"team": "vision"}
    assert tracking.get_run(run.id) == run


def test_nested_runs(tracking: Tracking) -> None:
    parent = tracking.create_run("p", name="sweep")
    child = tracking.create_run("p", name="trial-1", parent_id=parent.id)
    grandchild = tracking.create_run("p", name="fold-1", parent_id=child.id)
    assert child.parent_id == parent.id
    assert tracking.get_run(grandchild.id).parent_id == child.id
    assert tracking.get_run(parent.id).parent_id is None

    with pytest.raises(RunNotFound):
        tracking.create_run("orphans", parent_id=UNKNOWN_ID)
    assert "orphans" not in [p.name for p in tracking.list_projects()]
    assert len(tracking.list_runs("p").items) == 3


def test_update_name_and_notes(tracking: Tracking) -> None:
    run = tracking.create_run("p", name="before", notes="old")
    updated = tracking.update_run(run.id, RunUpdate(name="after"))
    assert (updated.name, updated.notes) == ("after", "old")
    updated = tracking.update_run(run.id, RunUpdate(notes="new notes"))
    assert (updated.name, updated.notes) == ("after", "new notes")
    assert updated.status is RunStatus.RUNNING
    assert updated.end_time is None
    assert tracking.get_run(run.id) == updated


def test_terminal_status_sets_end_time(tracking: Tracking) -> None:
    for status in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED):
        run = tracking.create_run("p")
        ended = tracking.update_run(run.id, RunUpdate(status=status))
        assert ended.status is status
        assert ended.end_time is not None
        assert run.start_time <= ended.end_time <= now_ms() + 1000
        assert ended.duration_ms == ended.end_time - ended.start_time
        assert tracking.get_run(run.id) == ended


def test_explicit_end_time(tracking: Tracking) -> None:
    run = tracking.create_run("p", start_time=1_000)
    with pytest.raises(InvalidValue):
        tracking.update_run(run.id, RunUpdate(status=RunStatus.FINISHED, end_time=999))
    assert tracking.get_run(run.id).status is RunStatus.RUNNING

    ended = tracking.update_run(run.id, RunUpdate(status=RunStatus.FINISHED, end_time=4_500))
    assert ended.end_time == 4_500
    assert ended.duration_ms == 3_500


def test_an_ended_run_does_not_run_again(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    finished = tracking.update_run(run.id, RunUpdate(status=RunStatus.FINISHED))
    with pytest.raises(RunNotActive):
        tracking.update_run(run.id, RunUpdate(status=RunStatus.RUNNING))
    with pytest.raises(RunNotActive):
        tracking.update_run(run.id, RunUpdate(status=RunStatus.FAILED))
    assert tracking.get_run(run.id) == finished

    # Finishing again the same way is a no-op, and the end time stays.
    again = tracking.update_run(run.id, RunUpdate(status=RunStatus.FINISHED))
    assert again.end_time == finished.end_time
    # Name and notes may still change after the end (people annotate runs afterwards).
    renamed = tracking.update_run(run.id, RunUpdate(name="the good one", notes="best so far"))
    assert (renamed.name, renamed.notes) == ("the good one", "best so far")
    assert (renamed.status, renamed.end_time) == (RunStatus.FINISHED, finished.end_time)


def test_delete_hides_and_restore_brings_back(tracking: Tracking) -> None:
    keep = tracking.create_run("p", start_time=1_000)
    gone = tracking.create_run("p", start_time=2_000, name="before")

    deleted = tracking.delete_run(gone.id)
    assert deleted.deleted is True
    assert tracking.get_run(gone.id).deleted is True
    assert _ids(tracking.list_runs("p").items) == [keep.id]
    assert _ids(tracking.list_runs("p", include_deleted=True).items) == [gone.id, keep.id]
    # A deleted run is read-only until it is restored.
    with pytest.raises(RunNotActive):
        tracking.update_run(gone.id, RunUpdate(name="after"))

    restored = tracking.restore_run(gone.id)
    assert restored.deleted is False
    assert restored.name == "before"
    assert _ids(tracking.list_runs("p").items) == [gone.id, keep.id]


def test_list_runs_is_newest_first_and_per_project(tracking: Tracking) -> None:
    older = tracking.create_run("p", start_time=1_000)
    newer = tracking.create_run("p", start_time=2_000)
    tracking.create_run("other", start_time=3_000)
    page = tracking.list_runs("p")
    assert _ids(page.items) == [newer.id, older.id]
    assert page.next_page_token is None


def _all_pages(tracking: Tracking, project: str, limit: int, *, include_deleted: bool = False) -> list[str]:
    seen: list[str] = []
    token: str | None = None
    while True:
        page = tracking.list_runs(project, limit=limit, page_token=token, include_deleted=include_deleted)
        assert len(page.items) <= limit
        seen.extend(_ids(page.items))
        token = page.next_page_token
        if token is None:
            return seen


def test_paging_is_stable_while_runs_are_added(tracking: Tracking) -> None:
    originals = [tracking.create_run("p", start_time=1_000 * i) for i in range(1, 8)]
    expected = _ids(sorted(originals, key=lambda r: r.start_time, reverse=True))

    seen: list[str] = []
    page = tracking.list_runs("p", limit=3)
    while True:
        assert len(page.items) <= 3
        seen.extend(_ids(page.items))
        if page.next_page_token is None:
            break
        # New runs arrive between pages; they must neither shift nor repeat what follows.
        tracking.create_run("p")
        tracking.create_run("p")
        page = tracking.list_runs("p", limit=3, page_token=page.next_page_token)
    assert seen == expected


def test_paging_with_ties_and_deleted_runs(tracking: Tracking) -> None:
    tied = [tracking.create_run("tied", start_time=42_000) for _ in range(7)]
    seen = _all_pages(tracking, "tied", limit=2)
    assert sorted(seen) == sorted(_ids(tied))
    assert len(seen) == len(set(seen))

    runs = [tracking.create_run("p", start_time=1_000 * i) for i in range(1, 7)]
    tracking.delete_run(runs[2].id)
    live = [r.id for r in reversed(runs) if r.id != runs[2].id]
    assert _all_pages(tracking, "p", limit=5) == live
    assert tracking.list_runs("p", limit=5).next_page_token is None  # exactly one full page
    assert _all_pages(tracking, "p", limit=3, include_deleted=True) == [r.id for r in reversed(runs)]


def test_a_client_chosen_id_is_kept_and_creating_it_again_returns_the_same_run(tracking: Tracking) -> None:
    chosen = uuid.uuid4().hex
    run = tracking.create_run("offline", run_id=chosen, name="first", config={"lr": 0.1}, tags={"a": "1"})
    assert run.id == chosen and run.name == "first"
    again = tracking.create_run("offline", run_id=chosen, name="second", config={"lr": 0.2})
    assert (again.id, again.name, again.params) == (chosen, "first", {"lr": 0.1})
    assert [r.id for r in tracking.list_runs("offline").items] == [chosen]
    with pytest.raises(AlreadyExists):
        tracking.create_run("elsewhere", run_id=chosen)
    for bad in ("ABC", "0" * 31, "0" * 33, "../" + "0" * 29, "0" * 31 + "\x00"):
        with pytest.raises(InvalidInput):
            tracking.create_run("offline", run_id=bad)
