"""Reviews of model versions before a protected alias moves, through the tracking interface, on
every backend (docs/registry.md, "Reviews"): real scikit-learn models logged by runs,
@champion protected, a review whose checks run, self-approval refused, merges refused while
something blocks them (and nothing changed then), a colleague's approval, the merge that moves
the alias, and the bad input around all of it.

The tracking fixture acts as its author ("tester" embedded and with authentication, "anonymous"
over HTTP without); the colleague is the same store as "grace": the service acting as her, or an
HTTP client that names her in ``X-Cairn-User`` (or sends her token).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.contract.helpers import SIGNATURE, acting_as, author_of, manifest_json
from tests.contract.test_registry import _upload, log_model_folder, trained_run

import cairn
from cairn.client.http import HttpTracking
from cairn.core.errors import (
    AlreadyExists,
    CommentNotFound,
    InvalidPageToken,
    InvalidQuery,
    InvalidValue,
    ModelNotFound,
    ModelVersionNotFound,
    ProtectionNotFound,
    ReviewNotFound,
    ReviewNotMergeable,
    ReviewNotOpen,
    ReviewRequired,
    SelfApproval,
)
from cairn.core.events import Event
from cairn.core.reviews import CheckKind, Decision, EntryKind, ReviewState
from cairn.service.interface import Tracking
from cairn.service.tracking import TrackingService

pytest.importorskip("sklearn")
from sklearn.datasets import load_iris
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

COLLEAGUE = "grace"
ACCURACY_CHECK = "metrics.val/accuracy >= 0.9"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any]:
    return load_iris(return_X_y=True, as_frame=True)


@pytest.fixture
def uri(tracking: Tracking, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where ``cairn.init`` and ``cairn.load_model`` reach the fixture's store: the server's URL,
    or the database with the fixture's blob folder."""
    if isinstance(tracking, HttpTracking):
        return tracking.base_url
    assert isinstance(tracking, TrackingService)
    monkeypatch.setenv("CAIRN_BLOBS", str(tmp_path / "blobs"))
    return str(tracking.store.uri)  # type: ignore[attr-defined]


@pytest.fixture
def colleague(tracking: Tracking) -> Iterator[Tracking]:
    """The same store, acting as someone other than the fixture's user."""
    with acting_as(tracking, COLLEAGUE) as other:
        yield other


def log_trained(uri: str, iris: tuple[Any, Any], model: Any) -> str:
    """Fit ``model`` on iris in a run that logs its accuracy, params and the model; its runs:/ URI."""
    features, labels = iris
    model.fit(features, labels)
    with cairn.init("reviews", uri=uri, config=model.get_params(), flush_interval=0.05) as run:
        run.log({"val/accuracy": float(model.score(features, labels))})
        return run.log_model(model, "model", input_example=features[:3]).uri


def events_of(tracking: Tracking, name: str) -> list[Event]:
    found = tracking.list_events(subject=f"models/{name}/*", limit=10_000)
    return list(reversed(found.items))


def snapshot(tracking: Tracking, name: str) -> tuple[Any, ...]:
    """Everything a refused call could have changed."""
    return (
        tracking.get_model(name).aliases,
        tracking.model_alias_history(name),
        [e.id for e in events_of(tracking, name)],
        tracking.list_reviews(model=name).items,
    )


# -- the whole flow, with real models ----------------------------------------------------------


