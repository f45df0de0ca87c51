"""Labels of logged predictions in SQL: one row per Parquet file of labels (docs/monitoring.md,
"Labels"). The bytes are a blob; the row says whose they are and which predictions' times they
span, so a monitor's window finds the files that may label it by one range of the index
(model, version, first prediction time, id).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, insert, or_, select

from cairn.core.clock import now_ms
from cairn.core.errors import BlobNotFound, PredictionLabelsNotFound
from cairn.core.prediction_labels import PredictionLabelFile
from cairn.store.sql import schema as t
from cairn.store.sql.artifacts import blob_sizes
from cairn.store.sql.engine import Engines, reading, transaction
from cairn.store.sql.registry import require_version

_l = t.prediction_labels.c


class SqlPredictionLabelStore:
    """Implements :class:`cairn.store.base.PredictionLabelStore`."""

    _engines: Engines

    def add_prediction_labels(
        self,
        name: str,
        version: int,
        *,
        rows: int,
        first_ms: int,
        last_ms: int,
        size: int,
        digest: str,
        created_by: str,
    ) -> PredictionLabelFile:
        row = {
            "id": uuid.uuid4().hex,
            "version": version,
            "rows": rows,
            "first_ms": first_ms,
            "last_ms": last_ms,
            "size": size,
            "digest": digest,
            "created_by": created_by,
            "created_at": now_ms(),
        }
        with transaction(self._engines.write) as conn:
            row["model_id"] = require_version(conn, name, version)
            if digest not in blob_sizes(conn, [digest]):
                raise BlobNotFound(f"no bytes are stored under {digest}", details={"digest": digest})
            conn.execute(insert(t.prediction_labels), row)
        return _file(name, row)

    def list_prediction_labels(
        self,
        name: str,
        version: int,
        *,
        since_ms: int | None,
        until_ms: int | None,
        limit: int,
        after: tuple[int, str] | None,
    ) -> list[PredictionLabelFile]:
        with reading(self._engines) as conn:
            model_id = require_version(conn, name, version)
            query = select(t.prediction_labels).where(_l.model_id == model_id, _l.version == version)
            if since_ms is not None:
                query = query.where(_l.last_ms >= since_ms)
            if until_ms is not None:
                query = query.where(_l.first_ms < until_ms)
            if after is not None:
                first_ms, file_id = after
                query = query.where(or_(_l.first_ms > first_ms, and_(_l.first_ms == first_ms, _l.id > file_id)))
            rows = conn.execute(query.order_by(_l.first_ms, _l.id).limit(limit)).mappings().all()
        return [_file(name, row) for row in rows]

    def get_prediction_labels(self, name: str, version: int, file_id: str) -> PredictionLabelFile:
        with reading(self._engines) as conn:
            model_id = require_version(conn, name, version)
            query = select(t.prediction_labels).where(_l.model_id == model_id, _l.version == version, _l.id == file_id)
            row = conn.execute(query).mappings().first()
        if row is None:
            raise PredictionLabelsNotFound(
                f"version {version} of {name!r} has no label file {file_id!r}",
                details={"model": name, "version": version, "file_id": file_id},
            )
        return _file(name, row)


def _file(name: str, row: Any) -> PredictionLabelFile:
    return PredictionLabelFile(
        id=row["id"],
        model=name,
        version=row["version"],
        rows=row["rows"],
        first_ms=row["first_ms"],
        last_ms=row["last_ms"],
        size=row["size"],
        digest=row["digest"],
        created_by=row["created_by"],
        created_at=row["created_at"],
    )
