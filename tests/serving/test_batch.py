"""``cairn.predict``: a real scikit-learn model from the embedded store scores DataFrames, CSV
and Parquet files and folders, locally, on a two-worker Dask cluster over TCP, and on moto's
S3; every output row is checked against the estimator's own prediction (docs/batch-scoring.md)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import cairn
from cairn.client.connect import connect
from cairn.core.errors import (
    AliasNotFound,
    AlreadyExists,
    InvalidBatchInput,
    InvalidValue,
    ModelNotFound,
    SignatureMismatch,
)
from cairn.serving.batch import BatchResult

from .batch_fixtures import Scoring, log_iris_model, rows_to_score

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture
def scoring() -> Scoring:
    return log_iris_model()


def expected(scoring: Scoring, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    return np.asarray(scoring.model.predict(frame[FEATURES]))


def check_scored(scoring: Scoring, scored: pd.DataFrame, given: pd.DataFrame) -> None:
    """Every row: the input's values, in the input's order, and the estimator's prediction."""
    assert list(scored.columns) == [*given.columns, "prediction"]
    assert len(scored) == len(given)
    np.testing.assert_array_equal(scored["id"].to_numpy(), given["id"].to_numpy())
    np.testing.assert_allclose(scored[FEATURES].to_numpy(), given[FEATURES].to_numpy())
    np.testing.assert_array_equal(scored["prediction"].to_numpy(), expected(scoring, given))


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if "cairn-tmp" in path.name or "cairn-dask" in path.name)


# -- in memory and local files ------------------------------------------------------------------


def test_a_dataframe_is_scored_in_batches_and_the_run_records_it(scoring: Scoring) -> None:
    given = rows_to_score(scoring, 1000)
    scored = cairn.predict(scoring.uri, given, batch_rows=128)
    check_scored(scoring, scored, given)
    assert list(cairn.predict(scoring.uri, given, keep=[]).columns) == ["prediction"]

    tracking = connect()
    try:
        runs = tracking.list_runs("batch-scoring").items
        assert len(runs) == 2
        run = tracking.get_run(runs[-1].id)
    finally:
        tracking.close()
    assert run.status == "finished"
    assert run.params["model_uri"] == "models:/iris@champion"
    assert run.params["model_resolved_uri"] == "models:/iris/1"
    assert run.params["input"] == "dataframe"
    assert run.tags["cairn.batch.model_version"] == "1"
    assert run.metrics["rows"].last == 1000


def test_a_parquet_file_larger_than_a_batch_becomes_a_csv_file(scoring: Scoring, tmp_path: Path) -> None:
    given = rows_to_score(scoring, 2500)
    given.to_parquet(tmp_path / "input.parquet")
    source, output = str(tmp_path / "input.parquet"), str(tmp_path / "out.csv")
    result = cairn.predict(scoring.uri, source, output=output, batch_rows=300)
    assert isinstance(result, BatchResult)
    assert (result.rows, result.model_version, result.resolved_uri) == (2500, 1, "models:/iris/1")
    check_scored(scoring, pd.read_csv(tmp_path / "out.csv"), given)
    assert leftovers(tmp_path) == []

    # The run names the input by the digest run.log_dataset would give it.
    from cairn.client.datasets import describe_dataset

    assert result.input_digest == describe_dataset(tmp_path / "input.parquet").digest
    tracking = connect()
    try:
        run = tracking.get_run(result.run_id or "")
    finally:
        tracking.close()
    assert run.params["input_digest"] == result.input_digest
    assert run.metrics["rows"].last == 2500 and run.metrics["rows_per_second"].last > 0


def test_a_csv_file_becomes_a_parquet_file(scoring: Scoring, tmp_path: Path) -> None:
    given = rows_to_score(scoring, 700)
    given.to_csv(tmp_path / "input.csv", index=False)
    cairn.predict(scoring.uri, str(tmp_path / "input.csv"), output=str(tmp_path / "out.parquet"), batch_rows=64)
    check_scored(scoring, pd.read_parquet(tmp_path / "out.parquet"), given)


def test_a_folder_in_natural_order_becomes_a_folder_of_parts(
    scoring: Scoring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = rows_to_score(scoring, 1200)
    folder = tmp_path / "input"
    folder.mkdir()
    # part-10 comes after part-2, as Dask and Spark read them; _SUCCESS is skipped.
    for index, start in zip([0, 1, 2, 10], range(0, 1200, 300), strict=True):
        given.iloc[start : start + 300].to_parquet(folder / f"part-{index}.parquet")
    (folder / "_SUCCESS").write_bytes(b"")
    monkeypatch.setattr("cairn.serving.batch_io.PART_ROWS", 500)
    result = cairn.predict(scoring.uri, str(folder), output=str(tmp_path / "scored"), batch_rows=200, keep=["id"])
    assert result.rows == 1200
    parts = sorted((tmp_path / "scored").iterdir())
    # A new part after 500 rows, at a batch's end: 600 and 600.
    assert [part.name for part in parts] == ["part-00000.parquet", "part-00001.parquet"]
    scored = pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True)
    assert list(scored.columns) == ["id", "prediction"]
    np.testing.assert_array_equal(scored["id"].to_numpy(), np.arange(1200))
    np.testing.assert_array_equal(scored["prediction"].to_numpy(), expected(scoring, given))
    assert leftovers(tmp_path) == []


