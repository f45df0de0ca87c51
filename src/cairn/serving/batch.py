"""Batch scoring: ``cairn predict`` and ``cairn.predict`` (docs/batch-scoring.md).

A model from the store scores a table in memory, or files larger than memory: the local
engine streams record batches through one process (batch_io.py), the Dask engine runs the
same scoring as ``map_partitions`` on a cluster (batch_dask.py). Both write the same columns
(batch_score.py) and neither leaves a partial output behind on failure.

A registered model named by alias is pinned to the version the alias points at when scoring
starts, so every row (and every Dask worker) is scored by one version even if the alias moves
meanwhile. The scoring is recorded as a run (see :func:`predict`) so that a file of
predictions can be traced to the model version and the input that made it.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from cairn.client.connect import connect, resolve_uri
from cairn.client.models.loaded import LoadedModel
from cairn.client.models.transfer import load_model_from
from cairn.core.clock import now_ms
from cairn.core.entities import RunStatus, RunUpdate
from cairn.core.errors import InvalidValue
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.core.models.uri import RegisteredModelUri, parse_model_uri
from cairn.service.interface import Tracking
from cairn.serving.batch_io import (
    BatchInput,
    BatchOutput,
    OutputKind,
    open_input,
    output_kind,
    parse_location,
    require_pyarrow,
)
from cairn.serving.batch_score import score_frame

Engine = Literal["local", "dask"]
#: Rows per model call by default: large enough that per-call overhead is small, small enough
#: that a batch of a few hundred columns stays in the tens of megabytes.
DEFAULT_BATCH_ROWS = 50_000
#: The project scoring runs go to unless told otherwise.
DEFAULT_PROJECT = "batch-scoring"
MAX_BATCH_ROWS = 100_000_000


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a file-to-file :func:`predict` did."""

    output: str
    rows: int
    seconds: float
    model_uri: str  # as given
    resolved_uri: str  # the pinned version (``models:/NAME/VERSION``) or the ``runs:/`` URI
    model_version: int | None
    input_digest: str
    engine: str
    run_id: str | None


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    given: str
    pinned: str
    name: str | None
    version: int | None


def resolve_model(tracking: Tracking, model_uri: str) -> ResolvedModel:
    """``model_uri`` with an alias replaced by the version it points at now (AliasNotFound,
    ModelNotFound when there is none)."""
    parsed = parse_model_uri(model_uri)
    if not isinstance(parsed, RegisteredModelUri):
        return ResolvedModel(model_uri, str(parsed), None, None)
    version = parsed.version
    if version is None:
        assert parsed.alias is not None
        version = tracking.get_model_version_by_alias(parsed.name, parsed.alias).version
    pinned = RegisteredModelUri(parsed.name, version)
    return ResolvedModel(model_uri, str(pinned), parsed.name, version)


