"""Projects: create, get, list with run counts and activity, and the errors around them."""

from __future__ import annotations

import pytest

from cairn.core.clock import now_ms
from cairn.core.entities import RunStatus, RunUpdate
from cairn.core.errors import AlreadyExists, ProjectNotFound
from cairn.service.interface import Tracking


def test_create_and_get(tracking: Tracking) -> None:
    before = now_ms()
    created = tracking.create_project("mnist", "digits, again")
    assert created.name == "mnist"
    assert created.description == "digits, again"
    assert created.id
    assert before - 1000 <= created.created_at <= now_ms() + 1000
    assert created.run_count == 0
    assert created.last_activity is None

    fetched = tracking.get_project("mnist")
    assert fetched == created

    for name in ("team/vision mnist", "café ☕"):
        tracking.create_project(name)
        assert tracking.get_project(name).name == name


def test_duplicate_name_is_refused(tracking: Tracking) -> None:
    first = tracking.create_project("dup", "first")
    with pytest.raises(AlreadyExists):
        tracking.create_project("dup", "second")
    assert [p.name for p in tracking.list_projects()] == ["dup"]
    assert tracking.get_project("dup") == first


def test_unknown_project(tracking: Tracking) -> None:
    with pytest.raises(ProjectNotFound):
        tracking.get_project("nowhere")
    with pytest.raises(ProjectNotFound):
        tracking.list_runs("nowhere")


def test_list_counts_runs_and_last_activity(tracking: Tracking) -> None:
    tracking.create_project("empty")
    first = tracking.create_run("busy", start_time=1_000)
    tracking.create_run("busy", start_time=3_000)
    tracking.update_run(first.id, RunUpdate(status=RunStatus.FINISHED, end_time=5_000))
    deleted = tracking.create_run("busy", start_time=9_000)
    tracking.delete_run(deleted.id)

    projects = {p.name: p for p in tracking.list_projects()}
    assert set(projects) == {"empty", "busy"}
    assert projects["empty"].run_count == 0
    assert projects["empty"].last_activity is None
    # Deleted runs neither count nor make a project look active.
    assert projects["busy"].run_count == 2
    assert projects["busy"].last_activity == 5_000
    assert tracking.get_project("busy") == projects["busy"]

    tracking.restore_run(deleted.id)
    busy = tracking.get_project("busy")
    assert busy.run_count == 3
    assert busy.last_activity == 9_000

    tracking.create_project("newest")
    created = [p.created_at for p in tracking.list_projects()]
    assert len(created) == 3
    assert created == sorted(created, reverse=True)  # newest first


def test_a_run_creates_its_project(tracking: Tracking) -> None:
    with pytest.raises(ProjectNotFound):
        tracking.get_project("auto")
    run = tracking.create_run("auto")
    project = tracking.get_project("auto")
    assert run.project == "auto"
    assert run.project_id == project.id
    assert project.run_count == 1
    # A second run joins the same project instead of failing or creating another.
    second = tracking.create_run("auto")
    assert second.project_id == project.id
    assert [p.name for p in tracking.list_projects()] == ["auto"]
    assert tracking.get_project("auto").run_count == 2
