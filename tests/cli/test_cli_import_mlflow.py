"""``cairn import mlflow``: data the real MLflow client wrote into an ``mlruns`` folder and a
SQLite database comes into an embedded Cairn store with every value, once."""

from __future__ import annotations

import math
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from tests.helpers import POSTGRES_URL, ThreadedServer

from cairn.client.connect import connect
from cairn.core.entities import RunStatus
from cairn.service.tracking import TrackingService

from .helpers import Invoke

mlflow = pytest.importorskip("mlflow")

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")

LOSS = [(0, 1_000, 0.5), (1, 1_100, math.nan), (2, 1_200, math.inf), (2, 1_300, -math.inf), (7, 1_400, 0.25)]


@pytest.fixture(autouse=True)
def _file_store_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow 3 writes an ``mlruns`` folder only when asked to (the importer asks for itself)."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


def write_mlflow_data(source: str, tmp_path: Path) -> dict[str, Any]:
    """Two experiments: a parent with a child and a failed run, and one run with artifacts."""
    client = mlflow.MlflowClient(tracking_uri=source)
    # A database keeps artifacts in ./mlruns unless told otherwise: here, under tmp_path.
    where = (tmp_path / "artifacts").as_uri() if source.startswith(("sqlite:", "postgresql")) else None
    first = client.create_experiment("vision", artifact_location=where and f"{where}/1", tags={"team": "eyes"})
    second = client.create_experiment("speech", artifact_location=where and f"{where}/2")
    parent = client.create_run(first, run_name="parent", start_time=1_000, tags={"mlflow.user": "ada"})
    client.log_param(parent.info.run_id, "lr", "0.01")
    client.log_param(parent.info.run_id, "layers", 3)
    for step, timestamp, value in LOSS:
        client.log_metric(parent.info.run_id, "loss", value, timestamp=timestamp, step=step)
    client.set_tag(parent.info.run_id, "stage", "ünïcode ✓")
    child = client.create_run(
        first, run_name="child", start_time=2_000, tags={"mlflow.parentRunId": parent.info.run_id}
    )
    client.log_metric(child.info.run_id, "acc", 0.9, timestamp=2_100, step=0)
    client.set_terminated(child.info.run_id, "FINISHED", end_time=3_000)
    client.set_terminated(parent.info.run_id, "FINISHED", end_time=4_000)
    failed = client.create_run(first, run_name="broken", start_time=5_000)
    client.set_terminated(failed.info.run_id, "FAILED", end_time=6_000)
    files = tmp_path / "to-log"
    (files / "plots").mkdir(parents=True)
    (files / "notes.txt").write_text("hello")
    (files / "plots" / "a.csv").write_text("x,y\n1,2\n")
    with_files = client.create_run(second, run_name="files", start_time=7_000)
    client.log_artifact(with_files.info.run_id, str(files / "notes.txt"))
    client.log_artifacts(with_files.info.run_id, str(files / "plots"), artifact_path="plots")
    client.set_terminated(with_files.info.run_id, "KILLED", end_time=8_000)
    gone = client.create_run(second, run_name="gone", start_time=9_000)
    client.log_param(gone.info.run_id, "kept", "yes")
    client.set_terminated(gone.info.run_id, "FINISHED", end_time=9_500)
    client.delete_run(gone.info.run_id)
    return {
        "parent": parent.info.run_id,
        "child": child.info.run_id,
        "failed": failed.info.run_id,
        "files": with_files.info.run_id,
        "gone": gone.info.run_id,
        "experiment": first,
    }


def imported(tracking: Any, project: str) -> dict[str, Any]:
    runs = tracking.list_runs(project, include_deleted=True, limit=1000).items
    return {run.tags["mlflow.run_id"]: run for run in runs if "mlflow.run_id" in run.tags}


