"""Experiments, runs, params, tags and metrics as MLflow's client logs and reads them, checked
both through MLflow's client and through Cairn's own (what Cairn's users see)."""

from __future__ import annotations

import math
import time

import httpx
import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from tests.access_helpers import Team
from tests.helpers import ThreadedServer

from cairn.client.http import HttpTracking

LONG_PARAM = "p" * 6000
UNICODE_KEY = "température/épreuve_λ"
UNICODE_VALUE = "naïve ✓ 模型 🚀"


def _error_code(exc: pytest.ExceptionInfo[MlflowException]) -> str:
    return str(exc.value.error_code)


def test_the_fluent_api_round_trips_through_both_clients(mlflow_uri: str, cairn_api: HttpTracking) -> None:
    experiment = mlflow.set_experiment("fluent")
    before = int(time.time() * 1000)
    with mlflow.start_run(run_name="first-run", description="why: a *first* try") as run:
        mlflow.log_param("lr", "0.001")
        mlflow.log_params({"long": LONG_PARAM, UNICODE_KEY: UNICODE_VALUE, "layers": 3})
        for step, loss in enumerate([1.0, 0.5, 0.25]):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.log_metrics({"nan": math.nan, "inf": math.inf, "ninf": -math.inf, UNICODE_KEY: 1.5}, step=7)
        mlflow.set_tag("team", UNICODE_VALUE)
        mlflow.set_tags({"stage": "dev", UNICODE_KEY: "yes"})
        run_id = run.info.run_id
    after = int(time.time() * 1000)

    got = MlflowClient().get_run(run_id)
    assert got.info.experiment_id == experiment.experiment_id
    assert got.info.run_name == "first-run"
    assert got.info.status == "FINISHED"
    assert before <= got.info.start_time <= got.info.end_time <= after
    assert got.info.artifact_uri == f"mlflow-artifacts:/{experiment.experiment_id}/{run_id}/artifacts"
    assert got.info.lifecycle_stage == "active"
    assert got.data.params == {"lr": "0.001", "long": LONG_PARAM, UNICODE_KEY: UNICODE_VALUE, "layers": "3"}
    assert got.data.metrics["loss"] == 0.25
    assert math.isnan(got.data.metrics["nan"])
    assert got.data.metrics["inf"] == math.inf
    assert got.data.metrics["ninf"] == -math.inf
    assert got.data.metrics[UNICODE_KEY] == 1.5
    assert got.data.tags["team"] == UNICODE_VALUE
    assert got.data.tags[UNICODE_KEY] == "yes"
    assert got.data.tags["mlflow.runName"] == "first-run"
    assert got.data.tags["mlflow.source.name"]  # set by the client, kept as a tag
    assert got.data.tags["mlflow.user"] == got.info.user_id

    history = MlflowClient().get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, 0.25)]
    assert all(before <= m.timestamp <= after for m in history)

    # Cairn's view of the same run.
    cairn_run = cairn_api.get_run(run_id)
    assert cairn_run.project == "fluent"
    assert cairn_run.project_id == experiment.experiment_id
    assert cairn_run.name == "first-run"
    assert cairn_run.notes == got.data.tags["mlflow.note.content"] == "why: a *first* try"
    assert cairn_run.status.value == "finished"
    assert (cairn_run.start_time, cairn_run.end_time) == (got.info.start_time, got.info.end_time)
    assert cairn_run.params == {"lr": "0.001", "long": LONG_PARAM, UNICODE_KEY: UNICODE_VALUE, "layers": "3"}
    assert cairn_run.tags["team"] == UNICODE_VALUE
    assert cairn_run.tags["mlflow.source.name"] == got.data.tags["mlflow.source.name"]
    assert math.isnan(cairn_run.metrics["nan"].last)
    assert cairn_run.metrics["inf"].last == math.inf and cairn_run.metrics["ninf"].last == -math.inf
    cairn_history = cairn_api.get_metric_history(run_id, "loss")
    assert list(cairn_history.steps) == [0, 1, 2]
    assert list(cairn_history.values) == [1.0, 0.5, 0.25]
    assert list(cairn_history.timestamps) == [m.timestamp for m in history]


