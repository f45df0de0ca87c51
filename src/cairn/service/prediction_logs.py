"""The rules for prediction logs, mixed into :class:`TrackingService` (docs/prediction-logs.md).

- a file is logged to one registered model version and one UTC hour; writing one needs the
  right to write to the model (the editor role, as registering a version does), reading the
  right to read it;
- the bytes must be a Parquet file with the required columns (``request_id``,
  ``timestamp_ms``, ``latency_ms``, ``model_version``), at least one row, every
  ``model_version`` the version it is logged to and every ``timestamp_ms`` within its hour:
  otherwise InvalidPredictionLog, and nothing is kept;
- every ``timestamp_ms`` is at most FUTURE_SKEW_MS (five minutes) past the store's clock:
  otherwise InvalidPredictionTime; out-of-order times are fine;
- input columns that do not match the version's signature (missing, extra, of another type)
  do not refuse the file: what the model was really sent is what monitoring must see. Each is
  recorded with the file (``mismatches``) and its rows counted (``mismatched_rows``);
- the bytes go to the blob store under their SHA-256 and a row records them, so gc keeps them
  for as long as the row exists: until the model is deleted;
- logging a file is no event: a busy model writes one a minute, which would drown the event log
  and every webhook subscribed to the registry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from cairn.core.clock import now_ms
from cairn.core.entities import Page
from cairn.core.errors import (
    FrameworkNotInstalled,
    InvalidPredictionLog,
    InvalidPredictionTime,
    InvalidValue,
    PayloadTooLarge,
)
from cairn.core.limits import check_int64, check_listing_limit
from cairn.core.models.uri import check_model_name, check_version_number
from cairn.core.prediction_logs import (
    DEFAULT_PREDICTION_LOG_PAGE,
    FUTURE_SKEW_MS,
    HOUR_MS,
    INPUTS_KEY,
    MAX_PREDICTION_LOG_BYTES,
    MAX_PREDICTION_LOG_PAGE,
    MODEL_VERSION,
    PREDICTION,
    REQUIRED_COLUMNS,
    TIMESTAMP_MS,
    ColumnMismatch,
    PredictionLogFile,
    check_file_id,
    check_hour,
    position_from_token,
    signature_mismatches,
    token_after,
)
from cairn.service.policy import Action

if TYPE_CHECKING:
    from cairn.blobs.base import BlobStore
    from cairn.service.policy import Policy, Principal
    from cairn.store.base import MetadataStore


class PredictionLogRules:
    store: MetadataStore
    principal: Principal
    policy: Policy

    @property
    def blobs(self) -> BlobStore:
        raise NotImplementedError  # provided by ArtifactRules

    def log_predictions(self, name: str, version: int, hour_ms: int, parquet_bytes: bytes) -> PredictionLogFile:
        """Keep a Parquet file of the version's predictions within the hour starting at
        ``hour_ms``. Raises InvalidPredictionLog (nothing kept), InvalidValue (a bad name,
        version or hour), PayloadTooLarge, ModelNotFound, ModelVersionNotFound."""
        checked = check_model_name(name), check_version_number(version)
        hour = check_hour(hour_ms)
        if not isinstance(parquet_bytes, bytes | bytearray | memoryview):
            raise InvalidValue(f"a prediction log is bytes, got {type(parquet_bytes).__name__}")
        data = bytes(parquet_bytes)
        if len(data) > MAX_PREDICTION_LOG_BYTES:
            raise PayloadTooLarge(
                f"a prediction log is at most {MAX_PREDICTION_LOG_BYTES} bytes, got {len(data)}",
                details={"limit": MAX_PREDICTION_LOG_BYTES},
            )
        self.policy.check_model(self.principal, Action.WRITE, checked[0])
        found = self.store.get_version(*checked)  # before the bytes are read or kept
        rows, first_ms, last_ms = summarize(data, checked[1], hour)
        mismatches = tuple(input_mismatches(data, found.signature))
        info = self.blobs.write([data], expected_digest=hashlib.sha256(data).hexdigest())
        self.store.record_blob(info.digest, info.size)
        return self.store.add_prediction_log(
            *checked,
            hour_ms=hour,
            rows=rows,
            first_ms=first_ms,
            last_ms=last_ms,
            size=info.size,
            digest=info.digest,
            created_by=self.principal.name,
            mismatches=mismatches,
            mismatched_rows=rows if mismatches else 0,
        )

    def list_prediction_logs(
        self,
        name: str,
        version: int | None = None,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = DEFAULT_PREDICTION_LOG_PAGE,
        page_token: str | None = None,
    ) -> Page[PredictionLogFile]:
        """The model's files (the version's, if given) holding a prediction in [since_ms,
        until_ms), oldest first by first prediction time. Raises ModelNotFound,
        ModelVersionNotFound, InvalidValue, InvalidPageToken."""
        checked = check_model_name(name)
        number = None if version is None else check_version_number(version)
        since = None if since_ms is None else check_int64(since_ms, "since_ms", minimum=0)
        until = None if until_ms is None else check_int64(until_ms, "until_ms", minimum=0)
        check_listing_limit(limit, MAX_PREDICTION_LOG_PAGE)
        after = None if page_token is None else position_from_token(page_token)
        self.policy.check_model(self.principal, Action.READ, checked)
        found = self.store.list_prediction_logs(
            checked, number, since_ms=since, until_ms=until, limit=limit + 1, after=after
        )
        items = found[:limit]
        return Page(items, token_after(items[-1]) if len(found) > limit else None)

    def read_prediction_log(self, name: str, version: int, file_id: str) -> bytes:
        """The file's bytes. Raises ModelNotFound, ModelVersionNotFound, PredictionLogNotFound,
        BlobNotFound (the bytes went missing from the blob store)."""
        checked = check_model_name(name), check_version_number(version)
        self.policy.check_model(self.principal, Action.READ, checked[0])
        found = self.store.get_prediction_log(*checked, check_file_id(file_id))
        return b"".join(self.blobs.read(found.digest))


def summarize(data: bytes, version: int, hour_ms: int) -> tuple[int, int, int]:
    """(rows, first timestamp_ms, last timestamp_ms) of a prediction log file, checked:
    InvalidPredictionLog saying what is wrong otherwise.

    Only the required columns' values are read: they are what the record is made of, and a
    file of many input columns would cost the server its whole size in memory otherwise."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
    except ModuleNotFoundError:
        raise FrameworkNotInstalled(
            "prediction logs are read with pyarrow, which this server lacks: pip install pyarrow",
            details={"package": "pyarrow"},
        ) from None
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidPredictionLog(f"the prediction log is not a Parquet file pyarrow reads: {exc}"[:500]) from None
    for column, kind in REQUIRED_COLUMNS.items():
        _check_column(schema, column, kind)
    rows = int(parquet.metadata.num_rows)
    if rows == 0:
        raise InvalidPredictionLog("the prediction log holds no rows")
    try:
        table = parquet.read(columns=[TIMESTAMP_MS, MODEL_VERSION])
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidPredictionLog(f"the prediction log's data cannot be read: {exc}"[:500]) from None
    times = _min_max(pc, table, TIMESTAMP_MS)
    versions = _min_max(pc, table, MODEL_VERSION)
    if versions != (version, version):
        raise InvalidPredictionLog(
            f"every model_version of a log of version {version} is {version}, found {versions[0]} to {versions[1]}",
            details={"column": MODEL_VERSION},
        )
    if times[0] < hour_ms or times[1] >= hour_ms + HOUR_MS:
        raise InvalidPredictionLog(
            f"every timestamp_ms of a log of the hour from {hour_ms} is within it, found {times[0]} to {times[1]}",
            details={"column": TIMESTAMP_MS},
        )
    if times[1] > now_ms() + FUTURE_SKEW_MS:
        raise InvalidPredictionTime(
            f"timestamp_ms {times[1]} is later than now by more than {FUTURE_SKEW_MS // 1000} s "
            "(prediction times are milliseconds since the epoch)",
            details={"column": TIMESTAMP_MS},
        )
    return rows, times[0], times[1]


