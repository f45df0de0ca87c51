"""How often the bounded near-miss search finds the exact nearest run, at 100,000 runs.

    .venv/bin/python bench/similar_quality.py                       # both data sets, 40 runs each
    .venv/bin/python bench/similar_quality.py --data sweep --sample 100 --cache-dir /tmp/similar

For ``--sample`` runs drawn at random (with at least 1,000 earlier runs each; the newest run
too), the store's fast answer (:func:`cairn.store.sql.similar.nearest_runs`) is compared with
the plain exact one (:func:`~cairn.store.sql.similar.nearest_statement`, every earlier run):
**recall** is the fraction of sampled runs whose first fast result is at the exact nearest
distance. Also: how many answers the store proved exact, how much further the misses were,
and the fast path's median time (the plain one takes seconds).

Two data sets, each loaded into a SQLite store in ``--cache-dir`` once and reused:

- ``random``: the search benchmark's runs (bench/search_data.py): 20 params each drawn at
  random, so two runs agree on about 4.6 params and the nearest run is 8-10 params away.
- ``sweep``: how people use a tracker (:func:`sweep_runs`). Runs come in experiment families
  of 5 to 3,000 runs, two to six running at once; a family fixes most params (a config from
  the same sets of values) and varies 2-4 hyperparameters over a grid or at random, repeats
  some configs (other seeds of the same config, reruns); three in ten families start from an
  earlier family's config with 1-3 params changed or added, and one in ten resumes an earlier
  family weeks later (so that its nearest runs are old).

Measured on 2 cores at 100,000 runs, 60 sampled runs each: random 27 of 60 (10 of 60 by the
earlier rule, the newest 50 entries of every list), sweep 60 of 60 (53 of 60), 11 proved.

Quality depends on the data and the store's rule, not on the backend: SQLite answers here.
Progress goes to stderr; one JSON object goes to stdout.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sqlalchemy import select

import search_cairn
import search_data as data
from cairn.store.sql import schema as t
from cairn.store.sql.similar import nearest_runs, nearest_statement
from cairn.store.sql.store import SqlStore

SWEEP_SEED = 20261203
SWEEP_VERSION = "sweep-v2"
#: The hyperparameters a family may vary: a grid to draw from, and a random value.
SWEPT = {
    "lr": (data.LRS, lambda rng: float(f"{10 ** rng.uniform(-4, -1):.3g}")),
    "batch_size": (data.BATCH_SIZES, lambda rng: rng.choice(data.BATCH_SIZES)),
    "weight_decay": ((0.0, 1e-5, 1e-4, 1e-3, 0.05), lambda rng: float(f"{10 ** rng.uniform(-6, -1):.2g}")),
    "dropout": ((0.0, 0.1, 0.2, 0.3, 0.5), lambda rng: round(rng.random() * 0.5, 3)),
    "warmup_steps": ((0, 500, 1000, 2000), lambda rng: rng.randrange(0, 5000, 100)),
    "momentum": ((0.0, 0.9, 0.95, 0.99), lambda rng: round(rng.uniform(0.8, 0.999), 3)),
    "num_layers": ((6, 12, 24, 48), lambda rng: rng.randint(2, 48)),
    "hidden_size": ((256, 512, 768, 1024), lambda rng: rng.choice((128, 256, 512, 768, 1024, 2048))),
    "label_smoothing": ((0.0, 0.1, 0.2), lambda rng: round(rng.uniform(0, 0.3), 2)),
    "epochs": ((10, 30, 100, 300), lambda rng: rng.randint(5, 300)),
}
#: Params a derived family may add (a new option tried on an old config).
EXTRAS = {
    "mixup": (0.0, 0.2, 0.4),
    "ema_decay": (0.99, 0.999, 0.9999),
    "stochastic_depth": (0.0, 0.1, 0.2),
    "tokenizer": ("bpe", "unigram", "wordpiece"),
    "grad_accum": (1, 2, 4, 8),
}


def _base_config(rng: random.Random) -> dict[str, Any]:
    """A config of the search data's shape (its 20 keys, from its sets of values)."""
    dataset = rng.choice(data.DATASETS)
    return {
        "lr": rng.choice(data.LRS),
        "optimizer": rng.choice(data.OPTIMIZERS),
        "batch_size": rng.choice(data.BATCH_SIZES),
        "epochs": rng.choice((10, 30, 50, 90, 100, 300)),
        "weight_decay": rng.choice((0.0, 1e-5, 1e-4, 1e-3, 0.05)),
        "momentum": rng.choice((0.0, 0.9, 0.95, 0.99)),
        "dropout": rng.choice((0.0, 0.1, 0.2, 0.3)),
        "warmup_steps": rng.choice((0, 500, 1000, 2000)),
        "seed": 0,
        "model": rng.choice(data.MODELS),
        "num_layers": rng.choice((6, 12, 24, 48)),
        "hidden_size": rng.choice((256, 512, 768, 1024, 2048)),
        "activation": rng.choice(data.ACTIVATIONS),
        "use_amp": rng.random() < 0.5,
        "augment": rng.random() < 0.7,
        "scheduler": rng.choice(data.SCHEDULERS),
        "grad_clip": rng.choice((0.5, 1.0, 5.0)),
        "label_smoothing": rng.choice((0.0, 0.1, 0.2)),
        "precision": rng.choice(data.PRECISIONS),
        "data_dir": f"/data/{dataset}/v{rng.randint(1, 5)}/shards",
    }


