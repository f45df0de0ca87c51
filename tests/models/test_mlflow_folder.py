"""A folder the real MLflow client saved becomes a Cairn model once its manifest is made from
the MLmodel: it loads the way ``cairn serve FOLDER`` loads it (every file checked, the input
example predicted first) and predicts what the original model predicts."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.helpers import make_cairn_model

from cairn.client.models.folder import UnsafeModelFormatWarning
from cairn.client.models.plugins import get_flavor
from cairn.core.errors import FlavorError, FrameworkNotInstalled, InvalidManifest
from cairn.core.models.manifest import MANIFEST_NAME
from cairn.core.models.mlflow_model import manifest_for_mlflow_folder
from cairn.core.models.signature import ColumnSchema, ColumnSpec, TensorSchema
from cairn.serving.model_source import ServedModel, open_model

pytest.importorskip("sklearn")
with warnings.catch_warnings():
    # Importing mlflow.pyfunc warns about its own type hints.
    warnings.simplefilter("ignore")
    pytest.importorskip("mlflow")
    import mlflow.pyfunc
    import mlflow.sklearn


pytestmark = pytest.mark.filterwarnings(
    # MLflow's own warnings while it saves (pickle formats, PythonModel without type hints…).
    "ignore::UserWarning:mlflow.*",
    "ignore::FutureWarning:mlflow.*",
    "ignore::pandas.errors.Pandas4Warning",
    "ignore:.*type hint",
)

FEATURES = pd.DataFrame({"a": [0.1, 0.5, 1.2, 3.0, 2.2, 0.7], "b": [1.0, 2.0, 0.5, 0.3, 0.1, 1.5]})
LABELS = [0, 0, 1, 1, 1, 0]
#: Given, so MLflow does not infer them (8-30 s a model, in a subprocess); it still writes
#: requirements.txt with its own pin first.
REQUIREMENTS = ["scikit-learn", "skops", "cloudpickle"]


def _pipeline() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression()).fit(FEATURES, LABELS)


def serve_load(folder: Path, cache: Path) -> ServedModel:
    """What ``cairn serve FOLDER`` does before it opens its port."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsafeModelFormatWarning)
        return open_model(None, str(folder), cache)