def test_exact_timestamps_steps_and_paged_history(mlflow_uri: str, cairn_api: HttpTracking) -> None:
    client = MlflowClient()
    exp_id = client.create_experiment("exact")
    run = client.create_run(exp_id, start_time=1_700_000_000_123, run_name="exact-run")
    points = [Metric("m", float(i) / 3, 1_700_000_000_123 + i, 10 * i - 5) for i in range(250)]
    points.append(Metric("m", math.nan, 1_700_000_001_000, 2**40))
    client.log_batch(run.info.run_id, metrics=points, params=[Param("a", "1")], tags=[RunTag("t", "v")])

    history = client.get_metric_history(run.info.run_id, "m")
    assert [(m.timestamp, m.step) for m in history] == [(p.timestamp, p.step) for p in points]
    assert [m.value for m in history[:-1]] == [p.value for p in points[:-1]]
    assert math.isnan(history[-1].value)

    # Paged by max_results, as MLflow's REST API allows.
    pages, token = [], None
    while True:
        answer = httpx.get(
            f"{mlflow_uri}/api/2.0/mlflow/metrics/get-history",
            params={
                "run_id": run.info.run_id,
                "metric_key": "m",
                "max_results": 100,
                **({"page_token": token} if token else {}),
            },
        ).json()
        pages.append(answer["metrics"])
        token = answer.get("next_page_token")
        if not token:
            break
    assert [len(page) for page in pages] == [100, 100, 51]
    assert [p["step"] for page in pages for p in page] == [p.step for p in points]

    cairn_history = cairn_api.get_metric_history(run.info.run_id, "m")
    assert list(cairn_history.timestamps) == [p.timestamp for p in points]
    assert list(cairn_history.steps) == [p.step for p in points]
    assert cairn_api.get_run(run.info.run_id).start_time == 1_700_000_000_123

    client.set_terminated(run.info.run_id, "KILLED", end_time=1_700_000_009_999)
    ended = client.get_run(run.info.run_id).info
    assert (ended.status, ended.end_time) == ("KILLED", 1_700_000_009_999)
    assert cairn_api.get_run(run.info.run_id).end_time == 1_700_000_009_999


def test_bulk_interval_history(mlflow_uri: str) -> None:
    client = MlflowClient()
    exp_id = client.create_experiment("bulk")
    runs = [client.create_run(exp_id).info.run_id for _ in range(2)]
    for run_id in runs:
        client.log_batch(run_id, metrics=[Metric("acc", i / 10, 1000 + i, i) for i in range(10)])
    answer = httpx.get(
        f"{mlflow_uri}/api/2.0/mlflow/metrics/get-history-bulk-interval",
        params={"run_ids": runs, "metric_key": "acc", "start_step": 2, "end_step": 5},
    ).json()
    got = sorted((p["run_id"], p["step"]) for p in answer["metrics"])
    assert got == sorted((run_id, step) for run_id in runs for step in range(2, 6))


def test_the_default_experiment_and_nested_runs(mlflow_uri: str, cairn_api: HttpTracking) -> None:
    client = MlflowClient()
    assert client.get_experiment("0").name == "Default"
    assert client.get_experiment_by_name("Default").experiment_id == "0"
    assert client.get_experiment("0").artifact_location == "mlflow-artifacts:/0"
    # The fluent API remembers the experiment an earlier test set, in this process.
    mlflow.set_experiment(experiment_id="0")
    with mlflow.start_run() as parent:
        with mlflow.start_run(nested=True) as child:
            mlflow.log_metric("x", 1.0)
    assert parent.info.experiment_id == "0"
    assert client.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert cairn_api.get_run(child.info.run_id).parent_id == parent.info.run_id
    assert cairn_api.get_run(parent.info.run_id).project == "Default"
    assert client.get_run(parent.info.run_id).info.run_name  # a name made by the server


def test_renaming_tagging_deleting_and_restoring_a_run(mlflow_uri: str, cairn_api: HttpTracking) -> None:
    client = MlflowClient()
    exp_id = client.create_experiment("lifecycle")
    run_id = client.create_run(exp_id, run_name="before").info.run_id
    client.update_run(run_id, name="after")
    assert client.get_run(run_id).info.run_name == "after"
    client.set_tag(run_id, "mlflow.runName", "again")
    assert client.get_run(run_id).data.tags["mlflow.runName"] == "again"
    assert cairn_api.get_run(run_id).name == "again"
    client.set_tag(run_id, "mlflow.note.content", "# Notes\nwith *markdown* ✓")
    assert cairn_api.get_run(run_id).notes == "# Notes\nwith *markdown* ✓"
    assert client.get_run(run_id).data.tags["mlflow.note.content"] == "# Notes\nwith *markdown* ✓"
    client.delete_tag(run_id, "mlflow.note.content")
    assert cairn_api.get_run(run_id).notes == ""
    assert "mlflow.note.content" not in client.get_run(run_id).data.tags
    client.set_tag(run_id, "k", "v")
    client.delete_tag(run_id, "k")
    assert "k" not in client.get_run(run_id).data.tags
    assert "k" not in cairn_api.get_run(run_id).tags

    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert cairn_api.get_run(run_id).deleted
    with pytest.raises(MlflowException) as into_deleted:
        client.log_metric(run_id, "m", 1.0)
    assert _error_code(into_deleted) == "INVALID_PARAMETER_VALUE"
    assert "deleted" in str(into_deleted.value)
    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    assert not cairn_api.get_run(run_id).deleted


