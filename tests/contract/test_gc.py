"""Garbage collection: deleted runs purged, unreferenced bytes freed, nothing in use touched,
and uploads in flight safe while it runs."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.contract.helpers import manifest_json

from cairn.blobs.local import LocalBlobStore
from cairn.core.artifacts import ArtifactEntry, DatasetFileEntry, DatasetSpec
from cairn.core.errors import BlobNotFound, InvalidValue, RunNotFound
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.store.sql import SqlStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrackingService]:
    store = (
        SqlStore(str(tmp_path / "gc.db")) if request.param == "sqlite" else request.getfixturevalue("postgres_store")
    )
    service = TrackingService(store, Principal("tester"), blobs=LocalBlobStore(tmp_path / "blobs"))
    yield service
    if request.param == "sqlite":
        service.close()


def keep(service: TrackingService, content: bytes) -> str:
    digest = hashlib.sha256(content).hexdigest()
    service.write_blob([content], digest)
    return digest


def settle() -> None:
    """Let the clock move past what was just written, so a grace of 0 covers it."""
    time.sleep(0.01)


def stored(service: TrackingService) -> set[str]:
    return {info.digest for info in service.blobs.list()}


def test_unreferenced_blobs_go_and_referenced_ones_stay(service: TrackingService) -> None:
    run = service.create_run("p")
    used = keep(service, b"used by an artifact")
    unused = keep(service, b"uploaded, never registered")
    service.log_artifacts(run.id, [ArtifactEntry("model.bin", used, 19)])
    settle()

    report = service.collect_garbage(grace_ms=0)
    assert (report.deleted_blobs, report.freed_bytes) == (1, len(b"uploaded, never registered"))
    assert stored(service) == {used}
    assert service.missing_blobs([used, unused]) == [unused]
    assert b"".join(service.read_artifact(run.id, "model.bin")) == b"used by an artifact"


def test_the_grace_period_spares_recent_blobs(service: TrackingService) -> None:
    recent = keep(service, b"an upload still being registered")
    report = service.collect_garbage(grace_ms=60_000)
    assert report.deleted_blobs == 0 and stored(service) == {recent}


def test_deleted_runs_are_purged_and_their_own_bytes_freed(service: TrackingService) -> None:
    shared = keep(service, b"shared checkpoint")
    own = keep(service, b"only the deleted run's")
    gone, kept = service.create_run("p"), service.create_run("p")
    service.log_artifacts(gone.id, [ArtifactEntry("a", shared, 17), ArtifactEntry("b", own, 22)])
    service.log_artifacts(kept.id, [ArtifactEntry("a", shared, 17)])
    service.delete_run(gone.id)
    settle()

    dry = service.collect_garbage(grace_ms=0, dry_run=True)
    assert (dry.purged_runs, dry.deleted_blobs, dry.dry_run) == (1, 0, True)  # the run still holds its bytes
    assert service.get_run(gone.id).deleted and stored(service) == {shared, own}

    report = service.collect_garbage(grace_ms=0)
    assert (report.purged_runs, report.deleted_blobs) == (1, 1)
    with pytest.raises(RunNotFound):
        service.get_run(gone.id)
    assert stored(service) == {shared}
    assert [a.path for a in service.list_artifacts(kept.id)] == ["a"]


def test_keeping_deleted_runs_keeps_their_bytes(service: TrackingService) -> None:
    digest = keep(service, b"x")
    run = service.create_run("p")
    service.log_artifacts(run.id, [ArtifactEntry("x", digest, 1)])
    service.delete_run(run.id)
    settle()
    report = service.collect_garbage(grace_ms=0, purge_deleted=False)
    assert (report.purged_runs, report.deleted_blobs) == (0, 0)
    assert service.get_run(run.id).deleted


def test_a_dry_run_removes_nothing(service: TrackingService) -> None:
    digest = keep(service, b"would go")
    settle()
    report = service.collect_garbage(grace_ms=0, dry_run=True)
    assert (report.deleted_blobs, report.freed_bytes) == (1, 8)
    assert stored(service) == {digest} and service.missing_blobs([digest]) == []


def test_stored_dataset_files_are_in_use(service: TrackingService) -> None:
    content = b"a,b\n1,2\n"
    digest = keep(service, content)
    run = service.create_run("p")
    spec = DatasetSpec(
        name="train",
        digest=digest,
        source_uri="file:///data/train.csv",
        source_kind="file",
        files=[DatasetFileEntry("train.csv", digest, len(content))],
        stored=True,
    )
    service.log_dataset(run.id, spec, "train")
    settle()
    assert service.collect_garbage(grace_ms=0).deleted_blobs == 0
    assert stored(service) == {digest}


def test_prediction_logs_are_in_use_until_their_model_goes(service: TrackingService, tmp_path: Path) -> None:
    from tests.contract.test_prediction_logs import HOUR, log_file
    from tests.contract.test_registry import trained_run

    service.register_model(f"runs:/{trained_run(service, tmp_path)}/model", "served")
    logged = service.log_predictions("served", 1, HOUR, log_file())
    settle()
    service.collect_garbage(grace_ms=0)
    assert logged.digest in stored(service)
    assert service.read_prediction_log("served", 1, logged.id) == log_file()
    service.delete_model("served")
    settle()
    service.collect_garbage(grace_ms=0)
    assert logged.digest not in stored(service)


def test_label_files_are_in_use_until_their_model_goes(service: TrackingService, tmp_path: Path) -> None:
    from tests.contract.test_prediction_logs import HOUR, log_file
    from tests.contract.test_registry import trained_run

    service.register_model(f"runs:/{trained_run(service, tmp_path)}/model", "served")
    service.log_predictions("served", 1, HOUR, log_file())
    kept = service.log_prediction_labels("served", 1, ["r0", "r1"], [1, 0])
    data = service.read_prediction_labels("served", 1, kept.id)
    settle()
    service.collect_garbage(grace_ms=0)
    assert kept.digest in stored(service)
    assert service.read_prediction_labels("served", 1, kept.id) == data
    service.delete_model("served")
    settle()
    service.collect_garbage(grace_ms=0)
    assert kept.digest not in stored(service)


def test_a_retention_drops_old_prediction_logs_and_frees_their_bytes(service: TrackingService, tmp_path: Path) -> None:
    from tests.contract.test_prediction_logs import HOUR, log_file
    from tests.contract.test_registry import trained_run

    from cairn.core.clock import now_ms
    from cairn.core.prediction_logs import HOUR_MS, hour_of

    service.register_model(f"runs:/{trained_run(service, tmp_path)}/model", "served")
    old = service.log_predictions("served", 1, HOUR, log_file())
    recent_hour = hour_of(now_ms()) - HOUR_MS
    recent = service.log_predictions("served", 1, recent_hour, log_file(times=[recent_hour + 5]))
    settle()
    assert (
        service.collect_garbage(
            grace_ms=0, prediction_retention_ms=30 * 86_400_000, dry_run=True
        ).dropped_prediction_files
        == 1
    )
    assert len(service.list_prediction_logs("served").items) == 2
    report = service.collect_garbage(grace_ms=0, prediction_retention_ms=30 * 86_400_000)
    assert report.dropped_prediction_files == 1 and report.deleted_blobs == 1
    assert [f.id for f in service.list_prediction_logs("served").items] == [recent.id]
    assert old.digest not in stored(service) and recent.digest in stored(service)
    with pytest.raises(InvalidValue):
        service.collect_garbage(prediction_retention_ms=0)


def test_bytes_without_a_record_and_abandoned_uploads_are_cleaned(service: TrackingService) -> None:
    # Bytes a server wrote before it died, without recording them; an upload never finished.
    orphan = service.blobs.write([b"orphaned bytes"])
    upload = service.blobs.stage_create()
    service.blobs.stage_append(upload.upload_id, 0, [b"half of something"])
    settle()
    report = service.collect_garbage(grace_ms=0)
    assert report.deleted_blobs == 1 and report.aborted_uploads == 1
    assert orphan.digest not in stored(service)
    assert list(service.blobs.stage_list()) == []


def test_a_blob_asked_for_while_gc_runs_is_not_collected(service: TrackingService) -> None:
    digest = keep(service, b"about to be reused")
    settle()
    cutoff = int(time.time() * 1000)
    # gc has listed the blob as collectable...
    assert [d for d, _ in service.store.unreferenced_blobs(cutoff)] == [digest]
    # ...when a client asks for it, finds it present and registers it: the touch wins.
    assert service.missing_blobs([digest]) == []
    assert not service.store.forget_blob(digest, cutoff)
    run = service.create_run("p")
    service.log_artifacts(run.id, [ArtifactEntry("reused.bin", digest, 18)])
    assert stored(service) == {digest}


def test_a_blob_forgotten_by_gc_must_be_sent_again(service: TrackingService) -> None:
    digest = keep(service, b"collected")
    settle()
    cutoff = int(time.time() * 1000)
    assert service.store.forget_blob(digest, cutoff)  # gc took the record first...
    # ...so a client asking now is told to upload, and cannot register bytes that may vanish.
    assert service.missing_blobs([digest]) == [digest]
    run = service.create_run("p")
    with pytest.raises(BlobNotFound):
        service.log_artifacts(run.id, [ArtifactEntry("late.bin", digest, 9)])
    service.blobs.delete(digest)
    keep(service, b"collected")  # the re-upload
    service.log_artifacts(run.id, [ArtifactEntry("late.bin", digest, 9)])
    assert b"".join(service.read_artifact(run.id, "late.bin")) == b"collected"


def test_gc_report_counts_real_sizes(service: TrackingService) -> None:
    sizes = [1, 1000, 123_456]
    for size in sizes:
        keep(service, os.urandom(size))
    settle()
    assert service.collect_garbage(grace_ms=0).freed_bytes == sum(sizes)


def test_bytes_an_upload_found_between_gcs_two_steps_are_kept(service: TrackingService) -> None:
    content = b"found in the gap"
    digest = keep(service, content)
    settle()
    cutoff = int(time.time() * 1000)
    assert service.store.forget_blob(digest, cutoff)  # gc's first step: the record goes
    time.sleep(0.01)
    keep(service, content)  # an upload of the same bytes finds them, touches them, records them
    assert not service.blobs.delete(digest, untouched_since=cutoff)  # gc's second step holds back
    run = service.create_run("p")
    service.log_artifacts(run.id, [ArtifactEntry("kept.bin", digest, len(content))])
    assert b"".join(service.read_artifact(run.id, "kept.bin")) == content


def test_a_deleted_run_a_registered_version_comes_from_keeps_its_files(service: TrackingService) -> None:
    """A registered version must stay loadable: gc leaves its run (and so its files) alone
    until the version is gone, and says so in its report."""
    weights = keep(service, b"registered weights")
    manifest = manifest_json({"model.bin": weights})
    manifest_digest = keep(service, manifest)
    registered, plain = service.create_run("p"), service.create_run("p")
    for run in (registered, plain):
        service.log_artifacts(
            run.id,
            [
                ArtifactEntry("model/model.bin", weights, 18),
                ArtifactEntry("model/cairn-model.json", manifest_digest, len(manifest)),
            ],
        )
    service.register_model(f"runs:/{registered.id}/model", "m")
    service.delete_run(registered.id)
    service.delete_run(plain.id)
    settle()

    dry = service.collect_garbage(grace_ms=0, dry_run=True)
    assert (dry.purged_runs, dry.kept_runs) == (1, (registered.id,))
    report = service.collect_garbage(grace_ms=0)
    assert (report.purged_runs, report.kept_runs, report.deleted_blobs) == (1, (registered.id,), 0)
    with pytest.raises(RunNotFound):
        service.get_run(plain.id)
    assert stored(service) == {weights, manifest_digest}
    version = service.get_model_version("m", 1)
    assert b"".join(service.read_artifact(version.run_id, "model/model.bin")) == b"registered weights"

    # Once the version is gone, so is the run.
    service.delete_model("m")
    settle()
    after = service.collect_garbage(grace_ms=0)
    assert (after.purged_runs, after.kept_runs, after.deleted_blobs) == (1, (), 2)
    assert stored(service) == set()