def check_everything(source: str, store: str, ids: dict[str, Any], prefix: str = "") -> None:
    # Exactly what MLflow's client reads back (its SQL store keeps ±inf as ±1.8e308).
    expected = [
        (m.step, m.timestamp, m.value) for m in mlflow.MlflowClient(source).get_metric_history(ids["parent"], "loss")
    ]
    assert [(step, timestamp) for step, timestamp, _ in expected] == [point[:2] for point in LOSS]
    assert math.isnan(expected[1][2]) and abs(expected[2][2]) > 1e300
    tracking = connect(store)
    try:
        assert {p.name for p in tracking.list_projects()} == {prefix + "Default", prefix + "vision", prefix + "speech"}
        if isinstance(tracking, TrackingService):  # a server's API has no project tags yet
            tags = tracking.project_tags(prefix + "vision")
            assert tags["team"] == "eyes" and tags["mlflow.experiment_id"] == ids["experiment"]
        vision = imported(tracking, prefix + "vision")
        assert set(vision) == {ids["parent"], ids["child"], ids["failed"]}
        parent, child, failed = vision[ids["parent"]], vision[ids["child"]], vision[ids["failed"]]
        assert (parent.name, parent.user, parent.status) == ("parent", "ada", RunStatus.FINISHED)
        assert (parent.start_time, parent.end_time) == (1_000, 4_000)
        assert parent.params == {"lr": "0.01", "layers": "3"}
        assert parent.tags["stage"] == "ünïcode ✓" and parent.tags["mlflow.runName"] == "parent"
        history = tracking.get_metric_history(parent.id, "loss")
        points = list(zip(history.steps, history.timestamps, history.values, strict=True))
        assert len(points) == len(expected)
        for (step, timestamp, value), (mlflow_step, mlflow_timestamp, mlflow_value) in zip(
            points, expected, strict=True
        ):
            assert (step, timestamp) == (mlflow_step, mlflow_timestamp)
            assert value == mlflow_value or (math.isnan(value) and math.isnan(mlflow_value))
        assert child.parent_id == parent.id and child.tags["mlflow.parentRunId"] == ids["parent"]
        assert tracking.get_metric_history(child.id, "acc").values[0] == 0.9
        assert (failed.status, failed.end_time) == (RunStatus.FAILED, 6_000)
        speech = imported(tracking, prefix + "speech")
        files, gone = speech[ids["files"]], speech[ids["gone"]]
        assert not files.deleted and gone.deleted and gone.params == {"kept": "yes"}
        assert (gone.status, gone.end_time) == (RunStatus.FINISHED, 9_500)
        assert files.status == RunStatus.KILLED
        assert {a.path for a in tracking.list_artifacts(files.id)} == {"notes.txt", "plots/a.csv"}
        assert b"".join(tracking.read_artifact(files.id, "notes.txt")) == b"hello"
        assert b"".join(tracking.read_artifact(files.id, "plots/a.csv")) == b"x,y\n1,2\n"
    finally:
        tracking.close()


@pytest.mark.parametrize("kind", ["mlruns", "sqlite"])
def test_an_mlflow_store_imports_every_value_once(kind: str, tmp_path: Path, invoke: Invoke) -> None:
    source = (tmp_path / "mlruns").as_uri() if kind == "mlruns" else f"sqlite:///{tmp_path / 'mlflow.db'}"
    ids = write_mlflow_data(source, tmp_path)
    store = str(tmp_path / "cairn.db")

    first = invoke("import", "mlflow", source, "--uri", store, "--project-prefix", "ml/")
    assert "Imported 5 runs from 3 experiments; skipped 0 already imported; 0 failed." in first.stdout
    check_everything(source, store, ids, prefix="ml/")

    again = invoke("import", "mlflow", source, "--uri", store, "--project-prefix", "ml/")
    assert "Imported 0 runs from 3 experiments; skipped 5 already imported; 0 failed." in again.stdout
    check_everything(source, store, ids, prefix="ml/")


@pytest.fixture
def mlflow_postgres_uri() -> Iterator[str]:
    """A database of its own on the test PostgreSQL server for MLflow's tables (they would clash
    with Cairn's: both have a ``runs`` table)."""
    admin_url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"mlflow_source_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sqlalchemy.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc.orig}")
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.mark.postgres
def test_an_mlflow_postgresql_database_imports(tmp_path: Path, invoke: Invoke, mlflow_postgres_uri: str) -> None:
    ids = write_mlflow_data(mlflow_postgres_uri, tmp_path)
    store = str(tmp_path / "cairn.db")
    result = invoke("import", "mlflow", mlflow_postgres_uri, "--uri", store)
    assert "Imported 5 runs from 3 experiments; skipped 0 already imported; 0 failed." in result.stdout
    check_everything(mlflow_postgres_uri, store, ids)


