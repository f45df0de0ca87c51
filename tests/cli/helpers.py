"""Types and helpers the CLI tests share (fixtures are in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from click.testing import Result

from cairn.core.entities import Run
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.service.interface import Tracking

#: ``invoke(*args, code=0)``, the fixture that runs ``cairn ARGS``.
Invoke = Callable[..., Result]


@dataclass
class Seeded:
    """The runs ``seeded`` logged, newest last."""

    first: Run
    second: Run
    running: Run


def log(tracking: Tracking, run_id: str, key: str, values: list[float], seq: int = 0) -> None:
    n = len(values)
    column = MetricColumns(
        key,
        np.arange(n, dtype=np.int64),
        np.full(n, 1_700_000_000_000, dtype=np.int64),
        np.array(values),
    )
    tracking.log_metrics(run_id, MetricBatch(client_id=f"test-{key}", seq=seq, columns=[column]))
