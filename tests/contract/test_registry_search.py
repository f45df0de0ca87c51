"""Models and versions selected by the query language (docs/query.md, docs/registry.md): the
fields of each, the source run's params and metrics through ``run.``, paging, and the errors a
bad query gets, the same embedded, over HTTP and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.contract.helpers import batch, columns
from tests.contract.test_registry import log_model_folder

from cairn.core.errors import InvalidInput, InvalidPageToken, InvalidQuery
from cairn.core.limits import MAX_QUERY_LENGTH
from cairn.service.interface import Tracking


def _trained(tracking: Tracking, tmp_path: Path, lr: float | None, val_acc: float | None) -> str:
    """A run with the param ``lr`` and the metric ``val_acc`` (each left out when None) and a
    logged model."""
    run = tracking.create_run("reg", config={} if lr is None else {"lr": lr})
    if val_acc is not None:
        tracking.log_metrics(run.id, batch(columns("val_acc", [0, 1], [val_acc / 2, val_acc])))
    log_model_folder(tracking, run.id, tmp_path)
    return run.id


def _register(tracking: Tracking, run_id: str, name: str) -> int:
    return tracking.register_model(f"runs:/{run_id}/model", name).version


@pytest.fixture
def registry(tracking: Tracking, tmp_path: Path) -> Tracking:
    """fraud-a: versions 1 (lr 0.01, acc 0.95) and 2 (lr 0.1, acc 0.8); fraud-b: version 1
    (lr 0.01, acc 0.85); churn: version 1 (no lr, no metric). fraud-a and churn are the risk
    team's; fraud-a@champion is 2, churn@champion 1; fraud-a 1 is in Production, tagged."""
    good, fast, fair, bare = (
        _trained(tracking, tmp_path, 0.01, 0.95),
        _trained(tracking, tmp_path, 0.1, 0.8),
        _trained(tracking, tmp_path, 0.01, 0.85),
        _trained(tracking, tmp_path, None, None),
    )
    for run_id, name in ((good, "fraud-a"), (fast, "fraud-a"), (fair, "fraud-b"), (bare, "churn")):
        _register(tracking, run_id, name)
    tracking.set_model_tag("fraud-a", "team", "risk")
    tracking.set_model_tag("churn", "team", "risk")
    tracking.set_model_tag("fraud-b", "team", "growth")
    tracking.set_model_alias("fraud-a", "champion", 2)
    tracking.set_model_alias("churn", "champion", 1)
    tracking.transition_stage("fraud-a", 1, "Production")
    tracking.set_model_version_tag("fraud-a", 1, "validated", "yes")
    return tracking


def _models(tracking: Tracking, where: str) -> list[str]:
    return [m.name for m in tracking.list_models(where=where).items]


def _versions(tracking: Tracking, where: str) -> list[tuple[str, int]]:
    return [(v.model, v.version) for v in tracking.search_model_versions(where=where).items]


def test_models_by_name_tags_aliases_and_numbers(registry: Tracking) -> None:
    assert _models(registry, "") == ["churn", "fraud-a", "fraud-b"]
    assert _models(registry, "name like 'fraud%' and tags.team = 'risk'") == ["fraud-a"]
    assert _models(registry, "tags.team in ('risk', 'growth') and not name ilike 'CHURN'") == ["fraud-a", "fraud-b"]
    assert _models(registry, "alias = 'champion'") == ["churn", "fraud-a"]
    # Several aliases per model: != and is null hold when none matches, never unknown.
    assert _models(registry, "alias != 'champion'") == ["fraud-b"]
    assert _models(registry, "alias is null") == ["fraud-b"]
    assert _models(registry, "latest_version >= 2") == ["fraud-a"]
    assert _models(registry, "tags.owner is null and created > -1d") == ["churn", "fraud-a", "fraud-b"]
    # The query and the older name pattern and tags narrow together.
    assert [m.name for m in registry.list_models(where="alias = 'champion'", name_like="fraud%").items] == ["fraud-a"]
    assert [m.name for m in registry.list_models(where="name != 'x'", tags={"team": "growth"}).items] == ["fraud-b"]


