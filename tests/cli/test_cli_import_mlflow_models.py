"""``cairn import mlflow`` with models: a scikit-learn model the real MLflow client logged (an
MLflow 3 logged model and an MLflow 2-style folder among a run's artifacts) and registered,
with tags, descriptions, a stage and an alias, comes into Cairn's registry and predicts as
MLflow's did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cairn
from cairn.client.connect import connect
from cairn.core.registry import Stage

from .helpers import Invoke

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("sklearn")

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning", "ignore::UserWarning")

X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.5], [3.0, 1.0], [4.0, 3.5], [5.0, 4.0]])
Y = np.array([0, 0, 1, 0, 1, 1])


@pytest.fixture(autouse=True)
def _mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow 3 writes an ``mlruns`` folder only when asked to (the importer asks for itself)."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


def write_models(source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Model ``churn``: MLflow version 1 a logged model (Production), version 2 deleted, and
    version 3 a folder among the run's artifacts (alias ``champion``)."""
    from sklearn.linear_model import LogisticRegression

    monkeypatch.setenv("MLFLOW_TRACKING_URI", source)  # for the fluent log_model, this test only
    client = mlflow.MlflowClient(tracking_uri=source, registry_uri=source)
    where = (tmp_path / "artifacts").as_uri() if source.startswith("sqlite:") else None
    experiment = client.create_experiment("models", artifact_location=where)
    first, second = LogisticRegression().fit(X, Y), LogisticRegression(C=0.01).fit(X, Y)
    assert (first.predict_proba(X) != second.predict_proba(X)).any()
    with mlflow.start_run(experiment_id=experiment) as run:
        logged = mlflow.sklearn.log_model(first, name="model", pip_requirements=["scikit-learn"])
    mlflow.sklearn.save_model(second, tmp_path / "classic", pip_requirements=["scikit-learn"])
    client.log_artifacts(run.info.run_id, str(tmp_path / "classic"), artifact_path="classic")
    client.create_registered_model("churn", tags={"team": "risk"}, description="who leaves")
    run_id = run.info.run_id
    as_logged = {"source": logged.model_uri, "run_id": run_id, "model_id": logged.model_id}
    client.create_model_version("churn", **as_logged, tags={"data": "2024"}, description="first")
    client.create_model_version("churn", **as_logged)
    client.delete_model_version("churn", "2")
    client.create_model_version("churn", f"runs:/{run_id}/classic", run_id, description="third")
    client.transition_model_version_stage("churn", "1", "Production")
    client.set_registered_model_alias("churn", "champion", "3")
    return {"run": run_id, "logged_model": logged.model_id, "first": first, "second": second}


def check_registry(store: str, data: dict[str, Any]) -> None:
    tracking = connect(store)
    try:
        model = tracking.get_model("churn")
        assert (model.description, model.tags, model.aliases) == ("who leaves", {"team": "risk"}, {"champion": 2})
        # MLflow's version 2 was deleted: Cairn numbers 1 and 2, the tag keeps MLflow's number.
        one, two = sorted(tracking.list_model_versions("churn").items, key=lambda v: v.version)
        assert (one.version, one.tags, one.description) == (1, {"data": "2024", "mlflow.version": "1"}, "first")
        assert (two.version, two.tags, two.description) == (2, {"mlflow.version": "3"}, "third")
        assert (one.flavor, two.flavor) == ("mlflow", "mlflow")
        assert (one.stage, two.stage, two.aliases) == (Stage.PRODUCTION, Stage.NONE, ("champion",))
        run = tracking.get_run(one.run_id)
        assert run.tags["mlflow.run_id"] == data["run"] and two.run_id == run.id
        assert one.source_path == f"models/{data['logged_model']}" and two.source_path == "classic"
    finally:
        tracking.close()
    champion = cairn.load_model("models:/churn@champion", uri=store)
    assert (np.asarray(champion.predict(X)) == data["second"].predict(X)).all()
    assert (np.asarray(cairn.load_model("models:/churn/1", uri=store).predict(X)) == data["first"].predict(X)).all()


