"""The event log through the tracking interface: what each change records, the filters, paging,
and that a refused change records nothing (docs/events.md).

The HTTP and PostgreSQL backends share one store across tests, so each test reads back only
the subjects it made (names and run ids of its own).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from tests.contract.helpers import author_of
from tests.contract.test_registry import trained_run

from cairn.core.entities import RunStatus, RunUpdate
from cairn.core.errors import InvalidInput, InvalidPageToken, InvalidValue, ModelVersionNotFound, RunNotActive
from cairn.core.events import Event, EventType
from cairn.service.interface import Tracking


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def events_of(tracking: Tracking, subject: str, **filters: object) -> list[Event]:
    """Every event of ``subject`` (``PATH/*`` for those under it too), oldest first."""
    found = tracking.list_events(subject=subject, limit=10_000, **filters)  # type: ignore[arg-type]
    assert found.next_page_token is None
    return list(reversed(found.items))


def test_run_lifecycle_is_recorded(tracking: Tracking) -> None:
    run = tracking.create_run(unique("events"), name="first")
    tracking.update_run(run.id, RunUpdate(name="renamed"))
    tracking.set_tags(run.id, {"stage": "tuning"})
    tracking.delete_tag(run.id, "stage")
    tracking.update_run(run.id, RunUpdate(status=RunStatus.FINISHED))
    tracking.delete_run(run.id)
    tracking.restore_run(run.id)
    found = events_of(tracking, f"runs/{run.id}")
    assert [e.type for e in found] == [
        EventType.RUN_CREATED,
        EventType.RUN_UPDATED,
        EventType.RUN_TAG_SET,
        EventType.RUN_TAG_DELETED,
        EventType.RUN_STATUS_CHANGED,
        EventType.RUN_DELETED,
        EventType.RUN_RESTORED,
    ]
    assert found[1].data["name"] == "renamed" and found[2].data["tags"] == {"stage": "tuning"}
    created, finished = found[0], found[4]
    assert created.data["status"] == "running" and created.data["name"] == "first"
    assert created.data["project"] == run.project and created.data["run_id"] == run.id
    assert finished.data["from_status"] == "running" and finished.data["status"] == "finished"
    assert finished.data["end_time"] is not None
    assert {e.actor for e in found} == {author_of(tracking)}
    assert [e.seq for e in found] == sorted(e.seq for e in found)
    assert len({e.id for e in found}) == 7


def test_registry_changes_are_recorded_in_order(tracking: Tracking, tmp_path: Path) -> None:
    name = unique("events-model")
    run_id = trained_run(tracking, tmp_path)
    tracking.register_model(f"runs:/{run_id}/model", name)
    tracking.register_model(f"runs:/{run_id}/model", name)
    tracking.set_model_alias(name, "champion", 1)
    tracking.set_model_alias(name, "champion", 2)
    tracking.delete_model_alias(name, "champion")
    tracking.transition_stage(name, 2, "Production")
    tracking.set_model_tag(name, "team", "risk")
    tracking.delete_model_tag(name, "team")
    tracking.set_model_version_tag(name, 1, "checked", "yes")
    tracking.delete_model_version_tag(name, 1, "checked")
    tracking.update_model(name, "fraud scores")
    tracking.update_model_version(name, 2, "retrained")

    found = events_of(tracking, f"models/{name}/*")
    assert [e.type.value for e in found] == [
        "registered_model.created",
        "model_version.created",
        "model_version.created",
        "model_version_alias.created",
        "model_version_alias.created",
        "model_version_alias.deleted",
        "model_version.stage_changed",
        "registered_model_tag.set",
        "registered_model_tag.deleted",
        "model_version_tag.set",
        "model_version_tag.deleted",
        "registered_model.updated",
        "model_version.updated",
    ]
    by_type = {e.type: e for e in found}
    version = found[1]
    assert version.subject == f"models/{name}/versions/1"
    assert version.data["model"] == name and version.data["version"] == 1
    assert version.data["source"] == f"runs:/{run_id}/model"
    moved = found[4]
    assert moved.subject == f"models/{name}"
    assert (moved.data["alias"], moved.data["from_version"], moved.data["version"]) == ("champion", 1, 2)
    assert found[5].data["version"] is None
    stage = by_type[EventType.VERSION_STAGE_CHANGED].data
    assert (stage["from_stage"], stage["to_stage"], stage["version"]) == ("None", "Production", 2)
    assert {e.actor for e in found} == {author_of(tracking)}

    # The model's own subject, without its versions'; and the deletion, which the log keeps.
    own = events_of(tracking, f"models/{name}")
    assert all(e.subject == f"models/{name}" for e in own) and len(own) == 7
    tracking.delete_model(name)
    assert events_of(tracking, f"models/{name}")[-1].type is EventType.MODEL_DELETED
    assert len(events_of(tracking, f"models/{name}/*")) == len(found) + 1


def test_filters_by_type_pattern_actor_and_time(tracking: Tracking, tmp_path: Path) -> None:
    name = unique("filtered")
    run_id = trained_run(tracking, tmp_path)
    tracking.register_model(f"runs:/{run_id}/model", name)
    tracking.set_model_alias(name, "champion", 1)
    subject = f"models/{name}/*"
    aliases = events_of(tracking, subject, types=["model_version_alias.*"])
    assert [e.type for e in aliases] == [EventType.ALIAS_SET]
    both = events_of(tracking, subject, types=["model_version.created", "registered_model.*"])
    assert [e.type for e in both] == [EventType.MODEL_CREATED, EventType.VERSION_CREATED]
    assert events_of(tracking, subject, types=["*"]) == events_of(tracking, subject)
    assert events_of(tracking, subject, actor="somebody-else") == []
    everything = events_of(tracking, subject)
    first, last = everything[0].created_at, everything[-1].created_at
    assert events_of(tracking, subject, since=last + 1) == []
    assert events_of(tracking, subject, until=first) == []
    assert events_of(tracking, subject, since=first, until=last + 1) == everything
    # A subject is a path, not a pattern: a longer name sharing the prefix is not under it.
    tracking.register_model(f"runs:/{run_id}/model", name + "x")
    assert all(e.subject.startswith(f"models/{name}/") or e.subject == f"models/{name}" for e in everything)
    assert len(events_of(tracking, subject)) == len(everything)


def test_pages_newest_first(tracking: Tracking) -> None:
    run = tracking.create_run(unique("paged"))
    for _ in range(2):
        tracking.delete_run(run.id)
        tracking.restore_run(run.id)
    subject = f"runs/{run.id}"
    first = tracking.list_events(subject=subject, limit=2)
    assert [e.type for e in first.items] == [EventType.RUN_RESTORED, EventType.RUN_DELETED]
    assert first.next_page_token is not None
    second = tracking.list_events(subject=subject, limit=2, page_token=first.next_page_token)
    third = tracking.list_events(subject=subject, limit=2, page_token=second.next_page_token)
    assert [e.type for e in third.items] == [EventType.RUN_CREATED] and third.next_page_token is None
    seqs = [e.seq for page in (first, second, third) for e in page.items]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 5


def test_a_refused_change_records_nothing(tracking: Tracking, tmp_path: Path) -> None:
    name = unique("refused")
    run_id = trained_run(tracking, tmp_path)
    tracking.register_model(f"runs:/{run_id}/model", name)
    before = events_of(tracking, f"models/{name}/*")
    with pytest.raises(ModelVersionNotFound):
        tracking.set_model_alias(name, "champion", 7)
    with pytest.raises(InvalidValue):
        tracking.set_model_alias(name, "Bad Alias", 1)
    with pytest.raises(InvalidValue):
        tracking.transition_stage(name, 1, "Shipped")
    assert events_of(tracking, f"models/{name}/*") == before

    run = tracking.create_run(unique("ended"))
    tracking.update_run(run.id, RunUpdate(status=RunStatus.FAILED))
    with pytest.raises(RunNotActive):
        tracking.update_run(run.id, RunUpdate(status=RunStatus.FINISHED))
    assert [e.type for e in events_of(tracking, f"runs/{run.id}")] == [
        EventType.RUN_CREATED,
        EventType.RUN_STATUS_CHANGED,
    ]


@pytest.mark.parametrize(
    ("filters", "error"),
    [
        ({"types": ["model_version.exploded"]}, InvalidValue),
        ({"types": ["nothing.*"]}, InvalidValue),
        ({"types": ["<script>"]}, InvalidValue),
        # Over HTTP, the schema refuses these before the service does (invalid_request).
        ({"limit": 0}, InvalidInput),
        ({"limit": 10_001}, InvalidInput),
        ({"since": -1}, InvalidInput),
        ({"actor": "a\x00b"}, InvalidValue),
        ({"subject": "runs/\x00"}, InvalidValue),
        ({"page_token": "abc"}, InvalidPageToken),
        ({"page_token": "9" * 40}, InvalidPageToken),
    ],
)
def test_bad_filters_are_refused(tracking: Tracking, filters: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        tracking.list_events(**filters)  # type: ignore[arg-type]


def test_discussion_and_projects_are_recorded(tracking: Tracking) -> None:
    """Every write lands in the log (docs/events.md): a project's creation, a comment's life
    and saved views; never the comment's text."""
    project = unique("audited")
    tracking.create_project(project)
    run = tracking.create_run(project)
    comment = tracking.add_comment(run.id, "looks <b>good</b>")
    tracking.edit_comment(comment.id, "looks fine")
    tracking.delete_comment(comment.id)
    view = tracking.save_view(project, "best", query="metrics.loss < 1")
    tracking.delete_view(view.id)
    comments = events_of(tracking, f"runs/{run.id}/comments/{comment.id}")
    assert [e.type for e in comments] == [
        EventType.COMMENT_CREATED,
        EventType.COMMENT_UPDATED,
        EventType.COMMENT_DELETED,
    ]
    assert all("good" not in str(e.data) and "fine" not in str(e.data) for e in comments)
    on_project = events_of(tracking, f"projects/{project}")
    assert [e.type for e in on_project] == [EventType.PROJECT_CREATED, EventType.VIEW_SAVED, EventType.VIEW_DELETED]
    assert on_project[1].data["view_id"] == view.id