def test_what_mlflow_refuses_is_refused_with_its_codes(mlflow_uri: str) -> None:
    client = MlflowClient()
    exp_id = client.create_experiment("refusals")
    run_id = client.create_run(exp_id).info.run_id

    with pytest.raises(MlflowException) as unknown:
        client.get_run("0" * 32)
    assert _error_code(unknown) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as unknown_experiment:
        client.get_experiment("no-such-experiment")
    assert _error_code(unknown_experiment) == "RESOURCE_DOES_NOT_EXIST"
    assert client.get_experiment_by_name("no such experiment") is None
    with pytest.raises(MlflowException) as duplicate:
        client.create_experiment("refusals")
    assert _error_code(duplicate) == "RESOURCE_ALREADY_EXISTS"

    client.log_param(run_id, "p", "1")
    client.log_param(run_id, "p", "1")  # the same value again is no change
    with pytest.raises(MlflowException) as changed:
        client.log_param(run_id, "p", "2")
    assert _error_code(changed) == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run_id).data.params == {"p": "1"}

    # The client splits big batches itself, so the limits are for a raw request.
    url = f"{mlflow_uri}/api/2.0/mlflow/runs/log-batch"
    too_many = {
        "metrics": {
            "run_id": run_id,
            "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": i} for i in range(1001)],
        },
        "params": {"run_id": run_id, "params": [{"key": f"k{i}", "value": "v"} for i in range(101)]},
        "tags": {"run_id": run_id, "tags": [{"key": f"k{i}", "value": "v"} for i in range(101)]},
    }
    for what, body in too_many.items():
        answer = httpx.post(url, json=body)
        assert answer.status_code == 400, what
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert what in answer.json()["message"]
    assert client.get_run(run_id).data.metrics == {}

    missing = httpx.post(f"{mlflow_uri}/api/2.0/mlflow/runs/log-metric", json={"run_id": run_id, "key": "m"})
    assert (missing.status_code, missing.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    with pytest.raises(MlflowException) as no_tag:
        client.delete_tag(run_id, "never-set")
    assert _error_code(no_tag) == "RESOURCE_DOES_NOT_EXIST"


def test_renaming_an_experiment(mlflow_uri: str, cairn_api: HttpTracking) -> None:
    client = MlflowClient()
    exp_id = client.create_experiment("old name")
    run_id = client.create_run(exp_id).info.run_id
    client.rename_experiment(exp_id, "new name ✓")
    assert client.get_experiment(exp_id).name == "new name ✓"
    assert client.get_experiment_by_name("new name ✓").experiment_id == exp_id
    assert client.get_experiment_by_name("old name") is None
    assert cairn_api.get_run(run_id).project == "new name ✓"
    assert cairn_api.get_project("new name ✓").id == exp_id
    client.create_experiment("taken")
    with pytest.raises(MlflowException) as taken:
        client.rename_experiment(exp_id, "taken")
    assert _error_code(taken) == "RESOURCE_ALREADY_EXISTS"


def test_deleting_restoring_and_tagging_an_experiment(mlflow_uri: str, cairn_api: HttpTracking) -> None:
    client = MlflowClient()
    exp_id = client.create_experiment("to delete", tags={"team": "vision", UNICODE_KEY: UNICODE_VALUE})
    assert client.get_experiment(exp_id).tags == {"team": "vision", UNICODE_KEY: UNICODE_VALUE}
    client.set_experiment_tag(exp_id, "team", "nlp")
    client.delete_experiment_tag(exp_id, UNICODE_KEY)
    assert client.get_experiment(exp_id).tags == {"team": "nlp"}
    with pytest.raises(MlflowException) as no_tag:
        client.delete_experiment_tag(exp_id, UNICODE_KEY)
    assert _error_code(no_tag) == "RESOURCE_DOES_NOT_EXIST"
    run_id = client.create_run(exp_id).info.run_id

    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert client.get_experiment_by_name("to delete").lifecycle_stage == "deleted"
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"  # its runs go with it, as in MLflow
    assert "to delete" not in [p.name for p in cairn_api.list_projects()]
    with pytest.raises(MlflowException) as into_deleted:
        client.create_run(exp_id)
    assert _error_code(into_deleted) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as taken:
        client.create_experiment("to delete")
    assert _error_code(taken) == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as set_deleted:
        mlflow.set_experiment("to delete")
    assert "deleted" in str(set_deleted.value)

    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    assert "to delete" in [p.name for p in cairn_api.list_projects()]
    client.create_run(exp_id)


def test_history_of_a_metric_never_logged_is_empty(mlflow_uri: str) -> None:
    client = MlflowClient()
    run_id = client.create_run(client.create_experiment("empty")).info.run_id
    assert client.get_metric_history(run_id, "never") == []
    with pytest.raises(MlflowException) as unknown:
        client.get_metric_history("f" * 32, "loss")
    assert _error_code(unknown) == "RESOURCE_DOES_NOT_EXIST"


def test_with_auth_the_run_is_the_signed_in_user_s(
    mlflow_auth_server: ThreadedServer, team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = team.user("ada")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    client = MlflowClient(tracking_uri=mlflow_auth_server.url)
    exp_id = client.create_experiment("ada's")
    run = client.create_run(exp_id, tags={"mlflow.user": "somebody else"})
    assert run.info.user_id == "ada"
    assert client.get_run(run.info.run_id).data.tags["mlflow.user"] == "ada"
    team.user("bob")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", team.token("bob"))
    with pytest.raises(MlflowException) as hidden:
        client.get_run(run.info.run_id)
    assert _error_code(hidden) == "RESOURCE_DOES_NOT_EXIST"  # a project bob holds no role on
