"""The ``transformers`` flavor: a tiny BERT built from a config (no download) with a tokenizer
made from a word list, saved with ``save_pretrained``, read back with the Auto class the
manifest names, predicting what the model itself does (docs/models.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cairn
from cairn.client.models.folder import UnsafeModelFormatWarning, load_model_folder, save_model_folder
from cairn.client.models.plugins import detect_flavor, flavor_targets
from cairn.core.errors import FlavorError, SignatureMismatch
from cairn.core.models.signature import Signature, TensorSchema

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'cairn[transformers]')")
transformers = pytest.importorskip("transformers", reason="transformers is not installed")
pd = pytest.importorskip("pandas")
from cairn.client.models.flavors.transformers import TransformersModel  # noqa: E402

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film", "great", "awful", "plot", "fine"]
TEXTS = ["good film", "awful plot", "great fine film", "bad"]


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return transformers.BertTokenizer(vocab={word: index for index, word in enumerate(WORDS)})


@pytest.fixture(scope="module")
def model() -> Any:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(WORDS), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    return transformers.BertForSequenceClassification(config).eval()


def own_logits(model: Any, tokenizer: Any, texts: list[str]) -> np.ndarray:
    with torch.no_grad():
        return model(**tokenizer(texts, padding=True, return_tensors="pt")).logits.numpy()  # type: ignore[no-any-return]


def test_a_pretrained_model_is_the_transformers_flavor_not_pytorch(model: Any, tokenizer: Any) -> None:
    targets = list(flavor_targets())
    assert targets.index("transformers") < targets.index("pytorch")
    assert detect_flavor(model).name == "transformers"
    assert detect_flavor(TransformersModel(model, tokenizer)).name == "transformers"
    assert detect_flavor(torch.nn.Linear(2, 2)).name == "pytorch"


def test_a_model_and_its_tokenizer_round_trip_through_a_run(model: Any, tokenizer: Any, where: str) -> None:
    example = [{"text": "good film"}, {"text": "awful plot"}]
    with cairn.init("flavors") as run:
        info = run.log_model(TransformersModel(model, tokenizer), "classifier", input_example=example)
    assert info.flavor == "transformers"
    loaded = cairn.load_model(info.uri)
    manifest = loaded.manifest
    assert manifest.loader == {
        "format": "transformers",
        "auto_class": "AutoModelForSequenceClassification",
        "architecture": "BertForSequenceClassification",
        "processor": "AutoTokenizer",
    }
    assert manifest.framework.name == "transformers" and not manifest.runs_code_on_load
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= set(manifest.files)
    pinned = {requirement.split("==")[0] for requirement in manifest.requirements}
    assert {"transformers", "torch", "numpy", "safetensors", "tokenizers"} <= pinned
    assert loaded.signature is not None and loaded.signature.inputs.names == ["text"]  # type: ignore[union-attr]

    expected = own_logits(model, tokenizer, TEXTS)
    assert np.allclose(loaded.predict(pd.DataFrame({"text": TEXTS})), expected, atol=1e-6)
    assert np.allclose(loaded.predict([{"text": text} for text in TEXTS]), expected, atol=1e-6)
    assert np.allclose(loaded.model.predict(TEXTS), expected, atol=1e-6)  # the model itself takes a list
    probabilities = loaded.model.predict_proba(TEXTS)
    assert probabilities.shape == (4, 2) and np.allclose(probabilities.sum(axis=1), 1.0)
    assert np.array_equal(probabilities.argmax(axis=1), expected.argmax(axis=1))


def test_a_model_logged_with_a_list_of_strings_takes_texts(model: Any, tokenizer: Any, where: str) -> None:
    with cairn.init("flavors") as run:
        info = run.log_model(TransformersModel(model, tokenizer), "classifier", input_example=["good film", "bad"])
    assert info.signature == Signature(TensorSchema("str", (-1,)), TensorSchema("float32", (-1, 2)))
    loaded = cairn.load_model(info.uri)
    assert loaded.input_example == ["good film", "bad"]
    expected = own_logits(model, tokenizer, TEXTS)
    assert np.allclose(loaded.predict(TEXTS), expected, atol=1e-6)
    assert np.allclose(loaded.predict(np.array(TEXTS)), expected, atol=1e-6)
    assert np.allclose(loaded.predict("good film"), expected[:1], atol=1e-6)
    with pytest.raises(SignatureMismatch, match="must hold str values"):
        loaded.predict(["good film", 3])


def test_a_pipeline_logged_with_a_list_of_strings_saves_and_loads(model: Any, tokenizer: Any, tmp_path: Path) -> None:
    """A pipeline is no PreTrainedModel: it is logged whole, as a python_function model."""
    pipeline = transformers.pipeline("text-classification", model=model, tokenizer=tokenizer)
    manifest, _ = save_model_folder(pipeline, tmp_path / "m", input_example=["good film", "bad"])
    assert manifest.flavor == "python_function"
    assert manifest.signature is not None and manifest.signature.inputs == TensorSchema("str", (-1,))
    with pytest.warns(UnsafeModelFormatWarning):
        loaded = load_model_folder(tmp_path / "m")
    assert loaded.input_example == ["good film", "bad"]
    labels = [row["label"] for row in loaded.predict(TEXTS)]
    assert labels == [f"LABEL_{index}" for index in own_logits(model, tokenizer, TEXTS).argmax(axis=1)]


def test_the_folder_is_one_transformers_reads_as_it_is(model: Any, tokenizer: Any, tmp_path: Path) -> None:
    save_model_folder(TransformersModel(model, tokenizer), tmp_path / "m")
    again = transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path / "m")
    words = transformers.AutoTokenizer.from_pretrained(tmp_path / "m")
    assert np.allclose(own_logits(again.eval(), words, TEXTS), own_logits(model, tokenizer, TEXTS), atol=1e-6)


def test_a_model_without_tokenizer_takes_token_ids(model: Any, tmp_path: Path) -> None:
    manifest, _ = save_model_folder(model, tmp_path / "m")
    assert "processor" not in manifest.loader and "tokenizer.json" not in manifest.files
    loaded = load_model_folder(tmp_path / "m")
    ids = np.array([[2, 5, 7, 3, 0, 0], [2, 9, 10, 11, 7, 3]])
    with torch.no_grad():
        expected = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(ids != 0).long()).logits.numpy()
    assert np.allclose(loaded.predict(ids), expected, atol=1e-6)  # the pad token (0) masked out
    frame = pd.DataFrame({"input_ids": list(ids), "attention_mask": list((ids != 0).astype(int))})
    assert np.allclose(loaded.predict(frame), expected, atol=1e-6)
    with pytest.raises(SignatureMismatch, match="without a tokenizer"):
        loaded.predict(["good film"])


def test_a_manifest_naming_another_class_is_refused(model: Any, tmp_path: Path) -> None:
    save_model_folder(model, tmp_path / "m")
    manifest = tmp_path / "m" / "cairn-model.json"
    data = json.loads(manifest.read_text())
    data["loader"]["auto_class"] = "pipeline"
    manifest.write_text(json.dumps(data))
    with pytest.raises(FlavorError, match="not an Auto class"):
        load_model_folder(tmp_path / "m")


class OwnBert(transformers.BertForSequenceClassification):  # type: ignore[misc]
    """A model class of one's own: no Auto class builds it."""


def test_a_model_class_no_auto_class_builds_is_refused_when_saved(model: Any, tmp_path: Path) -> None:
    own = OwnBert(model.config)
    with pytest.raises(FlavorError, match="no Auto class"):
        save_model_folder(own, tmp_path / "m")