def test_protect_review_approve_merge_then_load_the_new_champion(
    tracking: Tracking, colleague: Tracking, uri: str, iris: tuple[Any, Any]
) -> None:
    name = unique("iris")
    me = author_of(tracking)
    # A webhook for what the review does (accepted, never called: no backend here delivers).
    hook = tracking.create_webhook(
        "https://93.184.215.14/hooks/cairn", ["review.*", "alias_protection.*", "model_version_alias.*"]
    )
    first = LogisticRegression(C=0.05, max_iter=1000)
    second = LogisticRegression(C=10.0, max_iter=1000)
    sources = [log_trained(uri, iris, first), log_trained(uri, iris, second)]
    for source in sources:
        cairn.register_model(source, name, uri=uri)
    tracking.set_model_alias(name, "champion", 1)

    protection = tracking.protect_alias(
        name, "champion", approvals=1, checks=[ACCURACY_CHECK, "signature-unchanged", "no_archived_duplicate"]
    )
    assert protection.required_approvals == 1
    assert protection.checks == (ACCURACY_CHECK, "signature-unchanged", "no-archived-duplicate")
    assert protection.created_by == protection.updated_by == me
    assert tracking.list_alias_protections(name) == [protection]

    # A protected alias does not move, nor go, directly.
    before = snapshot(tracking, name)
    with pytest.raises(ReviewRequired) as required:
        tracking.set_model_alias(name, "champion", 2)
    assert required.value.details["required_approvals"] == 1
    assert required.value.details["checks"] == list(protection.checks)
    with pytest.raises(ReviewRequired):
        colleague.delete_model_alias(name, "champion")
    assert snapshot(tracking, name) == before
    # Other aliases of the model still move freely.
    tracking.set_model_alias(name, "challenger", 2)

    review = tracking.open_review(name, 2, "champion", description="more regularisation, better **recall**")
    assert (review.model, review.alias, review.version, review.base_version) == (name, "champion", 2, 1)
    assert review.state is ReviewState.OPEN and review.author == me and review.required_approvals == 1
    assert [(c.check, c.kind, c.passed) for c in review.checks] == [
        (ACCURACY_CHECK, CheckKind.CONDITION, True),
        ("signature-unchanged", CheckKind.SIGNATURE_UNCHANGED, True),
        ("no-archived-duplicate", CheckKind.NO_ARCHIVED_DUPLICATE, True),
    ]
    accuracy = float(second.score(*iris))
    assert review.checks[0].observed == {"metrics.val/accuracy": accuracy}
    assert review.checks[0].message == f"metrics.val/accuracy = {accuracy!r}"
    assert review.checks[1].observed == {"candidate_version": 2, "holder_version": 1, "same": True}
    assert not review.mergeable and review.votes == ()
    assert tracking.get_review(review.id) == review

    # The author cannot vote on their own review.
    with pytest.raises(SelfApproval):
        tracking.approve_review(review.id, "looks good to me")
    with pytest.raises(SelfApproval):
        tracking.request_changes(review.id, "hm")

    # No approval yet: refused, with what blocks it, and nothing changed.
    before = snapshot(tracking, name)
    with pytest.raises(ReviewNotMergeable) as blocked:
        tracking.merge_review(review.id)
    assert blocked.value.details["approvals"] == 0 and blocked.value.details["required_approvals"] == 1
    assert blocked.value.details["failed_checks"] == [] and blocked.value.details["changes_requested_by"] == []
    assert snapshot(tracking, name) == before

    asked = colleague.request_changes(review.id, "compare with @ada's run first, please")
    assert asked.changes_requested_by == (COLLEAGUE,) and asked.approvals == ()
    with pytest.raises(ReviewNotMergeable) as still:
        tracking.merge_review(review.id)
    assert still.value.details["changes_requested_by"] == [COLLEAGUE]

    answer_to = tracking.review_detail(review.id).comments[-1]
    assert (answer_to.kind, answer_to.author, answer_to.mentions) == (EntryKind.CHANGES_REQUESTED, COLLEAGUE, ("ada",))
    reply = tracking.comment_review(review.id, "Done: @grace, see the diff.", reply_to=answer_to.id)
    assert (reply.reply_to, reply.mentions, reply.kind) == (answer_to.id, ("grace",), EntryKind.COMMENT)

    # The latest vote counts: an approval replaces the request for changes.
    approved = colleague.approve_review(review.id, "LGTM")
    assert approved.approvals == (COLLEAGUE,) and approved.changes_requested_by == ()
    assert [(v.reviewer, v.decision) for v in approved.votes] == [(COLLEAGUE, Decision.APPROVED)]
    assert approved.mergeable

    merged = tracking.merge_review(review.id)
    assert merged.state is ReviewState.MERGED and merged.merged_by == me and merged.merged_from_version == 1
    assert merged.merged_at is not None and all(c.passed for c in merged.checks)
    assert merged.checks_ran_at >= review.checks_ran_at
    assert tracking.get_model_version_by_alias(name, "champion").version == 2
    move = tracking.model_alias_history(name, "champion")[-1]
    assert (move.from_version, move.to_version, move.moved_by) == (1, 2, me)

    # Anyone loading @champion now gets the new version.
    features = iris[0]
    champion = cairn.load_model(f"models:/{name}@champion", uri=uri)
    np.testing.assert_array_equal(champion.predict(features[:20]), second.predict(features[:20]))

    found = events_of(tracking, name)
    assert [e.type.value for e in found] == [
        "registered_model.created",
        "model_version.created",
        "model_version.created",
        "model_version_alias.created",  # @champion, set before it was protected
        "alias_protection.set",
        "model_version_alias.created",  # @challenger
        "review.opened",
        "review.checks_ran",
        "review.changes_requested",
        "review.commented",
        "review.approved",
        "review.checks_ran",  # before the merge
        "model_version_alias.created",  # @champion, moved by the merge
        "review.merged",
    ]  # the refused moves, votes and merges recorded nothing
    # Every one of those events, and only those, is queued for the webhook.
    delivered = tracking.list_webhook_deliveries(hook.id, limit=1000).items
    wanted = [e for e in found if e.type.value.split(".")[0] in ("review", "alias_protection", "model_version_alias")]
    assert sorted((d.event_id, d.event_type) for d in delivered) == sorted((e.id, e.type.value) for e in wanted)
    review_events = [e for e in found if e.type.value.startswith("review.")]
    assert {e.subject for e in review_events} == {f"models/{name}/reviews/{review.id}"}
    merged_event = review_events[-1]
    assert merged_event.actor == me and merged_event.data["from_version"] == 1
    assert merged_event.data["approvals"] == [COLLEAGUE] and len(merged_event.data["checks"]) == 3
    approval = next(e for e in review_events if e.type.value == "review.approved")
    assert approval.actor == COLLEAGUE and approval.data["body"] == "LGTM"

    # A merged review takes no more votes, merges or closes; comments go on.
    for act in (
        lambda: colleague.approve_review(review.id),
        lambda: tracking.merge_review(review.id),
        lambda: tracking.close_review(review.id),
        lambda: tracking.run_review_checks(review.id),
    ):
        with pytest.raises(ReviewNotOpen) as not_open:
            act()
        assert not_open.value.details == {"review_id": review.id, "state": "merged"}
    colleague.comment_review(review.id, "shipped")

    detail = tracking.review_detail(review.id)
    assert detail.review == tracking.get_review(review.id)
    assert detail.protection == protection
    assert (detail.candidate.version, detail.compared_with and detail.compared_with.version) == (2, 1)
    assert detail.candidate_run is not None and detail.compared_run is not None
    assert detail.candidate_run.metrics["val/accuracy"].last == accuracy
    assert detail.diff is not None and detail.diff.params.changed["C"].before == 0.05
    assert detail.diff.params.changed["C"].after == 10.0
    assert [c.kind for c in detail.comments] == [
        EntryKind.CHANGES_REQUESTED,
        EntryKind.COMMENT,
        EntryKind.APPROVED,
        EntryKind.COMMENT,
    ]