class _Family:
    """One experiment: a fixed config, a few swept hyperparameters, a number of runs."""

    def __init__(self, rng: random.Random, earlier: list[dict[str, Any]]) -> None:
        self.made: list[dict[str, Any]] = []
        self.size = int(min(3000, max(5, rng.lognormvariate(4.6, 1.2))))
        if earlier and rng.random() < 0.3:
            base = dict(rng.choice(earlier))  # a new experiment from an old one
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.4:
                    extra = rng.choice(sorted(EXTRAS))
                    base[extra] = rng.choice(EXTRAS[extra])
                else:
                    fresh = _base_config(rng)
                    key = rng.choice(sorted(fresh))
                    base[key] = fresh[key]
        else:
            base = _base_config(rng)
        self.base = base
        swept = rng.sample(sorted(SWEPT), rng.randint(2, 4))
        # A grid (3-6 values, drawn in turn or at random) or a random value per run.
        self.grids: dict[str, tuple[Any, ...] | None] = {}
        for key in swept:
            grid, _draw = SWEPT[key]
            self.grids[key] = tuple(rng.sample(grid, min(len(grid), rng.randint(3, 6)))) if rng.random() < 0.7 else None
        self.seeds = rng.choice((1, 1, 1, 2, 3, 5))  # seeds per config

    def next_config(self, rng: random.Random) -> dict[str, Any]:
        if self.made and rng.random() < 0.05:
            config = dict(rng.choice(self.made))  # a rerun of a config
        else:
            config = dict(self.base)
            for key, grid in self.grids.items():
                config[key] = rng.choice(grid) if grid is not None else SWEPT[key][1](rng)
            config["seed"] = rng.randrange(self.seeds)
        self.made.append(config)
        return config

    def resumed(self, rng: random.Random) -> _Family:
        """The same sweep taken up again later: its grids, more runs, the configs it made."""
        again = copy.copy(self)
        again.made = list(self.made)
        again.size = len(self.made) + int(min(1000, max(5, rng.lognormvariate(3.5, 1.0))))
        return again


def sweep_runs(n: int) -> Iterator[data.SyntheticRun]:
    """The first ``n`` runs of the sweep data set, oldest first (deterministic)."""
    rng = random.Random(SWEEP_SEED)
    bases: list[dict[str, Any]] = []
    done: list[_Family] = []
    active: list[_Family] = []
    for i in range(n):
        # Two to six experiments run at a time; one in ten resumes an earlier one.
        while len(active) < 2 or (len(active) < 6 and rng.random() < 0.01):
            if done and rng.random() < 0.1:
                family = rng.choice(done).resumed(rng)
            else:
                family = _Family(rng, bases)
                bases.append(family.base)
            active.append(family)
        family = rng.choice(active)
        params = family.next_config(rng)
        if len(family.made) >= family.size:
            active.remove(family)
            done.append(family)
        start = data.BASE_TIME_MS + i * data.START_SPACING_MS
        yield data.SyntheticRun(
            index=i,
            id=f"{rng.getrandbits(128):032x}",
            name=f"sweep-{i:06d}",
            user=rng.choice(data.USERS),
            status="finished",
            start_time=start,
            end_time=start + 60_000,
            params=params,
            tags={},
            metrics={},
        )


def log(message: str) -> None:
    print(f"[similar_quality] {message}", file=sys.stderr, flush=True)


def ensure_store(kind: str, n: int, cache: Path) -> Path:
    if kind == "random":
        path, _ = search_cairn.ensure_sqlite(cache, n)
        return path
    path = cache / f"similar-{SWEEP_VERSION}-{search_cairn.schema_key()}-{n}.db"
    if not path.exists():
        log(f"loading {n:,} sweep runs into {path}")
        search_cairn.load_sqlite(path, n, sweep_runs)
    return path


def measure(uri: str, sample: int, seed: int) -> dict[str, Any]:
    store = SqlStore(uri)
    try:
        with store._engines.read.connect() as conn:
            runs = conn.execute(
                select(t.runs.c.id, t.runs.c.project_id, t.runs.c.start_time).order_by(t.runs.c.start_time, t.runs.c.id)
            ).all()
            rng = random.Random(seed)
            chosen = [runs[-1], *rng.sample(runs[1000:-1], sample - 1)]
            at_nearest = proved = 0
            further: list[int] = []
            fast_ms: list[float] = []
            for run in chosen:
                started = time.perf_counter()
                fast, exact = nearest_runs(conn, run.id, run.project_id, run.start_time, limit=3)
                fast_ms.append((time.perf_counter() - started) * 1000)
                [plain] = conn.execute(nearest_statement(run.id, run.project_id, run.start_time, limit=1)).all()
                gap = fast[0][1] - int(plain.distance)
                at_nearest += gap == 0
                proved += exact
                further.append(gap)
                if exact and gap:
                    raise RuntimeError(f"run {run.id}: proved exact, but {gap} params further than the nearest")
                log(f"{run.id[:8]}: fast {[d for _, d in fast]} (exact: {exact}), nearest {int(plain.distance)}")
    finally:
        store.close()
    return {
        "sampled_runs": sample,
        "recall_at_1": round(at_nearest / sample, 3),
        "first_at_exact_nearest": at_nearest,
        "proved_exact": proved,
        "params_further": {str(gap): further.count(gap) for gap in sorted(set(further))},
        "fast_p50_ms": round(statistics.median(fast_ms), 1),
        "fast_max_ms": round(max(fast_ms), 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("random", "sweep", "both"), default="both")
    parser.add_argument("--runs", type=int, default=data.RUNS)
    parser.add_argument("--sample", type=int, default=40, help="runs compared with the exact answer")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache-dir", type=Path, default=data.cache_dir(search_cairn.RESULTS_DIR))
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    for kind in ("random", "sweep") if args.data == "both" else (args.data,):
        path = ensure_store(kind, args.runs, args.cache_dir)
        results[kind] = {"runs": args.runs, **measure(str(path), args.sample, args.seed)}
        log(f"{kind}: {results[kind]}")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
