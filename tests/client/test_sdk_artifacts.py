"""What a training script keeps with its run: a model file, a folder, a figure, a table, a
confusion matrix, a dataset; listed and downloaded from another machine through the server,
the same bytes stored once, and nothing lost when the server is away."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
from store_doubles import FlakyTracking, dead_pid, start_run, warnings_in

import cairn
from cairn.client.sync import sync_spools
from cairn.core.errors import InvalidArtifactPath, InvalidValue, RunNotActive

matplotlib = pytest.importorskip("matplotlib")
pd = pytest.importorskip("pandas")
pq = pytest.importorskip("pyarrow.parquet")


def blob_files(blobs: Path) -> list[Path]:
    return sorted(p for p in (blobs / "sha256").rglob("*") if p.is_file()) if blobs.exists() else []


def make_model_folder(root: Path) -> Path:
    folder = root / "model"
    (folder / "weights").mkdir(parents=True)
    (folder / "weights" / "layer1.bin").write_bytes(os.urandom(300_000))
    (folder / "config.json").write_text('{"hidden": 64}')
    (folder / "README.md").write_text("a model")
    return folder


def test_a_training_script_keeps_everything_and_another_machine_downloads_it(
    server: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.figure import Figure

    url = server.url  # type: ignore[attr-defined]
    monkeypatch.setenv("CAIRN_URI", url)
    workdir = tmp_path / "trainer"
    workdir.mkdir()
    folder = make_model_folder(workdir)
    checkpoint = workdir / "model.pt"
    checkpoint.write_bytes(os.urandom(2_000_000))
    frame = pd.DataFrame({"x": [1.0, 2.5, None], "label": ["cat", "dog", "cat"]})

    with cairn.init("vision", config={"lr": 0.1}, flush_interval=0.05) as run:
        run.log({"loss": 0.5})
        run.log_artifact(checkpoint)
        run.log_artifact(folder)
        figure = Figure()
        figure.add_subplot().plot([3, 2, 1])
        run.log_figure(figure, "plots/loss")
        run.log_table(frame, "predictions")
        run.log_confusion_matrix(["cat", "dog", "cat"], ["cat", "cat", "cat"], name="eval/confusion")
        run.log_text("went fine", "notes")
        run.log_dict({"epochs": 3, "layers": [64, 32]}, "config.yaml")
        run.log_dataset(frame, "pets", context="train")
        run.log_dataset(folder, "model-folder", context="validation", store=True)
    # A second run logs the same checkpoint: its bytes are not stored again.
    with cairn.init("vision", config={"lr": 0.2}, flush_interval=0.05) as second:
        second.log_artifact(checkpoint, name="best.pt")

    # "Another machine": a fresh CAIRN_HOME, reaching the server only over HTTP.
    monkeypatch.setenv("CAIRN_HOME", str(tmp_path / "laptop"))
    api = cairn.Api(url)
    request_close = api.close
    try:
        check_from_another_machine(api, run, second, workdir, checkpoint, folder, frame, tmp_path, server)
    finally:
        request_close()


def check_from_another_machine(
    api: cairn.Api,
    run: cairn.Run,
    second: cairn.Run,
    workdir: Path,
    checkpoint: Path,
    folder: Path,
    frame: object,
    tmp_path: Path,
    server: object,
) -> None:
    listed = {a.path: a for a in api.artifacts(run.id)}
    assert sorted(listed) == [
        "config.yaml",
        "eval/confusion.json",
        "model.pt",
        "model/README.md",
        "model/config.json",
        "model/weights/layer1.bin",
        "notes.txt",
        "plots/loss.png",
        "predictions.parquet",
    ]
    assert listed["model.pt"].digest == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert listed["plots/loss.png"].kind == "figure" and listed["plots/loss.png"].media_type == "image/png"
    assert listed["predictions.parquet"].meta["rows"] == 3
    assert listed["eval/confusion.json"].kind == "confusion_matrix"

    out = tmp_path / "downloads"
    [model_file] = api.download(run.id, "model.pt", out)
    assert model_file == out / "model.pt" and model_file.read_bytes() == checkpoint.read_bytes()
    written = api.download(run.id, "model", out)
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "model/README.md",
        "model/config.json",
        "model/weights/layer1.bin",
    ]
    for path in written:
        assert path.read_bytes() == (workdir / path.relative_to(out)).read_bytes()
    assert api.download(second.id, "best.pt", out / "second")[0].read_bytes() == checkpoint.read_bytes()

    assert pq.read_table(api.download(run.id, "predictions.parquet", out)[0]).to_pandas().equals(frame)
    matrix = orjson.loads(api.read_artifact(run.id, "eval/confusion.json"))
    assert matrix["labels"] == ["cat", "dog"] and matrix["matrix"] == [[2, 0], [1, 0]]
    assert api.read_artifact(run.id, "notes.txt") == b"went fine"
    assert api.read_artifact(run.id, "plots/loss.png")[:8] == b"\x89PNG\r\n\x1a\n"

    # Datasets: versions with profiles, and the runs that used them.
    [pets] = api.datasets("vision", name="pets")
    assert (pets.rows, pets.columns, pets.stored, pets.source_kind) == (3, 2, False, "dataframe")
    assert pets.profile["columns"]["label"]["top"][0] == ["cat", 2]
    assert pets.used_by == [(run.id, "train")]
    [stored] = api.datasets("vision", name="model-folder")
    assert stored.stored and stored.file_count == 3
    assert [(i.dataset.name, i.context) for i in api.inputs(run.id)] == [
        ("pets", "train"),
        ("model-folder", "validation"),
    ]

    # Stored once: the checkpoint (two runs, two names) is one blob; the folder's files were
    # uploaded once although they are both artifacts and a stored dataset.
    blobs = Path(server.app.state.settings.blobs_uri)  # type: ignore[attr-defined]
    digests = [p.name for p in blob_files(blobs)]
    assert len(digests) == len(set(digests))
    assert digests.count(listed["model.pt"].digest) == 1
    unique_artifacts = {a.digest for a in listed.values()}
    assert unique_artifacts <= set(digests)


def test_the_same_content_logged_twice_is_one_dataset_version(clean_environ: Path, tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    data.write_text("a,b\n1,x\n2,y\n")
    for _ in range(2):
        with cairn.init("tabular", flush_interval=0.05) as run:
            run.log_dataset(data, "train")
    data.write_text("a,b\n1,x\n2,y\n3,z\n")
    with cairn.init("tabular", flush_interval=0.05) as run:
        run.log_dataset(data, "train")
    versions = cairn.Api().datasets("tabular", name="train")
    assert [(v.rows, len(v.used_by)) for v in versions] == [(3, 1), (2, 2)]  # newest first
    assert versions[0].source_uri == data.resolve().as_uri()
    assert versions[1].schema == [{"name": "a", "type": "integer"}, {"name": "b", "type": "string"}]


def test_arrays_logged_twice_are_one_dataset_version_and_bad_ones_log_nothing(clean_environ: Path) -> None:
    x = np.arange(60, dtype=np.float32).reshape(5, 3, 4)
    y = np.array([0, 1, 0, 1, 1])
    for _ in range(2):
        with cairn.init("arrays", flush_interval=0.05) as run:
            run.log_dataset((x, y), "train", context="train")
    with cairn.init("arrays", flush_interval=0.05) as changed:
        changed.log_dataset((x, 1 - y), "train")
        with pytest.raises(InvalidValue, match="same first dimension"):
            changed.log_dataset({"x": x, "y": y[:4]}, "broken")
        with pytest.raises(InvalidValue, match="holds Python objects"):
            changed.log_dataset({"x": x, "y": y.astype(object)}, "broken")
    api = cairn.Api()
    versions = api.datasets("arrays", name="train")
    assert [(v.source_kind, v.rows, v.columns, len(v.used_by)) for v in versions] == [
        ("array", 5, 13, 1),
        ("array", 5, 13, 2),
    ]
    assert versions[1].schema == [
        {"name": "0", "type": "float32", "shape": [3, 4]},
        {"name": "1", "type": "int64", "shape": []},
    ]
    assert versions[0].digest != versions[1].digest and versions[1].source_uri == ""
    assert [i.dataset.name for i in api.inputs(changed.id)] == ["train"]  # nothing of "broken"
    assert {v.name for v in api.datasets("arrays")} == {"train"}


def test_arrays_go_through_the_server_and_stored_ones_come_back_as_npz(
    server: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_URI", server.url)  # type: ignore[attr-defined]
    x = np.random.default_rng(0).random((50, 8, 8), dtype=np.float32)
    y = np.arange(50) % 3
    with cairn.init("keras-like", flush_interval=0.05) as run:
        run.log_dataset({"x": x, "y": y}, "digits", context="train", store=True)
        run.log_dataset((x[:10], y[:10]), "digits-val", context="validation")
    api = cairn.Api(server.url)  # type: ignore[attr-defined]
    try:
        [stored] = api.datasets("keras-like", name="digits")
        [val] = api.datasets("keras-like", name="digits-val")
        inputs = [(i.dataset.name, i.context) for i in api.inputs(run.id)]
    finally:
        api.close()
    assert (stored.source_kind, stored.rows, stored.columns, stored.stored, stored.file_count) == (
        "array",
        50,
        65,
        True,
        1,
    )
    assert stored.schema == [
        {"name": "x", "type": "float32", "shape": [8, 8]},
        {"name": "y", "type": "int64", "shape": []},
    ]
    assert stored.profile["arrays"]["y"] == {"bytes": 400, "nulls": 0, "min": 0.0, "max": 2.0, "mean": 0.98}
    assert (val.source_kind, val.rows, val.stored, val.file_count) == ("array", 10, False, 0)
    assert inputs == [("digits", "train"), ("digits-val", "validation")]

    # The stored bytes are one .npz that numpy reads back, without pickles.
    store = server.app.state.tracking.store  # type: ignore[attr-defined]
    [(path, digest, size)] = store.dataset_files(stored.id)
    assert path == "data.npz"
    blobs = Path(server.app.state.settings.blobs_uri)  # type: ignore[attr-defined]
    [blob] = [p for p in blob_files(blobs) if p.name == digest]
    assert blob.stat().st_size == size and hashlib.sha256(blob.read_bytes()).hexdigest() == digest
    with np.load(blob, allow_pickle=False) as loaded:
        assert sorted(loaded) == ["x", "y"]
        np.testing.assert_array_equal(loaded["x"], x)
        np.testing.assert_array_equal(loaded["y"], y)
        assert loaded["x"].dtype == np.float32


def test_a_symlink_out_of_a_logged_folder_is_refused_and_nothing_is_logged(clean_environ: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not upload")
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "ok.txt").write_text("fine")
    (folder / "leak").symlink_to(secret)
    with cairn.init("p", flush_interval=0.05) as run:
        with pytest.raises(InvalidArtifactPath):
            run.log_artifact(folder)
        with pytest.raises(InvalidArtifactPath):
            run.log_artifact(folder / "ok.txt", name="../escape.txt")
        (folder / "leak").unlink()
        (folder / "inside").symlink_to(folder / "ok.txt")  # a link that stays inside is followed
        run.log_artifact(folder)
    assert [a.path for a in cairn.Api().artifacts(run.id)] == ["out/inside", "out/ok.txt"]


def test_a_file_changed_after_logging_is_refused_with_a_warning(
    flaky: FlakyTracking, spool_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"version 1")
    run = start_run(flaky, spool_root)
    flaky.down.set()  # the upload waits in the spool...
    run.log_artifact(model)
    run.flush(timeout=5)
    model.write_bytes(b"version 2, longer")  # ...while the file changes
    flaky.down.clear()
    run.finish()
    assert flaky.inner.list_artifacts(run.id) == []
    [warning] = [w for w in warnings_in(capsys.readouterr().err) if "changed after it was logged" in w]
    assert "model.bin" in warning


def test_artifacts_wait_in_the_spool_while_the_store_is_away(
    flaky: FlakyTracking, spool_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(50_000))
    run = start_run(flaky, spool_root)
    flaky.down.set()
    run.log_artifact(model)
    run.log_text("written while away", "away")
    assert not run.flush(timeout=5)
    flaky.down.clear()
    run.finish()
    assert [a.path for a in flaky.inner.list_artifacts(run.id)] == ["away.txt", "model.bin"]
    assert b"".join(flaky.inner.read_artifact(run.id, "model.bin")) == model.read_bytes()


def test_cairn_sync_uploads_artifacts_of_a_process_that_died(
    flaky: FlakyTracking, spool_root: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(20_000))
    run = start_run(flaky, spool_root)
    flaky.down.set()
    run.log_artifact(model)
    run.finish(timeout=1)  # the store stays away: the artifact waits in the spool
    flaky.down.clear()
    assert flaky.inner.list_artifacts(run.id) == []
    (folder,) = spool_root.iterdir()
    owner = orjson.loads((folder / "owner.json").read_bytes())
    (folder / "owner.json").write_bytes(orjson.dumps({**owner, "pid": dead_pid()}))  # its process is gone
    report = sync_spools(spool_root)
    assert report.writes_refused == 0 and report.spools_left == 0
    assert [a.path for a in flaky.inner.list_artifacts(run.id)] == ["model.bin"]
    assert b"".join(flaky.inner.read_artifact(run.id, "model.bin")) == model.read_bytes()


def test_nothing_can_be_logged_after_finish(clean_environ: Path, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    run = cairn.init("p", flush_interval=0.05)
    run.finish()
    with pytest.raises(RunNotActive):
        run.log_artifact(tmp_path / "f.txt")
    with pytest.raises(RunNotActive):
        run.log_text("late", "late")


def test_a_skipped_run_logs_nothing(clean_environ: Path, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    with cairn.init("p", config={"a": 1}, flush_interval=0.05) as first:
        first.log({"acc": 1.0})
    skipped = cairn.init("p", config={"a": 1}, on_duplicate="skip")
    assert skipped.skipped
    skipped.log_artifact(tmp_path / "f.txt")
    skipped.log_text("x", "x")
    skipped.log_dataset(tmp_path / "f.txt", "d")
    skipped.finish()


def test_large_uploads_show_progress_only_on_a_terminal(tmp_path: Path) -> None:
    script = (
        "import cairn, pathlib; p = pathlib.Path(r'%s'); p.write_bytes(b'x' * 1000)\n"
        "with cairn.init('p', flush_interval=0.05) as run: run.log_artifact(p)\n"
    ) % (tmp_path / "small.bin")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "cairn:" not in done.stderr  # no bar, no warning: stderr is a pipe and the file small


def test_a_large_upload_shows_a_progress_bar_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cairn.client import artifacts

    monkeypatch.setattr(artifacts, "PROGRESS_ABOVE_BYTES", 1000)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 << 20))
    with cairn.init("p", flush_interval=0.05) as run:
        run.log_artifact(big)
    err = capsys.readouterr().err
    assert "cairn: big.bin" in err and "3.15M" in err  # tqdm's bar, with the size it reached
    assert cairn.Api().artifacts(run.id)[0].size == 3 << 20


def test_a_copied_artifact_survives_its_file_being_deleted_or_rewritten_at_once(
    server: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_URI", server.url)  # type: ignore[attr-defined]
    checkpoint = tmp_path / "epoch=0.ckpt"
    first = os.urandom(100_000)
    checkpoint.write_bytes(first)
    folder = make_model_folder(tmp_path)
    weights = (folder / "weights" / "layer1.bin").read_bytes()
    with cairn.init("vision") as run:
        run.log_artifact(checkpoint, "checkpoints/epoch=0.ckpt", copy=True)
        checkpoint.unlink()  # as a training loop rotating its checkpoints does
        run.log_artifact(folder, copy=True)
        (folder / "weights" / "layer1.bin").write_bytes(b"rewritten")
    with cairn.Api() as api:
        assert api.read_artifact(run.id, "checkpoints/epoch=0.ckpt") == first
        assert api.read_artifact(run.id, "model/weights/layer1.bin") == weights
    staging = Path(os.environ["CAIRN_HOME"]) / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []  # the copies went once uploaded
