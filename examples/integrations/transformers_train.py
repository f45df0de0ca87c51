"""Fine-tune a (tiny) BERT to tell good reviews from bad ones with the Hugging Face Trainer,
with Cairn logging the training.

    python examples/integrations/transformers_train.py

Nothing is downloaded: the tokenizer is built from a word list and the model from a config
(one layer, 32 wide), so it trains in seconds on a CPU. Runs go to CAIRN_PROJECT (else
"reviews"), in the embedded store under CAIRN_HOME or on the server CAIRN_URI names: one run
with the TrainingArguments and the model config as params, loss, learning rate, gradient
norm and the evaluation metrics by step, the train and test reviews as its datasets "train"
and "eval", and the model with its tokenizer at runs:/RUN/model.
"""

import os
import random

import numpy as np
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer, Trainer, TrainingArguments

import cairn
import cairn.transformers  # makes report_to="cairn" known to Transformers

os.environ.setdefault("CAIRN_PROJECT", "reviews")
torch.set_num_threads(1)

GOOD = ["good", "great", "fine", "superb", "moving", "clever", "funny"]
BAD = ["bad", "awful", "dull", "boring", "weak", "silly", "tedious"]
THINGS = ["film", "plot", "acting", "ending", "script", "cast"]
words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "the", "was", "very", "and", *GOOD, *BAD, *THINGS]
tokenizer = BertTokenizer(vocab={word: index for index, word in enumerate(words)})


def review(rng: random.Random) -> dict:
    positive = rng.random() < 0.5
    adjectives = rng.sample(GOOD if positive else BAD, 2)
    text = f"the {rng.choice(THINGS)} was very {adjectives[0]} and {adjectives[1]}"
    encoded = tokenizer(text, padding="max_length", max_length=12, truncation=True)
    return {**encoded, "labels": int(positive)}


def accuracy(prediction) -> dict:
    return {"accuracy": float(np.mean(prediction.predictions.argmax(axis=-1) == prediction.label_ids))}


rng = random.Random(0)
train, test = [review(rng) for _ in range(256)], [review(rng) for _ in range(64)]

config = BertConfig(
    vocab_size=len(words), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
)
torch.manual_seed(0)
model = BertForSequenceClassification(config)

args = TrainingArguments(
    output_dir="reviews-out",
    num_train_epochs=4,
    per_device_train_batch_size=16,
    learning_rate=3e-3,
    logging_steps=4,
    eval_strategy="epoch",
    save_strategy="no",
    use_cpu=True,
    report_to="cairn",  # the one added line
)
trainer = Trainer(
    model=model,
    args=args,
    train_dataset=train,
    eval_dataset=test,
    processing_class=tokenizer,
    compute_metrics=accuracy,
)
trainer.train()
print(f"test accuracy {trainer.evaluate()['eval_accuracy']:.3f}")

# The logged model, loaded back as anyone with the run id would, predicting from text:
with cairn.Api() as api:
    run = api.runs(os.environ["CAIRN_PROJECT"])[0]
loaded = cairn.load_model(f"runs:/{run.id}/model")
print(loaded.model.predict_proba(["the plot was very clever and funny", "the cast was very dull and weak"]))
