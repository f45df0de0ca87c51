"""The role policy's rules, through the service, on SQLite and PostgreSQL (docs/access.md)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.access_helpers import ADMIN, Team
from tests.contract.helpers import manifest_json

from cairn.blobs.local import LocalBlobStore
from cairn.core.access import ResourceKind, Role
from cairn.core.artifacts import ArtifactEntry
from cairn.core.errors import (
    InvalidArtifactPath,
    ModelNotFound,
    PermissionDenied,
    ProjectNotFound,
    ReviewNotFound,
    RunNotFound,
    SelfApproval,
    Unauthenticated,
    UserNotFound,
)
from cairn.service.policy import Principal, RolePolicy
from cairn.service.tracking import TrackingService
from cairn.store.base import MetadataStore
from cairn.store.sql import SqlStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    if request.param == "sqlite":
        sqlite = SqlStore(str(tmp_path / "authz.db"))
        yield sqlite
        sqlite.close()
    else:
        yield request.getfixturevalue("postgres_store")


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def acting(store: MetadataStore, blobs: LocalBlobStore, name: str, *, is_admin: bool = False) -> TrackingService:
    return TrackingService(store, Principal(name, is_admin=is_admin, authenticated=True), RolePolicy(store), blobs)


@pytest.fixture
def team(store: MetadataStore) -> Team:
    team = Team(store)
    for name in ("vic", "eda", "mai", "pad", "out"):
        team.user(name, password=None)
    return team


def _logged_model(service: TrackingService, project: str) -> str:
    weights, manifest = b"w", manifest_json({"model.bin": hashlib.sha256(b"w").hexdigest()})
    digests = [hashlib.sha256(data).hexdigest() for data in (weights, manifest)]
    run = service.create_run(project)  # first: storing bytes needs the editor role somewhere
    for data, digest in zip((weights, manifest), digests, strict=True):
        service.write_blob([data], digest)
    service.log_artifacts(
        run.id,
        [
            ArtifactEntry("model/model.bin", digests[0], len(weights)),
            ArtifactEntry("model/cairn-model.json", digests[1], len(manifest)),
        ],
    )
    return run.id


def test_a_creator_becomes_admin_and_others_see_nothing(
    store: MetadataStore, blobs: LocalBlobStore, team: Team
) -> None:
    eda, out = acting(store, blobs, "eda"), acting(store, blobs, "out")
    eda.create_project("vision")
    run = eda.create_run("vision")  # a first run of a new project makes it too
    eda.create_run("nlp")
    assert eda.my_role(ResourceKind.PROJECT, "vision") is Role.ADMIN
    assert eda.my_role(ResourceKind.PROJECT, "nlp") is Role.ADMIN
    assert {p.name for p in out.list_projects()} == set()
    with pytest.raises(ProjectNotFound):
        out.get_project("vision")
    with pytest.raises(RunNotFound) as hidden:  # by id: the project's name does not leak
        out.get_run(run.id)
    assert "vision" not in hidden.value.message
    with pytest.raises(ProjectNotFound):
        out.create_run("vision")  # someone else's project is not joined by logging to it


def test_roles_decide_reads_writes_and_deletes(store: MetadataStore, blobs: LocalBlobStore, team: Team) -> None:
    admin = TrackingService(store, ADMIN, RolePolicy(store), blobs)
    admin.create_project("p")
    for name, role in (("vic", Role.VIEWER), ("eda", Role.EDITOR), ("mai", Role.MAINTAINER)):
        team.grant(name, role, project="p")
    run = admin.create_run("p")
    vic, eda, mai = (acting(store, blobs, n) for n in ("vic", "eda", "mai"))
    assert vic.get_run(run.id).id == run.id
    with pytest.raises(PermissionDenied):
        vic.set_tags(run.id, {"a": "1"})
    with pytest.raises(PermissionDenied):
        vic.write_blob([b"x"], hashlib.sha256(b"x").hexdigest())  # an editor nowhere stores no bytes
    eda.set_tags(run.id, {"a": "1"})
    comment = eda.add_comment(run.id, "mine")
    with pytest.raises(PermissionDenied):
        eda.delete_run(run.id)
    with pytest.raises(PermissionDenied):
        vic.delete_comment(comment.id)
    mai.delete_comment(comment.id)  # a maintainer moderates
    mai.delete_run(run.id)
    with pytest.raises(PermissionDenied):
        eda.list_webhooks()  # server-wide: a global admin's
    with pytest.raises(PermissionDenied):
        mai.list_events()  # the whole log too
    assert [e.subject for e in mai.list_events(subject=f"runs/{run.id}").items][0] == f"runs/{run.id}"
    with pytest.raises(Unauthenticated):
        TrackingService(store, Principal("eda"), RolePolicy(store), blobs).list_projects()


def test_models_listings_and_reviews(store: MetadataStore, blobs: LocalBlobStore, team: Team) -> None:
    eda, mai, pad, out = (acting(store, blobs, n) for n in ("eda", "mai", "pad", "out"))
    run_id = _logged_model(eda, "p")
    version = eda.register_model(f"runs:/{run_id}/model", "digits")  # a new model: eda is its admin
    eda.grant_role(ResourceKind.MODEL, "digits", "mai", Role.MAINTAINER)
    eda.grant_role(ResourceKind.MODEL, "digits", "pad", Role.EDITOR)
    assert [m.name for m in out.list_models().items] == []
    assert [v.model for v in out.search_model_versions().items] == []
    assert [m.name for m in mai.list_models().items] == ["digits"]
    with pytest.raises(ModelNotFound):
        out.get_model("digits")
    with pytest.raises(PermissionDenied):
        mai.protect_alias("digits", "champion")  # a model's settings are its admin's
    eda.protect_alias("digits", "champion", approvals=1)
    protection = eda.get_alias_protection("digits", "champion")
    assert (protection.approve_role, protection.merge_role) == (Role.EDITOR, Role.MAINTAINER)
    review = pad.open_review("digits", version.version, "champion")
    with pytest.raises(ReviewNotFound):
        out.get_review(review.id)
    with pytest.raises(SelfApproval):
        pad.approve_review(review.id)
    eda.approve_review(review.id)
    with pytest.raises(PermissionDenied):
        pad.merge_review(review.id)  # an editor may not merge into @champion
    assert mai.merge_review(review.id).state.value == "merged"
    # A protection may ask more of approvers: now only a maintainer approves.
    eda.protect_alias("digits", "champion", approvals=1, approve_role="maintainer", merge_role="admin")
    second = eda.register_model(f"runs:/{run_id}/model", "digits")
    review = pad.open_review("digits", second.version, "champion")
    with pytest.raises(PermissionDenied):
        TrackingService(store, Principal("x", authenticated=True), RolePolicy(store), blobs).list_events()
    mai.approve_review(review.id)
    with pytest.raises(PermissionDenied):
        mai.merge_review(review.id)
    eda.merge_review(review.id)


def test_prediction_logs_are_written_by_editors_and_read_by_viewers(
    store: MetadataStore, blobs: LocalBlobStore, team: Team
) -> None:
    from tests.contract.test_prediction_logs import HOUR, log_file

    eda, vic, out = (acting(store, blobs, n) for n in ("eda", "vic", "out"))
    eda.register_model(f"runs:/{_logged_model(eda, 'p')}/model", "digits")
    eda.grant_role(ResourceKind.MODEL, "digits", "vic", Role.VIEWER)
    logged = eda.log_predictions("digits", 1, HOUR, log_file())
    with pytest.raises(PermissionDenied):
        vic.log_predictions("digits", 1, HOUR, log_file())
    assert vic.list_prediction_logs("digits").items == [logged]
    assert vic.read_prediction_log("digits", 1, logged.id) == log_file()
    for call in (
        lambda: out.log_predictions("digits", 1, HOUR, log_file()),
        lambda: out.list_prediction_logs("digits"),
        lambda: out.read_prediction_log("digits", 1, logged.id),
    ):
        with pytest.raises(ModelNotFound):  # as if it did not exist
            call()
    assert eda.list_prediction_logs("digits").items == [logged]


def test_labels_are_written_by_editors_and_read_by_viewers(
    store: MetadataStore, blobs: LocalBlobStore, team: Team
) -> None:
    from tests.contract.test_prediction_logs import HOUR, log_file

    eda, vic, out = (acting(store, blobs, n) for n in ("eda", "vic", "out"))
    eda.register_model(f"runs:/{_logged_model(eda, 'p')}/model", "digits")
    eda.grant_role(ResourceKind.MODEL, "digits", "vic", Role.VIEWER)
    eda.log_predictions("digits", 1, HOUR, log_file())
    kept = eda.log_prediction_labels("digits", 1, ["r0", "r1"], [0, 1])
    with pytest.raises(PermissionDenied):
        vic.log_prediction_labels("digits", 1, ["r0"], [1])
    assert vic.list_prediction_labels("digits", 1).items == [kept]
    assert vic.read_prediction_labels("digits", 1, kept.id) == eda.read_prediction_labels("digits", 1, kept.id)
    assert vic.performance_report("digits", 1, "1h", HOUR, HOUR + 3_600_000)["windows"][0]["labelled"] == 2
    for call in (
        lambda: out.log_prediction_labels("digits", 1, ["r0"], [1]),
        lambda: out.list_prediction_labels("digits", 1),
        lambda: out.read_prediction_labels("digits", 1, kept.id),
        lambda: out.performance_report("digits", 1),
    ):
        with pytest.raises(ModelNotFound):  # as if it did not exist
            call()
    assert eda.list_prediction_labels("digits", 1).items == [kept]


def test_a_listing_of_many_projects_asks_once(store: MetadataStore, blobs: LocalBlobStore, team: Team) -> None:
    """1,000 projects, 10 of them visible: the listing is those 10 (one roles query and one
    listing query, not one per project: this finishes quickly on both databases)."""
    with store.atomic():
        for n in range(1000):
            store.create_project(f"p{n:04d}")
    for n in range(0, 1000, 100):
        team.grant("vic", Role.VIEWER, project=f"p{n:04d}")
    names = [p.name for p in acting(store, blobs, "vic").list_projects()]
    assert sorted(names) == [f"p{n:04d}" for n in range(0, 1000, 100)]
    assert len(TrackingService(store, ADMIN, RolePolicy(store), blobs).list_projects()) == 1000


def test_users_change_their_own_account_but_not_their_powers(
    store: MetadataStore, blobs: LocalBlobStore, team: Team
) -> None:
    """One's own name is no secret: making oneself admin, or disabling oneself, is refused as
    such (403), while another user stays hidden (404). Nor may a non-admin create a user."""
    vic = acting(store, blobs, "vic")
    assert vic.update_user("vic", display_name="Vic").display_name == "Vic"
    for change in ({"is_admin": True}, {"disabled": True}):
        with pytest.raises(PermissionDenied):
            vic.update_user("vic", **change)
    assert not store.get_user("vic").is_admin and not store.get_user("vic").disabled
    with pytest.raises(UserNotFound):
        vic.update_user("eda", display_name="Eda")
    with pytest.raises(PermissionDenied):
        vic.create_user("newcomer", password="a long enough passphrase 3")
    with pytest.raises(UserNotFound):
        store.get_user("newcomer")


def test_an_admin_makes_tokens_for_service_accounts_but_never_for_a_person(tmp_path: Path) -> None:
    """A token acts as its owner: an admin who could make one for a colleague could act as them."""
    store = SqlStore(str(tmp_path / "tokens.db"))
    team = Team(store)
    team.user("boss", is_admin=True)
    team.user("ann")
    team.admin.create_user("ci", is_service=True)
    boss = TrackingService(store, Principal("boss", is_admin=True, authenticated=True))
    with pytest.raises(PermissionDenied, match="only they create their tokens"):
        boss.create_token("sneaky", username="ann")
    token, secret = boss.create_token("deploy", username="ci")
    assert token.username == "ci" and secret.startswith("cairn_")
    assert [t.name for t in store.list_tokens("ann")] == ["tests"]
    store.close()


def test_a_streamed_artifact_is_refused_before_a_byte_is_read(
    store: MetadataStore, blobs: LocalBlobStore, team: Team
) -> None:
    admin = TrackingService(store, ADMIN, RolePolicy(store), blobs)
    admin.create_project("p")
    team.grant("vic", Role.VIEWER, project="p")
    team.grant("eda", Role.EDITOR, project="p")
    run = admin.create_run("p")
    read: list[bytes] = []

    def body(*pieces: bytes) -> Iterator[bytes]:
        for piece in pieces:
            read.append(piece)
            yield piece

    vic, eda = acting(store, blobs, "vic"), acting(store, blobs, "eda")
    with pytest.raises(PermissionDenied):
        vic.write_artifact(run.id, "a.txt", body(b"never read"))
    with pytest.raises(InvalidArtifactPath):
        eda.write_artifact(run.id, "../a.txt", body(b"never read"))
    assert read == []
    artifact = eda.write_artifact(run.id, "dir/a.txt", body(b"he", b"llo"), media_type="text/plain")
    assert (artifact.path, artifact.size, artifact.digest) == ("dir/a.txt", 5, hashlib.sha256(b"hello").hexdigest())
    eda.write_artifact(run.id, "dir/a.txt", body(b"again"))  # the same path again replaces the file
    assert [(a.path, a.size) for a in vic.list_artifacts(run.id)] == [("dir/a.txt", 5)]
    assert b"".join(vic.read_artifact(run.id, "dir/a.txt")) == b"again"
