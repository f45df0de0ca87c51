"""``cairn serve`` answers for every flavor that installs here, not only scikit-learn: each
model is served by a real ``cairn serve`` process and asked in MLflow's and the V2 protocol's
shapes, and must answer what the same model loaded in this process predicts."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import cairn
from cairn.client.models.folder import load_model_folder, save_model_folder

from .conftest import start_serve

datasets = pytest.importorskip("sklearn.datasets")


def _xgboost() -> tuple[Any, Any]:
    xgboost = pytest.importorskip("xgboost")
    features, labels = datasets.load_iris(return_X_y=True)
    return xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(features, labels), features


def _lightgbm() -> tuple[Any, Any]:
    lightgbm = pytest.importorskip("lightgbm")
    features, labels = datasets.load_iris(return_X_y=True)
    return lightgbm.LGBMClassifier(n_estimators=5, max_depth=2, verbose=-1).fit(features, labels), features


def _onnx() -> tuple[Any, Any]:
    pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.linear_model import LogisticRegression

    features, labels = datasets.load_iris(return_X_y=True)
    features = features.astype(np.float32)
    trained = LogisticRegression(max_iter=500).fit(features, labels)
    return skl2onnx.to_onnx(trained, features[:1], options={"zipmap": False}, target_opset=17), features


def _pytorch() -> tuple[Any, Any]:
    torch = pytest.importorskip("torch")
    features, _ = datasets.load_iris(return_X_y=True)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    return net, features


MODELS: dict[str, Callable[[], tuple[Any, Any]]] = {
    "xgboost": _xgboost,
    "lightgbm": _lightgbm,
    "onnx": _onnx,
    "pytorch": _pytorch,
}


def _same(answer: Any, expected: Any) -> None:
    """``answer`` (JSON) holds ``expected``'s values: an array, or a dict of arrays."""
    if isinstance(expected, dict):
        assert set(answer) == set(expected)
        for key, values in expected.items():
            _same(answer[key], values)
        return
    np.testing.assert_allclose(np.asarray(answer, dtype=float), np.asarray(expected, dtype=float), rtol=1e-5, atol=1e-6)


def _served_folder(flavor: str, tmp_path: Path) -> tuple[Path, Any]:
    model, features = MODELS[flavor]()
    folder = tmp_path / flavor
    manifest, _ = save_model_folder(model, folder, input_example=features[:3])
    assert manifest.flavor == flavor
    return folder, features


@pytest.mark.parametrize("flavor", sorted(MODELS))
def test_each_flavor_answers_mlflow_and_v2_clients_as_it_predicts_in_process(flavor: str, tmp_path: Path) -> None:
    folder, features = _served_folder(flavor, tmp_path)
    rows = features[10:150:7]
    expected = load_model_folder(folder).predict(rows)
    served = start_serve(str(folder), env={"CAIRN_HOME": str(tmp_path / "home")})
    try:
        answer = httpx.post(f"{served.url}/invocations", json={"inputs": rows.tolist()}, timeout=30)
        assert answer.status_code == 200, answer.text
        _same(answer.json()["predictions"], expected)

        metadata = httpx.get(f"{served.url}/v2/models/{flavor}", timeout=10).json()
        datatype = metadata["inputs"][0]["datatype"]
        tensor = {"name": "rows", "shape": list(rows.shape), "datatype": datatype, "data": rows.ravel().tolist()}
        infer = {"id": "r-1", "inputs": [tensor]}
        v2 = httpx.post(f"{served.url}/v2/models/{flavor}/infer", json=infer, timeout=30)
        assert v2.status_code == 200, v2.text
        outputs = {output["name"]: output for output in v2.json()["outputs"]}
        if isinstance(expected, dict):
            for key, values in expected.items():
                assert outputs[key]["shape"] == list(np.shape(values))
                _same(np.reshape(outputs[key]["data"], np.shape(values)), values)
        else:
            (only,) = outputs.values()
            assert math.prod(only["shape"]) == np.size(expected)
            _same(np.reshape(only["data"], np.shape(expected)), expected)

        narrow = httpx.post(f"{served.url}/invocations", json={"inputs": rows[:, :2].tolist()}, timeout=30)
        assert narrow.status_code == 400, narrow.text
    finally:
        served.stop()


def test_a_booster_logged_by_a_run_is_served_by_its_runs_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, features = _xgboost()
    env = {"CAIRN_HOME": str(tmp_path), "CAIRN_URI": str(tmp_path / "cairn.db"), "CAIRN_CAPTURE": "0"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with cairn.init("boosters") as run:
        info = run.log_model(model, "booster", input_example=features[:3])
    served = start_serve(info.uri, env=env)
    try:
        answer = httpx.post(f"{served.url}/invocations", json={"instances": features[:20].tolist()}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-cairn-model-version"] == info.uri
        _same(answer.json()["predictions"], model.predict(features[:20]))
    finally:
        served.stop()


def test_a_transformers_model_logged_with_texts_is_served_texts(tmp_path: Path) -> None:
    """The model takes the list of strings its example was: over HTTP too, where a number
    among the texts is refused by name, not read as text."""
    transformers = pytest.importorskip("transformers")
    from cairn.client.models.flavors.transformers import TransformersModel

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film"]
    tokenizer = transformers.BertTokenizer(vocab={word: index for index, word in enumerate(words)})
    config = transformers.BertConfig(
        vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    model = TransformersModel(transformers.BertForSequenceClassification(config).eval(), tokenizer)
    save_model_folder(model, tmp_path / "texts", input_example=["good film", "bad"])
    texts = ["good film", "bad film bad film", "good"]
    expected = load_model_folder(tmp_path / "texts").predict(texts)
    served = start_serve(str(tmp_path / "texts"), env={"CAIRN_HOME": str(tmp_path / "home")})
    try:
        for body in (
            {"inputs": texts},
            {"instances": texts},
            {"dataframe_split": {"columns": ["text"], "data": [[t] for t in texts]}},
        ):
            answer = httpx.post(f"{served.url}/invocations", json=body, timeout=30)
            assert answer.status_code == 200, answer.text
            _same(answer.json()["predictions"], expected)
        one = httpx.post(f"{served.url}/invocations", json={"inputs": "good"}, timeout=30)
        assert one.status_code == 200, one.text
        _same(one.json()["predictions"], expected[2:])
        v2 = {"inputs": [{"name": "text", "shape": [3], "datatype": "BYTES", "data": texts}]}
        answer = httpx.post(f"{served.url}/v2/models/texts/infer", json=v2, timeout=30)
        assert answer.status_code == 200, answer.text
        _same(np.reshape(answer.json()["outputs"][0]["data"], (3, 2)), expected)
        mixed = httpx.post(f"{served.url}/invocations", json={"inputs": ["good", 3]}, timeout=30)
        assert mixed.status_code == 400 and mixed.json()["error"]["code"] == "signature_mismatch", mixed.text
    finally:
        served.stop()