def input_mismatches(data: bytes, signature: Any) -> list[ColumnMismatch]:
    """The file's input columns against the signature's named inputs (none for a tensor
    signature, or none at all). The inputs are the columns ``cairn.inputs`` names, else every
    column but the required ones and the predictions; ``input.NAME`` stands for ``NAME``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    named = signature.get("inputs") if isinstance(signature, Mapping) else None
    if not isinstance(named, list) or not named:
        return []
    schema = pq.ParquetFile(pa.BufferReader(data)).schema_arrow  # summarize read it already
    inputs: list[str] | None = None
    raw = (schema.metadata or {}).get(INPUTS_KEY.encode())
    if raw is not None:
        try:
            listed = orjson.loads(raw)
            if isinstance(listed, list) and all(isinstance(n, str) for n in listed):
                inputs = [n for n in listed if n in schema.names]
        except orjson.JSONDecodeError:
            inputs = None
    if inputs is None:
        inputs = [n for n in schema.names if n not in REQUIRED_COLUMNS and not _is_prediction(n)]
    found = {name.removeprefix("input."): _kind(schema.field(name).type) for name in inputs}
    return signature_mismatches(named, found)


def _is_prediction(name: str) -> bool:
    return name == PREDICTION or name.startswith(PREDICTION + ".")


def _kind(type_: Any) -> str:
    """The signature's word for an Arrow type; the type itself for what no signature names."""
    import pyarrow as pa

    t = pa.types
    checks = (
        ("boolean", t.is_boolean),
        ("integer", t.is_integer),
        ("float", t.is_floating),
        ("float", t.is_decimal),
        ("string", lambda x: t.is_string(x) or t.is_large_string(x)),
        ("binary", lambda x: t.is_binary(x) or t.is_large_binary(x) or t.is_fixed_size_binary(x)),
        ("datetime", lambda x: t.is_timestamp(x) or t.is_date(x)),
        ("null", t.is_null),
    )
    for kind, check in checks:
        if check(type_):
            return kind
    return str(type_)


def _check_column(schema: Any, column: str, kind: str) -> None:
    import pyarrow as pa

    found = schema.get_all_field_indices(column)
    if len(found) != 1:
        how = "lacks" if not found else "has more than one"
        raise InvalidPredictionLog(f"the prediction log {how} column {column!r}", details={"column": column})
    type_ = schema.field(found[0]).type
    fits = {
        "string": pa.types.is_string(type_) or pa.types.is_large_string(type_),
        "integer": pa.types.is_integer(type_),
        "number": pa.types.is_integer(type_) or pa.types.is_floating(type_),
    }[kind]
    if not fits:
        raise InvalidPredictionLog(
            f"column {column!r} of a prediction log holds {kind} values, not {type_}", details={"column": column}
        )


def _min_max(pc: Any, table: Any, column: str) -> tuple[int, int]:
    values = table.column(column)
    if values.null_count:
        raise InvalidPredictionLog(
            f"column {column!r} of the prediction log has missing values", details={"column": column}
        )
    extremes = pc.min_max(values)
    return int(extremes["min"].as_py()), int(extremes["max"].as_py())
