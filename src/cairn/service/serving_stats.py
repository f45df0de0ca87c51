"""Serving's numbers per time window, from a model's prediction logs (docs/dashboard.md,
"Monitoring"): how many predictions were logged, their latency (p50, p95) and, when the logs
record failures, the share that failed.

Only the files' index rows are listed to find the windows (no file is opened for that); then
the files of the windows shown are read for ``timestamp_ms``, ``latency_ms`` and ``error`` only,
and aggregated with pyarrow compute (a group-by on the window index), never row by row.

Volume counts *logged* predictions: a sampling ``cairn serve`` (``--log-sample``) logs a share
of its traffic, so the numbers are that share's. Latency quantiles are t-digest estimates.
A row failed when its ``error`` column (optional: ``cairn serve`` logs answered predictions
only) holds a non-empty value or ``true``; without the column the error rate is unknown (None),
never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cairn.core.prediction_logs import LATENCY_MS, MAX_PREDICTION_LOG_PAGE, TIMESTAMP_MS, PredictionLogFile

if TYPE_CHECKING:
    import pyarrow as pa

    from cairn.service.tracking import TrackingService

#: The optional column that marks a failed prediction.
ERROR = "error"
#: Windows one answer covers at most (the newest ones with logs).
MAX_SERVING_WINDOWS = 90
#: Index rows read at most to find the newest logged prediction (a year of hourly files × 5).
MAX_FILES_LISTED = 50_000


@dataclass(frozen=True, slots=True)
class ServingWindow:
    start_ms: int
    end_ms: int
    predictions: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    #: Failed predictions' share; None when no file of the window records failures.
    error_rate: float | None


def serving_windows(
    tracking: TrackingService,
    model: str,
    version: int | None,
    step_ms: int,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    max_windows: int = MAX_SERVING_WINDOWS,
) -> list[ServingWindow]:
    """Windows of ``step_ms`` (aligned to the epoch, as a monitor's are) holding logged
    predictions of the model (of ``version``, if given) in [since_ms, until_ms), oldest first:
    of the ``max_windows`` windows of time that end with the newest logged prediction, those
    that hold any (empty ones are left out). Raises ModelNotFound,
    ModelVersionNotFound (and InvalidValue for a bad range), as ``list_prediction_logs`` does."""
    files = _listed(tracking, model, version, since_ms, until_ms)
    if not files:
        return []
    last = max(f.last_ms for f in files)
    if until_ms is not None:
        last = min(last, until_ms - 1)
    newest_start = last - last % step_ms
    low = newest_start - (max_windows - 1) * step_ms
    if since_ms is not None:
        low = max(low, since_ms - since_ms % step_ms)
    high = newest_start + step_ms if until_ms is None else min(newest_start + step_ms, until_ms)
    table = _read(tracking, [f for f in files if f.last_ms >= low and f.first_ms < high], low, high)
    return aggregate(table, low, step_ms)


def aggregate(table: pa.Table, start_ms: int, step_ms: int) -> list[ServingWindow]:
    """Per window of ``step_ms`` from ``start_ms``, the rows of ``table`` (``timestamp_ms``,
    ``latency_ms``, optionally a boolean ``error``) counted and their latency summarised."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return []
    index = pc.divide(pc.subtract(table.column(TIMESTAMP_MS), pa.scalar(start_ms, pa.int64())), step_ms)
    has_errors = ERROR in table.column_names
    grouped = pa.table(
        {
            "window": index,
            LATENCY_MS: pc.cast(table.column(LATENCY_MS), pa.float64()),
            ERROR: table.column(ERROR) if has_errors else pa.nulls(table.num_rows, pa.bool_()),
        }
    ).group_by("window")
    found = grouped.aggregate(
        [
            ("window", "count", pc.CountOptions(mode="all")),
            (LATENCY_MS, "tdigest", pc.TDigestOptions(q=[0.5, 0.95])),
            (ERROR, "sum"),
            (ERROR, "count"),  # rows whose file records failures (non-null)
        ]
    ).sort_by("window")
    windows: list[ServingWindow] = []
    columns = found.to_pydict()
    for i, window in enumerate(columns["window"]):
        quantiles = columns[f"{LATENCY_MS}_tdigest"][i] or []
        recorded = columns[f"{ERROR}_count"][i]
        failed = columns[f"{ERROR}_sum"][i] or 0
        begin = start_ms + int(window) * step_ms
        windows.append(
            ServingWindow(
                start_ms=begin,
                end_ms=begin + step_ms,
                predictions=int(columns["window_count"][i]),
                latency_p50_ms=_finite(quantiles[0]) if len(quantiles) > 0 else None,
                latency_p95_ms=_finite(quantiles[1]) if len(quantiles) > 1 else None,
                error_rate=float(failed) / recorded if recorded else None,
            )
        )
    return windows


def _finite(value: float | None) -> float | None:
    import math

    return value if value is not None and math.isfinite(value) else None


def _listed(
    tracking: TrackingService, model: str, version: int | None, since_ms: int | None, until_ms: int | None
) -> list[PredictionLogFile]:
    files: list[PredictionLogFile] = []
    token: str | None = None
    while len(files) < MAX_FILES_LISTED:
        page = tracking.list_prediction_logs(
            model, version, since_ms=since_ms, until_ms=until_ms, limit=MAX_PREDICTION_LOG_PAGE, page_token=token
        )
        files.extend(page.items)
        token = page.next_page_token
        if token is None:
            break
    return files


def _read(tracking: TrackingService, files: list[PredictionLogFile], low: int, high: int) -> pa.Table:
    """The rows of ``files`` in [low, high): time, latency and (where recorded) failure."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    tables: list[pa.Table] = []
    for file in files:
        parquet = pq.ParquetFile(pa.BufferReader(tracking.read_prediction_log(file.model, file.version, file.id)))
        names = set(parquet.schema_arrow.names)
        table = parquet.read(columns=[c for c in (TIMESTAMP_MS, LATENCY_MS, ERROR) if c in names])
        times = table.column(TIMESTAMP_MS)
        table = table.filter(pc.and_(pc.greater_equal(times, low), pc.less(times, high)))
        tables.append(
            pa.table(
                {
                    TIMESTAMP_MS: pc.cast(table.column(TIMESTAMP_MS), pa.int64()),
                    LATENCY_MS: pc.cast(table.column(LATENCY_MS), pa.float64()),
                    ERROR: _failed(table.column(ERROR)) if ERROR in names else pa.nulls(table.num_rows, pa.bool_()),
                }
            )
        )
    if not tables:
        return pa.table({TIMESTAMP_MS: pa.array([], pa.int64()), LATENCY_MS: pa.array([], pa.float64())})
    return pa.concat_tables(tables)


def _failed(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """An ``error`` column as booleans: true, or a non-empty text (a message, a code)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_boolean(column.type):
        return pc.fill_null(column, False)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return pc.fill_null(pc.greater(pc.utf8_length(column), 0), False)
    return pc.is_valid(column)