def test_a_failing_check_blocks_the_merge_and_shows_the_value_it_saw(
    tracking: Tracking, colleague: Tracking, uri: str, iris: tuple[Any, Any]
) -> None:
    name = unique("iris")
    good = log_trained(uri, iris, LogisticRegression(max_iter=1000))
    weak = log_trained(uri, iris, DummyClassifier(strategy="most_frequent"))
    for source in (good, weak):
        cairn.register_model(source, name, uri=uri)
    tracking.set_model_alias(name, "champion", 1)
    tracking.protect_alias(name, "champion", approvals=1, checks=[ACCURACY_CHECK])

    review = tracking.open_review(name, 2, "champion")
    (check,) = review.checks
    assert not check.passed and check.observed == {"metrics.val/accuracy": pytest.approx(1 / 3)}
    assert check.message.startswith("metrics.val/accuracy = 0.333")
    colleague.approve_review(review.id)

    before = snapshot(tracking, name)
    with pytest.raises(ReviewNotMergeable) as blocked:
        colleague.merge_review(review.id)
    (failed,) = blocked.value.details["failed_checks"]
    assert failed["check"] == ACCURACY_CHECK and failed["passed"] is False
    assert failed["observed"]["metrics.val/accuracy"] == pytest.approx(1 / 3)
    assert blocked.value.details["approvals"] == 1
    assert ACCURACY_CHECK in blocked.value.message
    assert snapshot(tracking, name) == before
    assert tracking.get_review(review.id).state is ReviewState.OPEN

    # Loosening the protection lets the same review merge.
    tracking.protect_alias(name, "champion", approvals=1, checks=["metrics.val/accuracy >= 0.3"])
    assert colleague.merge_review(review.id).state is ReviewState.MERGED
    assert tracking.get_model(name).aliases["champion"] == 2


