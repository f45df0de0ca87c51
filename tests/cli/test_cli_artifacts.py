"""``cairn artifacts list/get``, ``cairn datasets list`` and ``cairn gc`` on a real store, and
against a server."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

import cairn
from cairn.settings import default_blobs_uri

from .helpers import Invoke


@pytest.fixture
def logged(clean_environ: Path, tmp_path: Path) -> cairn.Run:
    """A run in the embedded store with a file, a folder and a dataset."""
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "weights.bin").write_bytes(os.urandom(5000))
    (folder / "config.json").write_text('{"a": 1}')
    data = tmp_path / "train.csv"
    data.write_text("x,y\n1,a\n2,b\n")
    with cairn.init("cli-art", flush_interval=0.05) as run:
        run.log_artifact(folder)
        run.log_text("hello", "notes")
        run.log_dataset(data, "train")
    return run


def test_list_shows_files_sizes_and_kinds(invoke: Invoke, logged: cairn.Run) -> None:
    out = invoke("artifacts", "list", logged.id).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["path", "size", "kind", "sha256"]
    assert [line.split()[0] for line in lines[2:5]] == ["model/config.json", "model/sub/weights.bin", "notes.txt"]
    assert "text" in lines[4] and lines[-1].startswith("3 files")
    assert "model/sub/weights.bin" in invoke("artifacts", "list", logged.id, "model/sub").stdout
    assert "notes.txt" not in invoke("artifacts", "list", logged.id, "model").stdout
    data = orjson.loads(invoke("artifacts", "list", logged.id, "--json").stdout)
    assert [item["path"] for item in data] == ["model/config.json", "model/sub/weights.bin", "notes.txt"]
    assert invoke("artifacts", "list", logged.id, "nothing-here").stdout.startswith("Run ")


def test_get_downloads_a_file_and_a_folder_checked(invoke: Invoke, logged: cairn.Run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("artifacts", "get", logged.id, "model", "-o", str(out))
    assert (out / "model" / "sub" / "weights.bin").read_bytes() == (tmp_path / "model/sub/weights.bin").read_bytes()
    assert "2 files" in result.stderr and "checksums verified" in result.stderr
    invoke("artifacts", "get", logged.id, "notes.txt", "-o", str(out))
    assert (out / "notes.txt").read_text() == "hello"


def test_get_refuses_what_is_not_there(invoke: Invoke, logged: cairn.Run, tmp_path: Path) -> None:
    result = invoke("artifacts", "get", logged.id, "missing.bin", "-o", str(tmp_path), code=1)
    assert "has no artifact at 'missing.bin'" in result.stderr
    result = invoke("artifacts", "get", logged.id, "../../etc/passwd", "-o", str(tmp_path), code=1)
    assert "must stay inside the run" in result.stderr
    result = invoke("artifacts", "list", "0" * 32, code=1)
    assert "no run with id" in result.stderr


def test_runs_show_lists_datasets_and_artifacts(invoke: Invoke, logged: cairn.Run) -> None:
    out = invoke("runs", "show", logged.id).stdout
    row = out.split("Datasets (1)", 1)[1].splitlines()[3].split()
    assert (row[0], row[1], row[3], row[4]) == ("train", "train", "2", "2")  # name, context, rows, cols
    artifacts = out.split("Artifacts (3)", 1)[1].splitlines()
    assert [line.split()[0] for line in artifacts[3:6]] == ["model/config.json", "model/sub/weights.bin", "notes.txt"]


def test_datasets_list(invoke: Invoke, logged: cairn.Run) -> None:
    out = invoke("datasets", "list", "cli-art").stdout
    row = out.splitlines()[2].split()
    assert row[0] == "train" and row[3:5] == ["2", "2"] and row[5] == "no"
    assert f"{logged.id[:8]} (train)" in out
    data = orjson.loads(invoke("datasets", "list", "cli-art", "--json").stdout)
    assert data[0]["schema"] == [{"name": "x", "type": "integer"}, {"name": "y", "type": "string"}]
    assert "no dataset named 'other'" in invoke("datasets", "list", "cli-art", "--name", "other", code=1).stderr


def test_gc_purges_deleted_runs_and_frees_their_bytes(invoke: Invoke, logged: cairn.Run) -> None:
    with cairn.Api() as api:
        api._tracking.delete_run(logged.id)
    blobs = Path(default_blobs_uri())
    before = sum(1 for p in blobs.rglob("*") if p.is_file())
    dry = invoke("gc", "--grace", "0", "--dry-run").stdout
    assert dry.startswith("Would purge 1 deleted run;")
    assert sum(1 for p in blobs.rglob("*") if p.is_file()) == before
    out = invoke("gc", "--grace", "0").stdout
    assert out.startswith("Purged 1 deleted run; deleted 3 blobs, freeing ")
    assert sum(1 for p in (blobs / "sha256").rglob("*") if p.is_file()) == 0
    assert invoke("gc", "--grace", "0").stdout.startswith("Purged 0 deleted runs; deleted 0 blobs")


def test_gc_works_on_the_store_not_a_server(invoke: Invoke) -> None:
    result = invoke("gc", "--store", "http://127.0.0.1:5055", code=2)
    assert "works on the store itself" in result.stderr


def test_artifacts_through_a_server(invoke: Invoke, logged: cairn.Run, tmp_path: Path, server: object) -> None:
    url = server.url  # type: ignore[attr-defined]
    source = tmp_path / "remote.bin"
    source.write_bytes(os.urandom(3000))
    with cairn.init("remote", flush_interval=0.05, uri=url) as run:
        run.log_artifact(source)
    assert "remote.bin" in invoke("artifacts", "list", run.id, "--uri", url).stdout
    invoke("artifacts", "get", run.id, "remote.bin", "-o", str(tmp_path / "got"), "--uri", url)
    assert (tmp_path / "got" / "remote.bin").read_bytes() == source.read_bytes()
