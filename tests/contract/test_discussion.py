"""Comments on runs, saved views and a project's field names, through the tracking interface."""

from __future__ import annotations

import time

import pytest

from cairn.core.entities import RunStatus, RunUpdate
from cairn.core.errors import (
    CommentNotFound,
    InvalidKey,
    InvalidQuery,
    InvalidValue,
    PermissionDenied,
    ProjectNotFound,
    RunNotFound,
    ViewNotFound,
)
from cairn.core.limits import MAX_COMMENT_LENGTH
from cairn.service.interface import Tracking
from cairn.service.tracking import TrackingService

from .helpers import acting_as, author_of, batch, columns, signed_in

UNKNOWN = "0" * 32


# -- comments ---------------------------------------------------------------------------------


def test_add_list_edit_and_delete_comments(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    first = tracking.add_comment(run.id, "Loss plateaus after **epoch 3**.")
    second = tracking.add_comment(run.id, "Try a lower lr?")
    assert len(first.id) == 32 and first.run_id == run.id
    assert first.author == author_of(tracking)
    assert first.body == "Loss plateaus after **epoch 3**." and first.mentions == ()
    assert first.updated_at is None and first.created_at > 0
    # Oldest first, even when both were written within one millisecond.
    assert tracking.list_comments(run.id) == [first, second]
    assert second.created_at > first.created_at

    edited = tracking.edit_comment(second.id, "Try a lower lr, @ana?")
    assert edited.id == second.id and edited.created_at == second.created_at
    assert edited.body == "Try a lower lr, @ana?" and edited.mentions == ("ana",)
    assert edited.updated_at is not None and edited.updated_at >= edited.created_at
    assert tracking.list_comments(run.id) == [first, edited]

    tracking.delete_comment(first.id)
    assert tracking.list_comments(run.id) == [edited]
    with pytest.raises(CommentNotFound):
        tracking.delete_comment(first.id)
    with pytest.raises(CommentNotFound):
        tracking.edit_comment(first.id, "back again")


def test_mentions_are_distinct_names_in_order_of_first_appearance(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    body = (
        "@bo.dev see this, and @ana too. Mail results@example.com or x@y.org, "
        "ask (@chen-li), @ana again, @bo.dev again, then @dita... done; @_ok @ and @."
    )
    comment = tracking.add_comment(run.id, body)
    assert comment.mentions == ("bo.dev", "ana", "chen-li", "dita", "_ok")
    assert tracking.list_comments(run.id)[0].mentions == comment.mentions
    assert tracking.add_comment(run.id, "no one: a@b.com").mentions == ()


def test_bodies_are_stored_verbatim(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    body = "<script>alert('x')</script>\n\n  `code` & <b>bold</b> \u00e9\u6f22 \U0001f600\t"
    comment = tracking.add_comment(run.id, body)
    assert comment.body == body
    assert tracking.list_comments(run.id)[0].body == body
    longest = tracking.add_comment(run.id, "x" * MAX_COMMENT_LENGTH)
    assert len(longest.body) == MAX_COMMENT_LENGTH


@pytest.mark.parametrize("body", ["", "   \n\t ", "x" * (MAX_COMMENT_LENGTH + 1), "nul\x00here"])
def test_empty_or_oversized_bodies_are_refused_and_nothing_is_stored(tracking: Tracking, body: str) -> None:
    run = tracking.create_run("p")
    with pytest.raises(InvalidValue):
        tracking.add_comment(run.id, body)
    assert tracking.list_comments(run.id) == []
    kept = tracking.add_comment(run.id, "fine")
    with pytest.raises(InvalidValue):
        tracking.edit_comment(kept.id, body)
    assert tracking.list_comments(run.id) == [kept]


def test_finished_and_deleted_runs_may_be_discussed(tracking: Tracking) -> None:
    finished = tracking.create_run("p")
    tracking.update_run(finished.id, RunUpdate(status=RunStatus.FINISHED))
    deleted = tracking.create_run("p")
    tracking.delete_run(deleted.id)
    for run in (finished, deleted):
        comment = tracking.add_comment(run.id, "why did this one stop?")
        assert tracking.edit_comment(comment.id, "answered").body == "answered"
        assert [c.body for c in tracking.list_comments(run.id)] == ["answered"]


def test_unknown_runs_and_comments(tracking: Tracking) -> None:
    with pytest.raises(RunNotFound):
        tracking.add_comment(UNKNOWN, "hello")
    with pytest.raises(RunNotFound):
        tracking.list_comments(UNKNOWN)
    with pytest.raises(CommentNotFound) as raised:
        tracking.edit_comment(UNKNOWN, "hello")
    assert raised.value.code == "comment_not_found" and raised.value.http_status == 404
    with pytest.raises(CommentNotFound):
        tracking.delete_comment(UNKNOWN)


def test_only_the_author_may_edit_or_delete_a_comment(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    comment = tracking.add_comment(run.id, "mine, @tester")
    with acting_as(tracking, "mallory") as other:
        with pytest.raises(PermissionDenied) as raised:
            other.edit_comment(comment.id, "not any more")
        assert raised.value.details["author"] == author_of(tracking)
        # Without sign-in nobody moderates; signed in, colleagues here are global admins, who
        # may delete anyone's comment (as a project's maintainers may), but never edit it.
        moderated = signed_in(tracking)
        if not moderated:
            with pytest.raises(PermissionDenied):
                other.delete_comment(comment.id)
            assert tracking.list_comments(run.id) == [comment]
        # Anyone may comment, and then owns that comment.
        theirs = other.add_comment(run.id, "a reply")
        assert theirs.author == "mallory"
        with pytest.raises(PermissionDenied):
            tracking.edit_comment(theirs.id, "rewritten by someone else")
        if not moderated:
            with pytest.raises(PermissionDenied):
                tracking.delete_comment(theirs.id)
        other.delete_comment(theirs.id)
        if moderated:
            other.delete_comment(comment.id)
    assert tracking.list_comments(run.id) == ([] if moderated else [comment])


def test_a_purged_run_takes_its_comments_along(tracking: Tracking) -> None:
    if not isinstance(tracking, TrackingService):
        pytest.skip("garbage collection runs beside the server, not through it")
    run = tracking.create_run("p")
    comment = tracking.add_comment(run.id, "gone soon")
    tracking.delete_run(run.id)
    tracking.collect_garbage(grace_ms=0)
    with pytest.raises(CommentNotFound):
        tracking.delete_comment(comment.id)


# -- saved views ------------------------------------------------------------------------------


def test_save_list_get_replace_and_delete_views(tracking: Tracking) -> None:
    tracking.create_project("p")
    best = tracking.save_view(
        "p",
        "  best runs ",
        query="metrics.val/accuracy > 0.9 and params.optimizer = 'adam'",
        order_by="metrics.val/accuracy desc, created",
        columns=["name", "status", "user", "created", "duration", "params.lr", "metrics.val/accuracy", "tags.team"],
        charts=["val/accuracy", "loss"],
        group_by="params.optimizer",
    )
    assert best.name == "best runs" and best.project == "p"
    assert best.columns[-1] == "tags.team" and best.charts == ("val/accuracy", "loss")
    assert best.group_by == "params.optimizer" and best.created_by == author_of(tracking)
    assert best.updated_at == best.created_at
    assert best.id and best.id.isalnum()
    everything = tracking.save_view("p", "all")
    assert (everything.query, everything.order_by, everything.columns, everything.charts, everything.group_by) == (
        "",
        "",
        (),
        (),
        "",
    )
    assert [v.name for v in tracking.list_views("p")] == ["all", "best runs"]
    assert tracking.get_view(best.id) == best

    time.sleep(0.002)
    replaced = tracking.save_view("p", "best runs", query="status = 'finished'", columns=["name"])
    assert replaced.id == best.id and replaced.created_at == best.created_at
    assert replaced.updated_at > best.updated_at
    assert (replaced.query, replaced.order_by, replaced.columns, replaced.charts, replaced.group_by) == (
        "status = 'finished'",
        "",
        ("name",),
        (),
        "",
    )
    assert tracking.list_views("p") == [everything, replaced]

    tracking.delete_view(best.id)
    assert tracking.list_views("p") == [everything]
    with pytest.raises(ViewNotFound) as raised:
        tracking.get_view(best.id)
    assert raised.value.code == "view_not_found" and raised.value.http_status == 404
    with pytest.raises(ViewNotFound):
        tracking.delete_view(best.id)


def test_views_belong_to_their_project(tracking: Tracking) -> None:
    tracking.create_project("a")
    tracking.create_project("b")
    in_a = tracking.save_view("a", "mine")
    in_b = tracking.save_view("b", "mine")
    assert in_a.id != in_b.id
    assert tracking.list_views("a") == [in_a] and tracking.list_views("b") == [in_b]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"query": "metrics.acc >"}, InvalidQuery),
        ({"query": "metrics.acc > 'high'"}, InvalidQuery),
        ({"order_by": "metrics.acc sideways"}, InvalidQuery),
        ({"order_by": "dataset.name"}, InvalidQuery),
        ({"columns": ["name", "colour"]}, InvalidQuery),
        ({"columns": ["params."]}, InvalidQuery),
        ({"columns": ["dataset.name"]}, InvalidQuery),
        ({"group_by": "metrics.acc"}, InvalidQuery),
        ({"group_by": "nope"}, InvalidQuery),
        ({"charts": [""]}, InvalidKey),
        ({"charts": ["ok", "bad\nkey"]}, InvalidKey),
    ],
)
def test_bad_views_are_refused_and_nothing_is_saved(
    tracking: Tracking, kwargs: dict[str, object], error: type[Exception]
) -> None:
    tracking.create_project("p")
    kept = tracking.save_view("p", "kept", query="status = 'finished'")
    with pytest.raises(error):
        tracking.save_view("p", "new", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(error):
        tracking.save_view("p", "kept", **kwargs)  # type: ignore[arg-type]
    assert tracking.list_views("p") == [kept]


def test_a_bad_column_is_named_in_the_error(tracking: Tracking) -> None:
    tracking.create_project("p")
    with pytest.raises(InvalidQuery) as raised:
        tracking.save_view("p", "v", columns=["params.lr", "colour"])
    assert "colour" in raised.value.message


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "tab\there"])
def test_bad_view_names_are_refused(tracking: Tracking, name: str) -> None:
    tracking.create_project("p")
    with pytest.raises(InvalidValue):
        tracking.save_view("p", name)
    assert tracking.list_views("p") == []
    assert tracking.save_view("p", "x" * 200).name == "x" * 200


