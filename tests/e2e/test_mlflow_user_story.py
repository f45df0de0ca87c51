"""An MLflow user's unchanged training script, run as its own process against ``cairn server``
(a real process with two workers): autologging, a logged and registered model, an alias, the
model loaded back with ``mlflow.pyfunc`` — and all of it seen through Cairn's SDK."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.e2e.conftest import ServerProcess

from cairn.client.http import HttpTracking

pytest.importorskip("mlflow", reason="the MLflow client is in the test extra")

SCRIPT = textwrap.dedent(
    """
    import mlflow, mlflow.pyfunc, mlflow.sklearn, numpy as np
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    y = (X[:, 0] > 0).astype(int)
    mlflow.set_experiment("churn")
    mlflow.sklearn.autolog(log_models=False)
    with mlflow.start_run(run_name="baseline") as run:
        model = LogisticRegression(C=0.3).fit(X, y)
        mlflow.log_metric("holdout_auc", 0.91)
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name="churn",
                                        pip_requirements=["scikit-learn"])
    MlflowClient().set_registered_model_alias("churn", "champion", info.registered_model_version)
    loaded = mlflow.pyfunc.load_model("models:/churn@champion")
    assert (loaded.predict(X) == model.predict(X)).all()
    runs = mlflow.search_runs(experiment_names=["churn"], filter_string="metrics.holdout_auc > 0.9")
    print("RUN", run.info.run_id, len(runs), runs["params.C"].tolist())
    """
)


def test_an_unchanged_mlflow_script_runs_against_cairn_server(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server(workers=2)
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": server.url,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    done = subprocess.run(
        [sys.executable, "-W", "ignore", str(script)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RUN "))
    _, run_id, matches, c_values = line.split(" ", 3)
    assert (matches, c_values) == ("1", "['0.3']")

    api = HttpTracking(server.url)
    try:
        run = api.get_run(run_id)
        assert run.project == "churn"
        assert run.name == "baseline"
        assert run.params["C"] == "0.3"
        assert run.metrics["holdout_auc"].last == 0.91
        assert "training_accuracy_score" in run.metrics
        version = api.get_model_version_by_alias("churn", "champion")
        assert (version.version, version.run_id, version.flavor) == (1, run_id, "mlflow")
    finally:
        api.close()
