"""Hugging Face Transformers: a tiny BERT built from a config (no download) trained a few steps
on the CPU by a real Trainer, with Cairn's callback switched on each way a user can; what was
logged is read back from a real store and server."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'cairn[transformers]')")
pytest.importorskip("transformers", reason="transformers is not installed (pip install 'cairn[transformers]')")

from tests.helpers import ThreadedServer  # noqa: E402
from tests.integrations.logged import only_run, runs, steps  # noqa: E402
from transformers import (  # noqa: E402
    BertConfig,
    BertForSequenceClassification,
    BertTokenizer,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

import cairn  # noqa: E402
import cairn.transformers  # noqa: E402
from cairn.client.datasets import frame_digest  # noqa: E402
from cairn.integrations._base import Guard  # noqa: E402
from cairn.integrations._dataset_frames import dataset_frame  # noqa: E402
from cairn.integrations._params import loggable_params  # noqa: E402
from cairn.settings import cairn_home  # noqa: E402

PROJECT = "reviews"
STEPS = 4
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film", "great", "awful", "plot", "fine", "dull"]
POSITIVE = ["good film", "great plot", "fine film", "great good film"]
NEGATIVE = ["bad film", "awful plot", "dull film", "bad dull plot"]
TRAIN_METRICS = {"loss", "grad_norm", "learning_rate", "epoch"}
EVAL_METRICS = {"eval_loss", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second"}
END_METRICS = {"train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos", "train_loss"}


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CAIRN_PROJECT", PROJECT)
    Guard._guards.pop("transformers", None)  # each test sees its own first warning
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        cairn.transformers.autolog(disable=True)


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return BertTokenizer(vocab={word: index for index, word in enumerate(WORDS)})


def tiny_model() -> Any:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(WORDS),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=2,
    )
    return BertForSequenceClassification(config)


def reviews(tokenizer: Any) -> list[dict[str, Any]]:
    texts = POSITIVE + NEGATIVE
    encoded = tokenizer(texts, padding="max_length", max_length=6)
    return [
        {"input_ids": ids, "attention_mask": mask, "labels": int(text in NEGATIVE)}
        for text, ids, mask in zip(texts, encoded["input_ids"], encoded["attention_mask"], strict=True)
    ]


def arguments(tmp_path: Path, **options: Any) -> TrainingArguments:
    settings: dict[str, Any] = {
        "output_dir": str(tmp_path / "out"),
        "max_steps": STEPS,
        "per_device_train_batch_size": 4,
        "learning_rate": 0.01,
        "logging_steps": 1,
        "use_cpu": True,
        "save_strategy": "no",
        "report_to": [],
        "disable_tqdm": True,
        "seed": 0,
    }
    settings.update(options)
    return TrainingArguments(**settings)


def trainer(tmp_path: Path, tokenizer: Any, model: Any = None, **options: Any) -> Trainer:
    callbacks = options.pop("callbacks", None)
    data = reviews(tokenizer)
    return Trainer(
        model=model if model is not None else tiny_model(),
        args=arguments(tmp_path, **options),
        train_dataset=data,
        eval_dataset=data,
        processing_class=tokenizer,
        callbacks=callbacks,
    )


def inputs(run_id: str) -> list[tuple[str, str, int | None, int | None]]:
    """The run's datasets as (name, context, rows, columns), by name."""
    with cairn.Api() as api:
        found = [(i.dataset.name, i.context, i.dataset.rows, i.dataset.columns) for i in api.inputs(run_id)]
    return sorted(found)


def logits(model: Any, tokenizer: Any, texts: list[str]) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return model(**tokenizer(texts, padding=True, return_tensors="pt")).logits.numpy()  # type: ignore[no-any-return]


class ConfigAtStart(TrainerCallback):
    """The model's config as the training starts, when the params are logged."""

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.config = model.config.to_dict()


