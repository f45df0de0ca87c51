"""``cairn predict``: files scored with a registered scikit-learn model, every row checked; bad
input gets one ``Error: … [code]`` line, exit status 1, and no output file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.serving.batch_fixtures import Scoring, log_iris_model, rows_to_score

from cairn.client.connect import connect

from .helpers import Invoke

pytest.importorskip("sklearn")
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture
def scoring() -> Scoring:
    return log_iris_model()


def test_a_parquet_file_larger_than_a_batch_is_scored_row_for_row(
    invoke: Invoke, scoring: Scoring, tmp_path: Path
) -> None:
    given = rows_to_score(scoring, 1500)
    given.to_parquet(tmp_path / "input.parquet")
    result = invoke(
        "predict", scoring.uri, "-i", str(tmp_path / "input.parquet"), "-o", str(tmp_path / "out.csv"),
        "--batch-rows", "200", "--keep", "id", "--project", "nightly",
    )  # fmt: skip
    assert result.stdout.startswith("Scored 1,500 rows with models:/iris@champion (version 1) in ")
    assert result.stdout.splitlines()[0].endswith(str(tmp_path / "out.csv"))
    scored = pd.read_csv(tmp_path / "out.csv")
    assert list(scored.columns) == ["id", "prediction"]
    np.testing.assert_array_equal(scored["id"].to_numpy(), np.arange(1500))
    np.testing.assert_array_equal(scored["prediction"].to_numpy(), scoring.model.predict(given[FEATURES]))

    run_id = result.stdout.splitlines()[1].split()[1]
    tracking = connect()
    try:
        run = tracking.get_run(run_id)
    finally:
        tracking.close()
    assert run.project == "nightly"
    assert run.params["model_version"] == 1
    assert run.metrics["rows"].last == 1500

    result = invoke(
        "predict", "models:/iris/1", "-i", str(tmp_path / "input.parquet"), "-o", str(tmp_path / "again.parquet"),
        "--predictions-only", "--no-run",
    )  # fmt: skip
    assert "Run " not in result.stdout
    again = pd.read_parquet(tmp_path / "again.parquet")
    assert list(again.columns) == ["prediction"]
    np.testing.assert_array_equal(again["prediction"].to_numpy(), scored["prediction"].to_numpy())


def test_bad_input_is_one_error_line_and_no_output(invoke: Invoke, scoring: Scoring, tmp_path: Path) -> None:
    given = rows_to_score(scoring, 50)
    given.drop(columns=["petal_length"]).to_csv(tmp_path / "missing.csv", index=False)
    given.to_csv(tmp_path / "input.csv", index=False)
    cases = [
        (["models:/nope@champion", "-i", "input.csv", "-o", "out.csv"], "[model_not_found]"),
        (["models:/iris@challenger", "-i", "input.csv", "-o", "out.csv"], "[alias_not_found]"),
        (["models:/iris/7", "-i", "input.csv", "-o", "out.csv"], "[model_version_not_found]"),
        (["nonsense", "-i", "input.csv", "-o", "out.csv"], "[invalid_model_uri]"),
        ([scoring.uri, "-i", "missing.csv", "-o", "out.csv"], "petal_length' [signature_mismatch]"),
        ([scoring.uri, "-i", "missing.csv", "-o", "out"], "[signature_mismatch]"),
        ([scoring.uri, "-i", "nope.parquet", "-o", "out.csv"], "no such file or folder"),
        ([scoring.uri, "-i", "input.csv", "-o", "input.csv"], "[already_exists]"),
    ]
    for args, expected in cases:
        args = [str(tmp_path / arg) if arg.endswith((".csv", ".parquet", "out")) else arg for arg in args]
        result = invoke("predict", *args, code=1)
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
        assert expected in result.stderr, result.stderr
        assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cairn-home", "input.csv", "missing.csv"]

    usage = invoke("predict", scoring.uri, "-i", "a.csv", "-o", "b.csv", "--batch-rows", "0", code=2)
    assert "--batch-rows" in usage.stderr
    usage = invoke("predict", scoring.uri, "-i", "a.csv", "-o", "b.csv", "--scheduler", "tcp://x:1", code=2)
    assert "--engine dask" in usage.stderr


def test_the_real_command_in_a_subprocess(scoring: Scoring, tmp_path: Path) -> None:
    given = rows_to_score(scoring, 300)
    folder = tmp_path / "input"
    folder.mkdir()
    given.iloc[:100].to_parquet(folder / "part-0.parquet")
    given.iloc[100:].to_parquet(folder / "part-1.parquet")
    given.iloc[:10].drop(columns=["sepal_width"]).to_parquet(tmp_path / "other.parquet")
    command = [sys.executable, "-m", "cairn", "predict", scoring.uri, "-i", str(folder), "-o", str(tmp_path / "out")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    scored = pd.read_parquet(tmp_path / "out")
    np.testing.assert_array_equal(scored["prediction"].to_numpy(), scoring.model.predict(given[FEATURES]))

    (tmp_path / "other.parquet").rename(folder / "part-2.parquet")
    command[-1] = str(tmp_path / "second")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert done.stderr == (
        "Error: part-2.parquet has another schema than part-0.parquet: it has no column 'sepal_width' "
        "[invalid_batch_input]\n"
    )
    assert not (tmp_path / "second").exists()