@pytest.mark.parametrize("serialization", ["skops", "cloudpickle", "pickle"])
def test_an_mlflow_sklearn_model_serves_without_mlflow_reading_it(
    serialization: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = _pipeline()
    folder = tmp_path / "model"
    mlflow.sklearn.save_model(
        pipeline,
        folder,
        input_example=FEATURES.head(2),
        serialization_format=serialization,
        pip_requirements=REQUIREMENTS,
    )
    manifest = make_cairn_model(folder)

    file = "model.skops" if serialization == "skops" else "model.pkl"
    assert manifest.flavor == "mlflow"
    assert manifest.loader == {
        "format": "mlflow",
        "flavor": "sklearn",
        "serialization_format": serialization,
        "file": file,
        "runs_code_on_load": serialization != "skops",
    }
    assert manifest.framework.name == "scikit-learn"
    assert manifest.python.count(".") == 2
    assert manifest.requirements == (f"mlflow=={mlflow.__version__}", *REQUIREMENTS)
    assert manifest.signature is not None
    assert manifest.signature.inputs == ColumnSchema((ColumnSpec("a", "double"), ColumnSpec("b", "double")))
    assert manifest.input_example == "input_example.json"
    assert set(manifest.files) == {p.name for p in folder.iterdir()} - {MANIFEST_NAME}

    # MLflow is not what reads it: a serving image with scikit-learn alone serves it.
    monkeypatch.setitem(sys.modules, "mlflow", None)
    served = serve_load(folder, tmp_path / "cache")
    assert served.loaded.flavor == "mlflow"
    np.testing.assert_array_equal(served.loaded.predict(FEATURES), pipeline.predict(FEATURES))
    # Columns in another order, and one extra, are what the signature makes of them.
    shuffled = FEATURES[["b", "a"]].assign(extra=1)
    with pytest.warns(UserWarning, match="extra"):
        np.testing.assert_array_equal(served.loaded.predict(shuffled), pipeline.predict(FEATURES))


def test_a_tree_saved_with_skops_trusted_types_loads_with_them(tmp_path: Path) -> None:
    import mlflow.sklearn
    from sklearn.tree import DecisionTreeClassifier

    features = FEATURES.to_numpy()
    tree = DecisionTreeClassifier(random_state=0).fit(features, LABELS)
    folder = tmp_path / "tree"
    mlflow.sklearn.save_model(
        tree,
        folder,
        input_example=features[:2],
        serialization_format="skops",
        skops_trusted_types=["sklearn.tree._tree.Tree"],
        pip_requirements=REQUIREMENTS,
    )
    manifest = make_cairn_model(folder)

    assert manifest.loader["skops_trusted_types"] == ["sklearn.tree._tree.Tree"]
    assert manifest.runs_code_on_load is False  # scikit-learn's own types only
    assert manifest.signature is not None and manifest.signature.inputs == TensorSchema("float64", (-1, 2))
    assert manifest.input_example is None  # MLflow's array example is not Cairn's format
    served = serve_load(folder, tmp_path / "cache")
    np.testing.assert_array_equal(served.loaded.predict(features), tree.predict(features))


def test_predict_fn_is_what_the_model_predicts_with(tmp_path: Path) -> None:
    pipeline = _pipeline()
    folder = tmp_path / "proba"
    mlflow.sklearn.save_model(
        pipeline, folder, serialization_format="skops", pyfunc_predict_fn="predict_proba", pip_requirements=REQUIREMENTS
    )
    manifest = make_cairn_model(folder)

    assert manifest.loader["predict_fn"] == "predict_proba"
    assert manifest.signature is None and manifest.input_example is None
    served = serve_load(folder, tmp_path / "cache")
    np.testing.assert_allclose(served.loaded.predict(FEATURES), pipeline.predict_proba(FEATURES))


def test_an_mlflow_python_model_is_read_by_mlflow_pyfunc(tmp_path: Path) -> None:
    class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined,misc]
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return model_input["a"] * 2 + model_input["b"]

    folder = tmp_path / "pyfunc"
    mlflow.pyfunc.save_model(
        folder, python_model=Doubler(), input_example=FEATURES.head(2), pip_requirements=["pandas"]
    )
    manifest = make_cairn_model(folder)

    assert manifest.loader == {
        "format": "mlflow",
        "flavor": "python_function",
        "runs_code_on_load": True,
        "serialization_format": "cloudpickle",
        "file": "python_model.pkl",
    }
    assert manifest.framework.name == "mlflow" and manifest.framework.version == mlflow.__version__
    assert "mlflow==" + mlflow.__version__ in manifest.requirements
    assert manifest.input_example == "input_example.json"
    served = serve_load(folder, tmp_path / "cache")
    np.testing.assert_allclose(np.asarray(served.loaded.predict(FEATURES)).ravel(), FEATURES.a * 2 + FEATURES.b)


