"""Snapshots through the tracking interface: trees of path → digest, shared when identical,
chained per kind like commits, readable file by file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cairn.core.artifacts import SnapshotFile, snapshot_id
from cairn.core.errors import BlobNotFound, InvalidArtifactPath, InvalidValue, NotFound
from cairn.service.interface import Tracking


def tree(tracking: Tracking, tmp_path: Path, contents: dict[str, bytes]) -> list[SnapshotFile]:
    files = []
    for path, content in contents.items():
        digest = hashlib.sha256(content).hexdigest()
        if tracking.missing_blobs([digest]):
            source = tmp_path / digest
            source.write_bytes(content)
            tracking.upload_file(source, digest, len(content))
        files.append(SnapshotFile(path, digest, len(content)))
    return files


def test_identical_trees_are_one_snapshot_and_changes_chain(tracking: Tracking, tmp_path: Path) -> None:
    first, second, third = (tracking.create_run("p") for _ in range(3))
    v1 = tree(tracking, tmp_path, {"train.py": b"lr = 0.1\n", "lib/model.py": b"layers = 2\n"})
    v2 = tree(tracking, tmp_path, {"train.py": b"lr = 0.2\n", "lib/model.py": b"layers = 2\n"})

    a = tracking.save_snapshot(first.id, "code", v1, meta={"commit": "abc"})
    assert a.id == snapshot_id("code", v1) and a.parent_id is None and a.meta == {"commit": "abc"}
    assert [f.path for f in a.files] == ["lib/model.py", "train.py"]
    b = tracking.save_snapshot(second.id, "code", v2)
    assert b.parent_id == a.id  # the project's previous code snapshot
    c = tracking.save_snapshot(third.id, "code", list(reversed(v1)))
    assert c.id == a.id and c.parent_id is None  # the same tree is the same snapshot

    assert [s.id for s in tracking.run_snapshots(second.id)] == [b.id]
    assert tracking.get_snapshot(b.id).files == sorted(v2, key=lambda f: f.path)
    assert b"".join(tracking.read_snapshot_file(b.id, "train.py")) == b"lr = 0.2\n"
    with pytest.raises(NotFound):
        b"".join(tracking.read_snapshot_file(b.id, "missing.py"))


def test_one_snapshot_per_kind_per_run(tracking: Tracking, tmp_path: Path) -> None:
    run = tracking.create_run("p")
    code = tracking.save_snapshot(run.id, "code", tree(tracking, tmp_path, {"a.py": b"1"}))
    env = tracking.save_snapshot(run.id, "environment", tree(tracking, tmp_path, {"requirements.txt": b"x==1\n"}))
    again = tracking.save_snapshot(run.id, "code", tree(tracking, tmp_path, {"a.py": b"2"}))
    assert sorted((s.kind, s.id) for s in tracking.run_snapshots(run.id)) == sorted(
        [("code", again.id), ("environment", env.id)]
    )
    assert again.id != code.id


def test_bad_snapshots_are_refused(tracking: Tracking, tmp_path: Path) -> None:
    run = tracking.create_run("p")
    files = tree(tracking, tmp_path, {"a.py": b"1"})
    with pytest.raises(InvalidValue):
        tracking.save_snapshot(run.id, "weather", files)
    with pytest.raises(InvalidArtifactPath):
        tracking.save_snapshot(run.id, "code", [SnapshotFile("../a.py", files[0].digest, 1)])
    with pytest.raises(BlobNotFound):
        tracking.save_snapshot(run.id, "code", [SnapshotFile("b.py", "0" * 64, 3)])
    assert tracking.run_snapshots(run.id) == []
