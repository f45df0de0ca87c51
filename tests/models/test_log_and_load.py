"""A model logged from a run loads again by its URI, embedded and through a server, and
predicts only on input that fits its signature; a changed file is refused."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cairn
from cairn.client.models.folder import UnsafeModelFormatWarning, load_model_folder, save_model_folder
from cairn.client.models.loaded import ExtraColumnsWarning
from cairn.core.errors import InvalidModelUri, ModelTampered, NotFound, SignatureMismatch
from cairn.core.models.signature import ColumnSchema, ColumnSpec, Signature, TensorSchema

pd = pytest.importorskip("pandas")
datasets = pytest.importorskip("sklearn.datasets")
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402


class ThresholdTree(DecisionTreeClassifier):
    """A custom estimator class: skops does not trust it, so the model is pickled."""


def test_an_iris_model_logged_from_a_run_loads_and_predicts_the_same(
    where: str, iris: tuple[Any, Any], iris_model: LogisticRegression
) -> None:
    features, _ = iris
    with cairn.init("iris", flush_interval=0.05) as run:
        info = run.log_model(iris_model, "classifier", input_example=features[:5])
    assert info.uri == f"runs:/{run.id}/classifier"
    assert info.flavor == "sklearn" and len(info.manifest_digest) == 64
    assert isinstance(info.signature.inputs, ColumnSchema)  # type: ignore[union-attr]
    assert info.signature.inputs.names == list(features.columns)  # type: ignore[union-attr]

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # skops: no warning about code running on load
        model = cairn.load_model(info.uri)
    assert model.flavor == "sklearn" and model.manifest.loader["format"] == "skops"
    assert not model.manifest.runs_code_on_load
    np.testing.assert_array_equal(model.predict(features), iris_model.predict(features))
    rows = features[:3].to_dict("records")
    np.testing.assert_array_equal(model.predict(rows), iris_model.predict(features[:3]))
    # The columns in another order are put back in the signature's.
    np.testing.assert_array_equal(model.predict(features[features.columns[::-1]]), iris_model.predict(features))
    assert model.input_example == features[:5].to_dict("records")

    api = cairn.Api()
    try:
        listed = {a.path for a in api.artifacts(run.id)}
    finally:
        api.close()
    assert {"classifier/cairn-model.json", "classifier/model.skops", "classifier/input_example.json"} <= listed
    requirements = model.manifest.requirements
    assert any(r.startswith("scikit-learn==") for r in requirements) and any(
        r.startswith("skops==") for r in requirements
    )


def test_predict_names_a_missing_column_drops_extra_ones_and_refuses_a_wrong_type(
    iris: tuple[Any, Any], iris_model: LogisticRegression
) -> None:
    features, _ = iris
    with cairn.init("iris") as run:
        info = run.log_model(iris_model, input_example=features[:5])
    model = cairn.load_model(info.uri)
    first = features.columns[0]

    with pytest.raises(SignatureMismatch) as caught:
        model.predict(features.drop(columns=[first]))
    assert caught.value.details["column"] == first and repr(first) in caught.value.message

    with pytest.warns(ExtraColumnsWarning, match="dropped: colour") as recorded:
        predicted = model.predict(features.assign(colour="blue"))
    assert len(recorded) == 1
    np.testing.assert_array_equal(predicted, iris_model.predict(features))

    with pytest.raises(SignatureMismatch, match=re.escape(f"{first!r} must hold double values, got string")):
        model.predict(features.astype({first: str}))
    # Integers widen to the double the model was trained on.
    model.predict(features.round().astype(int))


def test_a_digits_model_with_an_array_example_takes_arrays_of_that_shape(where: str) -> None:
    images, labels = datasets.load_digits(return_X_y=True)
    trained = LogisticRegression(max_iter=200).fit(images[:300], labels[:300])
    with cairn.init("digits") as run:
        info = run.log_model(trained, input_example=images[:2])
    assert info.signature is not None and info.signature.inputs == TensorSchema("float64", (-1, 64))
    model = cairn.load_model(info.uri)
    np.testing.assert_array_equal(model.predict(images[300:310]), trained.predict(images[300:310]))
    with pytest.raises(SignatureMismatch, match=r"shape \(any, 64\), got \(10, 8\)"):
        model.predict(images[:10, :8])


def test_a_model_skops_cannot_trust_is_pickled_and_loading_it_warns_once(iris: tuple[Any, Any]) -> None:
    features, labels = iris
    tree = ThresholdTree(max_depth=2).fit(features, labels)
    with cairn.init("iris") as run:
        info = run.log_model(tree)
    with pytest.warns(UnsafeModelFormatWarning, match="loading it runs code") as recorded:
        model = cairn.load_model(info.uri)
    assert len(recorded) == 1
    assert model.manifest.runs_code_on_load and model.manifest.loader["format"] in ("pickle", "cloudpickle")
    assert model.signature is None
    np.testing.assert_array_equal(model.predict(features), tree.predict(features))


class Doubler:
    def predict(self, data: Any) -> Any:
        return np.asarray(data, dtype=float) * 2


def test_any_object_with_predict_is_a_python_function_model(where: str) -> None:
    with cairn.init("misc") as run:
        info = run.log_model(Doubler(), "doubler", input_example=np.array([[1.0, 2.0]]))
    assert info.flavor == "python_function"
    with pytest.warns(UnsafeModelFormatWarning):
        model = cairn.load_model(info.uri)
    assert model.predict(np.array([[3, 4]])).tolist() == [[6.0, 8.0]]


class TextLengths:
    """A model of texts: the length of each (the first column's, given a table)."""

    def predict(self, data: Any) -> Any:
        if hasattr(data, "columns"):
            data = data.iloc[:, 0]
        return np.asarray([len(text) for text in np.asarray(data, dtype=object).ravel()])


TEXT_EXAMPLES: dict[str, Any] = {
    "list": ["a review", "another, longer review"],
    "string": "a single review",
    "unicode array": np.array(["a review", "émoji 🎬"]),
    "object array": np.array(["a review", "another"], dtype=object),
    "dict of lists": {"text": ["a review", "another"]},
    "frame": pd.DataFrame({"text": ["a review", "another"]}),
}


@pytest.mark.parametrize("shape", sorted(TEXT_EXAMPLES))
def test_a_text_example_is_saved_read_back_unchanged_and_checks_input(where: str, shape: str) -> None:
    example = TEXT_EXAMPLES[shape]
    with cairn.init("texts") as run:
        info = run.log_model(TextLengths(), "lengths", input_example=example)
    with pytest.warns(UnsafeModelFormatWarning):
        model = cairn.load_model(info.uri)
    inputs = model.signature.inputs  # type: ignore[union-attr]
    if isinstance(example, dict | pd.DataFrame):
        assert inputs == ColumnSchema((ColumnSpec("text", "string"),))
        assert model.input_example == [{"text": "a review"}, {"text": "another"}]  # rows, as for any table
        assert model.predict([{"text": "four"}]).tolist() == [4]
        with pytest.raises(SignatureMismatch, match="'text' must hold string values, got integer"):
            model.predict([{"text": 4}])
        return
    assert inputs == TensorSchema("str", (-1,))
    if isinstance(example, np.ndarray):
        assert model.input_example.dtype == example.dtype
        np.testing.assert_array_equal(model.input_example, example)
    else:
        assert model.input_example == example and type(model.input_example) is type(example)
    expected = [len(text) for text in ([example] if isinstance(example, str) else example)]
    assert model.predict(model.input_example).tolist() == expected
    assert model.predict(["four", "a much longer text than any example"]).tolist() == [4, 35]
    assert model.predict("four").tolist() == [4]
    with pytest.raises(SignatureMismatch, match="must hold str values"):
        model.predict(["four", 4])


def test_a_bytes_example_round_trips_and_a_mixed_one_is_refused_before_anything_is_written(
    where: str, tmp_path: Path
) -> None:
    example = [b"\x00\xffraw", b"ab"]
    with cairn.init("bytes") as run:
        info = run.log_model(TextLengths(), "lengths", input_example=example)
        with pytest.raises(SignatureMismatch, match="mixes values of different types"):
            run.log_model(TextLengths(), "mixed", input_example=["a review", 3])
    assert info.signature == Signature(TensorSchema("bytes", (-1,)), TensorSchema("int64", (-1,)))
    with pytest.warns(UnsafeModelFormatWarning):
        model = cairn.load_model(info.uri)
    assert model.input_example.tolist() == example
    assert model.predict([b"abc"]).tolist() == [3]
    with pytest.raises(SignatureMismatch, match="mixes values of different types"):
        save_model_folder(TextLengths(), tmp_path / "mixed", input_example=["a review", 3])
    assert not (tmp_path / "mixed" / "cairn-model.json").exists()


def test_a_changed_model_file_is_refused_before_it_is_read(
    tmp_path: Path, iris: tuple[Any, Any], iris_model: LogisticRegression
) -> None:
    features, _ = iris
    folder = tmp_path / "model"
    save_model_folder(iris_model, folder, input_example=features[:2])
    load_model_folder(folder)
    (folder / "model.skops").write_bytes((folder / "model.skops").read_bytes() + b"\0")
    with pytest.raises(ModelTampered) as caught:
        load_model_folder(folder)
    assert caught.value.code == "model_tampered" and caught.value.details["path"] == "model.skops"

    other = tmp_path / "other"
    save_model_folder(iris_model, other)
    (other / "payload.pkl").write_bytes(b"not listed")
    with pytest.raises(ModelTampered, match="payload.pkl"):
        load_model_folder(other)
    (other / "payload.pkl").unlink()
    (other / "model.skops").unlink()
    with pytest.raises(ModelTampered, match="missing"):
        load_model_folder(other)


def test_a_model_file_replaced_in_the_run_is_refused(
    where: str, iris_model: LogisticRegression, tmp_path: Path
) -> None:
    with cairn.init("iris") as run:
        info = run.log_model(iris_model)
        impostor = tmp_path / "model.skops"
        impostor.write_bytes(b"something else")
        run.log_artifact(impostor, "model/model.skops")
    with pytest.raises(ModelTampered) as caught:
        cairn.load_model(info.uri)
    assert caught.value.details["path"] == "model.skops"


def test_a_manifest_lists_every_file_with_its_digest(tmp_path: Path, iris_model: LogisticRegression) -> None:
    import hashlib

    folder = tmp_path / "model"
    save_model_folder(iris_model, folder, pip_requirements=["scikit-learn"])
    manifest = json.loads((folder / "cairn-model.json").read_bytes())
    on_disk = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    assert manifest["files"] == {k: v for k, v in on_disk.items() if k != "cairn-model.json"}
    assert manifest["requirements"] == ["scikit-learn"]
    assert manifest["signature"] is None and manifest["input_example"] is None


def test_a_run_uri_that_names_no_model(where: str, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("hello")
    with cairn.init("iris") as run:
        run.log_artifact(note)
    with pytest.raises(NotFound):
        cairn.load_model(f"runs:/{run.id}/nothing-here")
    with pytest.raises(InvalidModelUri, match="names a file"):
        cairn.load_model(f"runs:/{run.id}/note.txt")


def test_a_forest_is_saved_with_skops_trusting_only_scikit_learn_s_own_types(
    tmp_path: Path, iris: tuple[Any, Any]
) -> None:
    from sklearn.ensemble import RandomForestClassifier

    features, labels = iris
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(features, labels)
    folder = tmp_path / "forest"
    manifest, _ = save_model_folder(forest, folder)
    assert manifest.loader["format"] == "skops" and manifest.loader["trusted"] == ["sklearn.tree._tree.Tree"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_model_folder(folder)
    np.testing.assert_array_equal(loaded.predict(features), forest.predict(features))