def test_versions_by_their_fields_and_their_source_runs(registry: Tracking) -> None:
    every = [("churn", 1), ("fraud-a", 2), ("fraud-a", 1), ("fraud-b", 1)]
    assert _versions(registry, "") == every
    assert _versions(registry, "run.params.lr = 0.01 and run.metrics.val_acc >= 0.9") == [("fraud-a", 1)]
    assert _versions(registry, "run.params.lr = 0.01") == [("fraud-a", 1), ("fraud-b", 1)]
    assert _versions(registry, "run.metrics.val_acc.min < 0.45") == [("fraud-a", 2), ("fraud-b", 1)]
    # A run that never logged the key: unknown, so neither = nor != holds; is null does.
    assert _versions(registry, "run.params.lr != 0.01") == [("fraud-a", 2)]
    assert _versions(registry, "run.params.lr is null") == [("churn", 1)]
    assert _versions(registry, "alias = 'champion'") == [("churn", 1), ("fraud-a", 2)]
    assert _versions(registry, "alias is null") == [("fraud-a", 1), ("fraud-b", 1)]
    assert _versions(registry, "stage = 'Production'") == [("fraud-a", 1)]
    assert _versions(registry, "stage = 'None' and flavor = 'python_function'") == [
        ("churn", 1),
        ("fraud-a", 2),
        ("fraud-b", 1),
    ]
    assert _versions(registry, "tags.validated = 'yes'") == [("fraud-a", 1)]
    assert _versions(registry, "name like 'fraud%' and version >= 2") == [("fraud-a", 2)]
    assert _versions(registry, "run.project = 'reg' and run.status != 'x' and created > -1h") == every
    assert _versions(registry, "user is not null and description = ''") == every


def test_one_models_versions_by_query(registry: Tracking) -> None:
    assert [v.version for v in registry.list_model_versions("fraud-a", where="run.params.lr > 0.05").items] == [2]
    assert [v.version for v in registry.list_model_versions("fraud-a", where="alias is null").items] == [1]
    found = registry.list_model_versions("fraud-a", where="stage = 'Production'").items
    assert found == [registry.get_model_version("fraud-a", 1)]  # tags, aliases, lineage as one read


def test_a_search_pages_through_models_in_order(registry: Tracking) -> None:
    seen: list[tuple[str, int]] = []
    token = None
    while True:
        page = registry.search_model_versions(where="version >= 1", limit=1, page_token=token)
        seen += [(v.model, v.version) for v in page.items]
        token = page.next_page_token
        if token is None:
            break
    assert seen == [("churn", 1), ("fraud-a", 2), ("fraud-a", 1), ("fraud-b", 1)]
    models = registry.list_models(where="tags.team = 'risk'", limit=1)
    assert [m.name for m in models.items] == ["churn"]
    rest = registry.list_models(where="tags.team = 'risk'", limit=1, page_token=models.next_page_token)
    assert [m.name for m in rest.items] == ["fraud-a"] and rest.next_page_token is None


@pytest.mark.parametrize(
    ("where", "search"),
    [
        ("params.lr = 0.01", "versions"),  # a run's field, not a version's: run.params.lr
        ("run.params.lr = 0.01", "models"),  # models have no source run
        ("version = 'two'", "versions"),
        ("latest_version > 'a'", "models"),
        ("alias = 1", "versions"),
        ("tags.team = 5", "models"),
        ("run.metrics.acc > 'high'", "versions"),
        ("stage like 3", "versions"),
        ("created > 'yesterday'", "models"),
        ("run.bogus = 'x'", "versions"),
        ("name = ", "models"),
        ("x" * (MAX_QUERY_LENGTH + 1), "versions"),
        ("name = 'a\x00'", "models"),
    ],
)
def test_a_bad_query_is_invalid_query(registry: Tracking, where: str, search: str) -> None:
    with pytest.raises(InvalidQuery) as refused:
        if search == "models":
            registry.list_models(where=where)
        else:
            registry.search_model_versions(where=where)
    assert refused.value.code == "invalid_query"
    with pytest.raises(InvalidQuery):
        registry.list_model_versions("fraud-a", where="latest_version = 1")  # a model's field


def test_bad_paging_of_a_search(registry: Tracking) -> None:
    for token in ("1", "zz-1", "66726175642d61", "-1", "66726175642d61-x"):
        with pytest.raises(InvalidPageToken):
            registry.search_model_versions(page_token=token)
    with pytest.raises(InvalidInput):  # invalid_value embedded, invalid_request from the schema
        registry.search_model_versions(limit=0)