def test_report_to_cairn_logs_params_metrics_by_step_and_the_model_to_a_server(
    tmp_path: Path, tokenizer: Any, server: ThreadedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_URI", server.url)
    model = tiny_model()
    seen = ConfigAtStart()
    options = {"report_to": "cairn", "eval_strategy": "steps", "eval_steps": 2, "run_name": "tiny-bert"}
    job = trainer(tmp_path, tokenizer, model, callbacks=[seen], **options)
    job.train()
    config = seen.config  # the Trainer turns use_cache off; saving the model adds its architecture

    run = only_run(PROJECT)
    assert run.status.value == "finished" and run.tags["cairn.autolog"] == "transformers"
    assert run.name == "tiny-bert"  # the Trainer's run_name
    expected = loggable_params(job.args.to_dict())
    expected.update(loggable_params({f"model.{key}": value for key, value in config.items()}))
    assert dict(run.params) == expected
    assert run.params["learning_rate"] == 0.01 and run.params["max_steps"] == STEPS
    assert run.params["model.hidden_size"] == 16 and run.params["model.id2label"] == "{0: 'LABEL_0', 1: 'LABEL_1'}"

    assert set(run.metrics) == TRAIN_METRICS | EVAL_METRICS | END_METRICS
    assert steps(run.id, "loss") == [1, 2, 3, 4]
    assert steps(run.id, "eval_loss") == [2, 4]
    rows = len(job.train_dataset)
    assert inputs(run.id) == [("eval", "eval", rows, 3), ("train", "train", rows, 3)]
    assert steps(run.id, "train_loss") == [STEPS]
    history = {entry["step"]: entry for entry in job.state.log_history if "loss" in entry}
    with cairn.Api() as api:
        losses = api.history(run.id, "loss").values
    assert list(losses) == pytest.approx([history[step]["loss"] for step in (1, 2, 3, 4)])

    loaded = cairn.load_model(f"runs:/{run.id}/model")
    assert loaded.flavor == "transformers"
    assert loaded.manifest.loader["auto_class"] == "AutoModelForSequenceClassification"
    assert loaded.manifest.loader["processor"] == "AutoTokenizer"
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(loaded.manifest.files)
    texts = ["good plot", "awful dull film", "fine"]
    assert np.allclose(loaded.predict(texts), logits(model, tokenizer, texts), atol=1e-6)
    ids = np.array(reviews(tokenizer)[0]["input_ids"])[None, :]
    with torch.no_grad():
        own = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(ids != 0)).logits.numpy()
    assert np.allclose(loaded.predict(ids), own, atol=1e-6)


def test_the_callback_logs_into_the_open_run_and_leaves_it_open(tmp_path: Path, tokenizer: Any) -> None:
    with cairn.init("mine", config={"dataset": "reviews"}) as run:
        trainer(tmp_path, tokenizer, callbacks=[cairn.transformers.CairnCallback()]).train()
        assert not run.finished
    assert runs(PROJECT) == []
    mine = only_run("mine")
    assert mine.id == run.id and mine.params["dataset"] == "reviews"
    assert mine.params["max_steps"] == STEPS and "cairn.autolog" not in mine.tags
    assert steps(mine.id, "loss") == [1, 2, 3, 4]
    assert cairn.load_model(f"runs:/{mine.id}/model").predict(["good film"]).shape == (1, 2)


def test_autolog_gives_every_trainer_the_callback_once_and_disable_restores(tmp_path: Path, tokenizer: Any) -> None:
    original = Trainer.__init__
    cairn.transformers.autolog(project="auto", log_models=False, log_datasets=False)
    assert getattr(Trainer.__init__, "cairn_autolog", False)
    both = trainer(tmp_path, tokenizer, report_to="cairn")  # report_to and autolog: still one callback
    callbacks = [cb for cb in both.callback_handler.callbacks if isinstance(cb, cairn.transformers.CairnCallback)]
    assert len(callbacks) == 1
    trainer(tmp_path, tokenizer).train()
    run = only_run("auto")
    assert set(run.metrics) == TRAIN_METRICS | END_METRICS
    with cairn.Api() as api:
        assert not [artifact.path for artifact in api.artifacts(run.id)]  # log_models=False
    assert inputs(run.id) == []  # log_datasets=False

    cairn.transformers.autolog(disable=True)
    assert Trainer.__init__ is original
    trainer(tmp_path, tokenizer).train()
    assert len(runs("auto")) == 1


