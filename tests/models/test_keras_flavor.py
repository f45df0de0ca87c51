"""The ``keras`` flavor: a Keras 3 network on the torch backend, trained here on iris, saved in
Keras's ``.keras`` format, loads by run URI (embedded and over HTTP) and in a fresh process, and
predicts what the network itself does (docs/models.md).

Keras picks its backend when first imported: ``KERAS_BACKEND=torch`` is set before that
(TensorFlow is not installed here)."""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"

import dataclasses
import importlib.util
import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cairn
from cairn.client.models.flavors.keras import KerasFlavor
from cairn.client.models.folder import load_model_folder, save_model_folder
from cairn.client.models.plugins import detect_flavor
from cairn.core.errors import FlavorError
from cairn.core.models.signature import TensorSchema

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'cairn[pytorch]')")
keras = pytest.importorskip("keras", reason="keras is not installed (pip install 'cairn[keras]')")
datasets = pytest.importorskip("sklearn.datasets")
from tests.models.keras_layers import Scale  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
#: Keras 3.15's predict on torch hands numpy an object whose __array__ lacks ``copy``; not ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


@pytest.fixture(scope="module")
def iris_arrays() -> tuple[np.ndarray, np.ndarray]:
    features, labels = datasets.load_iris(return_X_y=True)
    return (features / features.max(axis=0)).astype("float32"), labels


def trained(features: np.ndarray, labels: np.ndarray, *layers: Any) -> Any:
    torch.set_num_threads(1)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), *layers, keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    model.fit(features, labels, epochs=30, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def iris_net(iris_arrays: tuple[np.ndarray, np.ndarray]) -> Any:
    features, labels = iris_arrays
    model = trained(features, labels, keras.layers.Dense(8, activation="relu"))
    assert (model.predict(features, verbose=0).argmax(axis=1) == labels).mean() > 0.9  # it learned
    return model


def test_a_keras_model_is_keras_not_pytorch_though_it_is_a_torch_module(iris_net: Any) -> None:
    assert isinstance(iris_net, torch.nn.Module)
    assert detect_flavor(iris_net).name == "keras"


def test_a_keras_network_loads_by_run_uri_and_predicts_the_same(
    where: str, iris_arrays: tuple[np.ndarray, np.ndarray], iris_net: Any
) -> None:
    features, _ = iris_arrays
    expected = iris_net.predict(features, verbose=0)
    with cairn.init("iris-keras", flush_interval=0.05) as run:
        info = run.log_model(iris_net, input_example=features[:5])
    assert info.flavor == "keras" and info.uri == f"runs:/{run.id}/model"
    assert info.signature is not None
    assert info.signature.inputs == TensorSchema("float32", (-1, 4))
    assert info.signature.outputs == TensorSchema("float32", (-1, 3))

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # safe_mode: no pickle, no warning
        model = cairn.load_model(info.uri)
    assert model.flavor == "keras"
    assert model.manifest.loader == {"format": "keras", "file": "model.keras", "backend": "torch"}
    assert not model.manifest.runs_code_on_load
    assert model.manifest.framework.name == "keras"
    pinned = {requirement.partition("==")[0].lower() for requirement in model.manifest.requirements}
    assert {"keras", "torch", "numpy"} <= pinned
    predicted = model.predict(features)
    assert isinstance(predicted, np.ndarray) and predicted.dtype == np.float32
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-6)


def test_a_custom_layer_loads_in_a_fresh_process_on_the_backend_it_was_trained_on(
    tmp_path: Path, iris_arrays: tuple[np.ndarray, np.ndarray]
) -> None:
    features, labels = iris_arrays
    model = trained(features, labels, keras.layers.Dense(8, activation="relu"), Scale(0.5))
    manifest, _ = save_model_folder(model, tmp_path / "net", input_example=features[:5])
    assert manifest.loader["modules"] == ["tests.models.keras_layers"]
    np.save(tmp_path / "features.npy", features)
    np.save(tmp_path / "expected.npy", model.predict(features, verbose=0))

    # No KERAS_BACKEND, and the keras.json Keras writes on first import naming TensorFlow,
    # which is not installed: the load chooses torch, the backend in the manifest.
    assert importlib.util.find_spec("tensorflow") is None
    env = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(tmp_path / "keras-home")
    (tmp_path / "keras-home").mkdir()
    (tmp_path / "keras-home" / "keras.json").write_text(json.dumps({"backend": "tensorflow", "floatx": "float32"}))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    code = (
        "import sys, numpy as np\n"
        "from cairn.client.models.folder import load_model_folder\n"
        f"model = load_model_folder(__import__('pathlib').Path({str(tmp_path / 'net')!r}))\n"
        "import keras\n"
        f"features = np.load({str(tmp_path / 'features.npy')!r})\n"
        f"expected = np.load({str(tmp_path / 'expected.npy')!r})\n"
        "close = np.allclose(model.predict(features), expected, rtol=1e-5, atol=1e-6)\n"
        "print(keras.backend.backend(), 'tests.models.keras_layers' in sys.modules, close)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["torch", "True", "True"]

    loaded = load_model_folder(tmp_path / "net")  # and in this process, where it is registered
    np.testing.assert_allclose(loaded.predict(features), np.load(tmp_path / "expected.npy"), rtol=1e-5, atol=1e-6)


def test_what_is_not_a_keras_model_is_refused(tmp_path: Path, iris_net: Any) -> None:
    with pytest.raises(FlavorError, match="saves a keras.Model") as caught:
        save_model_folder(keras.layers.Dense(3), tmp_path / "layer", flavor="keras")
    assert caught.value.details == {"flavor": "keras", "during": "save"}
    manifest, _ = save_model_folder(iris_net, tmp_path / "net")
    with pytest.raises(FlavorError, match="reads .keras files, not 'keras-h5'"):
        KerasFlavor().load(tmp_path / "net", dataclasses.replace(manifest, loader={"format": "keras-h5"}))
