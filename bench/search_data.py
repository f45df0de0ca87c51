"""The synthetic runs the search benchmark loads into both stores, and the answers it expects.

Stdlib only, so both halves (the project venv and bench/.venv-mlflow) import the same code and
load identical data. The data is deterministic: one `random.Random(SEED)` stream consumed run
after run, so the first 10,000 runs of the 100,000-run set are exactly the 10,000-run set.

Each run has 20 params (floats from small sets such as `lr`, optimizer names, batch sizes,
booleans, free-text strings), 10 metrics given as summaries (last, min, max, count, and the
step and time of the last point: what both stores keep for search) and 3 tags (team,
dataset, stage). Names are `<prefix>-<number>`, a tenth of them starting with `base`.

`expected(n)` computes, from the generated data alone, the answer each query must return; both
halves compare what their tool returns with it, so a fast wrong answer cannot pass.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Bump whenever the generated data changes: cached databases are keyed by it.
DATA_VERSION = "search-data-v1"
SEED = 20261126
RUNS = 100_000
SMALL_RUNS = 10_000  # the size MLflow is measured at when it cannot answer at RUNS in time
PROJECT = "search-bench"
#: 2026-01-01T00:00:00Z; run i starts 37 s after run i-1, so creation order is unique.
BASE_TIME_MS = 1_767_225_600_000
START_SPACING_MS = 37_000

LRS = (0.1, 0.03, 0.01, 0.003, 0.001, 0.0003)
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "lamb")
BATCH_SIZES = (16, 32, 64, 128, 256, 512)
MODELS = ("resnet18", "resnet50", "vit-s16", "vit-b16", "convnext-t", "mlp-mixer")
ACTIVATIONS = ("relu", "gelu", "silu", "tanh")
SCHEDULERS = ("cosine", "linear", "step", "constant")
PRECISIONS = ("fp32", "bf16", "fp16")
TEAMS = ("vision", "nlp", "speech", "rl")
DATASETS = ("cifar10", "imagenet", "coco", "librispeech", "wikitext")
STAGES = ("dev", "sweep", "prod")
NAME_PREFIXES = ("base", "large", "sweep", "ablation", "tune", "repro", "small", "long", "fast", "final")
USERS = ("ana", "bo", "chen", "dita", "emil", "fatima", "gus", "hana")
METRICS = ("acc", "loss", "val_acc", "val_loss", "f1", "precision", "recall", "grad_norm", "throughput", "epoch_time")
# Finished, with a few failed and killed runs.
STATUSES = ("finished",) * 17 + ("failed", "failed", "killed")

# -- the queries, as each tool writes them ----------------------------------------------------

#: (key, Cairn `where`, Cairn `order_by`, what it asks). Every query takes the first 100.
CAIRN_QUERIES = (
    ("no_filter", None, None, "no filter, first 100 by creation (newest first)"),
    (
        "metric_and_param",
        "metrics.acc > 0.5 and params.lr = 0.01",
        "metrics.acc desc",
        "metric and param filter, sorted by a metric",
    ),
    ("tag_equals", "tags.team = 'vision'", None, "tag equality"),
    (
        "three_way_or",
        "params.optimizer = 'adam' or params.optimizer = 'sgd' or name like 'base%'",
        None,
        "three-way or with a like",
    ),
)
LIMIT = 100
GROUP_BY = "params.optimizer"
GROUP_METRIC = "metrics.acc"
GROUP_WHERE = "tags.dataset = 'imagenet'"

#: MLflow's filter language for the same questions: params are strings there, `name` is
#: `attributes.run_name`, and there is no `or` (query 4 is three searches whose union is the
#: answer) and no group-by (query 5 fetches every matching run and averages on the client).
MLFLOW_QUERIES: dict[str, dict[str, Any]] = {
    "no_filter": {"filters": [""], "order_by": None},
    "metric_and_param": {"filters": ["metrics.acc > 0.5 and params.lr = '0.01'"], "order_by": ["metrics.acc DESC"]},
    "tag_equals": {"filters": ["tags.team = 'vision'"], "order_by": None},
    "three_way_or": {
        "filters": [
            "params.optimizer = 'adam'",
            "params.optimizer = 'sgd'",
            "attributes.run_name LIKE 'base%'",
        ],
        "order_by": None,
    },
}
MLFLOW_GROUP_FILTER = "tags.dataset = 'imagenet'"


@dataclass(frozen=True, slots=True)
class MetricSummary:
    last: float
    min: float
    max: float
    count: int
    last_step: int
    last_timestamp: int


@dataclass(frozen=True, slots=True)
class SyntheticRun:
    index: int
    id: str  # 32 hex digits, like both tools' run ids
    name: str
    user: str
    status: str  # lower case, as Cairn has it; MLflow's is upper case
    start_time: int
    end_time: int
    params: dict[str, Any]
    tags: dict[str, str]
    metrics: dict[str, MetricSummary]


def _clamp(x: float, low: float, high: float) -> float:
    return min(high, max(low, x))


def _summary(rng: random.Random, last: float, spread: float, count: int, end_time: int) -> MetricSummary:
    low = last - abs(rng.gauss(0, spread))
    high = last + abs(rng.gauss(0, spread))
    return MetricSummary(last, low, high, count, count - 1, end_time)


def runs(n: int = RUNS) -> Iterator[SyntheticRun]:
    """The first `n` runs, in creation order (oldest first)."""
    rng = random.Random(SEED)
    for i in range(n):
        run_id = f"{rng.getrandbits(128):032x}"
        start = BASE_TIME_MS + i * START_SPACING_MS
        duration_ms = rng.randint(60_000, 36_000_000)
        end = start + duration_ms
        lr = rng.choice(LRS)
        optimizer = rng.choice(OPTIMIZERS)
        dataset = rng.choice(DATASETS)
        model = rng.choice(MODELS)
        epochs = rng.randint(5, 300)
        params: dict[str, Any] = {
            "lr": lr,
            "optimizer": optimizer,
            "batch_size": rng.choice(BATCH_SIZES),
            "epochs": epochs,
            "weight_decay": rng.choice((0.0, 1e-5, 1e-4, 1e-3, 0.05)),
            "momentum": rng.choice((0.0, 0.9, 0.95, 0.99)),
            "dropout": round(rng.random() * 0.5, 2),
            "warmup_steps": rng.choice((0, 500, 1000, 2000)),
            "seed": rng.randint(0, 9999),
            "model": model,
            "num_layers": rng.randint(2, 48),
            "hidden_size": rng.choice((128, 256, 512, 768, 1024, 2048, 4096)),
            "activation": rng.choice(ACTIVATIONS),
            "use_amp": rng.random() < 0.5,
            "augment": rng.random() < 0.7,
            "scheduler": rng.choice(SCHEDULERS),
            "grad_clip": rng.choice((0.5, 1.0, 5.0)),
            "label_smoothing": rng.choice((0.0, 0.1, 0.2)),
            "precision": rng.choice(PRECISIONS),
            "data_dir": f"/data/{dataset}/v{rng.randint(1, 5)}/shards",
        }
        # Accuracy depends a little on the optimizer and lr, so group means differ.
        skill = 0.05 * OPTIMIZERS.index(optimizer) - 8 * abs(math.log10(lr) + 2.5) / 100
        acc = _clamp(rng.betavariate(5, 5) + skill, 0.0, 1.0)
        loss = -math.log(max(acc, 1e-3)) + rng.random() * 0.1
        steps = epochs * rng.choice((10, 50, 100))
        val_acc = _clamp(acc - rng.random() * 0.1, 0.0, 1.0)
        precision = _clamp(acc + rng.gauss(0, 0.03), 0.0, 1.0)
        recall = _clamp(acc + rng.gauss(0, 0.03), 0.0, 1.0)
        lasts = {
            "acc": (acc, 0.1),
            "loss": (loss, 0.5),
            "val_acc": (val_acc, 0.1),
            "val_loss": (loss + rng.random() * 0.3, 0.5),
            "f1": (2 * precision * recall / (precision + recall or 1.0), 0.1),
            "precision": (precision, 0.1),
            "recall": (recall, 0.1),
            "grad_norm": (rng.lognormvariate(0, 1), 1.0),
            "throughput": (rng.uniform(100, 20_000), 500.0),
            "epoch_time": (rng.uniform(5, 3600), 30.0),
        }
        metrics = {key: _summary(rng, last, spread, steps, end) for key, (last, spread) in lasts.items()}
        yield SyntheticRun(
            index=i,
            id=run_id,
            name=f"{rng.choice(NAME_PREFIXES)}-{i:06d}",
            user=rng.choice(USERS),
            status=rng.choice(STATUSES),
            start_time=start,
            end_time=end,
            params=params,
            tags={"team": rng.choice(TEAMS), "dataset": dataset, "stage": rng.choice(STAGES)},
            metrics=metrics,
        )


def runs_at(n: int, index: int) -> SyntheticRun:
    """Run number ``index`` (from 0) of the first ``n``."""
    for run in runs(n):
        if run.index == index:
            return run
    raise IndexError(index)


def mlflow_param_value(value: Any) -> str:
    """A param as MLflow stores it: `str(value)`, what `mlflow.log_param` sends."""
    return str(value)


# -- the expected answers ---------------------------------------------------------------------


def _matches(run: SyntheticRun, key: str) -> bool:
    if key == "no_filter":
        return True
    if key == "metric_and_param":
        return run.metrics["acc"].last > 0.5 and run.params["lr"] == 0.01
    if key == "tag_equals":
        return run.tags["team"] == "vision"
    if key == "three_way_or":
        return run.params["optimizer"] in ("adam", "sgd") or run.name.startswith("base")
    raise KeyError(key)


def compute_expected(n: int) -> dict[str, Any]:
    """For each query: how many runs match, and the ids of the first 100 in the query's order.

    Creation order is newest first (both tools' default); query 2 sorts by acc, descending.
    The group-by: for each optimizer, the count and mean of acc over the imagenet runs.
    """
    matched: dict[str, list[tuple[float, int, str]]] = {key: [] for key, *_ in CAIRN_QUERIES}
    groups: dict[str, list[float]] = {}
    for run in runs(n):
        for key in matched:
            if _matches(run, key):
                sort_key = -run.metrics["acc"].last if key == "metric_and_param" else 0.0
                matched[key].append((sort_key, -run.start_time, run.id))
        if run.tags["dataset"] == "imagenet":
            groups.setdefault(run.params["optimizer"], []).append(run.metrics["acc"].last)
    result: dict[str, Any] = {"runs": n, "data_version": DATA_VERSION}
    for key, rows in matched.items():
        rows.sort()
        result[key] = {"matched": len(rows), "first_ids": [run_id for *_, run_id in rows[:LIMIT]]}
    result["group_by"] = {
        "matched": sum(len(v) for v in groups.values()),
        "groups": {opt: {"count": len(v), "mean": math.fsum(v) / len(v)} for opt, v in sorted(groups.items())},
    }
    return result


def expected(n: int, cache_dir: Path) -> dict[str, Any]:
    """`compute_expected(n)`, cached in `cache_dir` (the generator takes a few seconds)."""
    path = cache_dir / f"expected-{n}.json"
    if path.exists():
        cached: dict[str, Any] = json.loads(path.read_text())
        if cached.get("data_version") == DATA_VERSION:
            return cached
    answer = compute_expected(n)
    cache_dir.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".tmp{os.getpid()}")
    temporary.write_text(json.dumps(answer))
    temporary.replace(path)
    return answer


def cache_dir(results_dir: Path) -> Path:
    """Where loaded databases are kept between runs: keyed by the data version."""
    return results_dir / "search-cache" / DATA_VERSION


def prune(keep: Path, pattern: str) -> list[str]:
    """Remove databases in `keep`'s directory that match `pattern` but are not `keep` (left by an
    older schema or tool version: each is hundreds of MB), and other data versions' caches."""
    removed = []
    for stale in keep.parent.glob(pattern):
        if stale.name.split(".db")[0] != keep.name.split(".db")[0] and ".loading" not in stale.name:
            stale.unlink(missing_ok=True)
            removed.append(stale.name)
    if not keep.parent.name.startswith("search-data-"):
        return removed  # a cache directory given by hand: leave its neighbours alone
    for other in keep.parent.parent.glob("search-data-*"):
        if other != keep.parent and other.is_dir():
            for stale in other.iterdir():
                stale.unlink(missing_ok=True)
            other.rmdir()
            removed.append(other.name)
    return removed


