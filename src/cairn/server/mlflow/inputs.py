"""MLflow's run inputs (``runs/log-inputs``, ``run.inputs.dataset_inputs``) on Cairn's datasets.

An MLflow dataset is a description, not content: a name, MLflow's own digest, where it came
from (``source_type`` and ``source``, a JSON text) and, optionally, a schema and a profile
(JSON texts too). Cairn keeps it as a dataset version of the run's project (docs/mlflow.md):

- the version is named by MLflow's digest, kept as it came, with the source kind ``mlflow``;
  logging the same name and digest again is the same version, as in MLflow's own store;
- what Cairn's dashboard and query language read is filled in from it: the source's URI, the
  rows (``num_rows`` of the profile) and the columns of an ``mlflow_colspec`` schema;
- the four texts themselves are kept in the version's profile under ``"mlflow"``, so that
  MLflow's client reads back exactly what it sent;
- the input tag ``mlflow.data.context`` is the input's context; without one it is
  :data:`NO_CONTEXT`, which reads back without the tag. Other input tags have nowhere to go
  and are refused rather than dropped.

Reading them back is :func:`~cairn.server.mlflow.entities.inputs_json`, part of the run's
message. A write to a deleted run is INVALID_PARAMETER_VALUE, as on runs.py's routes. Model
inputs (MLflow 3's logged models) are accepted and not kept yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from fastapi import APIRouter

from cairn.core import limits
from cairn.core.artifacts import MLFLOW_SOURCE_KIND, DatasetSpec, RunInput
from cairn.server.jsonresponse import JsonResponse
from cairn.server.mlflow.entities import CONTEXT_TAG, MLFLOW_PROFILE_KEY, NO_CONTEXT, inputs_json
from cairn.server.mlflow.errors import INVALID_PARAMETER_VALUE, MlflowApiError
from cairn.server.mlflow.runs import _to_active_run
from cairn.server.mlflow.wire import Message, add_message_routes, optional_str, repeated, required_str
from cairn.service.tracking import TrackingService

router = APIRouter()

#: MLflow's own limits (mlflow.utils.validation): the texts' lengths, and datasets per request.
MAX_SOURCE_TYPE_LENGTH = 500
MAX_SOURCE_LENGTH = 65_535
MAX_SCHEMA_LENGTH = 1_048_575
MAX_PROFILE_LENGTH = 16_777_215
MAX_DATASETS_PER_REQUEST = 1000
#: Keys of MLflow's sources that hold where the data is, in the order they are looked for
#: (``uri`` of local and S3 sources, ``url`` of HTTP, ``path``/``table`` of Spark and Delta…).
_SOURCE_LOCATION_KEYS = ("uri", "url", "path", "table", "delta_table_name")


def _text(item: Message, name: str, where: str, limit: int) -> str | None:
    value = optional_str(item, name)
    if value is not None and len(value) > limit:
        raise MlflowApiError(
            f"'{where}.{name}' is {len(value)} characters long; the limit is {limit}", INVALID_PARAMETER_VALUE
        )
    return value


def _json_object(text: str | None) -> dict[str, Any]:
    """A JSON text's object, or an empty one: these texts are MLflow's to shape, not Cairn's."""
    if not text:
        return {}
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _source_uri(source: str) -> str:
    found = _json_object(source)
    for key in _SOURCE_LOCATION_KEYS:
        value = found.get(key)
        if isinstance(value, str) and "\x00" not in value and len(value) <= limits.MAX_DATASET_SOURCE_LENGTH:
            return value
    return ""


def _columns(schema: str | None) -> list[dict[str, Any]]:
    specs = _json_object(schema).get("mlflow_colspec")
    if not isinstance(specs, list):
        return []
    columns = []
    for spec in specs:
        if isinstance(spec, dict):
            kind = spec.get("type", "")
            columns.append({"name": str(spec.get("name", "")), "type": kind if isinstance(kind, str) else "object"})
    return columns


def _rows(profile: str | None) -> int | None:
    rows = _json_object(profile).get("num_rows")
    if isinstance(rows, int) and not isinstance(rows, bool) and 0 <= rows < 2**63:
        return rows
    return None


