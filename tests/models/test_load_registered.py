"""``cairn.load_model("models:/NAME/VERSION")`` and ``("models:/NAME@ALIAS")``: the registry
says which run logged the version, the folder is checked against its manifest and against the
tree digest the version recorded, embedded and through a server (docs/models.md, registry.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import cairn
from cairn.cli.main import cli
from cairn.client.connect import connect, resolve_uri
from cairn.core.errors import AliasNotFound, InvalidModelUri, ModelNotFound, ModelTampered, ModelVersionNotFound

pytest.importorskip("sklearn")
from sklearn.tree import DecisionTreeClassifier


@pytest.fixture(scope="module")
def stump(iris: tuple[Any, Any]) -> DecisionTreeClassifier:
    """A second model whose predictions differ from the logistic regression's."""
    features, labels = iris
    return DecisionTreeClassifier(max_depth=1, random_state=0).fit(features, labels)


def test_an_alias_loads_the_version_it_points_at_now(
    where: str, iris: tuple[Any, Any], iris_model: Any, stump: DecisionTreeClassifier
) -> None:
    features, _ = iris
    assert (iris_model.predict(features) != stump.predict(features)).any()
    uris = []
    for model in (iris_model, stump):
        with cairn.init("iris", flush_interval=0.05) as run:
            uris.append(run.log_model(model, "classifier", input_example=features[:5]).uri)
    assert [cairn.register_model(uri, "iris-clf").version for uri in uris] == [1, 2]

    tracking = connect(resolve_uri())
    try:
        tracking.set_model_alias("iris-clf", "champion", 1)
        champion = cairn.load_model("models:/iris-clf@champion")
        np.testing.assert_array_equal(champion.predict(features), iris_model.predict(features))
        assert champion.source == "models:/iris-clf@champion"

        tracking.set_model_alias("iris-clf", "champion", 2)
        moved = cairn.load_model("models:/iris-clf@champion")
        np.testing.assert_array_equal(moved.predict(features), stump.predict(features))
    finally:
        tracking.close()
    first = cairn.load_model("models:/iris-clf/1")
    np.testing.assert_array_equal(first.predict(features), iris_model.predict(features))


def test_what_the_registry_does_not_hold_is_its_own_not_found(where: str, iris_model: Any) -> None:
    with cairn.init("iris", flush_interval=0.05) as run:
        info = run.log_model(iris_model, "classifier")
    cairn.register_model(info.uri, "iris-clf")
    for uri, error, code in (
        ("models:/nope/1", ModelNotFound, "model_not_found"),
        ("models:/nope@champion", ModelNotFound, "model_not_found"),
        ("models:/iris-clf/2", ModelVersionNotFound, "model_version_not_found"),
        ("models:/iris-clf@champion", AliasNotFound, "alias_not_found"),
    ):
        with pytest.raises(error) as caught:
            cairn.load_model(uri)
        assert caught.value.code == code, uri
    for bad in ("models:/iris-clf@Bad Alias", "models:/iris-clf@v2", "models:/iris-clf/0"):
        with pytest.raises(InvalidModelUri):
            cairn.load_model(bad)


def test_a_registered_version_whose_files_changed_is_refused(
    where: str, iris: tuple[Any, Any], iris_model: Any, stump: DecisionTreeClassifier, tmp_path: Path
) -> None:
    features, _ = iris
    with cairn.init("iris", flush_interval=0.05) as run:
        info = run.log_model(iris_model, "classifier")
        cairn.register_model(info.uri, "tampered")
        impostor = tmp_path / "model.skops"
        impostor.write_bytes(b"something else")
        run.log_artifact(impostor, "classifier/model.skops")
    with pytest.raises(ModelTampered) as caught:
        cairn.load_model("models:/tampered/1")
    assert caught.value.details["path"] == "model.skops"

    # A whole new folder logged over the registered one, its manifest and all: it loads by its
    # runs:/ URI, but it is not the version that was registered.
    with cairn.init("iris", flush_interval=0.05) as run:
        info = run.log_model(iris_model, "classifier")
        cairn.register_model(info.uri, "replaced")
        run.log_model(stump, "classifier")
    np.testing.assert_array_equal(cairn.load_model(info.uri).predict(features), stump.predict(features))
    with pytest.raises(ModelTampered, match="not the one that was registered") as replaced:
        cairn.load_model("models:/replaced/1")
    assert replaced.value.details["path"] == "cairn-model.json"


def test_gc_keeps_the_files_of_a_registered_version_whose_run_was_deleted(
    iris: tuple[Any, Any], iris_model: Any
) -> None:
    features, _ = iris
    with cairn.init("iris", flush_interval=0.05) as run:
        info = run.log_model(iris_model, "classifier")
    cairn.register_model(info.uri, "kept")
    with cairn.Api() as api:
        api._tracking.delete_run(run.id)
    result = CliRunner().invoke(cli, ["gc", "--grace", "0"], prog_name="cairn")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Purged 0 deleted runs;")
    assert "Kept 1 deleted run that registered model versions come from" in result.stdout
    assert run.id in result.stdout
    model = cairn.load_model("models:/kept/1")
    np.testing.assert_array_equal(model.predict(features), iris_model.predict(features))


def test_the_store_is_named_uri_as_in_init_and_register_model(
    iris: tuple[Any, Any], iris_model: Any, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``load_model(model_uri, uri=…)`` and ``register_model(model_uri, name, uri=…)`` name the
    store as ``init`` does, so one URL reaches a server without CAIRN_URI."""
    monkeypatch.delenv("CAIRN_URI", raising=False)
    features, _ = iris
    with cairn.init("iris", uri=server.url, capture=False, flush_interval=0.05) as run:
        info = run.log_model(iris_model, "classifier")
    version = cairn.register_model(model_uri=info.uri, name="remote-clf", uri=server.url)
    model = cairn.load_model(model_uri=f"models:/remote-clf/{version.version}", uri=server.url)
    np.testing.assert_array_equal(model.predict(features), iris_model.predict(features))