def predict(
    model_uri: str | LoadedModel,
    data_or_path: Any,
    *,
    output: str | None = None,
    engine: Engine = "local",
    scheduler: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    keep: Sequence[str] | None = None,
    overwrite: bool = False,
    uri: str | None = None,
    project: str | None = None,
    record_run: bool = True,
    progress: bool | None = None,
) -> Any:
    """Score a table with the model at ``model_uri`` (``models:/NAME@ALIAS``,
    ``models:/NAME/VERSION``, ``runs:/RUN_ID/NAME``, or a model ``cairn.load_model`` returned).

    ``data_or_path`` is a pandas DataFrame, then the scored DataFrame is returned; or the path
    (or ``s3://`` URL) of a CSV file, a Parquet file or a folder of Parquet files, then
    ``output`` names a ``.csv`` or ``.parquet`` file or a folder of Parquet parts to write and a
    :class:`BatchResult` is returned. The output holds the input's columns (only those ``keep``
    names, if given; ``keep=[]`` for none) followed by the predictions (``prediction``, or
    ``prediction_*`` for several per row), row for row in the input's order.

    ``engine="local"`` streams ``batch_rows`` rows at a time through this process;
    ``engine="dask"`` scores on the Dask cluster at ``scheduler`` (``tcp://HOST:PORT``; a
    local cluster when None), each worker loading the model once. ``uri`` (else
    ``CAIRN_URI``, else the embedded store) is where the model is read and the run recorded:
    in ``project`` (default ``batch-scoring``), with the input's digest, the model version,
    the rows, seconds and rows per second. On failure nothing is left at ``output``.
    """
    require_pyarrow()
    if not isinstance(batch_rows, int) or isinstance(batch_rows, bool) or not 1 <= batch_rows <= MAX_BATCH_ROWS:
        message = f"batch_rows must be an integer from 1 to {MAX_BATCH_ROWS}"
        raise InvalidValue(message, details={"batch_rows": repr(batch_rows)[:100]})
    if engine not in ("local", "dask"):
        raise InvalidValue(f"engine must be 'local' or 'dask', not {engine!r}", details={"engine": engine})
    store_uri = resolve_uri(uri)
    tracking = connect(store_uri)
    try:
        if isinstance(model_uri, LoadedModel):
            if engine == "dask":
                raise InvalidValue("the dask engine loads the model on its workers: give its URI, not a loaded model")
            resolved, model = ResolvedModel(model_uri.source, model_uri.source, None, None), model_uri
        else:
            resolved = resolve_model(tracking, model_uri)
            model = load_model_from(tracking, resolved.pinned, stacklevel=3)
        job = _Job(tracking, store_uri, resolved, model, batch_rows, keep, engine, project, record_run)
        if _is_frame(data_or_path):
            if engine == "dask":
                raise InvalidValue("the dask engine scores files: write the DataFrame as Parquet, or score it locally")
            return job.score_frame(data_or_path)
        if output is None:
            raise InvalidValue("an input path needs an output path to write the predictions to")
        source = open_input(str(data_or_path))
        location = parse_location(str(output))
        kind = output_kind(location)
        return job.score_files(source, location.text, kind, scheduler=scheduler, overwrite=overwrite, progress=progress)
    finally:
        tracking.close()


def _is_frame(data: Any) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(data, pd.DataFrame)