# -- the other checks ----------------------------------------------------------------------------


def _model_with_signature(tracking: Tracking, tmp_path: Path, weights: bytes, signature: object) -> str:
    run = tracking.create_run("reviews")
    digest, _ = _upload(tracking, tmp_path, weights)
    manifest = manifest_json({"model.bin": digest}, signature=signature)
    log_model_folder(tracking, run.id, tmp_path, weights=weights, manifest=manifest)
    return run.id


def test_signature_unchanged(tracking: Tracking, tmp_path: Path) -> None:
    name = unique("sig")
    other = {
        "inputs": [{"name": "x", "type": "float"}, {"name": "z", "type": "string"}],
        "outputs": SIGNATURE["outputs"],
    }
    runs = [
        _model_with_signature(tracking, tmp_path, b"one", SIGNATURE),
        _model_with_signature(tracking, tmp_path, b"two", other),
        _model_with_signature(tracking, tmp_path, b"three", SIGNATURE),
    ]
    for run_id in runs:
        tracking.register_model(f"runs:/{run_id}/model", name)
    tracking.protect_alias(name, "champion", approvals=0, checks=["signature-unchanged"])

    # Nobody holds the alias yet: nothing to compare with, so the check passes.
    first = tracking.open_review(name, 1, "champion")
    assert first.checks[0].passed and first.checks[0].message == "no version holds the alias yet"
    assert first.mergeable
    tracking.merge_review(first.id)

    changed = tracking.open_review(name, 2, "champion")
    (check,) = changed.checks
    assert not check.passed and check.observed == {"candidate_version": 2, "holder_version": 1, "same": False}
    assert check.message == "differs from version 1's: inputs +z, x double → float"
    assert tracking.open_review(name, 3, "champion").checks[0].passed


def test_no_archived_duplicate(tracking: Tracking, tmp_path: Path) -> None:
    name = unique("dup")
    run_id = trained_run(tracking, tmp_path)
    for _ in range(3):  # the same folder three times: one tree digest
        tracking.register_model(f"runs:/{run_id}/model", name)
    tracking.set_model_alias(name, "champion", 1)
    tracking.protect_alias(name, "champion", approvals=0, checks=["no-archived-duplicate"])
    assert tracking.open_review(name, 2, "champion").checks[0].passed

    tracking.transition_stage(name, 2, "Archived")
    review = tracking.open_review(name, 3, "champion")
    (check,) = review.checks
    assert not check.passed and check.observed["archived_versions"] == [2]
    assert check.message == "Archived version 2 had the same files"
    with pytest.raises(ReviewNotMergeable):
        tracking.merge_review(review.id)
    # Checks run again on demand, against the store as it is now.
    tracking.transition_stage(name, 2, "None")
    assert tracking.run_review_checks(review.id).checks[0].passed
    assert tracking.merge_review(review.id).state is ReviewState.MERGED