@pytest.mark.parametrize("kind", ["mlruns", "sqlite"])
def test_registered_models_import_once_and_predict_as_before(
    kind: str, tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = (tmp_path / "mlruns").as_uri() if kind == "mlruns" else f"sqlite:///{tmp_path / 'mlflow.db'}"
    data = write_models(source, tmp_path, monkeypatch)
    store = str(tmp_path / "cairn.db")

    first = invoke("import", "mlflow", source, "--uri", store)
    assert "Imported 1 run from 2 experiments; skipped 0 already imported; 0 failed." in first.stdout
    assert "Registered models: 1 imported, 0 already there; versions: 2 imported, 0 already imported." in first.stdout
    check_registry(store, data)

    again = invoke("import", "mlflow", source, "--uri", store)
    assert "Registered models: 0 imported, 1 already there; versions: 0 imported, 2 already imported." in again.stdout
    check_registry(store, data)


def test_into_a_cairn_server(tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, server: Any) -> None:
    source = f"sqlite:///{tmp_path / 'mlflow.db'}"
    data = write_models(source, tmp_path, monkeypatch)

    result = invoke("import", "mlflow", source, env={"CAIRN_URI": server.url})
    assert "Registered models: 1 imported, 0 already there; versions: 2 imported, 0 already imported." in result.stdout
    check_registry(server.url, data)


def test_a_protected_alias_and_a_version_of_a_deleted_experiment_are_reported(
    tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = (tmp_path / "mlruns").as_uri()
    data = write_models(source, tmp_path, monkeypatch)
    # A version whose run is in an experiment deleted since: its run is not imported.
    client = mlflow.MlflowClient(tracking_uri=source, registry_uri=source)
    old = client.create_experiment("old")
    with mlflow.start_run(experiment_id=old) as run:
        logged = mlflow.sklearn.log_model(data["first"], name="model", pip_requirements=["scikit-learn"])
    client.create_model_version("churn", logged.model_uri, run.info.run_id, model_id=logged.model_id)
    client.delete_experiment(old)
    # Cairn has the model already, with its alias protected: it moves only by a review.
    store = str(tmp_path / "cairn.db")
    tracking = connect(store)
    try:
        tracking.create_model("churn", "Cairn's own")
        tracking.protect_alias("churn", "champion")
    finally:
        tracking.close()

    result = invoke("import", "mlflow", source, "--uri", store, code=1)
    failed = sorted(line for line in result.stderr.splitlines() if line.startswith("Failed: "))
    assert len(failed) == 2
    assert failed[0].startswith("Failed: model churn alias champion: ReviewRequired: ")
    assert failed[1] == f"Failed: model churn version 4: NotImportable: its run {run.info.run_id} was not imported"
    assert "Imported 1 run from 2 experiments; skipped 0 already imported; 2 failed." in result.stdout
    assert "Registered models: 0 imported, 1 already there; versions: 2 imported, 0 already imported." in result.stdout
    tracking = connect(store)
    try:
        model = tracking.get_model("churn")
        assert (model.description, model.aliases) == ("Cairn's own", {})
        versions = tracking.list_model_versions("churn").items
        assert sorted(v.tags["mlflow.version"] for v in versions) == ["1", "3"]
    finally:
        tracking.close()


@pytest.mark.slow
def test_from_a_running_mlflow_server(
    tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, mlflow_server: str
) -> None:
    data = write_models(mlflow_server, tmp_path, monkeypatch)
    store = str(tmp_path / "cairn.db")

    result = invoke("import", "mlflow", mlflow_server, "--uri", store)
    assert "Registered models: 1 imported, 0 already there; versions: 2 imported, 0 already imported." in result.stdout
    check_registry(store, data)
