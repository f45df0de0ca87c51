"""The rules for labels, mixed into :class:`TrackingService` (docs/monitoring.md, "Labels").

- labels are logged to one registered model version; writing them needs the right to write to
  the model (the editor role, as logging predictions does), reading them the right to read it;
- every id must be a request id the version logged a prediction for: otherwise
  UnknownPredictionIds naming a few, and nothing of the batch is kept (a batch half kept would
  leave the caller unable to tell which half to send again);
- the labels are kept as one Parquet file (``request_id``, ``label``, ``timestamp_ms``) in the
  blob store with a row recording it, so gc keeps its bytes while the row exists;
- a later label of the same id replaces the earlier one when performance is measured: the one
  with the latest ``timestamp_ms`` (when the label was known, the time of the call unless
  given) counts, on a tie the one logged last;
- logging labels is no event, as logging predictions is none.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cairn.core.clock import now_ms
from cairn.core.entities import Page
from cairn.core.errors import FrameworkNotInstalled, InvalidPredictionLabels, UnknownPredictionIds
from cairn.core.limits import check_int64, check_listing_limit
from cairn.core.models.uri import check_model_name, check_version_number
from cairn.core.prediction_labels import (
    DEFAULT_LABEL_PAGE,
    LABEL,
    MAX_LABEL_PAGE,
    MAX_LABELS_PER_CALL,
    CheckedLabels,
    PredictionLabelFile,
    check_labels,
    label_token_after,
)
from cairn.core.prediction_logs import REQUEST_ID, TIMESTAMP_MS, check_file_id, position_from_token
from cairn.service import monitor_data
from cairn.service.policy import Action

if TYPE_CHECKING:
    from cairn.blobs.base import BlobStore
    from cairn.service.policy import Policy, Principal
    from cairn.store.base import MetadataStore

#: Unknown ids an error lists at most.
_UNKNOWN_SHOWN = 10


class PredictionLabelRules:
    store: MetadataStore
    principal: Principal
    policy: Policy

    @property
    def blobs(self) -> BlobStore:
        raise NotImplementedError  # provided by ArtifactRules

    def log_prediction_labels(
        self,
        name: str,
        version: int,
        ids: Sequence[str],
        labels: Sequence[Any],
        timestamps: Sequence[int] | None = None,
    ) -> PredictionLabelFile:
        """Keep the labels of the version's predictions with these request ids. Raises
        InvalidPredictionLabels, UnknownPredictionIds (nothing kept), InvalidValue,
        ModelNotFound, ModelVersionNotFound."""
        checked = check_model_name(name), check_version_number(version)
        given = check_labels(ids, labels, timestamps, now_ms())
        self.policy.check_model(self.principal, Action.WRITE, checked[0])
        self.store.get_version(*checked)
        times = monitor_data.prediction_times(self.store, self.blobs, *checked, given.ids)
        unknown = [i for i in dict.fromkeys(given.ids) if i not in times]
        if unknown:
            shown = unknown[:_UNKNOWN_SHOWN]
            raise UnknownPredictionIds(
                f"version {checked[1]} of {checked[0]!r} logged no prediction for {len(unknown)} of the ids: "
                + ", ".join(repr(i[:40]) for i in shown)
                + (" …" if len(unknown) > len(shown) else "")
                + "; nothing was kept",
                details={"unknown": shown, "count": len(unknown)},
            )
        data = _parquet(given)
        info = self.blobs.write([data], expected_digest=hashlib.sha256(data).hexdigest())
        self.store.record_blob(info.digest, info.size)
        return self.store.add_prediction_labels(
            *checked,
            rows=len(given.ids),
            first_ms=min(times[i][0] for i in given.ids),
            last_ms=max(times[i][1] for i in given.ids),
            size=info.size,
            digest=info.digest,
            created_by=self.principal.name,
        )

    def list_prediction_labels(
        self,
        name: str,
        version: int,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = DEFAULT_LABEL_PAGE,
        page_token: str | None = None,
    ) -> Page[PredictionLabelFile]:
        """The version's label files that label a prediction made in [since_ms, until_ms),
        by their first prediction time. Raises ModelNotFound, ModelVersionNotFound,
        InvalidPageToken."""
        checked = check_model_name(name), check_version_number(version)
        since = None if since_ms is None else check_int64(since_ms, "since_ms", minimum=0)
        until = None if until_ms is None else check_int64(until_ms, "until_ms", minimum=0)
        check_listing_limit(limit, MAX_LABEL_PAGE)
        after = None if page_token is None else position_from_token(page_token)
        self.policy.check_model(self.principal, Action.READ, checked[0])
        found = self.store.list_prediction_labels(
            *checked, since_ms=since, until_ms=until, limit=limit + 1, after=after
        )
        items = found[:limit]
        return Page(items, label_token_after(items[-1]) if len(found) > limit else None)

    def read_prediction_labels(self, name: str, version: int, file_id: str) -> bytes:
        """The label file's bytes (Parquet). Raises ModelNotFound, ModelVersionNotFound,
        PredictionLabelsNotFound."""
        checked = check_model_name(name), check_version_number(version)
        self.policy.check_model(self.principal, Action.READ, checked[0])
        found = self.store.get_prediction_labels(*checked, check_file_id(file_id))
        return b"".join(self.blobs.read(found.digest))


def _parquet(given: CheckedLabels) -> bytes:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ModuleNotFoundError:
        raise FrameworkNotInstalled(
            "labels are kept with pyarrow, which this server lacks: pip install pyarrow",
            details={"package": "pyarrow"},
        ) from None
    kind = {"int": pa.int64(), "float": pa.float64(), "str": pa.string()}[given.kind]
    table = pa.table(
        {
            REQUEST_ID: pa.array(given.ids, pa.string()),
            LABEL: pa.array(given.labels, kind),
            TIMESTAMP_MS: pa.array(given.timestamps, pa.int64()),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def labels_from_parquet(data: bytes) -> tuple[list[Any], list[Any], list[Any] | None]:
    """(ids, labels, timestamps or None) of a Parquet file of the columns ``request_id``,
    ``label`` and optionally ``timestamp_ms``: what the REST API takes besides JSON.
    InvalidPredictionLabels (``details["field"]`` ``file`` or the column) otherwise; the values
    are then checked as any call's are."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ModuleNotFoundError:
        raise FrameworkNotInstalled(
            "labels are read with pyarrow, which this server lacks: pip install pyarrow",
            details={"package": "pyarrow"},
        ) from None
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        names = parquet.schema_arrow.names
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidPredictionLabels(
            f"the labels are not a Parquet file pyarrow reads: {exc}"[:500], details={"field": "file"}
        ) from None
    for column in (REQUEST_ID, LABEL):
        if names.count(column) != 1:
            raise InvalidPredictionLabels(
                f"a Parquet file of labels has one column {column!r}", details={"field": column}
            )
    if parquet.metadata.num_rows > MAX_LABELS_PER_CALL:
        raise InvalidPredictionLabels(
            f"one call labels at most {MAX_LABELS_PER_CALL} predictions, got {parquet.metadata.num_rows}",
            details={"field": "ids", "limit": MAX_LABELS_PER_CALL},
        )
    wanted = [REQUEST_ID, LABEL] + ([TIMESTAMP_MS] if names.count(TIMESTAMP_MS) == 1 else [])
    try:
        table = parquet.read(columns=wanted)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidPredictionLabels(
            f"the labels' data cannot be read: {exc}"[:500], details={"field": "file"}
        ) from None
    times = table.column(TIMESTAMP_MS).to_pylist() if TIMESTAMP_MS in wanted else None
    return table.column(REQUEST_ID).to_pylist(), table.column(LABEL).to_pylist(), times