def test_a_condition_that_names_nothing_the_run_logged_fails(tracking: Tracking, tmp_path: Path) -> None:
    name = unique("cond")
    run_id = trained_run(tracking, tmp_path)
    tracking.register_model(f"runs:/{run_id}/model", name)
    tracking.protect_alias(name, "champion", approvals=0, checks=["metrics.auc > 0.5 and params.lr = 0.1"])
    (check,) = tracking.open_review(name, 1, "champion").checks
    assert not check.passed
    assert check.observed == {"metrics.auc": None, "params.lr": 0.1}
    assert check.message == "metrics.auc is not logged, params.lr = 0.1 (unknown, so not met)"


# -- protections, closing, listing -------------------------------------------------------------


def test_protection_can_be_replaced_and_lifted(tracking: Tracking, colleague: Tracking, tmp_path: Path) -> None:
    name = unique("prot")
    run_id = trained_run(tracking, tmp_path)
    tracking.register_model(f"runs:/{run_id}/model", name)
    tracking.register_model(f"runs:/{run_id}/model", name)
    first = tracking.protect_alias(name, "champion")
    assert (first.required_approvals, first.checks) == (1, ())
    review = tracking.open_review(name, 1, "champion")
    replaced = colleague.protect_alias(name, "champion", approvals=2, checks=["params.lr >= 0.1", "params.lr >= 0.1"])
    assert replaced.checks == ("params.lr >= 0.1",)
    assert (replaced.created_by, replaced.updated_by) == (first.created_by, COLLEAGUE)
    assert replaced.created_at == first.created_at and replaced.updated_at >= first.updated_at
    # Open reviews answer to the new number at once.
    assert tracking.get_review(review.id).required_approvals == 2

    tracking.unprotect_alias(name, "champion")
    with pytest.raises(ProtectionNotFound):
        tracking.get_alias_protection(name, "champion")
    with pytest.raises(ProtectionNotFound):
        tracking.unprotect_alias(name, "champion")
    assert tracking.list_alias_protections(name) == []
    assert tracking.set_model_alias(name, "champion", 2).to_version == 2
    types = [e.type.value for e in events_of(tracking, name) if e.type.value.startswith("alias_protection.")]
    assert types == ["alias_protection.set", "alias_protection.set", "alias_protection.deleted"]


def test_close_and_list_reviews(tracking: Tracking, colleague: Tracking, tmp_path: Path) -> None:
    name = unique("list")
    run_id = trained_run(tracking, tmp_path)
    for _ in range(3):
        tracking.register_model(f"runs:/{run_id}/model", name)
    tracking.protect_alias(name, "champion", approvals=0)
    ids = [tracking.open_review(name, n, "champion").id for n in (1, 2, 3)]
    challenger = tracking.open_review(name, 1, "challenger").id
    assert ids == sorted(ids) and challenger > ids[-1]

    closed = colleague.close_review(ids[0])
    assert closed.state is ReviewState.CLOSED and closed.closed_by == COLLEAGUE and closed.closed_at is not None
    with pytest.raises(ReviewNotOpen):
        tracking.approve_review(ids[0])
    tracking.merge_review(ids[1])

    assert [r.id for r in tracking.list_reviews(model=name).items] == [challenger, *reversed(ids)]
    assert [r.id for r in tracking.list_reviews(model=name, state="open").items] == [challenger, ids[2]]
    assert [r.id for r in tracking.list_reviews(model=name, alias="champion", state="merged").items] == [ids[1]]
    page = tracking.list_reviews(model=name, limit=3)
    assert len(page.items) == 3 and page.next_page_token is not None
    rest = tracking.list_reviews(model=name, limit=3, page_token=page.next_page_token)
    assert [r.id for r in rest.items] == [ids[0]] and rest.next_page_token is None
    # A closed review does not hold the version back: it may be reviewed again.
    again = tracking.open_review(name, 1, "champion")
    assert again.id > challenger