class _Job:
    """One scoring, and the run that records it."""

    def __init__(
        self,
        tracking: Tracking,
        store_uri: str,
        model: ResolvedModel,
        loaded: LoadedModel,
        batch_rows: int,
        keep: Sequence[str] | None,
        engine: Engine,
        project: str | None,
        record_run: bool,
    ) -> None:
        self.tracking = tracking
        self.store_uri = store_uri
        self.model = model
        self.loaded = loaded
        self.batch_rows = batch_rows
        self.keep = None if keep is None else list(keep)
        self.engine = engine
        self.project = project or DEFAULT_PROJECT
        self.record_run = record_run

    def score_frame(self, frame: Any) -> Any:
        from cairn.client.datasets import frame_digest

        run_id = self._start_run("dataframe", frame_digest(frame), None)
        started = time.perf_counter()
        try:
            scored = score_frame(self.loaded, frame, self.keep, self.batch_rows)
        except BaseException:
            self._end_run(run_id, RunStatus.FAILED)
            raise
        self._finish(run_id, len(frame), time.perf_counter() - started)
        return scored

    def score_files(
        self,
        source: BatchInput,
        output: str,
        kind: OutputKind,
        *,
        scheduler: str | None,
        overwrite: bool,
        progress: bool | None,
    ) -> BatchResult:
        digest = source.digest()
        run_id = self._start_run(source.location.text, digest, output)
        started = time.perf_counter()
        try:
            if self.engine == "dask":
                from cairn.serving.batch_dask import score_on_dask

                rows = score_on_dask(
                    source,
                    output,
                    model=self.loaded,
                    pinned_uri=self.model.pinned,
                    store_uri=self.store_uri,
                    batch_rows=self.batch_rows,
                    keep=self.keep,
                    scheduler=scheduler,
                    overwrite=overwrite,
                )
            else:
                sink = BatchOutput(parse_location(output), kind, overwrite=overwrite)
                rows = self._score_locally(source, sink, progress)
        except BaseException:
            self._end_run(run_id, RunStatus.FAILED)
            raise
        seconds = time.perf_counter() - started
        self._finish(run_id, rows, seconds)
        return BatchResult(
            output=output,
            rows=rows,
            seconds=seconds,
            model_uri=self.model.given,
            resolved_uri=self.model.pinned,
            model_version=self.model.version,
            input_digest=digest,
            engine=self.engine,
            run_id=run_id,
        )

    def _score_locally(self, source: BatchInput, sink: BatchOutput, progress: bool | None) -> int:
        import pyarrow as pa

        bar = _progress_bar(source.rows, progress)
        batches = source.batches(self.batch_rows)
        try:
            # Reading the next batch and writing the last one overlap with predicting this
            # one (pyarrow and most models release the GIL), one of each in flight at a time:
            # on two cores, a third faster, and memory still bounded by a few batches.
            with ThreadPoolExecutor(2, thread_name_prefix="cairn-predict-io") as io:
                reading = io.submit(next, batches, None)
                writing: Future[None] | None = None
                while (table := reading.result()) is not None:
                    reading = io.submit(next, batches, None)
                    scored = score_frame(self.loaded, table.to_pandas(), self.keep, self.batch_rows)
                    arrow = pa.Table.from_pandas(scored, preserve_index=False)
                    if writing is not None:
                        writing.result()
                    writing = io.submit(sink.write, arrow)
                    bar.update(table.num_rows)
                if writing is not None:
                    writing.result()
            sink.commit()
        except BaseException:
            sink.abort()
            raise
        finally:
            batches.close()
            bar.close()
        return sink.rows

    # -- the run

    def _start_run(self, source: str, digest: str, output: str | None) -> str | None:
        if not self.record_run:
            return None
        config = {
            "model_uri": self.model.given,
            "model_resolved_uri": self.model.pinned,
            "input": source,
            "input_digest": digest,
            "output": output or "",
            "engine": self.engine,
            "batch_rows": self.batch_rows,
        }
        tags = {"cairn.batch.model": self.model.pinned, "cairn.batch.input_digest": digest}
        if self.model.name is not None:
            tags["cairn.batch.model_name"] = self.model.name
            tags["cairn.batch.model_version"] = str(self.model.version)
            config["model_version"] = self.model.version
        name = f"predict {self.model.given}"[:250]
        run = self.tracking.create_run(self.project, name=name, config=config, tags=tags)
        return run.id

    def _finish(self, run_id: str | None, rows: int, seconds: float) -> None:
        if run_id is None:
            return
        at = now_ms()
        values = {"rows": float(rows), "seconds": seconds, "rows_per_second": rows / seconds if seconds > 0 else 0.0}
        columns = [MetricColumns.from_lists(key, [0], [at], [value]) for key, value in values.items()]
        self.tracking.log_metrics(run_id, MetricBatch(uuid.uuid4().hex, 0, columns))
        self._end_run(run_id, RunStatus.FINISHED)

    def _end_run(self, run_id: str | None, status: RunStatus) -> None:
        if run_id is not None:
            self.tracking.update_run(run_id, RunUpdate(status=status))


def _progress_bar(total: int | None, progress: bool | None) -> Any:
    """tqdm on stderr, shown only on a terminal unless ``progress`` says otherwise."""
    from tqdm import tqdm  # type: ignore[import-untyped]

    show = sys.stderr.isatty() if progress is None else progress
    return tqdm(total=total, unit="rows", unit_scale=True, disable=not show, file=sys.stderr, dynamic_ncols=True)
