"""What monitoring reads: a version's logged predictions for a window of time, and the
reference they are compared with (docs/monitoring.md).

Both come out as pyarrow tables, read from the Parquet files in the blob store and never row by
row in Python: a window's files are found by one index range of ``prediction_logs``, each read
for the columns wanted only, and cut to the window by ``timestamp_ms`` with pyarrow compute.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from cairn.core.errors import InvalidValue, ReferenceUnavailable
from cairn.core.limits import MAX_INT64
from cairn.core.monitors import ReferenceChoice
from cairn.core.prediction_logs import INPUTS_KEY, OUTPUTS_KEY, PREDICTION, REQUEST_ID, TIMESTAMP_MS

if TYPE_CHECKING:
    import pyarrow as pa

    from cairn.blobs.base import BlobStore
    from cairn.core.artifacts import DatasetVersion
    from cairn.core.drift import Reference
    from cairn.core.registry import ModelVersion
    from cairn.store.base import MetadataStore

#: Files listed per page while reading a window.
_FILES_PER_PAGE = 1000
#: References kept built in this process (their data read and binned once, not per evaluation).
_CACHED_REFERENCES = 16


def read_window(
    store: MetadataStore,
    blobs: BlobStore,
    model: str,
    version: int,
    start_ms: int,
    end_ms: int,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """The version's logged rows with ``start_ms <= timestamp_ms < end_ms``: ``columns`` (all
    the inputs and predictions when None, those a file lacks as nulls) with ``timestamp_ms``
    and ``request_id``. The schema's metadata names the inputs and outputs seen."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    tables: list[pa.Table] = []
    inputs: dict[str, None] = {}
    outputs: dict[str, None] = {}
    for digest in _files_in(store, model, version, start_ms, end_ms):
        parquet = pq.ParquetFile(pa.BufferReader(b"".join(blobs.read(digest))))
        metadata = parquet.schema_arrow.metadata or {}
        file_inputs = _names(metadata, INPUTS_KEY)
        present = set(parquet.schema_arrow.names)
        # A file whose metadata names no outputs: its prediction columns by their names.
        file_outputs = _names(metadata, OUTPUTS_KEY) or [
            n for n in parquet.schema_arrow.names if n == PREDICTION or n.startswith(f"{PREDICTION}.")
        ]
        inputs.update(dict.fromkeys(file_inputs))
        outputs.update(dict.fromkeys(file_outputs))
        wanted = [*file_inputs, *file_outputs] if columns is None else list(columns)
        table = parquet.read(columns=[c for c in dict.fromkeys([TIMESTAMP_MS, REQUEST_ID, *wanted]) if c in present])
        times = table.column(TIMESTAMP_MS)
        table = table.filter(pc.and_(pc.greater_equal(times, start_ms), pc.less(times, end_ms)))
        if table.num_rows:
            tables.append(table.replace_schema_metadata(None))
    if not tables:
        return pa.table({TIMESTAMP_MS: pa.array([], pa.int64()), REQUEST_ID: pa.array([], pa.string())})
    # Files of one version may differ (a column added later): missing columns become nulls.
    table = pa.concat_tables(tables, promote_options="permissive")
    meta = {INPUTS_KEY: orjson.dumps(list(inputs)), OUTPUTS_KEY: orjson.dumps(list(outputs))}
    return table.replace_schema_metadata(meta)


def first_logged_ms(store: MetadataStore, model: str, version: int, since_ms: int | None = None) -> int | None:
    """The time of the version's first logged prediction (at or after ``since_ms``), or None."""
    found = store.list_prediction_logs(model, version, since_ms=since_ms, until_ms=None, limit=1, after=None)
    if not found:
        return None
    return max(found[0].first_ms, since_ms or 0)


def logged_columns(table: pa.Table) -> tuple[list[str], list[str]]:
    """The (inputs, outputs) a table from :func:`read_window` names."""
    metadata = table.schema.metadata or {}
    return _names(metadata, INPUTS_KEY), _names(metadata, OUTPUTS_KEY)


def _files_in(store: MetadataStore, model: str, version: int, start_ms: int, end_ms: int) -> Iterator[str]:
    after = None
    while True:
        page = store.list_prediction_logs(
            model, version, since_ms=start_ms, until_ms=end_ms, limit=_FILES_PER_PAGE, after=after
        )
        for file in page:
            yield file.digest
        if len(page) < _FILES_PER_PAGE:
            return
        after = (page[-1].first_ms, page[-1].id)


def _names(metadata: dict[bytes, bytes], key: str) -> list[str]:
    raw = metadata.get(key.encode())
    if raw is None:
        return []
    try:
        names = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


# -- references -----------------------------------------------------------------------------------


