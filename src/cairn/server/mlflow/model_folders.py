"""MLflow model folders as Cairn models: where a model's files are, and the manifest that lets
Cairn's registry, loader and ``cairn serve`` read them.

MLflow's client uploads a model as a folder of files with an ``MLmodel`` file at its root,
either as a logged model (MLflow 3: ``models:/m-…``, kept here among its run's artifacts under
``models/m-…``) or among a run's own artifacts (``runs:/RUN_ID/model``, as MLflow 2 did). Cairn
knows a model folder by its ``cairn-model.json``; :func:`write_cairn_manifest` writes one from
the ``MLmodel`` (flavor ``mlflow``: core/models/mlflow_model.py) when a logged model is
finalized and again before a folder is registered, so the manifest lists the files as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from cairn.core.artifacts import Artifact
from cairn.core.errors import ArtifactNotFound
from cairn.core.models.manifest import MANIFEST_NAME, manifest_to_json
from cairn.core.models.mlflow_model import manifest_for_mlflow_folder
from cairn.core.models.uri import RunModelUri, parse_runs_uri
from cairn.server.mlflow.artifacts import run_artifact_path
from cairn.server.mlflow.entities import experiment_id
from cairn.server.mlflow.errors import INVALID_PARAMETER_VALUE, MlflowApiError
from cairn.service.tracking import TrackingService

MLMODEL = "MLmodel"
REQUIREMENTS = "requirements.txt"
_LOGGED_MODEL_URI = "models:/"
_RUNS_URI = "runs:/"
_ARTIFACTS_URI = "mlflow-artifacts:/"


@dataclass(frozen=True, slots=True)
class ModelFolder:
    """A model's files among a run's artifacts, and the logged model they belong to, if any."""

    run_id: str
    path: str
    logged_model_id: str | None = None

    @property
    def runs_uri(self) -> str:
        return str(RunModelUri(self.run_id, self.path))


def folder_of_source(tracking: TrackingService, source: str, run_id: str | None = None) -> ModelFolder:
    """Where the files a model version's ``source`` names are: ``models:/m-…`` (a logged
    model), ``runs:/RUN_ID/PATH``, ``mlflow-artifacts:/EXP/RUN_ID/artifacts/PATH``, or a path
    in ``run_id``'s artifacts. Raises MlflowApiError or InvalidModelUri for any other source;
    LoggedModelNotFound."""
    if source.startswith(_LOGGED_MODEL_URI) and "/" not in source.removeprefix(_LOGGED_MODEL_URI):
        model = tracking.get_logged_model(source.removeprefix(_LOGGED_MODEL_URI))
        return ModelFolder(model.run_id, model.path, model.id)
    if source.startswith(_RUNS_URI):
        parsed = parse_runs_uri(source)
        return ModelFolder(parsed.run_id, parsed.path)
    if source.startswith(_ARTIFACTS_URI):
        where = run_artifact_path(source.removeprefix(_ARTIFACTS_URI))
        return _checked_folder(where.run_id, where.relative, source)
    if run_id and not any(source.startswith(scheme) for scheme in ("s3:", "gs:", "file:", "dbfs:", "/")):
        return _checked_folder(run_id, source.strip("/"), source)
    raise MlflowApiError(
        f"Unsupported model version source {source!r}: Cairn registers models:/MODEL_ID, runs:/RUN_ID/PATH "
        "or mlflow-artifacts:/EXPERIMENT_ID/RUN_ID/artifacts/PATH",
        INVALID_PARAMETER_VALUE,
    )


def _checked_folder(run_id: str, path: str, source: str) -> ModelFolder:
    if not run_id or not path:
        raise MlflowApiError(f"Model version source {source!r} names no run and path", INVALID_PARAMETER_VALUE)
    return ModelFolder(run_id, path)


def folder_artifact_uri(tracking: TrackingService, folder: ModelFolder) -> str:
    """The folder as MLflow's proxied-artifact URI, which MLflow's client downloads from."""
    run = tracking.get_run(folder.run_id, details=False)
    return f"mlflow-artifacts:/{experiment_id(run.project_id, run.project)}/{run.id}/artifacts/{folder.path}"


def write_cairn_manifest(tracking: TrackingService, folder: ModelFolder) -> bool:
    """Write ``cairn-model.json`` into an MLflow model folder, listing its files as they are
    now; False (and nothing written) when the folder has no ``MLmodel``. Raises
    InvalidManifest for an ``MLmodel`` Cairn cannot read."""
    files = _files(tracking, folder)
    if MLMODEL not in files:
        return False
    _write_manifest(tracking, folder, files)
    return True


def ensure_cairn_manifest(tracking: TrackingService, folder: ModelFolder) -> None:
    """Before registering: the folder must be a Cairn model or an MLflow one (then its manifest
    is written). Raises ArtifactNotFound naming the folder when it is neither."""
    files = _files(tracking, folder)
    if MLMODEL in files:
        _write_manifest(tracking, folder, files)
    elif MANIFEST_NAME not in files:
        raise ArtifactNotFound(
            f"run {folder.run_id} has no model at {folder.path!r} (neither an MLmodel nor a {MANIFEST_NAME})",
            details={"run_id": folder.run_id, "path": folder.path},
        )


def _files(tracking: TrackingService, folder: ModelFolder) -> dict[str, Artifact]:
    """The folder's files by their path inside it."""
    prefix = folder.path + "/"
    listed = tracking.list_artifacts(folder.run_id, folder.path)
    return {a.path.removeprefix(prefix): a for a in listed if a.path != folder.path}


def _write_manifest(tracking: TrackingService, folder: ModelFolder, files: dict[str, Artifact]) -> None:
    listed = {path: artifact.digest for path, artifact in files.items() if path != MANIFEST_NAME}
    manifest = manifest_for_mlflow_folder(
        _read(tracking, folder, MLMODEL),
        _read(tracking, folder, REQUIREMENTS) if REQUIREMENTS in listed else None,
        listed,
    )
    content = manifest_to_json(manifest)
    tracking.write_artifact(folder.run_id, f"{folder.path}/{MANIFEST_NAME}", [content], media_type="application/json")


def _read(tracking: TrackingService, folder: ModelFolder, name: str) -> bytes:
    return b"".join(tracking.read_artifact(folder.run_id, f"{folder.path}/{name}"))