def test_each_train_call_is_a_run_and_one_that_raises_is_failed(tmp_path: Path, tokenizer: Any) -> None:
    class Breaks(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step == 2:
                raise RuntimeError("out of memory, say")

    cairn.transformers.autolog()
    trainer(tmp_path, tokenizer).train()
    with pytest.raises(RuntimeError, match="out of memory"):
        trainer(tmp_path, tokenizer, callbacks=[Breaks()]).train()

    found = sorted(runs(PROJECT), key=lambda run: run.start_time)
    assert [run.status.value for run in found] == ["finished", "failed"]
    assert steps(found[1].id, "loss") == [1]  # step 2 raised before it logged
    assert found[1].params["max_steps"] == STEPS


class ArrowBacked:
    """What the Trainer and Cairn use of a Hugging Face ``datasets.Dataset`` (not installed
    here): a length, items by index and ``to_pandas()``, whose sequence cells are numpy arrays."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.conversions = 0

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.items[index]

    def to_pandas(self) -> pd.DataFrame:
        self.conversions += 1
        return pd.DataFrame(
            {
                key: [np.asarray(item[key]) if isinstance(item[key], list) else item[key] for item in self.items]
                for key in self.items[0]
            }
        )


def test_a_train_resumed_into_the_same_run_reads_and_logs_its_datasets_once(tmp_path: Path, tokenizer: Any) -> None:
    data = ArrowBacked(reviews(tokenizer))
    job = Trainer(
        model=tiny_model(),
        args=arguments(tmp_path, save_strategy="steps", save_steps=2),
        train_dataset=data,
        callbacks=[cairn.transformers.CairnCallback(log_models=False)],
    )
    with cairn.init("mine") as run:
        job.train()
        job.args.max_steps = STEPS + 2
        job.train(resume_from_checkpoint=True)
    assert steps(run.id, "train_loss") == [STEPS, STEPS + 2]  # both trainings were logged
    assert inputs(run.id) == [("train", "train", len(data), 3)]
    assert data.conversions == 1  # the second train read nothing


def test_eval_datasets_by_name_are_one_input_each_with_their_own_rows(tmp_path: Path, tokenizer: Any) -> None:
    data = reviews(tokenizer)
    positive, negative = data[: len(POSITIVE)], data[len(POSITIVE) :][:3]
    job = Trainer(
        model=tiny_model(),
        args=arguments(tmp_path, report_to="cairn", eval_strategy="steps", eval_steps=2),
        train_dataset=data,
        eval_dataset={"positive": positive, "negative": negative},
    )
    job.train()
    run = only_run(PROJECT)
    assert {"eval_positive_loss", "eval_negative_loss"} <= set(run.metrics)
    assert inputs(run.id) == [
        ("eval-negative", "eval", 3, 3),
        ("eval-positive", "eval", len(POSITIVE), 3),
        ("train", "train", len(data), 3),
    ]


class Streamed(torch.utils.data.IterableDataset):  # type: ignore[misc]
    """Reviews read as a stream: no length, so nothing to digest."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            yield from self.items


def test_a_dataset_that_cannot_be_read_whole_is_left_out_without_a_warning(
    tmp_path: Path, tokenizer: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    data = reviews(tokenizer)
    job = Trainer(model=tiny_model(), args=arguments(tmp_path, report_to="cairn"), train_dataset=Streamed(data))
    assert job.train().global_step == STEPS
    run = only_run(PROJECT)
    assert run.status.value == "finished" and steps(run.id, "loss") == [1, 2, 3, 4]
    assert inputs(run.id) == []
    assert "logging failed" not in capsys.readouterr().err


def test_each_kind_of_dataset_becomes_one_frame_with_token_ids_as_json_text(tokenizer: Any) -> None:
    data = reviews(tokenizer)
    first_ids = json.dumps(data[0]["input_ids"], separators=(",", ":"))
    tensors = [{key: torch.tensor(value) for key, value in item.items()} for item in data]
    as_frame = pd.DataFrame({"text": POSITIVE + NEGATIVE, "input_ids": [item["input_ids"] for item in data]})
    for dataset in (data, tensors, ArrowBacked(data)):
        frame = dataset_frame(dataset)
        assert list(frame.columns) == ["input_ids", "attention_mask", "labels"] and len(frame) == len(data)
        assert frame["input_ids"][0] == first_ids and list(frame["labels"]) == [item["labels"] for item in data]
        assert frame_digest(frame) == frame_digest(dataset_frame(data))  # the same data, the same digest
    frame = dataset_frame(as_frame)
    assert frame["input_ids"][0] == first_ids and frame["text"][0] == "good film"
    assert isinstance(as_frame["input_ids"][0], list)  # the trainer's own frame is left as it was
    assert len(frame_digest(frame)) == 64


def test_what_cannot_be_read_whole_gives_no_frame() -> None:
    assert dataset_frame(Streamed([{"labels": 0}])) is None
    assert dataset_frame(iter([{"labels": 0}])) is None  # no length
    assert dataset_frame([]) is None
    assert dataset_frame([(1, 2), (3, 4)]) is None  # items that are not dicts


def test_items_with_different_keys_leave_the_missing_cells_empty() -> None:
    frame = dataset_frame([{"labels": 1}, {"input_ids": [4, 5]}, {"labels": 0, "input_ids": [6]}])
    assert list(frame.columns) == ["labels", "input_ids"]
    assert frame["labels"].isna().tolist() == [False, True, False]
    assert frame["input_ids"].isna().tolist() == [True, False, False] and frame["input_ids"][2] == "[6]"


def test_checkpoints_are_logged_when_asked(tmp_path: Path, tokenizer: Any) -> None:
    callback = cairn.transformers.CairnCallback(log_checkpoints=True, log_models=False)
    trainer(tmp_path, tokenizer, callbacks=[callback], save_strategy="steps", save_steps=2).train()
    run = only_run(PROJECT)
    with cairn.Api() as api:
        paths = {artifact.path for artifact in api.artifacts(run.id)}
    folders = {path.split("/")[1] for path in paths}
    assert folders == {"checkpoint-2", "checkpoint-4"}
    assert "checkpoints/checkpoint-4/model.safetensors" in paths


def test_when_logging_fails_training_finishes_and_warns_once(
    tmp_path: Path, tokenizer: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    staging = cairn_home() / "staging"
    staging.parent.mkdir(parents=True, exist_ok=True)
    staging.write_text("not a folder: every model packaging fails")
    first, second = trainer(tmp_path, tokenizer, report_to="cairn"), trainer(tmp_path, tokenizer, report_to="cairn")
    assert first.train().global_step == STEPS and second.train().global_step == STEPS

    warnings = [line for line in capsys.readouterr().err.splitlines() if "transformers logging failed" in line]
    assert len(warnings) == 1
    found = runs(PROJECT)
    assert len(found) == 2 and all(run.status.value == "finished" for run in found)
    assert all(TRAIN_METRICS <= set(run.metrics) for run in found)  # the rest was still logged


def test_with_no_store_to_reach_training_goes_on(
    tmp_path: Path, tokenizer: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CAIRN_URI", f"http://127.0.0.1:{port}")  # nothing listens there
    assert trainer(tmp_path, tokenizer, report_to="cairn").train().global_step == STEPS
    assert "starts offline" in capsys.readouterr().err
