"""Prediction logs in SQL: one row per Parquet file of a model version's predictions
(docs/prediction-logs.md). The bytes are a blob; the row says whose they are and when.

Listings walk an index by (model, [version,] first prediction time, id), oldest first, so
monitoring reads a window of time as one range. A file's predictions all fall within its hour,
so a window's lower bound also bounds ``first_ms`` from below by that hour's start, which keeps
the scan inside the index when the window is narrow.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import and_, delete, func, insert, or_, select

from cairn.core.clock import now_ms
from cairn.core.errors import BlobNotFound, PredictionLogNotFound
from cairn.core.prediction_logs import (
    ColumnMismatch,
    PredictionLogFile,
    hour_of,
    mismatch_from_wire,
    mismatch_to_wire,
)
from cairn.store.sql import schema as t
from cairn.store.sql.artifacts import blob_sizes
from cairn.store.sql.engine import Engines, reading, transaction
from cairn.store.sql.registry import model_id_of, require_version

_p = t.prediction_logs.c


class SqlPredictionLogStore:
    """Implements :class:`cairn.store.base.PredictionLogStore`."""

    _engines: Engines

    def add_prediction_log(
        self,
        name: str,
        version: int,
        *,
        hour_ms: int,
        rows: int,
        first_ms: int,
        last_ms: int,
        size: int,
        digest: str,
        created_by: str,
        mismatches: tuple[ColumnMismatch, ...] = (),
        mismatched_rows: int = 0,
    ) -> PredictionLogFile:
        row = {
            "id": uuid.uuid4().hex,
            "version": version,
            "hour_ms": hour_ms,
            "rows": rows,
            "first_ms": first_ms,
            "last_ms": last_ms,
            "size": size,
            "digest": digest,
            "created_by": created_by,
            "created_at": now_ms(),
            "mismatches": orjson.dumps([mismatch_to_wire(m) for m in mismatches]).decode(),
            "mismatched_rows": mismatched_rows,
        }
        with transaction(self._engines.write) as conn:
            row["model_id"] = require_version(conn, name, version)
            if digest not in blob_sizes(conn, [digest]):
                raise BlobNotFound(f"no bytes are stored under {digest}", details={"digest": digest})
            conn.execute(insert(t.prediction_logs), row)
        return _file(name, row)

    def list_prediction_logs(
        self,
        name: str,
        version: int | None,
        *,
        since_ms: int | None,
        until_ms: int | None,
        limit: int,
        after: tuple[int, str] | None,
    ) -> list[PredictionLogFile]:
        with reading(self._engines) as conn:
            model_id = model_id_of(conn, name) if version is None else require_version(conn, name, version)
            query = select(t.prediction_logs).where(_p.model_id == model_id)
            if version is not None:
                query = query.where(_p.version == version)
            if since_ms is not None:
                query = query.where(_p.last_ms >= since_ms, _p.first_ms >= hour_of(since_ms))
            if until_ms is not None:
                query = query.where(_p.first_ms < until_ms)
            if after is not None:
                first_ms, file_id = after
                query = query.where(or_(_p.first_ms > first_ms, and_(_p.first_ms == first_ms, _p.id > file_id)))
            rows = conn.execute(query.order_by(_p.first_ms, _p.id).limit(limit)).mappings().all()
        return [_file(name, row) for row in rows]

    def drop_prediction_files(self, before_ms: int, *, dry_run: bool = False) -> int:
        """Forget every prediction log and label file whose rows all precede ``before_ms``
        (their bytes go at this gc's sweep); how many (would be) dropped."""
        labels = t.prediction_labels.c
        with transaction(self._engines.write) as conn:
            if dry_run:
                logs = conn.scalar(select(func.count()).where(_p.last_ms < before_ms).select_from(t.prediction_logs))
                more = conn.scalar(
                    select(func.count()).where(labels.last_ms < before_ms).select_from(t.prediction_labels)
                )
                return int(logs or 0) + int(more or 0)
            dropped = conn.execute(delete(t.prediction_logs).where(_p.last_ms < before_ms)).rowcount
            dropped += conn.execute(delete(t.prediction_labels).where(labels.last_ms < before_ms)).rowcount
        return int(dropped)

    def get_prediction_log(self, name: str, version: int, file_id: str) -> PredictionLogFile:
        with reading(self._engines) as conn:
            model_id = require_version(conn, name, version)
            query = select(t.prediction_logs).where(_p.model_id == model_id, _p.version == version, _p.id == file_id)
            row = conn.execute(query).mappings().first()
        if row is None:
            raise PredictionLogNotFound(
                f"version {version} of {name!r} has no prediction log {file_id!r}",
                details={"model": name, "version": version, "file_id": file_id},
            )
        return _file(name, row)


def _file(name: str, row: Any) -> PredictionLogFile:
    return PredictionLogFile(
        id=row["id"],
        model=name,
        version=row["version"],
        hour_ms=row["hour_ms"],
        rows=row["rows"],
        first_ms=row["first_ms"],
        last_ms=row["last_ms"],
        size=row["size"],
        digest=row["digest"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        mismatches=tuple(mismatch_from_wire(m) for m in orjson.loads(row["mismatches"] or "[]")),
        mismatched_rows=row["mismatched_rows"],
    )