class ReferenceCache:
    """Built references by (dataset version, features): reading and binning a 100,000-row
    reference costs more than comparing a window with it, and a monitor compares many windows
    with the same one. Dataset versions never change, so an entry is never stale."""

    def __init__(self, size: int = _CACHED_REFERENCES) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, tuple[str, ...]], Reference] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, tuple[str, ...]]) -> Reference | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[str, tuple[str, ...]], reference: Reference) -> None:
        with self._lock:
            self._entries[key] = reference
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


REFERENCES = ReferenceCache()


def reference_dataset(store: MetadataStore, version: ModelVersion, choice: ReferenceChoice) -> DatasetVersion:
    """The dataset version a monitor compares with: by default the one the version's source run
    logged with context ``train``. Raises ReferenceUnavailable."""
    if choice.kind == "lineage":
        trained = [d for d in version.datasets if d.context == "train"]
        if not trained:
            raise ReferenceUnavailable(
                f"version {version.version} of {version.model!r} has no training data in its lineage: its run "
                "logged no dataset with context 'train'; log one (run.log_dataset(frame, name, context='train', "
                "store=True)) or give the monitor a reference dataset",
                details={"model": version.model, "version": version.version},
            )
        candidates = [store.dataset_version(d.dataset_version_id) for d in trained]
        # Arrays (what the Keras and Lightning integrations log) have no columns to compare
        # with; a table the run also logged for training is the reference then.
        return next((d for d in candidates if d.source_kind != "array"), candidates[0])
    assert choice.project is not None and choice.dataset is not None
    project = store.get_project(choice.project, with_counts=False)
    versions = store.list_datasets(project.id, choice.dataset)
    if choice.digest is not None:
        versions = [v for v in versions if v.digest == choice.digest]
    if not versions:
        raise ReferenceUnavailable(
            f"project {choice.project!r} has no dataset {choice.dataset!r}"
            + (f" with digest {choice.digest}" if choice.digest else ""),
            details={"project": choice.project, "dataset": choice.dataset},
        )
    return max(versions, key=lambda v: v.created_at)


def build_reference(
    store: MetadataStore, blobs: BlobStore, dataset: DatasetVersion, features: Sequence[str] | None
) -> Reference:
    """The reference of ``dataset``: from its stored data when kept, else from its profile."""
    from cairn.core.drift import Reference

    key = (dataset.id, tuple(features or ()))
    cached = REFERENCES.get(key)
    if cached is not None:
        return cached
    if dataset.source_kind == "array":
        raise ReferenceUnavailable(
            f"dataset {dataset.name!r} ({dataset.digest[:12]}) holds arrays, which have no columns to compare "
            "inputs with: log the training features as a DataFrame (context 'train') or give the monitor a "
            "reference dataset",
            details={"dataset": dataset.name, "digest": dataset.digest},
        )
    if dataset.stored:
        reference = Reference.from_table(read_dataset_table(store, blobs, dataset), features or None)
    elif dataset.profile.get("columns"):
        reference = Reference.from_profile(dataset.profile, dataset.rows)
    else:
        raise ReferenceUnavailable(
            f"dataset {dataset.name!r} ({dataset.digest[:12]}) keeps neither its data nor a profile of its columns: "
            "log it with store=True",
            details={"dataset": dataset.name, "digest": dataset.digest},
        )
    REFERENCES.put(key, reference)
    return reference


def read_dataset_table(store: MetadataStore, blobs: BlobStore, dataset: DatasetVersion) -> pa.Table:
    """A stored dataset's rows: its Parquet or CSV files, read with pyarrow and stacked."""
    import pyarrow as pa
    import pyarrow.csv as pv
    import pyarrow.parquet as pq

    tables = []
    for path, digest, _size in store.dataset_files(dataset.id):
        data = b"".join(blobs.read(digest))
        lowered = path.lower()
        try:
            if lowered.endswith((".parquet", ".pq")) or data[:4] == b"PAR1":
                tables.append(pq.read_table(pa.BufferReader(data)))
            elif lowered.endswith((".csv", ".csv.gz", ".tsv")):
                options = pv.ParseOptions(delimiter="\t" if lowered.endswith(".tsv") else ",")
                tables.append(pv.read_csv(io.BytesIO(data), parse_options=options))
        except (pa.ArrowException, OSError) as exc:
            raise ReferenceUnavailable(
                f"file {path!r} of dataset {dataset.name!r} cannot be read as a table: {exc}"[:500],
                details={"dataset": dataset.name, "path": path},
            ) from None
    if not tables:
        raise ReferenceUnavailable(
            f"dataset {dataset.name!r} ({dataset.digest[:12]}) has no Parquet or CSV file to compare with",
            details={"dataset": dataset.name, "digest": dataset.digest},
        )
    try:
        return pa.concat_tables([t.replace_schema_metadata(None) for t in tables], promote_options="permissive")
    except pa.ArrowException as exc:
        raise ReferenceUnavailable(
            f"the files of dataset {dataset.name!r} do not share one schema: {exc}"[:500],
            details={"dataset": dataset.name},
        ) from None