def test_concurrent_merges_of_one_review_move_the_alias_once(tracking: Tracking, tmp_path: Path) -> None:
    name = unique("race")
    run_id = trained_run(tracking, tmp_path)
    tracking.register_model(f"runs:/{run_id}/model", name)
    tracking.protect_alias(name, "champion", approvals=0)
    review = tracking.open_review(name, 1, "champion")
    outcomes: list[object] = []

    def merge() -> None:
        try:
            outcomes.append(tracking.merge_review(review.id).state)
        except ReviewNotOpen as exc:
            outcomes.append(exc.code)
        except BaseException as exc:  # reported below, from the main thread
            outcomes.append(exc)

    threads = [threading.Thread(target=merge) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, outcomes)) == ["merged", "review_not_open", "review_not_open", "review_not_open"]
    assert len(tracking.model_alias_history(name, "champion")) == 1
    merges = [e for e in events_of(tracking, name) if e.type.value == "review.merged"]
    assert len(merges) == 1


# -- bad input: a clear error, and nothing written ---------------------------------------------


def test_unknown_reviews_models_and_versions(tracking: Tracking, tmp_path: Path) -> None:
    name = unique("bad")
    run_id = trained_run(tracking, tmp_path)
    tracking.register_model(f"runs:/{run_id}/model", name)
    before = snapshot(tracking, name)
    unknown = 2**62
    for act in (
        lambda: tracking.get_review(unknown),
        lambda: tracking.review_detail(unknown),
        lambda: tracking.approve_review(unknown),
        lambda: tracking.request_changes(unknown, "why"),
        lambda: tracking.comment_review(unknown, "hello"),
        lambda: tracking.run_review_checks(unknown),
        lambda: tracking.merge_review(unknown),
        lambda: tracking.close_review(unknown),
    ):
        with pytest.raises(ReviewNotFound) as missing:
            act()
        assert missing.value.details == {"review_id": unknown}
    with pytest.raises(ModelVersionNotFound):
        tracking.open_review(name, 9, "champion")
    with pytest.raises(ModelNotFound):
        tracking.open_review(unique("nope"), 1, "champion")
    with pytest.raises(ModelNotFound):
        tracking.protect_alias(unique("nope"), "champion")
    with pytest.raises(ModelNotFound):
        tracking.list_reviews(model=unique("nope"))
    with pytest.raises(ProtectionNotFound):
        tracking.get_alias_protection(name, "champion")
    assert snapshot(tracking, name) == before


@pytest.mark.parametrize("alias", ["Champion", "best model", "a/b", "v3", "latest", "", "naïve"])
def test_an_alias_with_bad_characters_is_refused(tracking: Tracking, tmp_path: Path, alias: str) -> None:
    name = unique("alias")
    run_id = trained_run(tracking, tmp_path)
    tracking.register_model(f"runs:/{run_id}/model", name)
    before = snapshot(tracking, name)
    with pytest.raises(InvalidValue):
        tracking.protect_alias(name, alias)
    with pytest.raises(InvalidValue):
        tracking.open_review(name, 1, alias)
    with pytest.raises(InvalidValue):
        tracking.list_reviews(alias=alias)
    assert snapshot(tracking, name) == before


