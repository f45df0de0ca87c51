"""The Dask engine of ``cairn predict``: the same scoring as ``map_partitions`` on a cluster.

The input is read by ``dask.dataframe`` (one partition per Parquet file or row-group range,
blocks of a CSV), each partition is scored by :func:`score_partition` on a worker, and the
partitions are written as Parquet parts, in order, to a temporary folder beside the output;
the output then appears whole (the folder renamed into place, or the parts streamed into one
``.csv``/``.parquet`` file by this process).

The model is not shipped with the tasks: a task carries a small :class:`WorkerModel` (the
pinned model URI and where the store is), and each worker process loads the model from the
store the first time one of its tasks needs it, keeps it in :data:`_LOADED`, and reuses it
for every later task. So the model crosses the network once per worker, and its digests are
checked there as for any ``cairn.load_model``. Workers reach the store themselves: an
embedded store must be on a path they can read (a shared file system), a server must be
reachable from them with their own ``CAIRN_TOKEN``; input and output paths must be shared too.
``s3://`` paths are not read by this engine yet (dask needs s3fs for them).

Dask is imported only here, so ``cairn predict`` without ``--engine dask`` needs none of it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.client.connect import connect, is_remote
from cairn.client.models.loaded import LoadedModel
from cairn.client.models.transfer import load_model_from
from cairn.core.errors import FrameworkNotInstalled, InvalidBatchInput
from cairn.serving.batch_io import BatchInput, BatchOutput, output_kind, parse_location, part_name
from cairn.serving.batch_score import score_frame
from cairn.settings import default_blobs_uri

#: Models a worker keeps loaded (the least recently used goes first): one job needs one.
KEEP_LOADED = 2

_LOCK = threading.Lock()
_LOADED: OrderedDict[WorkerModel, LoadedModel] = OrderedDict()
_LOADS: Counter[str] = Counter()


@dataclass(frozen=True, slots=True)
class WorkerModel:
    """What a task carries instead of the model: enough for a worker to load it."""

    pinned_uri: str
    store_uri: str
    blobs_uri: str | None

    @property
    def key(self) -> str:
        return f"{self.pinned_uri} from {self.store_uri}"


def worker_model(pinned_uri: str, store_uri: str) -> WorkerModel:
    """Where workers find the model: paths made absolute (a worker's working folder is its
    own), and an embedded store's blob folder named, not left to the worker's environment."""
    if is_remote(store_uri):
        return WorkerModel(pinned_uri, store_uri, None)
    if "://" not in store_uri:
        store_uri = os.path.abspath(store_uri)
    blobs = default_blobs_uri()
    if "://" not in blobs:
        blobs = os.path.abspath(blobs)
    return WorkerModel(pinned_uri, store_uri, blobs)


def loaded_model(spec: WorkerModel) -> LoadedModel:
    """The model for ``spec`` in this worker process, loaded from the store on first use."""
    with _LOCK:  # threads of one worker wait for the one load rather than each loading it
        model = _LOADED.get(spec)
        if model is None:
            tracking = connect(spec.store_uri, blobs_uri=spec.blobs_uri)
            try:
                model = load_model_from(tracking, spec.pinned_uri)
            finally:
                tracking.close()
            _LOADS[spec.key] += 1
            _LOADED[spec] = model
            while len(_LOADED) > KEEP_LOADED:
                _LOADED.popitem(last=False)
        else:
            _LOADED.move_to_end(spec)
        return model


def score_partition(frame: Any, spec: WorkerModel, keep: Sequence[str] | None, batch_rows: int) -> Any:
    """One partition scored on a worker (``map_partitions``' function)."""
    return score_frame(loaded_model(spec), frame, keep, batch_rows)


def worker_model_loads() -> dict[str, int]:
    """How many times this process loaded each model (``client.run`` it to see per worker)."""
    with _LOCK:
        return dict(_LOADS)


def score_on_dask(
    source: BatchInput,
    output: str,
    *,
    model: LoadedModel,
    pinned_uri: str,
    store_uri: str,
    batch_rows: int,
    keep: Sequence[str] | None,
    scheduler: str | None,
    overwrite: bool,
) -> int:
    """Score ``source`` into ``output`` on the cluster at ``scheduler`` (a local one when
    None); the number of rows written. ``model`` (loaded here) scores the first rows once, to
    check the input before any task runs and to tell Dask the output's columns."""
    try:
        import dask.dataframe as dd
        from distributed import Client, LocalCluster
    except ModuleNotFoundError:
        raise FrameworkNotInstalled(
            "the dask engine needs Dask: pip install 'cairn[dask]'", details={"package": "dask[dataframe] distributed"}
        ) from None
    location = parse_location(output)
    if source.location.is_s3 or location.is_s3:
        raise InvalidBatchInput(
            "the dask engine reads and writes local or shared paths; score s3:// data with --engine local",
            details={"path": source.location.text if source.location.is_s3 else output},
        )
    kind = output_kind(location)
    sink = BatchOutput(location, kind, overwrite=overwrite)
    parts = sink.staging_folder() or Path(tempfile.mkdtemp(prefix=".cairn-dask-", dir=Path(location.path).parent))
    spec = worker_model(pinned_uri, store_uri)
    cluster = None
    try:
        if source.kind == "csv":
            frame = dd.read_csv(source.files[0], blocksize="64MB")
        else:
            frame = dd.read_parquet(source.files if source.kind == "folder" else source.files[0])
        head = frame.partitions[0].head(min(batch_rows, 100), compute=False)
        if scheduler is None:
            cluster = LocalCluster(processes=True, host="127.0.0.1", dashboard_address=":0")  # type: ignore[no-untyped-call]
        with Client(cluster if cluster is not None else scheduler) as client:  # type: ignore[no-untyped-call]
            sample = client.compute(head).result()
            meta = score_frame(model, sample, keep, batch_rows).iloc[:0]
            scored = frame.map_partitions(score_partition, spec, keep, batch_rows, meta=meta)
            write = scored.to_parquet(
                str(parts),
                write_index=False,
                name_function=part_name,
                compute=False,
                write_metadata_file=False,
            )
            client.compute(write).result()
        rows = _count_rows(parts)
        if sink.staging_folder() is not None:
            sink.adopt(rows)
        else:
            _stream_parts(parts, sink)
        sink.commit()
        return rows
    except BaseException:
        sink.abort()
        raise
    finally:
        if parts != sink.staging_folder():
            shutil.rmtree(parts, ignore_errors=True)
        if cluster is not None:
            cluster.close()


def _part_files(parts: Path) -> list[Path]:
    return sorted(path for path in parts.iterdir() if path.name.endswith(".parquet"))


def _count_rows(parts: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(path).num_rows for path in _part_files(parts))


def _stream_parts(parts: Path, sink: BatchOutput) -> None:
    """The workers' parts, in order, into one file (a batch at a time: memory stays flat)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for path in _part_files(parts):
        for batch in pq.ParquetFile(path).iter_batches():
            sink.write(pa.Table.from_batches([batch]))