def _context(item: Message, where: str) -> str:
    context = NO_CONTEXT
    for index, tag in enumerate(repeated(item, "tags")):
        if not isinstance(tag, dict):
            raise MlflowApiError(f"'{where}.tags[{index}]' must be an object with a key and a value")
        key = required_str(tag, "key")
        if key != CONTEXT_TAG:
            raise MlflowApiError(
                f"Cairn keeps only the input tag {CONTEXT_TAG!r} of a dataset input, not {key!r}",
                INVALID_PARAMETER_VALUE,
            )
        context = required_str(tag, "value")
    return context


def dataset_input(item: Any, index: int) -> tuple[DatasetSpec, str]:
    """One of LogInputs' ``datasets`` as a Cairn dataset version and the input's context."""
    where = f"datasets[{index}]"
    if not isinstance(item, dict) or not isinstance(item.get("dataset"), dict):
        raise MlflowApiError(f"'{where}' must be an object with a 'dataset'", INVALID_PARAMETER_VALUE)
    dataset: Message = item["dataset"]
    name = required_str(dataset, "name")
    digest = required_str(dataset, "digest")
    source_type = required_str(dataset, "source_type")
    source = required_str(dataset, "source")
    _text(dataset, "source_type", f"{where}.dataset", MAX_SOURCE_TYPE_LENGTH)
    _text(dataset, "source", f"{where}.dataset", MAX_SOURCE_LENGTH)
    schema = _text(dataset, "schema", f"{where}.dataset", MAX_SCHEMA_LENGTH)
    profile = _text(dataset, "profile", f"{where}.dataset", MAX_PROFILE_LENGTH)
    texts = {"source_type": source_type, "source": source, "schema": schema, "profile": profile}
    columns = _columns(schema)
    spec = DatasetSpec(
        name=name,
        digest=digest,
        source_uri=_source_uri(source),
        source_kind=MLFLOW_SOURCE_KIND,
        rows=_rows(profile),
        columns=len(columns) if columns else None,
        schema=columns,
        profile={MLFLOW_PROFILE_KEY: {key: value for key, value in texts.items() if value is not None}},
    )
    return spec, _context(item, where)


def inputs_of_runs(tracking: TrackingService, project_id: str, run_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The ``inputs`` of several runs of one project: its dataset versions are read once (with
    the runs that used each), rather than once per run."""
    wanted = set(run_ids)
    if not wanted:
        return {}
    found: dict[str, list[RunInput]] = {}
    for version in tracking.list_datasets(project_id):
        for run_id, context in version.used_by:
            if run_id in wanted:
                found.setdefault(run_id, []).append(RunInput(dataset=version, context=context))
    return {run_id: inputs_json(run_inputs) for run_id, run_inputs in found.items()}


@_to_active_run
def _log_inputs(tracking: TrackingService, message: Message) -> JsonResponse:
    run_id = required_str(message, "run_id")
    items = repeated(message, "datasets")
    if len(items) > MAX_DATASETS_PER_REQUEST:
        raise MlflowApiError(
            f"A request can log at most {MAX_DATASETS_PER_REQUEST} datasets, got {len(items)}", INVALID_PARAMETER_VALUE
        )
    # All read before any is logged: a malformed one refuses the request before anything of it
    # is stored.
    inputs = [dataset_input(item, index) for index, item in enumerate(items)]
    for index, model in enumerate(repeated(message, "models")):
        if not isinstance(model, dict):
            raise MlflowApiError(f"'models[{index}]' must be an object with a 'model_id'", INVALID_PARAMETER_VALUE)
        required_str(model, "model_id")  # checked, not kept: Cairn has no MLflow logged models yet
    if not inputs:
        tracking.get_run(run_id)  # an unknown run is still RESOURCE_DOES_NOT_EXIST
    for spec, context in inputs:
        tracking.log_dataset(run_id, spec, context)
    return JsonResponse({})


add_message_routes(router, [("POST", "/runs/log-inputs", _log_inputs)])
