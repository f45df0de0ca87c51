"""Flavors are plugins: found through the entry-point group ``cairn.flavors``, each importing
its framework only when used; a plugin that fails or a framework that is missing is a clear
error with a stable code."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cairn
from cairn.client.models import plugins
from cairn.client.models.folder import load_model_folder, save_model_folder
from cairn.client.models.plugins import ENTRY_POINT_GROUP, detect_flavor, flavor_targets, get_flavor
from cairn.core.errors import FlavorError, FrameworkNotInstalled

datasets = pytest.importorskip("sklearn.datasets")

PLUGIN = '''
from pathlib import Path

import numpy as np

from cairn.client.models.flavor import SavedModel
from cairn.core.models.manifest import Framework


class Constant:
    """A "framework": a model that always predicts the same number."""

    def __init__(self, value):
        self.value = value

    def predict(self, data):
        return np.full(len(data), self.value)


class ConstantFlavor:
    name = "constant"
    package = "constant-models"

    def handles(self, model):
        return isinstance(model, Constant)

    def save(self, model, folder):
        if model.value < 0:
            raise RuntimeError("negative constants are not supported")
        (folder / "value.txt").write_text(str(model.value))
        return SavedModel({"format": "text"}, Framework("constant-models", "1.0"), ())

    def load(self, folder, manifest):
        if manifest.loader.get("needs"):
            import constant_models_native  # noqa: F401  (not installed)
        return Constant(float((folder / "value.txt").read_text()))
'''


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An installed distribution declaring a flavor in the entry-point group, as pip would
    leave it: a module and a dist-info folder on sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "constant_flavor.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "constant_flavor-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: constant-flavor\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nconstant = constant_flavor:ConstantFlavor\nbroken = constant_flavor:Missing\n"
    )
    monkeypatch.syspath_prepend(str(site))
    import importlib

    importlib.invalidate_caches()
    plugins._load.cache_clear()  # flavors are loaded once per process; each test has its own module
    yield importlib.import_module("constant_flavor")
    sys.modules.pop("constant_flavor", None)
    plugins._load.cache_clear()


def test_a_third_party_flavor_is_found_through_its_entry_point(third_party: Any, tmp_path: Path) -> None:
    targets = flavor_targets()
    assert targets["constant"] == "constant_flavor:ConstantFlavor"
    assert list(targets)[-1] == "python_function"  # the catch-all is tried last
    model = third_party.Constant(4.0)
    assert detect_flavor(model).name == "constant"
    with cairn.init("plugins") as run:
        info = run.log_model(model, input_example=np.zeros((2, 3)))
    assert info.flavor == "constant"
    assert cairn.load_model(info.uri).predict(np.zeros((5, 3))).tolist() == [4.0] * 5


def test_a_flavor_plugin_that_raises_is_a_flavor_error(third_party: Any, tmp_path: Path) -> None:
    with cairn.init("plugins") as run:
        with pytest.raises(FlavorError) as caught:
            run.log_model(third_party.Constant(-1.0))
    assert caught.value.code == "flavor_error"
    assert caught.value.details == {"flavor": "constant", "during": "save"}
    assert "negative constants are not supported" in caught.value.message
    with pytest.raises(FlavorError, match="could not be loaded") as caught:
        get_flavor("broken")
    assert caught.value.details["during"] == "import"
    with pytest.raises(FlavorError, match="no model flavor is called 'nope'"):
        get_flavor("nope")
    with pytest.raises(FlavorError, match="no model flavor takes"):
        detect_flavor(object())


def test_a_missing_framework_names_the_package_to_install(third_party: Any, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    save_model_folder(third_party.Constant(1.0), folder)
    manifest = (folder / "cairn-model.json").read_text().replace('"format": "text"', '"format": "text", "needs": 1')
    (folder / "cairn-model.json").write_text(manifest)
    with pytest.raises(FrameworkNotInstalled) as caught:
        load_model_folder(folder)
    assert caught.value.code == "framework_not_installed"
    assert caught.value.details["package"] == "constant_models_native"
    assert "pip install constant_models_native" in caught.value.message


def test_importing_cairn_imports_no_framework() -> None:
    frameworks = ["sklearn", "skops", "xgboost", "lightgbm", "torch", "onnx", "onnxruntime", "cloudpickle", "pandas"]
    code = (
        "import sys, cairn, cairn.client.models.plugins, cairn.client.models.folder\n"
        f"print(sorted(m for m in {frameworks!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("framework", ["xgboost", "lightgbm"])
def test_boosters_are_saved_in_their_native_format(framework: str) -> None:
    module = pytest.importorskip(framework, reason=f"{framework} is not installed (pip install cairn[{framework}])")
    features, labels = datasets.load_iris(return_X_y=True)
    classifier = (
        module.XGBClassifier(n_estimators=5, max_depth=2)
        if framework == "xgboost"
        else module.LGBMClassifier(n_estimators=5, max_depth=2, verbose=-1)
    )
    classifier.fit(features, labels)
    with cairn.init("boosters") as run:
        info = run.log_model(classifier, input_example=features[:3])
    assert info.flavor == framework
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a native format: nothing runs code on load
        model = cairn.load_model(info.uri)
    assert not model.manifest.runs_code_on_load
    assert model.manifest.loader["format"] in ("xgboost-ubj", "lightgbm-text")
    np.testing.assert_array_equal(model.predict(features), classifier.predict(features))
