"""``cairn.Api``'s registry search: models and versions selected by a query, across models or
of one, with a limit, embedded and through a server (docs/registry.md, "Searching")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import cairn
from cairn.client.connect import connect
from cairn.core.errors import InvalidQuery

datasets = pytest.importorskip("sklearn.datasets")
from sklearn.linear_model import LogisticRegression  # noqa: E402


@pytest.fixture(params=["embedded", "http"])
def api(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[cairn.Api]:
    """fraud: version 1 from a run with C=0.1, version 2 (champion) with C=1.0; churn: version
    1 with C=1.0."""
    if request.param == "http":
        monkeypatch.setenv("CAIRN_URI", request.getfixturevalue("server").url)
    features, labels = datasets.load_iris(return_X_y=True)
    for c, name in ((0.1, "fraud"), (1.0, "fraud"), (1.0, "churn")):
        with cairn.init("registry", config={"C": c}, flush_interval=0.05) as run:
            uri = run.log_model(LogisticRegression(C=c, max_iter=300).fit(features, labels), "model").uri
        cairn.register_model(uri, name)
    tracking = connect()
    try:
        tracking.set_model_alias("fraud", "champion", 2)
    finally:
        tracking.close()
    with cairn.Api() as reader:
        yield reader


def test_models_and_versions_by_query(api: cairn.Api) -> None:
    assert [m.name for m in api.models()] == ["churn", "fraud"]
    assert [m.name for m in api.models(where="alias = 'champion'")] == ["fraud"]
    found = api.model_versions(where="run.params.C = 1.0 and flavor = 'sklearn'")
    assert [(v.model, v.version) for v in found] == [("churn", 1), ("fraud", 2)]
    assert [v.version for v in api.model_versions("fraud")] == [2, 1]
    assert [v.version for v in api.model_versions("fraud", where="run.params.C < 1")] == [1]
    assert [(v.model, v.version) for v in api.model_versions(limit=2)] == [("churn", 1), ("fraud", 2)]
    assert api.model_versions(limit=0) == []
    with pytest.raises(InvalidQuery):
        api.model_versions(where="params.C = 1.0")  # a version's run param is run.params.C
