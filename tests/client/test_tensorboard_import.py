"""``cairn import tensorboard``: event files PyTorch's real ``SummaryWriter`` wrote come into a
real Cairn server with every scalar, hyperparameter, image and text, once."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tests.helpers import ThreadedServer

from cairn.cli.main import cli
from cairn.client.http import HttpTracking
from cairn.client.tensorboard_import import DIGEST_TAG, SOURCE_TAG, import_tensorboard
from cairn.client.tensorboard_reader import read_run, run_folders
from cairn.core.entities import Run, RunStatus
from cairn.core.errors import InvalidEventFile

torch = pytest.importorskip("torch")
pytest.importorskip("tensorboard")
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

T0 = 1_700_000_000.0  # wall time of the first event, in seconds


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def tracking(server: ThreadedServer) -> Iterator[HttpTracking]:
    client = HttpTracking(server.url)
    try:
        yield client
    finally:
        client.close()


def write_run(folder: Path, lr: float, *, steps: tuple[int, ...] = (0, 5, 10), first: float = T0) -> None:
    """Scalars at ``steps`` one second apart, hparams, an image at step 2, a text at step 1 and
    a histogram (which is not imported)."""
    writer = SummaryWriter(str(folder))
    for index, step in enumerate(steps):
        writer.add_scalar("loss", 1.0 / (step + 1), step, walltime=first + index)
        writer.add_scalar("acc/train", lr * step, step, walltime=first + index)
    image = np.zeros((3, 4, 5), dtype=np.uint8)
    image[0] = 255  # red, 4 high and 5 wide
    writer.add_image("samples/input", image, 2, walltime=first + 0.5)
    writer.add_text("notes", "lr **sweep**", 1, walltime=first + 0.25)
    writer.add_histogram("weights", np.arange(10.0), 0, walltime=first + 0.75)
    writer.add_hparams({"lr": lr, "batch": 32, "optimizer": "sgd", "nesterov": True}, {"hp/best": 0.5}, run_name=".")
    writer.close()


def runs_of(tracking: HttpTracking, project: str) -> dict[str, Run]:
    return {run.name: run for run in tracking.list_runs(project).items}


def history(tracking: HttpTracking, run_id: str, key: str) -> list[tuple[int, int, float]]:
    found = tracking.get_metric_history(run_id, key)
    return list(zip(found.steps.tolist(), found.timestamps.tolist(), found.values.tolist(), strict=True))


def test_every_scalar_hparam_image_and_text_comes_in_as_written(tracking: HttpTracking, tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    write_run(logdir / "lr_0.1", 0.1)
    write_run(logdir / "sweep" / "lr_0.01", 0.01, first=T0 + 100)

    report = import_tensorboard(tracking, logdir, project="tb")

    assert (report.imported, report.skipped, report.replaced, report.failed) == (2, 0, 0, [])
    assert report.left_out == {"histograms": 2}
    runs = runs_of(tracking, "tb")
    assert set(runs) == {"lr_0.1", "sweep/lr_0.01"}
    run = runs["lr_0.1"]
    assert run.status == RunStatus.FINISHED
    assert dict(run.params) == {"lr": 0.1, "batch": 32, "optimizer": "sgd", "nesterov": True}
    assert set(run.metrics) == {"loss", "acc/train", "hp/best"}
    t = int(T0 * 1000)
    # TensorBoard keeps scalars as float32: these are its values, exactly.
    f32 = lambda value: float(np.float32(value))  # noqa: E731
    assert history(tracking, run.id, "loss") == [(0, t, 1.0), (5, t + 1000, f32(1 / 6)), (10, t + 2000, f32(1 / 11))]
    assert history(tracking, run.id, "acc/train") == [(0, t, 0.0), (5, t + 1000, f32(0.5)), (10, t + 2000, f32(1.0))]
    assert [value for _, _, value in history(tracking, run.id, "hp/best")] == [0.5]
    assert run.start_time == t
    assert run.tags[SOURCE_TAG] == str((logdir / "lr_0.1").resolve())
    assert len(run.tags[DIGEST_TAG]) == 64

    artifacts = {artifact.path: artifact for artifact in tracking.list_artifacts(run.id)}
    assert set(artifacts) == {"images/samples/input/step-2.png", "text/notes/step-1.txt"}
    image = artifacts["images/samples/input/step-2.png"]
    assert (image.kind, image.media_type) == ("figure", "image/png")
    assert (image.meta["width_px"], image.meta["height_px"], image.meta["step"]) == (5, 4, 2)
    png = b"".join(tracking.read_artifact(run.id, image.path))
    assert png.startswith(b"\x89PNG") and int.from_bytes(png[16:20], "big") == 5
    text = b"".join(tracking.read_artifact(run.id, "text/notes/step-1.txt")).decode()
    assert text == "lr **sweep**"
    assert runs["sweep/lr_0.01"].params["lr"] == 0.01


def test_importing_again_doubles_nothing_and_a_folder_that_grew_replaces_its_run(
    tracking: HttpTracking, tmp_path: Path
) -> None:
    logdir = tmp_path / "logs"
    write_run(logdir / "a", 0.1)
    write_run(logdir / "b", 0.2)
    import_tensorboard(tracking, logdir, project="tb")
    first = runs_of(tracking, "tb")

    again = import_tensorboard(tracking, logdir, project="tb")

    assert (again.imported, again.skipped, again.replaced, again.failed) == (0, 2, 0, [])
    assert {name: run.id for name, run in runs_of(tracking, "tb").items()} == {n: r.id for n, r in first.items()}
    assert len(history(tracking, first["a"].id, "loss")) == 3

    # Training went on in "a": a new writer adds a file with later steps.
    writer = SummaryWriter(str(logdir / "a"))
    writer.add_scalar("loss", 0.01, 20, walltime=T0 + 50)
    writer.close()
    grown = import_tensorboard(tracking, logdir, project="tb")

    assert (grown.imported, grown.skipped, grown.replaced) == (0, 1, 1)
    runs = runs_of(tracking, "tb")
    assert set(runs) == {"a", "b"}
    assert runs["b"].id == first["b"].id
    assert runs["a"].id != first["a"].id
    assert [step for step, _, _ in history(tracking, runs["a"].id, "loss")] == [0, 5, 10, 20]
    assert tracking.get_run(first["a"].id).deleted


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda data: data[: len(data) - 7], "truncated record"),
        (lambda data: data[:60] + bytes([data[60] ^ 0xFF]) + data[61:], "crc32 check"),
    ],
    ids=["truncated", "corrupt"],
)
def test_an_event_file_that_cannot_be_read_to_its_end_is_invalid_and_nothing_of_its_run_is_written(
    tracking: HttpTracking, tmp_path: Path, damage: object, reason: str
) -> None:
    logdir = tmp_path / "logs"
    write_run(logdir / "good", 0.1)
    write_run(logdir / "bad", 0.2)
    bad_file = min((logdir / "bad").iterdir())  # the scalars file, written first
    bad_file.write_bytes(damage(bad_file.read_bytes()))  # type: ignore[operator]

    name, folder, files = next(entry for entry in run_folders(logdir) if entry[0] == "bad")
    with pytest.raises(InvalidEventFile) as raised:
        read_run(name, folder, files)
    assert raised.value.code == "invalid_event_file"
    assert raised.value.details["path"] == str(bad_file.resolve())
    assert reason in raised.value.message

    report = import_tensorboard(tracking, logdir, project="tb")

    assert report.imported == 1
    assert [what for what, _ in report.failed] == ["bad"]
    assert report.failed[0][1].endswith("[invalid_event_file]")
    assert set(runs_of(tracking, "tb")) == {"good"}
    assert [run.name for run in tracking.list_runs("tb", include_deleted=True).items] == ["good"]


def test_the_command_names_the_project_after_the_log_directory_and_exits_1_on_a_bad_file(
    server: ThreadedServer, tracking: HttpTracking, tmp_path: Path
) -> None:
    logdir = tmp_path / "mnist-logs"
    write_run(logdir, 0.1)  # event files right in the log directory: the run named after it
    runner = CliRunner()

    done = runner.invoke(cli, ["import", "tensorboard", str(logdir), "--uri", server.url])

    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == (
        "Imported 1 run into project 'mnist-logs'; skipped 0 unchanged; replaced 0 changed; 0 failed."
    )
    assert "Not imported: histograms (1)" in done.stderr
    assert set(runs_of(tracking, "mnist-logs")) == {"mnist-logs"}

    (logdir / "broken").mkdir()
    (logdir / "broken" / "events.out.tfevents.0.host").write_bytes(b"not an event file\n")
    done = runner.invoke(cli, ["import", "tensorboard", str(logdir), "--uri", server.url, "--project", "mnist-logs"])

    assert done.exit_code == 1
    assert "Failed: broken: " in done.stderr and "[invalid_event_file]" in done.stderr
    assert "skipped 1 unchanged" in done.stdout
    assert set(runs_of(tracking, "mnist-logs")) == {"mnist-logs"}


def test_without_the_tensorboard_package_the_command_says_what_to_install(
    server: ThreadedServer, tracking: HttpTracking, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_run(tmp_path / "logs", 0.1)
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # what `import tensorboard` meets when it is missing

    done = CliRunner().invoke(cli, ["import", "tensorboard", str(tmp_path / "logs"), "--uri", server.url])

    assert done.exit_code == 1
    assert done.stderr.strip() == (
        "Error: reading TensorBoard logs needs the tensorboard package: pip install 'cairn[tensorboard]' "
        "[framework_not_installed]"
    )
    assert tracking.list_projects() == []