def test_into_a_cairn_server(tmp_path: Path, invoke: Invoke, server: ThreadedServer) -> None:
    source = f"sqlite:///{tmp_path / 'mlflow.db'}"
    ids = write_mlflow_data(source, tmp_path)

    result = invoke("import", "mlflow", source, env={"CAIRN_URI": server.url})
    assert "Imported 5 runs from 3 experiments; skipped 0 already imported; 0 failed." in result.stdout
    check_everything(source, server.url, ids)
    again = invoke("import", "mlflow", source, env={"CAIRN_URI": server.url})
    assert "Imported 0 runs from 3 experiments; skipped 5 already imported; 0 failed." in again.stdout


@pytest.mark.slow
def test_from_a_running_mlflow_server(tmp_path: Path, invoke: Invoke, mlflow_server: str) -> None:
    ids = write_mlflow_data(mlflow_server, tmp_path)
    store = str(tmp_path / "cairn.db")

    result = invoke("import", "mlflow", mlflow_server, "--uri", store)
    assert "Imported 5 runs from 3 experiments; skipped 0 already imported; 0 failed." in result.stdout
    check_everything(mlflow_server, store, ids)


def test_a_corrupt_run_is_reported_and_the_others_imported(tmp_path: Path, invoke: Invoke) -> None:
    folder = tmp_path / "mlruns"
    ids = write_mlflow_data(folder.as_uri(), tmp_path)
    # An artifact of the failed run points nowhere: that run cannot be copied.
    artifacts = next(folder.glob(f"*/{ids['failed']}")) / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "gone.bin").symlink_to(tmp_path / "nowhere")
    store = str(tmp_path / "cairn.db")

    result = invoke("import", "mlflow", str(folder), "--uri", store, code=1)
    assert f"Failed: {ids['failed']}: " in result.stderr
    assert "Imported 4 runs from 3 experiments; skipped 0 already imported; 1 failed." in result.stdout
    tracking = connect(store)
    try:
        assert set(imported(tracking, "vision")) == {ids["parent"], ids["child"]}
        # The half-copied run was deleted, not left looking imported.
        assert len(tracking.list_runs("vision", include_deleted=True).items) == 3
    finally:
        tracking.close()

    # Mended, the run comes in on the next import, and only it.
    (artifacts / "gone.bin").unlink()
    again = invoke("import", "mlflow", str(folder), "--uri", store)
    assert "Imported 1 run from 3 experiments; skipped 4 already imported; 0 failed." in again.stdout


def test_an_experiment_mlflow_cannot_read_is_reported(tmp_path: Path, invoke: Invoke) -> None:
    folder = tmp_path / "mlruns"
    ids = write_mlflow_data(folder.as_uri(), tmp_path)
    # A malformed metric file makes MLflow's own search over the experiment fail.
    next(folder.glob(f"*/{ids['child']}/metrics/acc")).write_text("garbage\n")

    result = invoke("import", "mlflow", str(folder), "--uri", str(tmp_path / "cairn.db"), code=1)
    assert f"Failed: experiment {ids['experiment']} (vision): " in result.stderr
    assert "Imported 2 runs from 2 experiments; skipped 0 already imported; 1 failed." in result.stdout


def test_a_source_that_is_not_mlflow_is_one_error_line(tmp_path: Path, invoke: Invoke) -> None:
    result = invoke("import", "mlflow", "nosuch://place", "--uri", str(tmp_path / "cairn.db"), code=1)
    assert result.stderr.startswith("Error: ")
    assert "cannot read the MLflow store at nosuch://place" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_without_the_mlflow_package_the_error_names_the_extra(
    tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what `import mlflow` meets when it is not installed
    result = invoke("import", "mlflow", str(tmp_path / "mlruns"), "--uri", str(tmp_path / "cairn.db"), code=1)
    assert result.stderr.strip() == (
        "Error: importing MLflow data needs the mlflow package: pip install 'cairn[mlflow]'"
    )
