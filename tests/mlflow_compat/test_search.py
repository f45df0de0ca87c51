"""``mlflow.search_runs`` and ``search_experiments`` through MLflow's client, answered by
Cairn's query engine: the runs MLflow's filter and order select, in that order, page by page."""

from __future__ import annotations

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

LEARNING_RATES = ["0.1", "0.01", "0.001"]


def _log_runs(experiment: str, count: int) -> list[tuple[str, float, str]]:
    """``count`` runs in ``experiment``: (run id, accuracy, learning rate) of each."""
    mlflow.set_experiment(experiment)
    logged = []
    for i in range(count):
        accuracy = ((i * 37) % 100) / 100
        lr = LEARNING_RATES[i % 3]
        with mlflow.start_run(run_name=f"{experiment}-{i}") as run:
            mlflow.log_param("lr", lr)
            mlflow.log_metric("acc", accuracy)
            mlflow.set_tag("parity", "even" if i % 2 == 0 else "odd")
        logged.append((run.info.run_id, accuracy, lr))
    return logged


def test_search_runs_filters_orders_and_pages_as_mlflow_does(mlflow_uri: str) -> None:
    logged = _log_runs("search-a", 24)
    experiment_id = mlflow.get_experiment_by_name("search-a").experiment_id

    frame = mlflow.search_runs(
        [experiment_id], filter_string="metrics.acc > 0.3 and params.lr = '0.1'", order_by=["metrics.acc DESC"]
    )
    expected = sorted((r for r in logged if r[1] > 0.3 and r[2] == "0.1"), key=lambda r: -r[1])
    assert list(frame["run_id"]) == [r[0] for r in expected]
    assert list(frame["metrics.acc"]) == [r[1] for r in expected]
    assert set(frame["params.lr"]) == {"0.1"}

    client = MlflowClient()
    odd = client.search_runs([experiment_id], "tags.parity = 'odd'", order_by=["attributes.run_name ASC"])
    assert [r.info.run_name for r in odd] == sorted(f"search-a-{i}" for i in range(1, 24, 2))

    seen, token = [], None
    while True:  # seven at a time, every run once, newest first (MLflow's default order)
        page = client.search_runs([experiment_id], max_results=7, page_token=token)
        seen += [r.info.run_id for r in page]
        token = page.token
        if not token:
            break
    assert seen == [r[0] for r in reversed(logged)]


def test_deleted_runs_and_several_experiments(mlflow_uri: str) -> None:
    first = _log_runs("search-b", 4)
    second = _log_runs("search-c", 3)
    client = MlflowClient()
    ids = [mlflow.get_experiment_by_name(n).experiment_id for n in ("search-b", "search-c")]
    client.delete_run(first[0][0])

    everything = client.search_runs(ids, max_results=2)
    found, token = [r.info.run_id for r in everything], everything.token
    while token:
        page = client.search_runs(ids, max_results=2, page_token=token)
        found += [r.info.run_id for r in page]
        token = page.token
    assert sorted(found) == sorted(r[0] for r in first[1:] + second)

    deleted = client.search_runs(ids, run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [first[0][0]]
    assert deleted[0].info.lifecycle_stage == "deleted"
    assert len(client.search_runs(ids, run_view_type=ViewType.ALL)) == 7


def test_a_malformed_filter_is_invalid_parameter_value(mlflow_uri: str) -> None:
    experiment_id = mlflow.set_experiment("search-d").experiment_id
    for bad in ("metrics.acc >", "params.lr = 0.1 or params.lr = '1'", "nonsense.x = 1"):
        with pytest.raises(MlflowException) as raised:
            MlflowClient().search_runs([experiment_id], bad)
        assert raised.value.error_code == "INVALID_PARAMETER_VALUE", bad


def test_search_experiments_by_name_and_tag(mlflow_uri: str) -> None:
    client = MlflowClient()
    for name in ("exp-alpha", "exp-beta", "other"):
        client.create_experiment(name, tags={"team": "vision" if name != "exp-beta" else "nlp"})
    found = client.search_experiments(filter_string="name LIKE 'exp-%'", order_by=["name DESC"])
    assert [e.name for e in found] == ["exp-beta", "exp-alpha"]
    vision = client.search_experiments(filter_string="tags.team = 'vision'")
    assert sorted(e.name for e in vision) == ["exp-alpha", "other"]
    client.delete_experiment(client.get_experiment_by_name("other").experiment_id)
    assert "other" not in [e.name for e in client.search_experiments()]
    assert [e.name for e in client.search_experiments(view_type=ViewType.DELETED_ONLY)] == ["other"]
