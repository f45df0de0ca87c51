"""Models through MLflow's client: ``mlflow.sklearn.log_model``, ``register_model``, aliases,
``mlflow.pyfunc.load_model("models:/NAME@alias")``, and the same model as a Cairn registered
model — read by Cairn's SDK, loaded by Cairn's loader, served by ``cairn serve``."""

from __future__ import annotations

import warnings

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from tests.access_helpers import Team
from tests.helpers import ThreadedServer
from tests.serving.conftest import start_serve

import cairn
from cairn.client.http import HttpTracking
from cairn.core.access import Role
from cairn.core.models.manifest import MANIFEST_NAME
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService

with warnings.catch_warnings():
    # MLflow warns about its own type hints when mlflow.pyfunc is first imported.
    warnings.simplefilter("ignore")
    import mlflow.pyfunc
    import mlflow.sklearn

# MLflow's client warns while it logs a model (pip versions it infers, deprecations in
# scikit-learn it calls); what these tests check is what it logs and reads back.
pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

FEATURES = ["a", "b", "c"]
#: Given, so MLflow's client does not infer them by loading the model in a subprocess (~20 s
#: each here); the first test lets it infer them, as a user's call would.
REQUIREMENTS = ["scikit-learn", "pandas"]


def _data(rows: int = 60, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    return frame, (frame["a"] + 0.5 * frame["b"] > 0).astype(int).to_numpy()


def _fit(seed: int = 0) -> tuple[Pipeline, pd.DataFrame]:
    frame, labels = _data(seed=seed)
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(frame, labels), frame


def _error_code(exc: pytest.ExceptionInfo[MlflowException]) -> str:
    return str(exc.value.error_code)


def test_log_register_alias_and_load_through_both_clients(mlflow_uri: str, cairn_api: HttpTracking) -> None:
    mlflow.set_experiment("models")
    pipeline, frame = _fit()
    with mlflow.start_run() as run:
        mlflow.log_metric("accuracy", 0.93)
        info = mlflow.sklearn.log_model(
            pipeline, name="model", input_example=frame.head(3), registered_model_name="scorer"
        )
    assert info.model_id.startswith("m-")
    assert info.registered_model_version == "1"
    client = MlflowClient()
    client.set_registered_model_alias("scorer", "champion", 1)

    # MLflow's side: the logged model, the version, and the model loaded back by its alias.
    assert [o.model_id for o in client.get_run(run.info.run_id).outputs.model_outputs] == [info.model_id]
    logged = client.get_logged_model(info.model_id)
    assert logged.source_run_id == run.info.run_id
    assert logged.status.to_proto() == 2  # LOGGED_MODEL_READY
    assert logged.name == "model"
    version = client.get_model_version_by_alias("scorer", "champion")
    assert version.source == f"models:/{info.model_id}"
    assert version.run_id == run.info.run_id
    assert version.aliases == ["champion"]
    expected = pipeline.predict(frame)
    loaded = mlflow.pyfunc.load_model("models:/scorer@champion")
    np.testing.assert_array_equal(loaded.predict(frame), expected)
    np.testing.assert_array_equal(mlflow.sklearn.load_model("models:/scorer/1").predict(frame), expected)
    # log_model sent the run's metric again, linked to the model: still one point in the run.
    assert [m.value for m in client.get_metric_history(run.info.run_id, "accuracy")] == [0.93]

    # Cairn's side: the same registered model and version, whose folder is a Cairn model.
    cairn_version = cairn_api.get_model_version_by_alias("scorer", "champion")
    assert cairn_version.version == 1
    assert cairn_version.run_id == run.info.run_id
    assert cairn_version.flavor == "mlflow"
    assert cairn_version.source == f"runs:/{run.info.run_id}/models/{info.model_id}"
    files = {a.path for a in cairn_api.list_artifacts(run.info.run_id, f"models/{info.model_id}")}
    assert {f"models/{info.model_id}/MLmodel", f"models/{info.model_id}/{MANIFEST_NAME}"} <= files
    by_cairn = cairn.load_model("models:/scorer@champion", uri=mlflow_uri)
    np.testing.assert_array_equal(np.asarray(by_cairn.predict(frame)).ravel(), expected)


def test_register_model_by_run_uri_and_a_second_version(mlflow_uri: str, cairn_api: HttpTracking) -> None:
    mlflow.set_experiment("models")
    first, frame = _fit(seed=1)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(first, name="model", pip_requirements=REQUIREMENTS)
    registered = mlflow.register_model(f"runs:/{run.info.run_id}/model", "ranker")
    assert registered.version == "1"
    assert registered.source == f"models:/{info.model_id}"
    second, _ = _fit(seed=2)
    with mlflow.start_run():
        info2 = mlflow.sklearn.log_model(second, name="model", pip_requirements=REQUIREMENTS)
    assert mlflow.register_model(f"models:/{info2.model_id}", "ranker").version == "2"
    loaded = mlflow.pyfunc.load_model("models:/ranker/2")
    np.testing.assert_array_equal(loaded.predict(frame), second.predict(frame))
    assert [v.version for v in cairn_api.list_model_versions("ranker").items] == [2, 1]


def test_registry_calls_of_mlflow_client(mlflow_uri: str, cairn_api: HttpTracking) -> None:
    client = MlflowClient()
    mlflow.set_experiment("registry")
    pipeline, _ = _fit()
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(pipeline, name="model", pip_requirements=REQUIREMENTS)

    created = client.create_registered_model("fraud", tags={"team": "risk"}, description="first cut")
    assert created.name == "fraud"
    with pytest.raises(MlflowException) as taken:
        client.create_registered_model("fraud")
    assert _error_code(taken) == "RESOURCE_ALREADY_EXISTS"
    v1 = client.create_model_version("fraud", f"models:/{info.model_id}", run_id=run.info.run_id, tags={"k": "v"})
    v2 = client.create_model_version("fraud", f"runs:/{run.info.run_id}/models/{info.model_id}")
    assert (v1.version, v2.version) == ("1", "2")
    assert client.get_model_version("fraud", "1").tags == {"k": "v"}

    client.update_registered_model("fraud", description="second cut")
    client.set_registered_model_tag("fraud", "tier", "gold")
    client.delete_registered_model_tag("fraud", "team")
    got = client.get_registered_model("fraud")
    assert got.description == "second cut"
    assert got.tags == {"tier": "gold"}

    client.update_model_version("fraud", "1", description="baseline")
    client.set_model_version_tag("fraud", "2", "checked", "yes")
    client.delete_model_version_tag("fraud", "1", "k")
    assert client.get_model_version("fraud", "1").description == "baseline"
    assert client.get_model_version("fraud", "1").tags == {}
    moved = client.transition_model_version_stage("fraud", "2", "production", archive_existing_versions=True)
    assert moved.current_stage == "Production"
    latest = client.get_latest_versions("fraud", stages=["Production"])
    assert [v.version for v in latest] == ["2"]

    client.set_registered_model_alias("fraud", "champion", "2")
    assert client.get_registered_model("fraud").aliases == {"champion": "2"}
    assert client.get_model_version_by_alias("fraud", "champion").version == "2"
    with pytest.raises(MlflowException) as aliased:
        client.delete_model_version("fraud", "2")
    assert _error_code(aliased) == "INVALID_STATE"
    client.delete_registered_model_alias("fraud", "champion")
    with pytest.raises(MlflowException) as no_alias:
        client.get_model_version_by_alias("fraud", "champion")
    assert _error_code(no_alias) == "RESOURCE_DOES_NOT_EXIST"

    found = client.search_registered_models(filter_string="name LIKE 'fr%' and tags.tier = 'gold'")
    assert [m.name for m in found] == ["fraud"]
    assert client.search_registered_models(filter_string="name = 'nothing'") == []
    versions = client.search_model_versions(f"name = 'fraud' and run_id = '{run.info.run_id}'")
    assert sorted(v.version for v in versions) == ["1", "2"]
    assert [v.version for v in client.search_model_versions("name='fraud' and tags.checked='yes'")] == ["2"]
    with pytest.raises(MlflowException) as bad_filter:
        client.search_model_versions("name = 'fraud' OR name = 'x'")
    assert _error_code(bad_filter) == "INVALID_PARAMETER_VALUE"

    client.delete_model_version("fraud", "1")
    assert [v.version for v in client.search_model_versions("name='fraud'")] == ["2"]
    client.rename_registered_model("fraud", "fraud-v2")
    assert client.get_registered_model("fraud-v2").latest_versions[0].version == "2"
    assert cairn_api.get_model("fraud-v2").latest_version == 2
    client.delete_registered_model("fraud-v2")
    with pytest.raises(MlflowException) as gone:
        client.get_registered_model("fraud-v2")
    assert _error_code(gone) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as bad_source:
        client.create_model_version("other", "s3://bucket/model")
    assert _error_code(bad_source) == "INVALID_PARAMETER_VALUE"


def test_logged_models_api(mlflow_uri: str) -> None:
    client = MlflowClient()
    experiment_id = mlflow.set_experiment("logged").experiment_id
    with mlflow.start_run() as run:
        model = mlflow.initialize_logged_model(name="draft", tags={"kind": "test"}, model_type="classifier")
    assert model.source_run_id == run.info.run_id
    client.set_logged_model_tags(model.model_id, {"more": "yes"})
    client.delete_logged_model_tag(model.model_id, "kind")
    client.log_model_params(model.model_id, {"alpha": "0.5"})
    got = client.get_logged_model(model.model_id)
    assert got.tags["more"] == "yes"
    assert "kind" not in got.tags
    assert got.tags["mlflow.user"]  # the client's system tags, kept
    assert got.params == {"alpha": "0.5"}
    assert got.model_type == "classifier"
    assert got.status.to_proto() == 1  # pending

    outside = mlflow.initialize_logged_model(name="no-run")  # no active run: a run is made to hold it
    assert not outside.source_run_id
    client.finalize_logged_model(outside.model_id, "READY")
    found = client.search_logged_models([experiment_id], filter_string="name = 'draft'")
    assert [m.model_id for m in found] == [model.model_id]
    ready = client.search_logged_models([experiment_id], filter_string="status = 'READY'")
    assert [m.model_id for m in ready] == [outside.model_id]
    assert len(client.search_logged_models([experiment_id], order_by=[{"field_name": "name"}])) == 2
    client.delete_logged_model(model.model_id)
    with pytest.raises(MlflowException) as gone:
        client.get_logged_model(model.model_id)
    assert _error_code(gone) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as unknown:
        client.get_logged_model("m-" + "0" * 32)
    assert _error_code(unknown) == "RESOURCE_DOES_NOT_EXIST"


def test_autolog_on_a_real_fit(mlflow_uri: str, cairn_api: HttpTracking) -> None:
    mlflow.set_experiment("autolog")
    mlflow.sklearn.autolog()
    try:
        frame, labels = _data()
        with mlflow.start_run() as run:
            LogisticRegression(C=0.5, max_iter=200).fit(frame, labels)
    finally:
        mlflow.sklearn.autolog(disable=True)
    got = MlflowClient().get_run(run.info.run_id)
    assert got.data.params["C"] == "0.5"
    assert got.data.params["max_iter"] == "200"
    assert 0.5 < got.data.metrics["training_accuracy_score"] <= 1.0
    models = MlflowClient().search_logged_models([got.info.experiment_id])
    assert [m.source_run_id for m in models] == [run.info.run_id]
    loaded = mlflow.pyfunc.load_model(f"models:/{models[0].model_id}")
    assert loaded.predict(frame).shape == (len(frame),)
    # Cairn sees the same run: params, the metric, and the model folder.
    cairn_run = cairn_api.get_run(run.info.run_id)
    assert cairn_run.params["C"] == "0.5"
    assert "training_accuracy_score" in cairn_run.metrics


def test_cairn_serve_serves_a_model_registered_through_mlflow(mlflow_uri: str) -> None:
    mlflow.set_experiment("serving")
    pipeline, frame = _fit()
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            pipeline,
            name="model",
            input_example=frame.head(2),
            registered_model_name="served",
            pip_requirements=REQUIREMENTS,
        )
    MlflowClient().set_registered_model_alias("served", "live", 1)
    served = start_serve("models:/served@live", env={"CAIRN_URI": mlflow_uri})
    try:
        answer = httpx.post(
            f"{served.url}/invocations", json={"dataframe_records": frame.head(5).to_dict("records")}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == pipeline.predict(frame.head(5)).tolist()
        assert answer.headers["X-Cairn-Model-Version"] == "1"
    finally:
        served.stop()


def test_a_model_registered_through_mlflow_is_reviewed_before_its_protected_alias_moves(
    mlflow_auth_server: ThreadedServer, team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    team.user("ann")
    team.user("bob")
    team.admin.create_project("fraud")
    team.grant("ann", Role.EDITOR, project="fraud")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_auth_server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", team.token("ann"))
    mlflow.set_tracking_uri(mlflow_auth_server.url)
    mlflow.set_registry_uri(mlflow_auth_server.url)
    mlflow.set_experiment("fraud")
    pipeline, frame = _fit()
    with mlflow.start_run():
        mlflow.sklearn.log_model(pipeline, name="model", registered_model_name="fraud", pip_requirements=REQUIREMENTS)
    # Ann made the model, so she holds it; the maintainer of its releases is the admin's choice.
    team.grant("bob", Role.EDITOR, model="fraud")
    team.grant("bob", Role.VIEWER, project="fraud")  # MLflow's client downloads the run's files
    team.admin.protect_alias("fraud", "champion", approvals=1)
    client = MlflowClient()
    with pytest.raises(MlflowException) as protected:
        client.set_registered_model_alias("fraud", "champion", 1)
    assert _error_code(protected) == "INVALID_STATE"

    ann = TrackingService(team.store, Principal("ann", authenticated=True))
    bob = TrackingService(team.store, Principal("bob", authenticated=True))
    review = ann.open_review("fraud", 1, "champion", description="first model, logged with MLflow")
    bob.approve_review(review.id, "metrics look right")
    ann.merge_review(review.id)  # ann is the model's admin: she made it

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", team.token("bob"))
    assert MlflowClient().get_model_version_by_alias("fraud", "champion").version == "1"
    loaded = mlflow.pyfunc.load_model("models:/fraud@champion")
    np.testing.assert_array_equal(loaded.predict(frame), pipeline.predict(frame))