def check_features_known(features: Sequence[str], version: ModelVersion) -> None:
    """A monitor may only name features the version takes (when its signature says)."""
    names = signature_inputs(version)
    if names is None:
        return
    unknown = [f for f in features if f not in names]
    if unknown:
        raise InvalidValue(
            f"version {version.version} of {version.model!r} has no input {unknown[0]!r}; its inputs are "
            + ", ".join(names[:50]),
            details={"field": "features", "unknown": unknown[:20]},
        )


def signature_inputs(version: ModelVersion) -> list[str] | None:
    """The named input columns of the version's signature; None when it names none (a tensor)."""
    signature: Any = version.signature or {}
    columns = signature.get("inputs") if isinstance(signature, dict) else None
    if not isinstance(columns, list):  # none, or a tensor
        return None
    names = [c.get("name") for c in columns if isinstance(c, dict)]
    return [n for n in names if isinstance(n, str)] or None


# -- labels ---------------------------------------------------------------------------------------


def prediction_times(
    store: MetadataStore, blobs: BlobStore, model: str, version: int, ids: Sequence[str]
) -> dict[str, tuple[int, int]]:
    """The (first, last) prediction time of each of ``ids`` the version logged; an id it never
    logged is absent. Every prediction log of the version is read, for its ``request_id`` and
    ``timestamp_ms`` only, oldest first; the scan stops once every id is found (a request's
    rows are written together, into one file)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    wanted = pa.array(sorted(set(ids)), pa.string())
    found: dict[str, tuple[int, int]] = {}
    for digest in _files_in(store, model, version, 0, MAX_INT64):
        parquet = pq.ParquetFile(pa.BufferReader(b"".join(blobs.read(digest))))
        table = parquet.read(columns=[REQUEST_ID, TIMESTAMP_MS])
        hits = table.filter(pc.is_in(table.column(REQUEST_ID), value_set=wanted))
        if not hits.num_rows:
            continue
        grouped = hits.group_by(REQUEST_ID).aggregate([(TIMESTAMP_MS, "min"), (TIMESTAMP_MS, "max")])
        for request_id, low, high in zip(
            grouped.column(REQUEST_ID).to_pylist(),
            grouped.column(f"{TIMESTAMP_MS}_min").to_pylist(),
            grouped.column(f"{TIMESTAMP_MS}_max").to_pylist(),
            strict=True,
        ):
            before = found.get(request_id)
            found[request_id] = (low, high) if before is None else (min(before[0], low), max(before[1], high))
        if len(found) == len(wanted):
            break
    return found


def read_labels(
    store: MetadataStore, blobs: BlobStore, model: str, version: int, start_ms: int, end_ms: int
) -> pa.Table:
    """The labels that count (docs/monitoring.md, "Labels") of the version's predictions made
    in [start_ms, end_ms): one row per request id, ``request_id`` and ``label``. Of several
    labels of one id, the one with the latest ``timestamp_ms`` counts; on a tie, the one logged
    last."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from cairn.core.prediction_labels import LABEL

    files = []
    after = None
    while True:
        page = store.list_prediction_labels(
            model, version, since_ms=start_ms, until_ms=end_ms, limit=_FILES_PER_PAGE, after=after
        )
        files.extend(page)
        if len(page) < _FILES_PER_PAGE:
            break
        after = (page[-1].first_ms, page[-1].id)
    empty = pa.table({REQUEST_ID: pa.array([], pa.string()), LABEL: pa.array([], pa.int64())})
    if not files:
        return empty
    tables = []
    for order, file in enumerate(sorted(files, key=lambda f: (f.created_at, f.id))):
        table = pq.read_table(pa.BufferReader(b"".join(blobs.read(file.digest))))
        rows = pa.array(range(table.num_rows), pa.int64())
        table = table.append_column("_file", pa.array([order] * table.num_rows, pa.int64()))
        tables.append(table.append_column("_row", rows))
    try:
        labels = pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowException:  # numbers in one file, text in another: compared as text
        labels = pa.concat_tables([t.set_column(1, LABEL, pc.cast(t.column(LABEL), pa.string())) for t in tables])
    ordered = labels.sort_by([(TIMESTAMP_MS, "ascending"), ("_file", "ascending"), ("_row", "ascending")])
    latest = ordered.group_by(REQUEST_ID, use_threads=False).aggregate([(LABEL, "last")])
    return pa.table({REQUEST_ID: latest.column(REQUEST_ID), LABEL: latest.column(f"{LABEL}_last")})