def test_unknown_projects_and_views(tracking: Tracking) -> None:
    with pytest.raises(ProjectNotFound):
        tracking.save_view("nowhere", "v")
    with pytest.raises(ProjectNotFound):
        tracking.list_views("nowhere")
    with pytest.raises(ProjectNotFound):
        tracking.project_fields("nowhere")
    with pytest.raises(ViewNotFound):
        tracking.get_view("abcdef0123456789")
    with pytest.raises(ViewNotFound):
        tracking.delete_view("abcdef0123456789")


def test_a_project_named_like_a_route_is_still_found(tracking: Tracking) -> None:
    # Over HTTP, /projects/team/views lists the views of "team"; "team/views" is itself found.
    for name in ("team", "team/views", "team/fields"):
        tracking.create_project(name)
    assert tracking.get_project("team/views").name == "team/views"
    assert tracking.get_project("team/fields").name == "team/fields"
    view = tracking.save_view("team/views", "v")
    assert tracking.list_views("team/views") == [view] and tracking.list_views("team") == []
    assert tracking.project_fields("team/fields").params == []


# -- field names ------------------------------------------------------------------------------


def test_project_fields_are_the_keys_of_its_live_runs(tracking: Tracking) -> None:
    first = tracking.create_run("p", config={"lr": 0.1, "model": {"depth": 4}}, tags={"team": "vision"})
    tracking.log_metrics(first.id, batch(columns("val/accuracy", [0, 1], [0.5, 0.6]), columns("loss", [0], [1.0])))
    second = tracking.create_run("p", config={"lr": 0.01, "batch": 32}, tags={"stage": "dev"})
    tracking.log_metrics(second.id, batch(columns("loss", [0], [0.9])))
    gone = tracking.create_run("p", config={"secret": 1}, tags={"hidden": "yes"})
    tracking.log_metrics(gone.id, batch(columns("gone_metric", [0], [1.0])))
    tracking.delete_run(gone.id)
    tracking.create_run("elsewhere", config={"other": 1}, tags={"x": "y"})

    fields = tracking.project_fields("p")
    assert fields.params == ["batch", "lr", "model.depth"]
    assert fields.metrics == ["loss", "val/accuracy"]
    assert fields.tags == ["stage", "team"]
    tracking.create_project("empty")
    empty = tracking.project_fields("empty")
    assert (empty.params, empty.metrics, empty.tags) == ([], [], [])
