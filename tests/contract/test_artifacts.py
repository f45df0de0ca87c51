"""Artifacts through the tracking interface: bytes stored once by digest, registered under
paths of a run, listed and read back (also in ranges); bad paths and bad bytes leave nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cairn.core.artifacts import ArtifactEntry
from cairn.core.entities import RunStatus, RunUpdate
from cairn.core.errors import (
    ArtifactNotFound,
    BlobNotFound,
    DigestMismatch,
    InvalidArtifactPath,
    InvalidValue,
    RunNotActive,
    RunNotFound,
)
from cairn.service.interface import Tracking


def put(tracking: Tracking, tmp_path: Path, content: bytes, name: str = "file.bin") -> tuple[str, int]:
    """Upload ``content`` as a file and return its (digest, size)."""
    source = tmp_path / f"{hashlib.sha256(content).hexdigest()[:12]}-{name}"
    source.write_bytes(content)
    digest = hashlib.sha256(content).hexdigest()
    if tracking.missing_blobs([digest]):
        tracking.upload_file(source, digest, len(content))
    return digest, len(content)


def test_upload_register_list_and_read(tracking: Tracking, tmp_path: Path) -> None:
    run = tracking.create_run("p")
    weights = b"\x00\x01weights" * 1000
    digest, size = put(tracking, tmp_path, weights)
    config_digest, config_size = put(tracking, tmp_path, b'{"lr": 0.1}')
    assert tracking.missing_blobs([digest, config_digest]) == []

    logged = tracking.log_artifacts(
        run.id,
        [
            ArtifactEntry("model/weights.bin", digest, size),
            ArtifactEntry("model/config.json", config_digest, config_size, "dict", "application/json", {"keys": 1}),
        ],
    )
    assert [a.path for a in logged] == ["model/weights.bin", "model/config.json"]

    listed = tracking.list_artifacts(run.id)
    assert [(a.path, a.digest, a.size) for a in listed] == [
        ("model/config.json", config_digest, config_size),
        ("model/weights.bin", digest, size),
    ]
    assert listed[0].kind == "dict" and listed[0].meta == {"keys": 1} and listed[0].media_type == "application/json"
    assert [a.path for a in tracking.list_artifacts(run.id, "model/weights.bin")] == ["model/weights.bin"]
    assert [a.path for a in tracking.list_artifacts(run.id, "model/")] == ["model/config.json", "model/weights.bin"]
    assert tracking.list_artifacts(run.id, "mod") == []  # a prefix of a name is not a folder

    assert b"".join(tracking.read_artifact(run.id, "model/weights.bin")) == weights
    assert b"".join(tracking.read_artifact(run.id, "model/weights.bin", 2, 9)) == weights[2:9]
    assert b"".join(tracking.read_artifact(run.id, "model/weights.bin", len(weights) - 3)) == weights[-3:]


def test_same_bytes_from_two_runs_are_one_blob(tracking: Tracking, tmp_path: Path) -> None:
    content = b"checkpoint" * 100
    first, second = tracking.create_run("p"), tracking.create_run("p")
    digest, size = put(tracking, tmp_path, content)
    tracking.log_artifacts(first.id, [ArtifactEntry("ckpt.pt", digest, size)])
    # The second run finds the bytes already there and sends nothing.
    assert tracking.missing_blobs([digest]) == []
    tracking.log_artifacts(second.id, [ArtifactEntry("best/ckpt.pt", digest, size)])
    assert b"".join(tracking.read_artifact(second.id, "best/ckpt.pt")) == content


def test_logging_a_path_again_replaces_it(tracking: Tracking, tmp_path: Path) -> None:
    run = tracking.create_run("p")
    old, old_size = put(tracking, tmp_path, b"old")
    new, new_size = put(tracking, tmp_path, b"newer")
    tracking.log_artifacts(run.id, [ArtifactEntry("notes.txt", old, old_size)])
    tracking.log_artifacts(run.id, [ArtifactEntry("notes.txt", new, new_size)])
    assert b"".join(tracking.read_artifact(run.id, "notes.txt")) == b"newer"
    assert len(tracking.list_artifacts(run.id)) == 1


def test_empty_file(tracking: Tracking, tmp_path: Path) -> None:
    run = tracking.create_run("p")
    digest, size = put(tracking, tmp_path, b"")
    tracking.log_artifacts(run.id, [ArtifactEntry("empty", digest, size)])
    assert b"".join(tracking.read_artifact(run.id, "empty")) == b""


BAD_PATHS = [
    "../escape",
    "a/../../b",
    "/etc/passwd",
    "C:/windows",
    "a\\b",
    "a\x00b",
    "a//b",
    "./a",
    "",
    "a/./b",
    "tab\there",
]


def test_paths_leaving_the_run_are_refused(tracking: Tracking, tmp_path: Path) -> None:
    run = tracking.create_run("p")
    digest, size = put(tracking, tmp_path, b"x")
    for path in BAD_PATHS:
        with pytest.raises(InvalidArtifactPath):
            tracking.log_artifacts(run.id, [ArtifactEntry("ok.txt", digest, size), ArtifactEntry(path, digest, size)])
    assert tracking.list_artifacts(run.id) == []  # nothing of any request was kept


def test_unknown_digest_or_wrong_size_is_refused_whole(tracking: Tracking, tmp_path: Path) -> None:
    run = tracking.create_run("p")
    digest, size = put(tracking, tmp_path, b"present")
    with pytest.raises(BlobNotFound):
        tracking.log_artifacts(run.id, [ArtifactEntry("a", digest, size), ArtifactEntry("b", "0" * 64, 3)])
    with pytest.raises(InvalidValue):
        tracking.log_artifacts(run.id, [ArtifactEntry("a", digest, size + 1)])
    with pytest.raises(InvalidValue):
        tracking.log_artifacts(run.id, [ArtifactEntry("a", "not-a-digest", size)])
    assert tracking.list_artifacts(run.id) == []


def test_bytes_that_do_not_match_their_digest_leave_nothing(tracking: Tracking, tmp_path: Path) -> None:
    source = tmp_path / "changed.bin"
    source.write_bytes(b"what was hashed")
    claimed = hashlib.sha256(b"what was hashed").hexdigest()
    source.write_bytes(b"what is sent now")  # the file changed after it was logged
    with pytest.raises(DigestMismatch):
        tracking.upload_file(source, claimed, source.stat().st_size)
    assert tracking.missing_blobs([claimed]) == [claimed]
    run = tracking.create_run("p")
    with pytest.raises(BlobNotFound):
        tracking.log_artifacts(run.id, [ArtifactEntry("m.bin", claimed, 16)])


def test_missing_artifact_and_run(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    with pytest.raises(ArtifactNotFound):
        b"".join(tracking.read_artifact(run.id, "nope.txt"))
    with pytest.raises(RunNotFound):
        tracking.list_artifacts("0" * 32)


def test_a_folder_is_read_in_one_go_each_file_with_its_digest(tracking: Tracking, tmp_path: Path) -> None:
    run = tracking.create_run("p")
    contents = {
        "model/cairn-model.json": b'{"format": 1}',
        "model/weights.bin": b"\x00\x01" * 40_000,
        "model/sub/empty.txt": b"",
        "model-card.md": b"# not in the folder",
    }
    entries = [ArtifactEntry(path, *put(tracking, tmp_path, data)) for path, data in contents.items()]
    tracking.log_artifacts(run.id, entries)

    def read(path: str) -> dict[str, tuple[str, int, bytes]]:
        files = tracking.read_artifact_folder(run.id, path)
        return {f.path: (f.digest, f.size, b"".join(chunks)) for f, chunks in files}

    def expected(*paths: str) -> dict[str, tuple[str, int, bytes]]:
        return {p: (hashlib.sha256(contents[p]).hexdigest(), len(contents[p]), contents[p]) for p in paths}

    in_folder = ("model/cairn-model.json", "model/sub/empty.txt", "model/weights.bin")
    assert read("model") == read("model/") == expected(*in_folder)
    assert list(read("model")) == sorted(in_folder)  # by path, as a listing
    assert read("model/weights.bin") == expected("model/weights.bin")
    assert read("") == expected(*contents)


def test_a_folder_that_is_not_there_is_refused_before_any_file(tracking: Tracking) -> None:
    run = tracking.create_run("p")
    with pytest.raises(ArtifactNotFound):
        tracking.read_artifact_folder(run.id, "model")
    with pytest.raises(RunNotFound):
        tracking.read_artifact_folder("0" * 32, "model")
    with pytest.raises(InvalidArtifactPath):
        tracking.read_artifact_folder(run.id, "../model")


def test_artifacts_after_the_end_but_not_after_deletion(tracking: Tracking, tmp_path: Path) -> None:
    run = tracking.create_run("p")
    tracking.update_run(run.id, RunUpdate(status=RunStatus.FINISHED))
    digest, size = put(tracking, tmp_path, b"plot")
    tracking.log_artifacts(run.id, [ArtifactEntry("late.png", digest, size)])  # an evaluation made later
    tracking.delete_run(run.id)
    with pytest.raises(RunNotActive):
        tracking.log_artifacts(run.id, [ArtifactEntry("later.png", digest, size)])
    assert [a.path for a in tracking.list_artifacts(run.id)] == ["late.png"]
