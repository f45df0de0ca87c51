"""Metric points in SQL: columnar chunks, per-run summaries, idempotent batches."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from cairn.core.clock import now_ms
from cairn.core.entities import IngestResult
from cairn.core.metrics import MetricBatch, MetricColumns, MetricHistory, envelope_indices
from cairn.store.sql import schema as t
from cairn.store.sql.chunks import chunk_row, decode_float64, decode_int64
from cairn.store.sql.engine import Engines, reading, transaction
from cairn.store.sql.rows import dialect_insert, project_of_run, require_run

_EMPTY_INT = np.empty(0, dtype=np.int64)
_EMPTY_FLOAT = np.empty(0, dtype=np.float64)


@dataclass
class _Summary:
    """A metric summary while it is being merged; ``last`` may be NaN."""

    last: float
    last_step: int
    last_timestamp: int
    min: float | None
    max: float | None
    count: int

    @classmethod
    def of(cls, columns: MetricColumns) -> _Summary:
        steps, values = columns.steps, columns.values
        # The last point is the one at the highest step; among equal steps, the latest logged.
        last = len(steps) - 1 - int(np.argmax(steps[::-1]))
        not_nan = values[~np.isnan(values)]
        return cls(
            last=float(values[last]),
            last_step=int(steps[last]),
            last_timestamp=int(columns.timestamps[last]),
            min=float(not_nan.min()) if not_nan.size else None,
            max=float(not_nan.max()) if not_nan.size else None,
            count=len(steps),
        )

    def merge(self, newer: _Summary) -> _Summary:
        take_newer = newer.last_step >= self.last_step
        return _Summary(
            last=newer.last if take_newer else self.last,
            last_step=newer.last_step if take_newer else self.last_step,
            last_timestamp=newer.last_timestamp if take_newer else self.last_timestamp,
            min=_fold(min, self.min, newer.min),
            max=_fold(max, self.max, newer.max),
            count=self.count + newer.count,
        )

    def row(self) -> dict[str, Any]:
        return {
            "last_value": None if math.isnan(self.last) else self.last,
            "last_step": self.last_step,
            "last_timestamp": self.last_timestamp,
            "min_value": self.min,
            "max_value": self.max,
            "count": self.count,
        }


def _fold(pick: Any, a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return float(pick(a, b))


class SqlMetricStore:
    _engines: Engines

    def log_metrics(self, run_id: str, batch: MetricBatch) -> IngestResult:
        try:
            return self._log_metrics_once(run_id, batch)
        except IntegrityError:
            # A concurrent batch created the same summary row first (PostgreSQL); the retry
            # reads it and merges, or finds this batch already stored.
            return self._log_metrics_once(run_id, batch)

    def _log_metrics_once(self, run_id: str, batch: MetricBatch) -> IngestResult:
        columns = [c for c in batch.columns if len(c)]
        with transaction(self._engines.write) as conn:
            project_id = project_of_run(conn, run_id)
            if not _claim_batch(conn, run_id, batch):
                return IngestResult(points=batch.points, duplicate=True)
            if columns:
                conn.execute(insert(t.metric_chunks), [chunk_row(run_id, c) for c in columns])
                _merge_summaries(conn, run_id, project_id, columns)
        return IngestResult(points=batch.points)

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        *,
        step_min: int | None = None,
        step_max: int | None = None,
        max_points: int | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> MetricHistory:
        query = select(t.metric_chunks.c.steps, t.metric_chunks.c.timestamps, t.metric_chunks.c["values"]).where(
            t.metric_chunks.c.run_id == run_id, t.metric_chunks.c.key == key
        )
        # Whole chunks outside the window are never read.
        if step_min is not None:
            query = query.where(t.metric_chunks.c.last_step >= step_min)
        if step_max is not None:
            query = query.where(t.metric_chunks.c.first_step <= step_max)
        with reading(self._engines) as conn:
            require_run(conn, run_id)
            rows = conn.execute(query.order_by(t.metric_chunks.c.id)).all()
        steps, timestamps, values = _concatenate(rows)

        if steps.size > 1 and bool(np.any(steps[1:] < steps[:-1])):
            order = np.argsort(steps, kind="stable")
            steps, timestamps, values = steps[order], timestamps[order], values[order]
        if step_min is not None or step_max is not None:
            lo = 0 if step_min is None else int(np.searchsorted(steps, step_min, side="left"))
            hi = steps.size if step_max is None else int(np.searchsorted(steps, step_max, side="right"))
            steps, timestamps, values = steps[lo:hi], timestamps[lo:hi], values[lo:hi]
        total = int(steps.size)

        if max_points is not None and total > max_points:
            keep = _envelope_within(steps, values, max_points)
            return MetricHistory(key, steps[keep], timestamps[keep], values[keep], total, downsampled=True)
        end = total if limit is None else min(total, offset + limit)
        next_offset = end if end < total else None
        return MetricHistory(
            key, steps[offset:end], timestamps[offset:end], values[offset:end], total, next_offset=next_offset
        )


def _envelope_within(steps: np.ndarray, values: np.ndarray, max_points: int) -> np.ndarray:
    """Envelope indices, at most ``max_points`` of them: 4 per bucket, 5 where NaN shows."""
    keep = envelope_indices(steps, values, max(1, max_points // 4))
    if keep.size > max_points:
        keep = envelope_indices(steps, values, max(1, max_points // 5))
    return keep[:max_points]


def _claim_batch(conn: Connection, run_id: str, batch: MetricBatch) -> bool:
    """Record (run, client_id, seq); False if that batch was stored before."""
    # RETURNING rather than rowcount, which psycopg reports as -1 for this statement.
    statement = dialect_insert(conn, t.ingest_batches).on_conflict_do_nothing().returning(t.ingest_batches.c.seq)
    result = conn.execute(
        statement,
        {
            "run_id": run_id,
            "client_id": batch.client_id,
            "seq": batch.seq,
            "points": batch.points,
            "received_at": now_ms(),
        },
    )
    return result.first() is not None


def _merge_summaries(conn: Connection, run_id: str, project_id: str, columns: list[MetricColumns]) -> None:
    incoming: dict[str, _Summary] = {}
    for c in columns:
        summary = _Summary.of(c)
        incoming[c.key] = incoming[c.key].merge(summary) if c.key in incoming else summary
    existing = conn.execute(
        select(t.metric_summaries)
        .where(t.metric_summaries.c.run_id == run_id, t.metric_summaries.c.key.in_(list(incoming)))
        .with_for_update()
    ).all()
    # Rows are tuples, whose .count is a method: read the columns through the mapping.
    stored = {row.key: row._mapping for row in existing}
    new_rows, changed_rows = [], []
    for key, summary in incoming.items():
        row = stored.get(key)
        if row is None:
            new_rows.append({"run_id": run_id, "project_id": project_id, "key": key, **summary.row()})
            continue
        old = _Summary(
            last=math.nan if row["last_value"] is None else row["last_value"],
            last_step=row["last_step"],
            last_timestamp=row["last_timestamp"],
            min=row["min_value"],
            max=row["max_value"],
            count=row["count"],
        )
        changed_rows.append({"match_run_id": run_id, "match_key": key, **old.merge(summary).row()})
    if changed_rows:
        # One executemany for every key, not a statement per key.
        conn.execute(
            update(t.metric_summaries).where(
                t.metric_summaries.c.run_id == bindparam("match_run_id"),
                t.metric_summaries.c.key == bindparam("match_key"),
            ),
            changed_rows,
        )
    if new_rows:
        conn.execute(insert(t.metric_summaries), new_rows)


def _concatenate(rows: Iterable[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = list(rows)
    if not rows:
        return _EMPTY_INT, _EMPTY_INT, _EMPTY_FLOAT
    return (
        np.concatenate([decode_int64(r[0]) for r in rows]),
        np.concatenate([decode_int64(r[1]) for r in rows]),
        np.concatenate([decode_float64(r[2]) for r in rows]),
    )
