"""``cairn serve FOLDER`` serves a scikit-learn model the real MLflow client saved, once the
folder has Cairn's manifest, in a process where MLflow cannot even be imported."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import httpx
import numpy as np
import pytest
from tests.helpers import make_cairn_model

from .conftest import classification_data, start_serve

pytest.importorskip("sklearn")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # importing MLflow warns about its own type hints
    pytest.importorskip("mlflow")
    import mlflow.pyfunc
    import mlflow.sklearn


@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # raised inside MLflow's save_model
def test_an_mlflow_sklearn_folder_is_served_without_mlflow(tmp_path: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier

    features, labels = classification_data()
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(features, labels)
    folder = tmp_path / "forest"
    mlflow.sklearn.save_model(
        forest,
        folder,
        input_example=features.head(3),
        serialization_format="skops",
        skops_trusted_types=["sklearn.tree._tree.Tree"],
        pip_requirements=["scikit-learn", "skops"],
    )
    manifest = make_cairn_model(folder)
    assert manifest.input_example is not None and manifest.runs_code_on_load is False
    # A package named mlflow that cannot be imported, first on the serving process's path.
    blocker = tmp_path / "no-mlflow" / "mlflow"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text('raise ImportError("MLflow is not installed here")\n')
    path = os.pathsep.join(filter(None, [str(blocker.parent), os.environ.get("PYTHONPATH")]))

    served = start_serve(str(folder), env={"CAIRN_HOME": str(tmp_path / "home"), "PYTHONPATH": path})
    try:
        rows = features[40:60]
        split = {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}
        answer = httpx.post(f"{served.url}/invocations", json={"dataframe_split": split}, timeout=30)
        assert answer.status_code == 200, answer.text
        np.testing.assert_array_equal(answer.json()["predictions"], forest.predict(rows))

        missing = httpx.post(f"{served.url}/invocations", json={"dataframe_records": [{"f0": 1.0}]}, timeout=30)
        assert missing.status_code == 400 and "f1" in missing.text
    finally:
        served.stop()
    assert "MLflow is not installed" not in served.output()


@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning", "ignore:.*type hint")
def test_an_mlflow_python_model_is_served_through_mlflow_pyfunc(tmp_path: Path) -> None:
    class Scorer(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined,misc]
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return model_input["f0"] * 2 - model_input["f1"]

    features, _ = classification_data(rows=30)
    folder = tmp_path / "scorer"
    mlflow.pyfunc.save_model(folder, python_model=Scorer(), input_example=features.head(2), pip_requirements=["pandas"])
    assert make_cairn_model(folder).loader["flavor"] == "python_function"

    served = start_serve(str(folder), env={"CAIRN_HOME": str(tmp_path / "home")})
    try:
        records = features.to_dict(orient="records")
        answer = httpx.post(f"{served.url}/invocations", json={"dataframe_records": records}, timeout=30)
        assert answer.status_code == 200, answer.text
        # A series is answered as the records of a one-column frame, as MLflow's server does.
        predicted = [next(iter(row.values())) for row in answer.json()["predictions"]]
        np.testing.assert_allclose(predicted, features.f0 * 2 - features.f1)
    finally:
        served.stop()