class CountingPredictor:
    """The scikit-learn estimator, counting the rows of each call."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.calls: list[int] = []

    def predict(self, data: Any) -> Any:
        self.calls.append(len(data))
        return self.model.predict(data)


def test_memory_stays_flat_each_model_call_gets_at_most_batch_rows(scoring: Scoring, tmp_path: Path) -> None:
    # 40 times --batch-rows, in files whose row groups are not multiples of it.
    given = rows_to_score(scoring, 20_000)
    folder = tmp_path / "input"
    folder.mkdir()
    for index, start in enumerate(range(0, 20_000, 7_000)):
        table = pa.Table.from_pandas(given.iloc[start : start + 7_000])
        pq.write_table(table, folder / f"{index}.parquet", row_group_size=3_333)
    loaded = cairn.load_model("models:/iris/1")
    counting = CountingPredictor(loaded.model)
    loaded.model = counting
    cairn.predict(loaded, str(folder), output=str(tmp_path / "out.parquet"), batch_rows=500)
    assert sum(counting.calls) == 20_000
    assert max(counting.calls) <= 500
    assert len(counting.calls) == 40  # full batches across file and row-group boundaries
    check_scored(scoring, pd.read_parquet(tmp_path / "out.parquet"), given)


# -- bad input: a clear error, and no output ----------------------------------------------------


def test_a_csv_without_a_signature_column_fails_and_writes_nothing(scoring: Scoring, tmp_path: Path) -> None:
    given = rows_to_score(scoring, 300)
    # The column is missing from the third batch on: the first batches were written already.
    given.to_csv(tmp_path / "input.csv", index=False)
    given.drop(columns=["petal_width"]).to_csv(tmp_path / "missing.csv", index=False)
    for output in ("out.csv", "out.parquet", "out"):
        with pytest.raises(SignatureMismatch) as caught:
            cairn.predict(scoring.uri, str(tmp_path / "missing.csv"), output=str(tmp_path / output))
        assert "petal_width" in caught.value.message
        assert not (tmp_path / output).exists()
    assert leftovers(tmp_path) == []
    tracking = connect()
    try:
        statuses = {run.status for run in tracking.list_runs("batch-scoring").items}
    finally:
        tracking.close()
    assert statuses == {"failed"}


def test_a_failure_midway_leaves_no_partial_file(scoring: Scoring, tmp_path: Path) -> None:
    given = rows_to_score(scoring, 1000)
    given.to_parquet(tmp_path / "input.parquet")
    loaded = cairn.load_model("models:/iris/1")

    class FailsOnTheFourthCall(CountingPredictor):
        def predict(self, data: Any) -> Any:
            if len(self.calls) == 3:
                raise RuntimeError("out of memory")
            return super().predict(data)

    loaded.model = FailsOnTheFourthCall(loaded.model)
    for output in ("out.csv", "out.parquet", "out"):
        loaded.model.calls.clear()
        with pytest.raises(RuntimeError, match="out of memory"):
            cairn.predict(loaded, str(tmp_path / "input.parquet"), output=str(tmp_path / output), batch_rows=100)
        assert not (tmp_path / output).exists()
    assert leftovers(tmp_path) == []


def test_a_folder_file_of_another_schema_is_named_before_anything_is_written(scoring: Scoring, tmp_path: Path) -> None:
    given = rows_to_score(scoring, 200)
    folder = tmp_path / "input"
    folder.mkdir()
    given.iloc[:100].to_parquet(folder / "a.parquet")
    given.iloc[100:].astype({"sepal_width": "float32"}).to_parquet(folder / "b.parquet")
    with pytest.raises(InvalidBatchInput) as caught:
        cairn.predict(scoring.uri, str(folder), output=str(tmp_path / "out.csv"))
    assert caught.value.details == {"path": "b.parquet"}
    assert "'sepal_width' is float" in caught.value.message
    (folder / "b.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(InvalidBatchInput, match=r"b\.parquet is not a Parquet file"):
        cairn.predict(scoring.uri, str(folder), output=str(tmp_path / "out.csv"))
    (folder / "b.parquet").unlink()
    (folder / "notes.csv").write_text("a\n1\n")
    with pytest.raises(InvalidBatchInput, match=r"notes\.csv in the input folder is not a Parquet file"):
        cairn.predict(scoring.uri, str(folder), output=str(tmp_path / "out.csv"))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cairn-home", "input"]
    tracking = connect()
    try:
        # Refused before a run started.
        assert "batch-scoring" not in {project.name for project in tracking.list_projects()}
    finally:
        tracking.close()


def test_what_cannot_be_read_or_written_is_refused(scoring: Scoring, tmp_path: Path) -> None:
    given = rows_to_score(scoring, 10)
    given.to_csv(tmp_path / "input.csv", index=False)
    source = str(tmp_path / "input.csv")
    (tmp_path / "bad.csv").write_bytes(b"id,sepal_length,sepal_width,petal_length,petal_width\n1,\xff\xfe,1,1,1\n")
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "input.json").write_text("{}")
    cases: list[tuple[str, str, type[Exception], str]] = [
        (str(tmp_path / "nope.csv"), "out.csv", InvalidBatchInput, "no such file or folder"),
        (str(tmp_path / "input.json"), "out.csv", InvalidBatchInput, "neither a .csv nor a .parquet"),
        (str(tmp_path / "bad.csv"), "out.csv", InvalidBatchInput, "bad.csv: column 'sepal_length' is not UTF-8"),
        (str(tmp_path / "empty.csv"), "out.csv", InvalidBatchInput, "empty.csv cannot be read"),
        (source, "out.json", InvalidBatchInput, "an output is a .csv or .parquet file, or a folder"),
        (source, "input.csv", AlreadyExists, "exists already"),
        ("ftp://host/x.csv", "out.csv", InvalidBatchInput, "only local paths and s3:// URLs"),
        (source + "\x00", "out.csv", InvalidBatchInput, "not a path"),
    ]
    for where, output, error, message in cases:
        with pytest.raises(error, match=message):
            cairn.predict(scoring.uri, where, output=str(tmp_path / output))
    for bad in (0, -1, 10**12, True):
        with pytest.raises(InvalidValue, match="batch_rows"):
            cairn.predict(scoring.uri, source, output=str(tmp_path / "out.csv"), batch_rows=bad)
    with pytest.raises(InvalidValue, match="needs an output"):
        cairn.predict(scoring.uri, source)
    with pytest.raises(InvalidBatchInput, match="already has a column 'prediction'"):
        cairn.predict(scoring.uri, given.assign(prediction=1))
    with pytest.raises(SignatureMismatch, match="no column 'key' to keep"):
        cairn.predict(scoring.uri, given, keep=["key"])
    with pytest.raises(AliasNotFound):
        cairn.predict("models:/iris@challenger", source, output=str(tmp_path / "out.csv"))
    with pytest.raises(ModelNotFound):
        cairn.predict("models:/nope/1", source, output=str(tmp_path / "out.csv"))
    assert not (tmp_path / "out.csv").exists()

    # --overwrite replaces an output whole.
    (tmp_path / "out.csv").write_text("old")
    cairn.predict(scoring.uri, source, output=str(tmp_path / "out.csv"), overwrite=True)
    check_scored(scoring, pd.read_csv(tmp_path / "out.csv"), given)


# -- S3 (moto's server on loopback) -------------------------------------------------------------


def test_s3_in_and_out_through_the_blob_store_settings(
    scoring: Scoring, s3_endpoint: str, s3_bucket_uri: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import boto3

    monkeypatch.setenv("CAIRN_BLOBS_ENDPOINT", s3_endpoint)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    bucket = s3_bucket_uri.removeprefix("s3://").split("/")[0]
    given = rows_to_score(scoring, 900)
    for index, start in enumerate(range(0, 900, 300)):
        given.iloc[start : start + 300].to_parquet(tmp_path / "part.parquet")
        client.upload_file(str(tmp_path / "part.parquet"), bucket, f"prefix/input/part-{index}.parquet")
    given.to_csv(tmp_path / "input.csv", index=False)
    client.upload_file(str(tmp_path / "input.csv"), bucket, "prefix/input.csv")

    result = cairn.predict(scoring.uri, f"{s3_bucket_uri}/input", output=f"{s3_bucket_uri}/out.csv", batch_rows=250)
    assert result.rows == 900
    client.download_file(bucket, "prefix/out.csv", str(tmp_path / "out.csv"))
    check_scored(scoring, pd.read_csv(tmp_path / "out.csv"), given)

    cairn.predict(scoring.uri, f"{s3_bucket_uri}/input.csv", output=f"{s3_bucket_uri}/scored", batch_rows=250)
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=bucket, Prefix="prefix/scored/")["Contents"]]
    assert keys == ["prefix/scored/part-00000.parquet"]
    client.download_file(bucket, keys[0], str(tmp_path / "scored.parquet"))
    check_scored(scoring, pd.read_parquet(tmp_path / "scored.parquet"), given)

    with pytest.raises(AlreadyExists):
        cairn.predict(scoring.uri, f"{s3_bucket_uri}/input.csv", output=f"{s3_bucket_uri}/out.csv")
    with pytest.raises(SignatureMismatch):
        cairn.predict(scoring.uri, given.drop(columns=["petal_length"]).head(1), batch_rows=1)
    given.drop(columns=["petal_length"]).to_csv(tmp_path / "missing.csv", index=False)
    client.upload_file(str(tmp_path / "missing.csv"), bucket, "prefix/missing.csv")
    with pytest.raises(SignatureMismatch):
        cairn.predict(scoring.uri, f"{s3_bucket_uri}/missing.csv", output=f"{s3_bucket_uri}/failed.parquet")
    listed = client.list_objects_v2(Bucket=bucket, Prefix="prefix/failed")
    assert listed.get("Contents", []) == []
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(InvalidBatchInput, match="no such file"):
        cairn.predict(scoring.uri, f"{s3_bucket_uri}/nope.csv", output=str(tmp_path / "x.csv"))


# -- Dask: a LocalCluster of two worker processes over TCP on loopback --------------------------


@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("dask.dataframe")
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=":0",
        protocol="tcp",
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def loads_per_worker(scheduler: str) -> dict[str, dict[str, int]]:
    from distributed import Client

    from cairn.serving.batch_dask import worker_model_loads

    with Client(scheduler) as client:
        return client.run(worker_model_loads)  # type: ignore[no-any-return]


def test_dask_scores_a_parquet_folder_loading_the_model_once_per_worker(
    scoring: Scoring, dask_scheduler: str, tmp_path: Path
) -> None:
    assert dask_scheduler.startswith("tcp://127.0.0.1:")
    given = rows_to_score(scoring, 3000)
    folder = tmp_path / "input"
    folder.mkdir()
    for index, start in enumerate(range(0, 3000, 250)):  # 12 files, 12 partitions
        given.iloc[start : start + 250].to_parquet(folder / f"part-{index}.parquet")
    on_dask = {"engine": "dask", "scheduler": dask_scheduler, "batch_rows": 100}
    result = cairn.predict(scoring.uri, str(folder), output=str(tmp_path / "scored"), **on_dask)
    assert (result.rows, result.engine, result.model_version) == (3000, "dask", 1)
    parts = sorted((tmp_path / "scored").iterdir())
    assert len(parts) == 12
    scored = pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True)
    check_scored(scoring, scored, given)
    assert leftovers(tmp_path) == []

    # Twelve tasks, two workers, and the model loaded from the store once in each that worked.
    key = f"models:/iris/1 from {os.path.abspath(os.environ['CAIRN_HOME'])}/cairn.db"
    loads = {worker: counts.get(key, 0) for worker, counts in loads_per_worker(dask_scheduler).items()}
    assert len(loads) == 2
    assert set(loads.values()) <= {0, 1} and sum(loads.values()) >= 1

    # Into one file, again: the cached model is reused, nothing is loaded twice.
    cairn.predict(scoring.uri, str(folder), output=str(tmp_path / "out.csv"), **on_dask)
    check_scored(scoring, pd.read_csv(tmp_path / "out.csv"), given)
    again = {worker: counts.get(key, 0) for worker, counts in loads_per_worker(dask_scheduler).items()}
    assert set(again.values()) <= {0, 1}


def test_dask_failures_leave_no_output(scoring: Scoring, dask_scheduler: str, tmp_path: Path) -> None:
    given = rows_to_score(scoring, 400)
    folder = tmp_path / "input"
    folder.mkdir()
    given.iloc[:200].to_parquet(folder / "part-0.parquet")
    given.iloc[200:].drop(columns=["petal_width"]).to_parquet(folder / "part-1.parquet")
    with pytest.raises(InvalidBatchInput, match="part-1.parquet has another schema"):
        cairn.predict(scoring.uri, str(folder), output=str(tmp_path / "out"), engine="dask", scheduler=dask_scheduler)
    given.drop(columns=["petal_width"]).to_csv(tmp_path / "missing.csv", index=False)
    for output in ("out", "out.parquet"):
        with pytest.raises(SignatureMismatch, match="petal_width"):
            source = str(tmp_path / "missing.csv")
            cairn.predict(scoring.uri, source, output=str(tmp_path / output), engine="dask", scheduler=dask_scheduler)
        assert not (tmp_path / output).exists()
    assert leftovers(tmp_path) == []
    with pytest.raises(InvalidValue, match="dask engine scores files"):
        cairn.predict(scoring.uri, given, engine="dask", scheduler=dask_scheduler)
