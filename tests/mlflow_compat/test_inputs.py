"""Datasets MLflow's client logs as run inputs (``mlflow.log_input``), read back through MLflow's
client and Cairn's, and Cairn's own datasets as MLflow's client reads them."""

from __future__ import annotations

import json

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.exceptions import MlflowException

import cairn
from cairn.client.http import HttpTracking

# MLflow 3.17's pandas digest calls DataFrame.all positionally, which pandas 3 warns about.
pytestmark = pytest.mark.filterwarnings("ignore:Starting with pandas version 4.0 all arguments")


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [1.0, 2.0, 3.0], "label": ["a", "b", "a"]})


def test_log_input_round_trips_through_both_clients(mlflow_uri: str, cairn_api: HttpTracking) -> None:
    mlflow.set_experiment("with-data")
    dataset = mlflow.data.from_pandas(_frame(), source="s3://bucket/train.csv", name="iris-train")
    sent = dataset._to_mlflow_entity()
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="train")
        mlflow.log_input(dataset, context="train")  # the same input again is one input
        run_id = run.info.run_id

    inputs = MlflowClient().get_run(run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    got = inputs[0].dataset
    assert (got.name, got.digest, got.source_type, got.source, got.schema, got.profile) == (
        "iris-train",
        sent.digest,
        "s3",
        sent.source,
        sent.schema,
        sent.profile,
    )
    assert [(t.key, t.value) for t in inputs[0].tags] == [("mlflow.data.context", "train")]
    # MLflow's client can rebuild the source from what came back.
    assert mlflow.data.get_source(got).uri == "s3://bucket/train.csv"

    searched = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert [r.inputs.dataset_inputs[0].dataset.digest for r in searched] == [sent.digest]
    assert mlflow.search_runs(
        search_all_experiments=True, filter_string="datasets.name = 'iris-train'", output_format="list"
    )

    # Cairn's SDK sees an input of the run, with what its dashboard shows filled in.
    with cairn.Api(mlflow_uri) as api:
        (cairn_input,) = api.inputs(run_id)
    version = cairn_input.dataset
    assert cairn_input.context == "train"
    assert (version.name, version.digest, version.source_kind) == ("iris-train", sent.digest, "mlflow")
    assert version.source_uri == "s3://bucket/train.csv"
    assert version.rows == 3
    assert [column["name"] for column in version.schema] == ["x", "label"]
    assert cairn_api.run_inputs(run_id)[0].dataset.id == version.id


def test_an_input_without_context_and_several_per_request(mlflow_uri: str) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment("several")
    run_id = client.create_run(experiment_id).info.run_id
    plain = Dataset(name="plain", digest="abc123", source_type="local", source='{"uri": "/data/x"}')
    evaluated = Dataset(name="eval", digest="def456", source_type="code", source='{"tags": {}}', schema="{}")
    client.log_inputs(
        run_id,
        [DatasetInput(plain), DatasetInput(evaluated, tags=[InputTag("mlflow.data.context", "eval")])],
    )

    inputs = {i.dataset.name: i for i in client.get_run(run_id).inputs.dataset_inputs}
    assert inputs["plain"].tags == []
    assert inputs["plain"].dataset.schema is None and inputs["plain"].dataset.profile is None
    assert [(t.key, t.value) for t in inputs["eval"].tags] == [("mlflow.data.context", "eval")]
    assert inputs["eval"].dataset.schema == "{}"
    (found,) = client.search_runs([experiment_id], filter_string="datasets.context = 'eval'")
    assert found.info.run_id == run_id


def test_a_run_without_inputs_has_none(mlflow_uri: str) -> None:
    mlflow.set_experiment("no-data")
    with mlflow.start_run() as run:
        pass
    assert MlflowClient().get_run(run.info.run_id).inputs.dataset_inputs == []


def test_a_dataset_cairn_logged_reads_through_mlflow(mlflow_uri: str) -> None:
    run = cairn.init(project="cairn-data", uri=mlflow_uri, capture=False)
    run.log_dataset(_frame(), "frame", context="validation")
    run.finish()

    (read,) = MlflowClient().get_run(run.id).inputs.dataset_inputs
    assert read.dataset.name == "frame"
    assert read.dataset.source_type == "code"
    assert len(read.dataset.digest) == 64
    assert json.loads(read.dataset.profile)["num_rows"] == 3
    assert [(t.key, t.value) for t in read.tags] == [("mlflow.data.context", "validation")]


def test_arrays_cairn_logged_read_through_mlflow_as_code(mlflow_uri: str) -> None:
    x, y = np.zeros((4, 2, 2), dtype=np.float32), np.array([0, 1, 1, 0])
    run = cairn.init(project="cairn-arrays", uri=mlflow_uri, capture=False)
    run.log_dataset((x, y), "pixels", context="train")
    run.finish()

    (read,) = MlflowClient().get_run(run.id).inputs.dataset_inputs
    assert (read.dataset.name, read.dataset.source_type, read.dataset.source) == ("pixels", "code", '{"tags":{}}')
    assert json.loads(read.dataset.schema)["cairn_schema"][0] == {"name": "0", "type": "float32", "shape": [2, 2]}
    assert json.loads(read.dataset.profile)["num_rows"] == 4


def test_what_log_inputs_refuses(mlflow_uri: str) -> None:
    client = MlflowClient()
    run_id = client.create_run(client.create_experiment("refused")).info.run_id
    dataset = Dataset(name="d", digest="abc", source_type="local", source="{}")
    tagged = DatasetInput(dataset, tags=[InputTag("other", "x")])
    with pytest.raises(MlflowException) as refused:
        client.log_inputs(run_id, [tagged])
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run_id).inputs.dataset_inputs == []

    long_digest = Dataset(name="d", digest="f" * 65, source_type="local", source="{}")
    with pytest.raises(MlflowException) as too_long:
        client.log_inputs(run_id, [DatasetInput(long_digest)])
    assert too_long.value.error_code == "INVALID_PARAMETER_VALUE"

    with pytest.raises(MlflowException) as missing:
        client.log_inputs("0" * 32, [DatasetInput(dataset)])
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    answer = httpx.post(
        f"{mlflow_uri}/api/2.0/mlflow/runs/log-inputs",
        json={"run_id": run_id, "datasets": [{"dataset": {"name": "d", "digest": "abc"}}]},
    )
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    # Model inputs (MLflow 3's logged models) are accepted, not kept yet.
    answer = httpx.post(
        f"{mlflow_uri}/api/2.0/mlflow/runs/log-inputs", json={"run_id": run_id, "models": [{"model_id": "m-1"}]}
    )
    assert answer.status_code == 200, answer.text

    deleted = client.create_run(client.get_run(run_id).info.experiment_id).info.run_id
    client.delete_run(deleted)
    with pytest.raises(MlflowException) as gone:
        client.log_inputs(deleted, [DatasetInput(dataset)])
    assert gone.value.error_code == "INVALID_PARAMETER_VALUE"

    client.set_terminated(run_id)
    with pytest.raises(MlflowException) as ended:
        client.log_inputs(run_id, [DatasetInput(dataset)])
    assert ended.value.error_code == "INVALID_STATE"
