"""The ``onnx`` flavor: scikit-learn models trained here on iris and digits, converted with
skl2onnx, and a graph built with onnx.helper, load by run and registered URIs and predict with
onnxruntime what the original does; what is not a valid graph is refused when it is logged
(docs/models.md)."""

from __future__ import annotations

import json
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cairn
from cairn.client.models.folder import load_model_folder, save_model_folder
from cairn.client.models.loaded import ExtraColumnsWarning
from cairn.core.errors import FlavorError, FrameworkNotInstalled, InvalidInput, InvalidManifest, ModelTampered
from cairn.core.models.signature import ColumnSchema, ColumnSpec, TensorSchema

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install 'cairn[onnx]')")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'cairn[onnx]')")
skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx (in the test extra) converts the test models")
datasets = pytest.importorskip("sklearn.datasets")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


def converted(model: Any, features: Any) -> Any:
    """``model`` as ONNX, taking float32 rows as wide as ``features``; probabilities as one
    array rather than a list of dicts per row (skl2onnx's "zipmap")."""
    sample = np.asarray(features[:1], dtype=np.float32)
    return skl2onnx.to_onnx(model, sample, options={"zipmap": False}, target_opset=17)


def excess_graph() -> Any:
    """A graph with two named inputs, as converted pipelines over tables have: width − height
    (not symmetric, so inputs fed to each other's place would show)."""
    width = helper.make_tensor_value_info("width", TensorProto.FLOAT, [None, 1])
    height = helper.make_tensor_value_info("height", TensorProto.FLOAT, [None, 1])
    excess = helper.make_tensor_value_info("excess", TensorProto.FLOAT, [None, 1])
    node = helper.make_node("Sub", ["width", "height"], ["excess"])
    graph = helper.make_graph([node], "excess", [width, height], [excess])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_converted_iris_classifier_loads_by_run_and_registered_uri_and_predicts_the_same(
    where: str, iris: tuple[Any, Any], iris_model: LogisticRegression
) -> None:
    features, _ = iris
    with cairn.init("iris-onnx", flush_interval=0.05) as run:
        info = run.log_model(converted(iris_model, features), "classifier", input_example=features[:5])
    assert info.flavor == "onnx"
    assert info.signature is not None and isinstance(info.signature.inputs, ColumnSchema)
    assert info.signature.inputs.names == list(features.columns)
    assert info.signature.outputs == ColumnSchema(
        (ColumnSpec("label", "integer"), ColumnSpec("probabilities", "float"))
    )

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ONNX is data: nothing runs code on load
        model = cairn.load_model(info.uri)
    assert model.manifest.loader["format"] == "onnx" and model.manifest.loader["opsets"]["ai.onnx"] == 17
    assert not model.manifest.runs_code_on_load
    assert any(r.startswith("onnxruntime==") for r in model.manifest.requirements)
    predicted = model.predict(features)
    np.testing.assert_array_equal(predicted["label"], iris_model.predict(features))
    np.testing.assert_allclose(predicted["probabilities"], iris_model.predict_proba(features), atol=1e-5)
    rows = model.predict(features[:3].to_dict("records"))
    np.testing.assert_array_equal(rows["label"], iris_model.predict(features[:3]))

    assert cairn.register_model(info.uri, "iris-onnx").version == 1
    registered = cairn.load_model("models:/iris-onnx/1")
    np.testing.assert_array_equal(registered.predict(features)["label"], iris_model.predict(features))


def test_a_digits_classifier_with_an_array_example_takes_arrays_of_that_shape(tmp_path: Path) -> None:
    images, labels = datasets.load_digits(return_X_y=True)
    trained = LogisticRegression(max_iter=300).fit(images[:300], labels[:300])
    save_model_folder(converted(trained, images), tmp_path / "digits", input_example=images[:2])
    model = load_model_folder(tmp_path / "digits")
    assert model.signature is not None and model.signature.inputs == TensorSchema("float64", (-1, 64))
    held_out = images[300:400]
    np.testing.assert_array_equal(model.predict(held_out)["label"], trained.predict(held_out))
    with pytest.raises(InvalidInput, match=r"shape \(any, 64\), got \(10, 8\)"):
        model.predict(held_out[:10, :8])


def test_tensors_kept_in_external_files_are_read_in_from_the_graph_s_path(tmp_path: Path) -> None:
    images, labels = datasets.load_digits(return_X_y=True)
    trained = LogisticRegression(max_iter=300).fit(images[:300], labels[:300])
    # The classifier's scores as MatMul and Add over initializers: tensors that can live outside the graph.
    weights = numpy_helper.from_array(trained.coef_.T.astype(np.float32), "weights")
    bias = numpy_helper.from_array(trained.intercept_.astype(np.float32), "bias")
    nodes = [
        helper.make_node("MatMul", ["X", "weights"], ["product"]),
        helper.make_node("Add", ["product", "bias"], ["scores"]),
    ]
    graph = helper.make_graph(
        nodes,
        "digits",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 64])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, 10])],
        initializer=[weights, bias],
    )
    path = tmp_path / "exported" / "digits.onnx"
    path.parent.mkdir()
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path), save_as_external_data=True, size_threshold=0)
    assert len(list(path.parent.iterdir())) == 2  # the graph, and its tensors beside it

    with pytest.raises(FlavorError, match="keeps tensor 'weights' in an external file"):
        save_model_folder(onnx.load(str(path), load_external_data=False), tmp_path / "references")
    saved, _ = save_model_folder(str(path), tmp_path / "read-in")
    assert set(saved.files) == {"model.onnx"}
    scores = load_model_folder(tmp_path / "read-in").predict(images[300:400])
    np.testing.assert_array_equal(scores.argmax(axis=1), trained.predict(images[300:400]))


