"""Tags: set, overwrite, delete; still allowed after a run ends, refused once it is deleted."""

from __future__ import annotations

import pytest

from cairn.core.entities import RunStatus, RunUpdate
from cairn.core.errors import RunNotActive, RunNotFound
from cairn.service.interface import Tracking


def test_set_overwrite_and_delete(tracking: Tracking) -> None:
    run = tracking.create_run("p", tags={"team": "vision", "stage": "dev"})
    assert run.tags == {"team": "vision", "stage": "dev"}

    tracking.set_tags(run.id, {"stage": "prod", "owner": "alice", "note": "multi\nline", "empty": ""})
    assert tracking.get_run(run.id).tags == {
        "team": "vision",
        "stage": "prod",
        "owner": "alice",
        "note": "multi\nline",
        "empty": "",
    }

    tracking.delete_tag(run.id, "team")
    tracking.delete_tag(run.id, "never-set")  # deleting a missing tag is fine
    assert tracking.get_run(run.id).tags == {
        "stage": "prod",
        "owner": "alice",
        "note": "multi\nline",
        "empty": "",
    }


def test_keys_with_dots_and_slashes(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    tags = {"mlflow.source.name": "train.py", "data/split": "train", "a b": "c d", "ü/ñ": "é"}
    tracking.set_tags(run.id, tags)
    assert tracking.get_run(run.id).tags == tags
    for key in tags:
        tracking.delete_tag(run.id, key)
    assert tracking.get_run(run.id).tags == {}


def test_tags_after_the_run_ended(tracking: Tracking) -> None:
    for status in (RunStatus.FINISHED, RunStatus.FAILED):
        run = tracking.create_run("p", tags={"a": "1"})
        tracking.update_run(run.id, RunUpdate(status=status))
        tracking.set_tags(run.id, {"best": "yes", "a": "2"})
        tracking.delete_tag(run.id, "best")
        assert tracking.get_run(run.id).tags == {"a": "2"}


def test_tags_on_a_deleted_run_are_refused(tracking: Tracking) -> None:
    run = tracking.create_run("p", tags={"a": "1"})
    tracking.delete_run(run.id)
    with pytest.raises(RunNotActive):
        tracking.set_tags(run.id, {"b": "2"})
    with pytest.raises(RunNotActive):
        tracking.delete_tag(run.id, "a")
    assert tracking.get_run(run.id).tags == {"a": "1"}

    tracking.restore_run(run.id)
    tracking.set_tags(run.id, {"b": "2"})
    assert tracking.get_run(run.id).tags == {"a": "1", "b": "2"}
    with pytest.raises(RunNotFound):
        tracking.set_tags("0" * 32, {"a": "1"})
    with pytest.raises(RunNotFound):
        tracking.delete_tag("0" * 32, "a")
