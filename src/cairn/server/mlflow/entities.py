"""Cairn's projects and runs as MLflow's JSON messages (``Experiment``, ``Run``).

The conventions every MLflow route shares (docs/mlflow.md):

- an experiment is a project, and its ``experiment_id`` the project's id, except that the
  project named ``Default`` is MLflow's default experiment ``"0"`` (made on first use);
- a run's ``run_id`` (and ``run_uuid``) is Cairn's run id; its artifacts live at
  ``mlflow-artifacts:/<experiment_id>/<run_id>/artifacts``, an experiment's at
  ``mlflow-artifacts:/<experiment_id>``;
- MLflow's params are text: a param Cairn's SDK logged as a number or a boolean is shown as
  Python's ``str`` of it, which is what MLflow's client would have sent for the same value;
- the system tags ``mlflow.runName``, ``mlflow.user`` and ``mlflow.note.content`` are the run's
  name, user and notes, kept once in the run itself and written out in every answer.
- a run's ``inputs.dataset_inputs`` are its Cairn run inputs: the texts MLflow's client sent,
  as server/mlflow/inputs.py keeps them, or a dataset Cairn's SDK logged described in them.

Numbers follow proto3's JSON mapping: a non-finite double is the string ``"NaN"``,
``"Infinity"`` or ``"-Infinity"``, which MLflow's client parses back into the float.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from cairn.core.artifacts import MLFLOW_SOURCE_KIND, RunInput
from cairn.core.entities import ParamValue, Project, Run, RunStatus
from cairn.core.limits import wire_float

#: MLflow's default experiment, and the Cairn project that plays it.
DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"

RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"
#: MLflow's description of a run (``start_run(description=...)``): Cairn's run notes.
NOTE_TAG = "mlflow.note.content"
#: Tags that are fields of the run in Cairn, not stored tags.
RUN_FIELD_TAGS = frozenset({RUN_NAME_TAG, USER_TAG, NOTE_TAG})

#: The input tag holding a dataset input's context (server/mlflow/inputs.py).
CONTEXT_TAG = "mlflow.data.context"
#: The context of an input MLflow's client sent without one (Cairn's inputs always have one).
NO_CONTEXT = "unspecified"
#: Where a dataset version's profile keeps the texts MLflow's client sent.
MLFLOW_PROFILE_KEY = "mlflow"
#: A Cairn source kind as MLflow's ``source_type``, for datasets Cairn's SDK logged.
_SOURCE_TYPES = {"file": "local", "folder": "local", "dataframe": "code", "array": "code"}

ACTIVE = "active"
DELETED = "deleted"


def experiment_id(project_id: str, project_name: str) -> str:
    return DEFAULT_EXPERIMENT_ID if project_name == DEFAULT_EXPERIMENT_NAME else project_id


def experiment_artifact_location(exp_id: str) -> str:
    return f"mlflow-artifacts:/{exp_id}"


def run_artifact_uri(exp_id: str, run_id: str) -> str:
    return f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts"


def experiment_json(project: Project, *, tags: Mapping[str, str] | None = None) -> dict[str, Any]:
    """MLflow's ``Experiment`` message of a project, with its tags (read separately, so that
    a listing may read them for a whole page at once)."""
    exp_id = experiment_id(project.id, project.name)
    last_update = max(project.created_at, project.last_activity or 0)
    return {
        "experiment_id": exp_id,
        "name": project.name,
        "artifact_location": experiment_artifact_location(exp_id),
        "lifecycle_stage": DELETED if project.deleted else ACTIVE,
        "creation_time": project.created_at,
        "last_update_time": last_update,
        "tags": _key_values(tags or {}),
    }


def run_status(status: RunStatus) -> str:
    return status.value.upper()


def param_text(value: ParamValue) -> str:
    """A param as MLflow's text; a string comes back exactly as it was logged."""
    return value if isinstance(value, str) else str(value)


def run_info_json(run: Run) -> dict[str, Any]:
    exp_id = experiment_id(run.project_id, run.project)
    info: dict[str, Any] = {
        "run_id": run.id,
        "run_uuid": run.id,
        "run_name": run.name,
        "experiment_id": exp_id,
        "user_id": run.user,
        "status": run_status(run.status),
        "start_time": run.start_time,
        "artifact_uri": run_artifact_uri(exp_id, run.id),
        "lifecycle_stage": DELETED if run.deleted else ACTIVE,
    }
    if run.end_time is not None:
        info["end_time"] = run.end_time
    return info


def run_json(
    run: Run, *, inputs: dict[str, Any] | None = None, output_models: list[str] | None = None
) -> dict[str, Any]:
    """MLflow's ``Run`` message: its info, and its data with each metric's latest point; with
    ``output_models``, the ids of the logged models the run produced (MLflow 3's outputs)."""
    tags = {**run.tags, RUN_NAME_TAG: run.name, USER_TAG: run.user}
    if run.notes:
        tags[NOTE_TAG] = run.notes
    metrics = [
        {"key": key, "value": wire_float(m.last), "timestamp": m.last_timestamp, "step": m.last_step}
        for key, m in run.metrics.items()
    ]
    params = [{"key": key, "value": param_text(value)} for key, value in run.params.items()]
    return {
        "info": run_info_json(run),
        "data": {"metrics": metrics, "params": params, "tags": _key_values(tags)},
        "inputs": inputs or {},
        "outputs": {"model_outputs": [{"model_id": model_id, "step": 0} for model_id in output_models or ()]},
    }


def dataset_input_json(run_input: RunInput) -> dict[str, Any]:
    """MLflow's ``DatasetInput`` of one of a run's inputs."""
    version = run_input.dataset
    kept = version.profile.get(MLFLOW_PROFILE_KEY) if version.source_kind == MLFLOW_SOURCE_KIND else None
    if isinstance(kept, dict):
        texts = {key: value for key, value in kept.items() if isinstance(value, str)}
    else:
        source: dict[str, Any] = {"uri": version.source_uri} if version.source_uri else {"tags": {}}
        texts = {
            "source_type": _SOURCE_TYPES.get(version.source_kind, version.source_kind),
            "source": orjson.dumps(source).decode(),
            "schema": orjson.dumps({"cairn_schema": version.schema}).decode(),
            "profile": orjson.dumps({"num_rows": version.rows, **version.profile}).decode(),
        }
    tags = [] if run_input.context == NO_CONTEXT else [{"key": CONTEXT_TAG, "value": run_input.context}]
    return {"tags": tags, "dataset": {"name": version.name, "digest": version.digest, **texts}}


def inputs_json(run_inputs: Iterable[RunInput]) -> dict[str, Any]:
    """MLflow's ``RunInputs`` message; empty (as MLflow answers it) for a run without inputs."""
    dataset_inputs = [dataset_input_json(run_input) for run_input in run_inputs]
    return {"dataset_inputs": dataset_inputs} if dataset_inputs else {}


def _key_values(mapping: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in mapping.items()]