def test_a_graph_with_named_inputs_is_fed_by_column_from_a_path_or_bytes(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    path = tmp_path / "excess.onnx"
    onnx.save(excess_graph(), str(path))
    example = pd.DataFrame({"width": [1.5, 2.0], "height": [3.0, 4.0]})
    saved, _ = save_model_folder(str(path), tmp_path / "from-path", input_example=example)  # found by suffix
    assert saved.flavor == "onnx"
    assert saved.signature is not None and saved.signature.outputs == TensorSchema("float32", (-1, 1))
    save_model_folder(path.read_bytes(), tmp_path / "from-bytes", flavor="onnx", input_example=example)

    for folder in ("from-path", "from-bytes"):
        model = load_model_folder(tmp_path / folder)
        # Columns in another order, and integers that widen to the double the example had.
        table = pd.DataFrame({"height": [2, 5, 7], "width": [0.5, 2.0, 3.0]})
        np.testing.assert_array_equal(model.predict(table), [[-1.5], [-3.0], [-4.0]])
        with pytest.warns(ExtraColumnsWarning, match="dropped: depth"):
            model.predict(table.assign(depth=1.0))
        with pytest.raises(InvalidInput) as caught:
            model.predict(table.drop(columns=["height"]))
        assert caught.value.details["column"] == "height" and "'height'" in caught.value.message
        with pytest.raises(InvalidInput, match="'width' must hold double values, got string"):
            model.predict(table.astype({"width": str}))

    # Without a signature the flavor itself names the graph input that is missing.
    save_model_folder(excess_graph(), tmp_path / "unsigned")
    unsigned = load_model_folder(tmp_path / "unsigned")
    assert unsigned.predict({"height": [3.0], "width": [2.0]}).tolist() == [[-1.0]]
    with pytest.raises(InvalidInput, match="missing column 'height', an input of the ONNX graph"):
        unsigned.predict({"width": [2.0]})
    with pytest.raises(InvalidInput, match="takes the inputs width, height"):
        unsigned.predict(np.ones((2, 2)))


def test_what_is_not_a_valid_graph_is_refused_when_logged_and_nothing_is_kept(tmp_path: Path) -> None:
    dangling = excess_graph()
    dangling.graph.node[0].input[1] = "depth"  # an input no one defines: the checker refuses it
    refused = [
        (b"not a protobuf at all", "onnx", "failed to save"),
        (str(tmp_path / "missing.onnx"), None, "no ONNX file at"),
        (dangling, None, "depth"),
        (42, "onnx", "saves an onnx.ModelProto, its bytes or the path of a .onnx file, not int"),
    ]
    with cairn.init("iris-onnx") as run:
        for model, flavor, reason in refused:
            with pytest.raises(FlavorError, match=re.escape(reason)) as caught:
                run.log_model(model, "graph", flavor=flavor)
            assert caught.value.details["flavor"] == "onnx" and caught.value.details["during"] == "save"
    with cairn.Api() as api:
        assert api.artifacts(run.id) == []


def test_a_changed_graph_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "excess"
    save_model_folder(excess_graph(), folder)
    graph = folder / "model.onnx"
    original = graph.read_bytes()
    graph.write_bytes(original.replace(b"width", b"widtH"))
    with pytest.raises(ModelTampered) as caught:
        load_model_folder(folder)
    assert caught.value.code == "model_tampered" and caught.value.details["path"] == "model.onnx"

    graph.write_bytes(original)
    manifest_path = folder / "cairn-model.json"
    manifest = json.loads(manifest_path.read_bytes())
    manifest["loader"]["file"] = "../model.onnx"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(InvalidManifest, match="not one of the files it lists"):
        load_model_folder(folder)


def test_a_missing_onnxruntime_or_onnx_names_the_package_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_model_folder(excess_graph(), tmp_path / "excess")
    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` fails as if not installed
        with pytest.raises(FrameworkNotInstalled) as caught:
            load_model_folder(tmp_path / "excess")
    assert caught.value.details == {"flavor": "onnx", "during": "load", "package": "onnxruntime"}
    assert "pip install onnxruntime" in caught.value.message

    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(FrameworkNotInstalled, match="pip install onnx$") as caught:
        save_model_folder(b"\x08\x07", tmp_path / "bytes", flavor="onnx")
    assert caught.value.details["during"] == "save"
