"""``cairn monitor upload``: a Parquet or CSV file of predictions made elsewhere, logged per UTC
hour, with what does not match the signature said and kept; bad files and times refused with
one Error: line (docs/cli.md)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest
from tests.contract.test_registry import trained_run

from cairn.client.connect import connect
from cairn.core.prediction_logs import HOUR_MS, hour_of
from cairn.service.interface import Tracking

from .helpers import Invoke

EARLIER = hour_of(pd.Timestamp.now(tz="UTC").value // 1_000_000) - 4 * HOUR_MS


@pytest.fixture
def embedded(store_uri: str) -> Iterator[Tracking]:
    """The store the commands use, with the blob store under CAIRN_HOME, as theirs is."""
    tracking = connect(store_uri)
    try:
        yield tracking
    finally:
        tracking.close()


@pytest.fixture
def model(embedded: Tracking, tmp_path: Path) -> str:
    """ "scorer" version 1, whose signature takes x (double)."""
    embedded.register_model(f"runs:/{trained_run(embedded, tmp_path)}/model", "scorer")
    return "scorer"


def stored(tracking: Tracking) -> pd.DataFrame:
    files = tracking.list_prediction_logs("scorer", 1).items
    tables = [pq.read_table(io.BytesIO(tracking.read_prediction_log("scorer", 1, f.id))) for f in files]
    return pd.concat([t.to_pandas() for t in tables], ignore_index=True)


def test_a_parquet_file_is_uploaded_per_hour(
    invoke: Invoke, store_uri: str, embedded: Tracking, model: str, tmp_path: Path
) -> None:
    path = tmp_path / "predictions.parquet"
    pd.DataFrame(
        {
            "x": [0.1, 0.2, 0.3, 0.4],
            "prediction": [1, 0, 1, 1],
            "timestamp_ms": [EARLIER + HOUR_MS + 9, EARLIER + 1, EARLIER + 2, EARLIER + HOUR_MS],
            "request_id": ["a", "b", "c", "d"],
        }
    ).to_parquet(path, index=False)
    result = invoke("monitor", "upload", model, "1", str(path), "--uri", store_uri)
    assert "Uploaded 4 rows of scorer version 1 in 2 files, 2 hour partitions" in result.stdout
    assert "Every input column matches the version's signature." in result.stdout
    frame = stored(embedded)
    assert sorted(frame["request_id"]) == ["a", "b", "c", "d"]
    assert list(frame.columns[:2]) == ["x", "prediction"] and frame["model_version"].eq(1).all()


def test_a_csv_file_with_outputs_named_and_mismatches_counted(
    invoke: Invoke, store_uri: str, embedded: Tracking, model: str, tmp_path: Path
) -> None:
    path = tmp_path / "scored.csv"
    path.write_text("x,city,label,score,when\nfast,oslo,1,0.9,1\nslow,lima,0,0.2,2\n")
    result = invoke(
        "monitor", "upload", model, "1", str(path), "--output", "label", "--output", "score",
        "--timestamp", "when", "--uri", store_uri, "--json",
    )  # fmt: skip
    summary = orjson.loads(result.stdout)
    assert (summary["rows"], summary["files"], summary["mismatched_rows"]) == (2, 1, 2)
    assert summary["partitions"] == [0]  # "when" is 1 and 2 ms after the epoch
    assert summary["mismatches"] == [
        {"column": "x", "problem": "type", "expected": "double", "found": "string"},
        {"column": "city", "problem": "extra", "expected": None, "found": "string"},
    ]
    frame = stored(embedded)
    assert list(frame["prediction.label"]) == [1, 0] and list(frame["prediction.score"]) == [0.9, 0.2]
    assert frame["request_id"].str.len().eq(32).all()  # made, since the file had none

    text = invoke("monitor", "upload", model, "1", str(path), "--output", "label", "--output", "score",
                  "--uri", store_uri).stdout  # fmt: skip
    assert "Mismatches with the signature (2 rows kept):" in text
    assert "  x: string where the signature takes double" in text
    assert "  when: extra (integer, not in the signature)" in text


def test_bad_files_and_times_are_one_error_line(
    invoke: Invoke, store_uri: str, embedded: Tracking, model: str, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"not parquet at all")
    result = invoke("monitor", "upload", model, "1", str(garbage), "--uri", store_uri, code=1)
    assert (
        "garbage.parquet cannot be read as a Parquet file" in result.stderr and "[invalid_batch_input]" in result.stderr
    )

    no_output = tmp_path / "no-output.csv"
    no_output.write_text("x,y\n1,2\n")
    result = invoke("monitor", "upload", model, "1", str(no_output), "--uri", store_uri, code=1)
    assert "has no output column 'prediction'" in result.stderr

    future = tmp_path / "future.csv"
    future.write_text(f"x,prediction,timestamp_ms\n1.0,1,{EARLIER + 400 * HOUR_MS}\n")
    result = invoke("monitor", "upload", model, "1", str(future), "--uri", store_uri, code=1)
    assert "[invalid_prediction_time]" in result.stderr

    words = tmp_path / "words.csv"
    words.write_text("x,prediction,timestamp_ms\n1.0,1,yesterday\n")
    result = invoke("monitor", "upload", model, "1", str(words), "--uri", store_uri, code=1)
    assert "[invalid_prediction_time]" in result.stderr
    result = invoke("monitor", "upload", model, "9", str(words), "--uri", store_uri, "--timestamp", "none", code=1)
    assert "[model_version_not_found]" in result.stderr
    assert embedded.list_prediction_logs("scorer").items == []