def test_a_python_model_without_mlflow_installed_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "pyfunc"
    mlflow.pyfunc.save_model(folder, python_model=mlflow.pyfunc.PythonModel(), pip_requirements=["pandas"])
    make_cairn_model(folder)
    for module in ("mlflow", "mlflow.pyfunc"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(FrameworkNotInstalled, match="pip install mlflow") as caught:
        serve_load(folder, tmp_path / "cache")
    assert caught.value.details["package"] == "mlflow"


def test_a_folder_changed_after_its_manifest_was_made_is_refused(tmp_path: Path) -> None:
    from cairn.core.errors import ModelTampered

    folder = tmp_path / "model"
    mlflow.sklearn.save_model(_pipeline(), folder, serialization_format="skops", pip_requirements=REQUIREMENTS)
    make_cairn_model(folder)
    (folder / "model.skops").write_bytes(b"not a model")
    with pytest.raises(ModelTampered, match="model.skops"):
        serve_load(folder, tmp_path / "cache")


def test_cairn_never_writes_an_mlflow_folder(tmp_path: Path) -> None:
    flavor = get_flavor("mlflow")
    assert flavor.handles(_pipeline()) is False
    with pytest.raises(FlavorError, match="MLflow client"):
        flavor.save(_pipeline(), tmp_path)


DIGEST = "0" * 64
GOOD = b"""
flavors:
  python_function: {loader_module: mlflow.sklearn, model_path: model.skops, python_version: 3.11.7}
  sklearn: {pickled_model: model.skops, serialization_format: skops, sklearn_version: 1.5.2}
mlflow_version: 3.17.2
"""


@pytest.mark.parametrize(
    ("mlmodel", "named"),
    [
        (b"flavors: [unclosed", "not valid YAML"),
        (b"- a list", "YAML mapping"),
        (b"mlflow_version: 3.17.2\n", "'flavors'"),
        (b"flavors: {keras: {}}\n", "neither 'sklearn' nor 'python_function'"),
        (GOOD.replace(b"serialization_format: skops", b"serialization_format: joblib"), "serialization_format"),
        (GOOD.replace(b"pickled_model: model.skops", b"pickled_model: other.skops"), "pickled_model"),
        (GOOD.replace(b", sklearn_version: 1.5.2", b""), "sklearn_version"),
        (GOOD.replace(b", python_version: 3.11.7", b""), "python_version"),
    ],
)
def test_a_malformed_mlmodel_is_an_invalid_manifest_naming_what_is_wrong(mlmodel: bytes, named: str) -> None:
    assert manifest_for_mlflow_folder(GOOD, None, {"MLmodel": DIGEST, "model.skops": DIGEST}).flavor == "mlflow"
    with pytest.raises(InvalidManifest, match=named):
        manifest_for_mlflow_folder(mlmodel, None, {"MLmodel": DIGEST, "model.skops": DIGEST})


def test_only_signatures_that_mean_the_same_to_cairn_are_carried_over() -> None:
    def signature_of(inputs: str, outputs: str = "null") -> Any:
        mlmodel = GOOD + f"signature:\n  inputs: '{inputs}'\n  outputs: '{outputs}'\n".encode()
        return manifest_for_mlflow_folder(mlmodel, None, {"MLmodel": DIGEST, "model.skops": DIGEST}).signature

    kept = signature_of('[{"type": "long", "name": "n"}, {"type": "string", "name": "s", "required": true}]')
    assert kept.inputs == ColumnSchema((ColumnSpec("n", "integer"), ColumnSpec("s", "string")))
    assert kept.outputs is None
    # An unnamed output column has no Cairn form: the inputs are still checked.
    assert signature_of('[{"type": "double", "name": "x"}]', '[{"type": "long"}]').outputs is None
    assert signature_of('[{"type": "integer", "name": "n"}]') is None  # 32-bit integers
    assert signature_of('[{"type": "double", "name": "x", "required": false}]') is None
    assert signature_of('[{"type": "double"}]') is None
    assert signature_of('[{"type": {"type": "array", "items": {"type": "double"}}, "name": "x"}]') is None
    named_tensors = '[{"type": "tensor", "name": "t", "tensor-spec": {"dtype": "float32", "shape": [-1]}}]'
    assert signature_of(named_tensors) is None


def test_requirements_are_the_requirement_lines() -> None:
    text = b"# pinned\nmlflow==3.17.2\n\n-r other.txt\n--index-url https://x\nscikit-learn==1.5.2  # here\n"
    manifest = manifest_for_mlflow_folder(GOOD, text, {"MLmodel": DIGEST, "model.skops": DIGEST})
    assert manifest.requirements == ("mlflow==3.17.2", "scikit-learn==1.5.2")
