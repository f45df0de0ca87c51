"""The ``pytorch`` flavor: a network trained here on iris and digits, saved as TorchScript or as
a state dict with its class, loads by run and registered URIs and predicts what the network
itself does, on the CPU; what would not load is refused when it is logged (docs/models.md)."""

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
from cairn.client.connect import connect, resolve_uri
from cairn.client.models.folder import load_model_folder, save_model_folder
from cairn.client.models.loaded import ExtraColumnsWarning
from cairn.core.errors import FlavorError, FrameworkNotInstalled, InvalidInput, InvalidManifest, ModelTampered
from cairn.core.models.signature import TensorSchema

torch = pytest.importorskip(
    "torch", reason="torch is not installed (pip install 'cairn[pytorch]'; the test extra pins the CPU build)"
)
pd = pytest.importorskip("pandas")
datasets = pytest.importorskip("sklearn.datasets")
from cairn.client.models.flavors.pytorch import StateDictModel  # noqa: E402


class IrisNet(torch.nn.Module):
    """A small network for iris's four measurements; importable, so it can be a state dict's class."""

    def __init__(self, hidden: int = 8) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(4, hidden)
        self.output = torch.nn.Linear(hidden, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(torch.relu(self.hidden(x)))


class NumpyInside(torch.nn.Module):
    """A forward TorchScript cannot compile (it calls numpy)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)

    def forward(self, x: Any) -> Any:
        return self.linear(torch.from_numpy(np.asarray(x)))


def train(net: Any, features: np.ndarray[Any, Any], labels: np.ndarray[Any, Any], steps: int = 150) -> Any:
    torch.manual_seed(0)
    inputs, targets = torch.tensor(features, dtype=torch.float32), torch.tensor(labels)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(inputs), targets).backward()
        optimizer.step()
    return net.eval()


def own_prediction(net: Any, features: Any) -> np.ndarray[Any, Any]:
    with torch.no_grad():
        return net(torch.tensor(np.asarray(features), dtype=torch.float32)).numpy()  # type: ignore[no-any-return]


def torchscript(make: Any, *args: Any) -> Any:
    # torch 2.13 deprecates torch.jit; the test's own call to it is not what is under test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return make(*args)


@pytest.fixture(scope="module")
def iris_net(iris: tuple[Any, Any]) -> IrisNet:
    features, labels = iris
    net = train(IrisNet(hidden=8), features.to_numpy(), labels.to_numpy())
    assert (own_prediction(net, features).argmax(axis=1) == labels.to_numpy()).mean() > 0.9  # it learned
    return net


def test_a_scripted_network_loads_by_run_and_registered_uri_and_predicts_the_same(
    where: str, iris: tuple[Any, Any], iris_net: IrisNet
) -> None:
    features, _ = iris
    expected = own_prediction(iris_net, features)
    with cairn.init("iris-torch", flush_interval=0.05) as run:
        info = run.log_model(torchscript(torch.jit.script, iris_net), "net", input_example=features[:5])
    assert info.flavor == "pytorch"
    assert info.signature is not None and info.signature.outputs == TensorSchema("float32", (-1, 3))

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # TorchScript: no pickle warning, and torch's deprecations stay inside
        model = cairn.load_model(info.uri)
    assert model.manifest.loader == {"format": "torchscript", "file": "model.pt"}
    assert not model.manifest.runs_code_on_load
    torch_pin = next(r for r in model.manifest.requirements if r.startswith("torch=="))
    assert "+" not in torch_pin  # "2.13.0+cpu" is pinned as 2.13.0, which an index can serve
    predicted = model.predict(features)
    assert isinstance(predicted, np.ndarray) and predicted.dtype == np.float32
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.predict(features[:3].to_dict("records")), expected[:3], rtol=1e-5, atol=1e-5)

    assert cairn.register_model(info.uri, "iris-net").version == 1
    registered = cairn.load_model("models:/iris-net/1")
    np.testing.assert_allclose(registered.predict(features), expected, rtol=1e-5, atol=1e-5)


def test_a_state_dict_with_an_importable_class_loads_by_alias(
    where: str, iris: tuple[Any, Any], iris_net: IrisNet
) -> None:
    features, _ = iris
    with cairn.init("iris-torch", flush_interval=0.05) as run:
        info = run.log_model(StateDictModel(iris_net, init={"hidden": 8}), "net", input_example=features[:5])
    version = cairn.register_model(info.uri, "iris-weights").version
    tracking = connect(resolve_uri())
    try:
        tracking.set_model_alias("iris-weights", "champion", version)
    finally:
        tracking.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # weights_only: no pickle of code, no warning
        model = cairn.load_model("models:/iris-weights@champion")
    assert model.manifest.loader == {
        "format": "torch-state-dict",
        "file": "weights.pt",
        "class": f"{__name__}:IrisNet",
        "init": {"hidden": 8},
    }
    assert not model.manifest.runs_code_on_load
    np.testing.assert_allclose(model.predict(features), own_prediction(iris_net, features), rtol=1e-5, atol=1e-5)


def test_a_plain_module_is_scripted_and_a_traced_one_takes_arrays_of_its_shape(tmp_path: Path) -> None:
    images, labels = datasets.load_digits(return_X_y=True)
    net = train(torch.nn.Sequential(torch.nn.Linear(64, 10)), images[:300] / 16, labels[:300], steps=60)

    plain = save_model_folder(net, tmp_path / "plain")[0]
    assert plain.flavor == "pytorch" and plain.loader["format"] == "torchscript"

    traced = torchscript(torch.jit.trace, net, torch.zeros(2, 64))
    save_model_folder(traced, tmp_path / "traced", input_example=images[:2] / 16)
    model = load_model_folder(tmp_path / "traced")
    assert model.signature is not None and model.signature.inputs == TensorSchema("float64", (-1, 64))
    held_out = images[300:340] / 16
    np.testing.assert_allclose(model.predict(held_out), own_prediction(net, held_out), rtol=1e-5, atol=1e-5)
    with pytest.raises(InvalidInput, match=r"shape \(any, 64\), got \(10, 8\)"):
        model.predict(held_out[:10, :8])
    np.testing.assert_allclose(
        load_model_folder(tmp_path / "plain").predict(held_out), own_prediction(net, held_out), rtol=1e-5, atol=1e-5
    )


def test_predict_names_a_missing_column_refuses_a_wrong_type_and_drops_extra_ones(
    tmp_path: Path, iris: tuple[Any, Any], iris_net: IrisNet
) -> None:
    features, _ = iris
    save_model_folder(StateDictModel(iris_net, init={"hidden": 8}), tmp_path / "net", input_example=features[:5])
    model = load_model_folder(tmp_path / "net")
    first = features.columns[0]

    with pytest.raises(InvalidInput) as caught:
        model.predict(features.drop(columns=[first]))
    assert caught.value.code == "signature_mismatch"
    assert caught.value.details["column"] == first and repr(first) in caught.value.message
    with pytest.raises(InvalidInput, match=re.escape(f"{first!r} must hold double values, got string")):
        model.predict(features.astype({first: str}))
    with pytest.warns(ExtraColumnsWarning, match="dropped: colour") as recorded:
        predicted = model.predict(features.assign(colour="blue"))
    assert len(recorded) == 1
    np.testing.assert_allclose(predicted, own_prediction(iris_net, features), rtol=1e-5, atol=1e-5)


def test_what_would_not_load_is_refused_when_logged_and_nothing_is_kept(iris_net: IrisNet) -> None:
    class Local(IrisNet):
        pass

    refused = [
        (StateDictModel(Local()), "cannot be imported where the model is loaded"),
        (StateDictModel(iris_net, init={"hidden": object()}), "init must hold JSON values"),
        (StateDictModel(iris_net, init={"hidden": 5}), "size mismatch"),  # the weights do not fit
        (StateDictModel(iris_net, init={"width": 8}), "unexpected keyword argument 'width'"),
        (StateDictModel(iris_net, module_class="json:JSONDecoder"), "not a torch.nn.Module class"),
        (NumpyInside(), "torch.jit.trace(module, example) instead"),
        (torch.zeros(3), "saves a torch.nn.Module"),
    ]
    with cairn.init("iris-torch") as run:
        for model, reason in refused:
            with pytest.raises(FlavorError, match=re.escape(reason)) as caught:
                run.log_model(model, "net")
            assert caught.value.code == "flavor_error"
            assert caught.value.details["flavor"] == "pytorch" and caught.value.details["during"] == "save"
    with cairn.Api() as api:
        assert api.artifacts(run.id) == []


def test_a_changed_file_or_a_manifest_naming_another_class_is_refused(tmp_path: Path, iris_net: IrisNet) -> None:
    folder = tmp_path / "net"
    save_model_folder(StateDictModel(iris_net, init={"hidden": 8}), folder)
    weights = folder / "weights.pt"
    original = weights.read_bytes()
    weights.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(ModelTampered) as caught:
        load_model_folder(folder)
    assert caught.value.details["path"] == "weights.pt"
    weights.write_bytes(original)

    manifest_path = folder / "cairn-model.json"
    manifest = json.loads(manifest_path.read_bytes())
    for loader, error, message in (
        ({"class": "os:system", "init": {"command": "true"}}, FlavorError, "not a torch.nn.Module class"),
        ({"class": "cairn_no_such_package.nets:Net"}, FrameworkNotInstalled, "pip install cairn_no_such_package"),
        ({"file": "../weights.pt"}, InvalidManifest, "not one of the files it lists"),
    ):
        manifest_path.write_text(json.dumps({**manifest, "loader": {**manifest["loader"], **loader}}))
        with pytest.raises(error, match=re.escape(message)):
            load_model_folder(folder)


def test_a_missing_torch_names_the_package_to_install(
    tmp_path: Path, iris_net: IrisNet, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_model_folder(StateDictModel(iris_net, init={"hidden": 8}), tmp_path / "net")
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails as if it were not installed
    with pytest.raises(FrameworkNotInstalled) as caught:
        load_model_folder(tmp_path / "net")
    assert caught.value.code == "framework_not_installed"
    assert caught.value.details == {"flavor": "pytorch", "during": "load", "package": "torch"}
    assert "pip install torch" in caught.value.message