def test_bad_protections_are_refused_whole(tracking: Tracking, tmp_path: Path) -> None:
    name = unique("prot")
    run_id = trained_run(tracking, tmp_path)
    tracking.register_model(f"runs:/{run_id}/model", name)
    before = snapshot(tracking, name)
    with pytest.raises(InvalidQuery) as query:
        tracking.protect_alias(name, "champion", checks=["signature-unchanged", "metrics.acc >>= 0.9"])
    assert query.value.details["query"] == "metrics.acc >>= 0.9"
    for checks in (["  "], [""], ["x" * 10_001]):
        with pytest.raises((InvalidValue, InvalidQuery)):
            tracking.protect_alias(name, "champion", checks=checks)
    with pytest.raises(InvalidValue):
        tracking.protect_alias(name, "champion", checks=[f"params.n = {n}" for n in range(21)])
    for approvals in (-1, 101, True, 1.0):
        with pytest.raises(InvalidValue):
            tracking.protect_alias(name, "champion", approvals=approvals)  # type: ignore[arg-type]
    assert tracking.list_alias_protections(name) == []
    assert snapshot(tracking, name) == before


def test_bad_reviews_votes_and_comments(tracking: Tracking, colleague: Tracking, tmp_path: Path) -> None:
    name = unique("bad")
    run_id = trained_run(tracking, tmp_path)
    tracking.register_model(f"runs:/{run_id}/model", name)
    tracking.register_model(f"runs:/{run_id}/model", name)
    tracking.set_model_alias(name, "champion", 1)
    tracking.protect_alias(name, "champion", approvals=1)
    review = tracking.open_review(name, 2, "champion")
    other = tracking.open_review(name, 2, "challenger")
    stranger = colleague.comment_review(other.id, "over here")
    before = snapshot(tracking, name)
    thread = tracking.review_detail(review.id).comments

    with pytest.raises(InvalidValue):
        tracking.open_review(name, 1, "champion")  # it holds the alias already
    with pytest.raises(AlreadyExists) as twice:
        colleague.open_review(name, 2, "champion")
    assert twice.value.details == {"review_id": review.id}
    with pytest.raises(InvalidValue):
        colleague.request_changes(review.id, "   ")
    with pytest.raises(InvalidValue):
        colleague.approve_review(review.id, "x" * 20_001)
    for body in ("", " \n", "x" * 20_001, "nul\x00"):
        with pytest.raises(InvalidValue):
            colleague.comment_review(review.id, body)
    with pytest.raises(CommentNotFound):
        colleague.comment_review(review.id, "answering elsewhere", reply_to=stranger.id)
    with pytest.raises(CommentNotFound):
        colleague.comment_review(review.id, "answering nothing", reply_to=2**62)
    for bad_id in (0, -1):
        with pytest.raises(InvalidValue):
            tracking.get_review(bad_id)
        with pytest.raises(InvalidValue):
            colleague.comment_review(review.id, "hi", reply_to=bad_id)
    with pytest.raises(InvalidValue):
        tracking.list_reviews(state="pending")
    with pytest.raises(InvalidPageToken):
        tracking.list_reviews(page_token="not-a-token")
    with pytest.raises(InvalidValue):
        tracking.open_review(name, 2, "champion-two", description="nul\x00")
    assert snapshot(tracking, name) == before
    assert tracking.review_detail(review.id).comments == thread


def test_a_model_deleted_takes_its_reviews_and_protections(tracking: Tracking, tmp_path: Path) -> None:
    name = unique("gone")
    run_id = trained_run(tracking, tmp_path)
    tracking.register_model(f"runs:/{run_id}/model", name)
    tracking.protect_alias(name, "champion", approvals=0)
    review = tracking.open_review(name, 1, "champion")
    tracking.comment_review(review.id, "soon gone")
    tracking.delete_model(name)
    with pytest.raises(ReviewNotFound):
        tracking.get_review(review.id)
    tracking.register_model(f"runs:/{run_id}/model", name)
    assert tracking.list_alias_protections(name) == []
    assert tracking.set_model_alias(name, "champion", 1).to_version == 1
    # Ids are not given out again: the event log names the old review by its id.
    assert tracking.open_review(name, 1, "challenger").id > review.id
