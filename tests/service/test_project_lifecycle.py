"""Renaming, deleting, restoring and tagging a project (MLflow's experiment calls): its runs
and roles follow it, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.access_helpers import Team

from cairn.core.access import Role
from cairn.core.errors import AlreadyExists, Conflict, InvalidValue, NotFound, PermissionDenied, ProjectNotFound
from cairn.service.policy import Principal, RolePolicy
from cairn.service.tracking import TrackingService
from cairn.store.base import MetadataStore
from cairn.store.sql import SqlStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    if request.param == "sqlite":
        sqlite = SqlStore(str(tmp_path / "rename.db"))
        yield sqlite
        sqlite.close()
    else:
        yield request.getfixturevalue("postgres_store")


def _acting(store: MetadataStore, name: str) -> TrackingService:
    return TrackingService(store, Principal(name, authenticated=True), RolePolicy(store))


def test_a_renamed_project_keeps_its_id_runs_and_roles(store: MetadataStore) -> None:
    team = Team(store)
    for name in ("owner", "editor"):
        team.user(name, password=None)
    owner, editor = _acting(store, "owner"), _acting(store, "editor")
    run = owner.create_run("before")
    team.grant("editor", Role.EDITOR, project="before")
    project = owner.get_project("before")

    renamed = owner.rename_project(project.id, "after")
    assert (renamed.id, renamed.name, renamed.run_count) == (project.id, "after", 1)
    assert owner.get_run(run.id).project == "after"
    with pytest.raises(ProjectNotFound):
        owner.get_project("before")
    # The roles moved with the name: the editor still logs, and still may not rename.
    editor.create_run("after")
    with pytest.raises(PermissionDenied):
        editor.rename_project("after", "again")
    assert [p.name for p in owner.list_projects()] == ["after"]
    renamed_event = team.admin.list_events(types=["project.renamed"]).items
    assert [(e.subject, e.actor, e.data) for e in renamed_event] == [
        ("projects/after", "owner", {"from": "before", "to": "after"})
    ]


def test_a_rename_to_a_taken_or_bad_name_is_refused(store: MetadataStore) -> None:
    service = TrackingService(store, Principal("local"))
    service.create_project("one")
    service.create_project("two")
    with pytest.raises(AlreadyExists):
        service.rename_project("one", "two")
    with pytest.raises(InvalidValue):
        service.rename_project("one", "")
    with pytest.raises(ProjectNotFound):
        service.rename_project("three", "four")
    assert service.rename_project("one", "one").name == "one"
    assert sorted(p.name for p in service.list_projects()) == ["one", "two"]


def test_a_deleted_project_leaves_listings_and_takes_no_runs_until_restored(store: MetadataStore) -> None:
    team = Team(store)
    for name in ("owner", "editor"):
        team.user(name, password=None)
    owner, editor = _acting(store, "owner"), _acting(store, "editor")
    run = owner.create_run("gone")
    team.grant("editor", Role.EDITOR, project="gone")
    with pytest.raises(PermissionDenied):
        editor.delete_project("gone")

    deleted = owner.delete_project("gone")
    assert deleted.deleted and owner.get_run(run.id).deleted
    assert owner.list_projects() == []
    assert [p.name for p in owner.list_projects(include_deleted=True)] == ["gone"]
    with pytest.raises(InvalidValue, match="deleted"):
        owner.create_run("gone")
    with pytest.raises(Conflict):
        owner.rename_project("gone", "elsewhere")

    restored = owner.restore_project(deleted.id)
    assert not restored.deleted and not owner.get_run(run.id).deleted
    assert owner.create_run("gone").project == "gone"
    types = [e.type.value for e in team.admin.list_events(subject="projects/gone").items]
    assert types[:2] == ["project.restored", "project.deleted"]


def test_project_tags(store: MetadataStore) -> None:
    service = TrackingService(store, Principal("local"))
    project = service.create_project("tagged", tags={"team": "vision"})
    service.set_project_tags("tagged", {"team": "nlp", "ünï": "✓"})
    assert service.project_tags(project.id) == {"team": "nlp", "ünï": "✓"}
    service.delete_project_tag("tagged", "team")
    assert service.project_tags("tagged") == {"ünï": "✓"}
    with pytest.raises(NotFound):
        service.delete_project_tag("tagged", "team")
    with pytest.raises(InvalidValue):
        service.set_project_tags("tagged", {"long": "x" * 6001})
