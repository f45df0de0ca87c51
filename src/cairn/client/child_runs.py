"""Finished child runs logged in one call: what a hyperparameter search's candidates become.

``cairn.init(parent=run)`` per candidate costs a connection, a writer thread and a duplicate
lookup each (about 25 ms embedded, more over HTTP) in the caller's thread. A candidate is
already over when it is logged, so none of that is needed: the parent's background writer
creates each child with its params and tags, logs its metrics at step 0 and ends it, one
queued write per child. While the store is away those writes wait in the parent's spool like
any other, so the caller never waits.

A child's write is three requests (create, metrics, end), each safe to send again: the child's
id is chosen here, so a write sent again whole after an outage finds the child it made.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cairn.client.writer import create_run_from, creation_payload
from cairn.core import limits
from cairn.core.entities import RunStatus, RunUpdate
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.core.params import flatten_config
from cairn.service.interface import Tracking


@dataclass(frozen=True)
class ChildRun:
    """One finished child run: its name, params, final metric values and tags."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


def child_run_payload(project: str, parent_id: str, child: ChildRun, *, user: str) -> dict[str, Any]:
    """The JSON-shaped write for ``child``, checked here so a mistake raises in the caller: the
    child's creation (as a run started offline sends it), its metrics and its own id."""
    params = flatten_config(child.params)
    limits.check_item_count(params, "params")  # one request creates the child with all of them
    metrics = {limits.check_key(key, "metric"): _wire_number(key, value) for key, value in child.metrics.items()}
    now = time.time_ns() // 1_000_000
    create = creation_payload(
        project,
        name=limits.check_name(child.name, "run name"),
        user=user,
        params=params,
        tags=limits.check_tags(child.tags),
        parent_id=parent_id,
        start_time=now,
    )
    return {"run_id": uuid.uuid4().hex, "create": create, "metrics": metrics, "client_id": uuid.uuid4().hex}


def create_child_run(tracking: Tracking, payload: Mapping[str, Any]) -> None:
    """Perform one queued child-run write (on the writer thread, or from the spool)."""
    record = create_run_from(tracking, payload["run_id"], payload["create"])
    now = payload["create"]["start_time"]
    metrics: Mapping[str, float | str] = payload["metrics"]
    if metrics:
        stamp = np.array([now], dtype=np.int64)
        step = np.zeros(1, dtype=np.int64)
        columns = [
            MetricColumns(key, step, stamp, np.array([limits.check_metric_value(key, value)], dtype=np.float64))
            for key, value in metrics.items()
        ]
        tracking.log_metrics(record.id, MetricBatch(client_id=payload["client_id"], seq=0, columns=columns))
    tracking.update_run(record.id, RunUpdate(status=RunStatus.FINISHED, end_time=now))


def _wire_number(key: str, value: Any) -> float | str:
    """A metric value that survives the spool's JSON: NaN and ±inf as the strings JSON lacks."""
    number = limits.check_metric_value(key, float(value))
    if math.isfinite(number):
        return number
    return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