def digest(n: int = RUNS) -> str:
    """A short hash of the generated data, to prove both halves loaded the same runs."""
    h = hashlib.sha256()
    for run in runs(n):
        h.update(repr((run.id, run.name, sorted(run.params.items()), sorted(run.tags.items()))).encode())
        h.update(repr([(k, m.last, m.min, m.max, m.count) for k, m in sorted(run.metrics.items())]).encode())
    return h.hexdigest()[:16]


# -- timing, the same for both halves ---------------------------------------------------------


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile: an observed sample, never an interpolated one."""
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def time_query(
    call: Callable[[], Any],
    check: Callable[[Any], None],
    *,
    repeats: int,
    budget_s: float,
    min_repeats: int = 3,
    warmed_up: float | None = None,
) -> dict[str, Any]:
    """p50 and p95 in ms of `repeats` calls after one untimed warm-up.

    `check` sees the warm-up's result and the last timed one and raises if either is wrong.
    Past `budget_s` of timed calls it stops early (after at least `min_repeats`), and says so.
    `warmed_up`: the seconds of a warm-up the caller made (and checked) already.
    """
    if warmed_up is None:
        started = time.perf_counter()
        check(call())
        warmup_s = time.perf_counter() - started
    else:
        warmup_s = warmed_up
    durations: list[float] = []
    deadline = time.perf_counter() + budget_s
    result = None
    while len(durations) < repeats and (len(durations) < min_repeats or time.perf_counter() < deadline):
        started = time.perf_counter()
        result = call()
        durations.append(time.perf_counter() - started)
    check(result)
    ms = [d * 1000 for d in durations]
    timing: dict[str, Any] = {
        "value": round(percentile(ms, 0.5), 2),
        "p50_ms": round(percentile(ms, 0.5), 2),
        "p95_ms": round(percentile(ms, 0.95), 2),
        "repeats": len(ms),
        "warmup_ms": round(warmup_s * 1000, 2),
        "all_ms": [round(x, 2) for x in ms],
    }
    if len(ms) < repeats:
        timing["cut_short"] = f"{len(ms)} of {repeats} repeats fit in the {budget_s:g} s budget"
    return timing


if __name__ == "__main__":
    started = time.perf_counter()
    count = sum(1 for _ in runs())
    print(f"generated {count:,} runs in {time.perf_counter() - started:.1f} s")
    first = next(runs(1))
    print(json.dumps({"id": first.id, "name": first.name, "params": first.params, "tags": first.tags}, indent=1))
    answer = compute_expected(RUNS)
    print({k: v["matched"] for k, v in answer.items() if isinstance(v, dict) and "matched" in v})
    print(answer["group_by"])
