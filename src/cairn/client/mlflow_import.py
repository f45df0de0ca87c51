"""Copy an MLflow tracking store into Cairn: experiments become projects, runs become runs.

The source is read with MLflow's own client, so anything it takes as a tracking URI works
(a server, a SQLite or PostgreSQL database, an ``mlruns`` folder). Cairn is written through
the ``Tracking`` interface like the SDK, so the target is an embedded store or a server.

A run is recognised as imported by its ``mlflow.run_id`` tag, which is set last, once
everything else of the run is in: a run cut short by an error (or a crash) never carries
it, so the next import does that run again rather than skipping a half copy.

MLflow 3 keeps a logged model (``models:/m-…``) beside its run; here it comes into the run's
artifacts at ``models/m-…``, where Cairn's MLflow-compatible server keeps one too. Every MLflow
model folder of a run (a folder with an ``MLmodel``) gets the Cairn manifest
``cairn-model.json`` built from its files, so that it can be registered and loaded as any Cairn
model; the registered models come after the runs (:mod:`cairn.client.mlflow_registry_import`).
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cairn.client import artifacts
from cairn.client.datasets import file_digest, walk_folder
from cairn.client.mlflow_registry_import import import_registered_models, registry_plan
from cairn.client.mlflow_source import LOGGED_MODELS_FOLDER, ImportReport, SourceError, mlflow_client, pages, reason
from cairn.core import limits
from cairn.core.entities import Run, RunStatus, RunUpdate
from cairn.core.errors import InvalidManifest, ProjectNotFound
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.core.models.manifest import MANIFEST_NAME, manifest_to_json
from cairn.core.models.mlflow_model import MLMODEL_NAME, manifest_for_mlflow_folder
from cairn.service.interface import Tracking

RUN_ID_TAG = "mlflow.run_id"
EXPERIMENT_ID_TAG = "mlflow.experiment_id"
PARENT_TAG = "mlflow.parentRunId"

_STATUS = {
    "FINISHED": RunStatus.FINISHED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.KILLED,
}


def import_mlflow(
    tracking: Tracking,
    source: str,
    *,
    project_prefix: str = "",
    on_total: Callable[[int], None] | None = None,
    on_step: Callable[[], None] | None = None,
) -> ImportReport:
    """Import every active experiment of ``source`` and every run of it (deleted runs too,
    which stay deleted) with its logged models, then every registered model with its versions.
    ``on_total`` hears how many runs and model versions there are, ``on_step`` each one done.
    Raises SourceError when the store cannot be read at all."""
    client = mlflow_client(source)
    from mlflow.entities import ViewType

    report = ImportReport()
    step = on_step or (lambda: None)
    try:
        experiments = list(pages(lambda token: client.search_experiments(ViewType.ACTIVE_ONLY, page_token=token)))
    except Exception as exc:  # MLflow raises many kinds for a store it cannot open
        raise SourceError(f"cannot read the MLflow store at {source}: {reason(exc)}") from exc
    plans = []
    for experiment in experiments:
        try:
            runs = list(_runs_of(client, experiment.experiment_id))
        except Exception as exc:  # MLflow cannot list this experiment's runs; the others go on
            report.failed.append((f"experiment {experiment.experiment_id} ({experiment.name})", reason(exc)))
            continue
        plans.append((experiment, runs, _logged_models(client, experiment, report)))
    registry = registry_plan(client, report)
    if on_total is not None:
        on_total(sum(len(runs) for _, runs, _ in plans) + sum(len(versions) for _, versions in registry))
    cairn_runs: dict[str, str] = {}  # MLflow run id → Cairn run id, over every project
    for experiment, runs, logged_models in plans:
        try:
            project = _project(tracking, project_prefix + experiment.name, experiment)
        except Exception as exc:  # one bad experiment must not stop the others
            report.failed.append((f"experiment {experiment.experiment_id} ({experiment.name})", reason(exc)))
            for _ in runs:
                step()
            continue
        report.experiments += 1
        cairn_ids = _imported(tracking, project)
        for run in _parents_first(runs):
            source_id = run.info.run_id
            if source_id in cairn_ids:
                report.skipped += 1
            else:
                try:
                    cairn_ids[source_id] = _import_run(
                        tracking, client, project, run, cairn_ids, logged_models.get(source_id, [])
                    )
                    report.imported += 1
                except Exception as exc:  # reported, and the rest go on
                    report.failed.append((source_id, reason(exc)))
            step()
        cairn_runs.update(cairn_ids)
    import_registered_models(tracking, registry, cairn_runs, report, step)
    return report


def _logged_models(client: Any, experiment: Any, report: ImportReport) -> dict[str, list[Any]]:
    """The experiment's MLflow 3 logged models that are ready, by the run that logged them
    (a model logged outside any run has no run to come into, and is left out)."""
    from mlflow.entities import LoggedModelStatus

    by_run: dict[str, list[Any]] = defaultdict(list)

    def page(token: str | None) -> Any:
        return client.search_logged_models(experiment_ids=[experiment.experiment_id], page_token=token)

    try:
        for model in pages(page):
            if model.source_run_id and model.status == LoggedModelStatus.READY:
                by_run[model.source_run_id].append(model)
    except Exception as exc:  # the runs still come in, without their logged models
        if getattr(exc, "error_code", None) == "ENDPOINT_NOT_FOUND":  # an MLflow 2 server: it has none
            return by_run
        what = f"logged models of experiment {experiment.experiment_id} ({experiment.name})"
        report.failed.append((what, reason(exc)))
    return by_run


def _runs_of(client: Any, experiment_id: str) -> Iterator[Any]:
    """Every run of the experiment, deleted ones too, page after page."""
    from mlflow.entities import ViewType

    def page(token: str | None) -> Any:
        return client.search_runs([experiment_id], run_view_type=ViewType.ALL, max_results=1000, page_token=token)

    return pages(page)


def _project(tracking: Tracking, name: str, experiment: Any) -> str:
    try:
        tracking.get_project(name)
    except ProjectNotFound:
        tracking.create_project(name)
    # Project tags are on the embedded service, not yet on the Tracking interface (an HTTP
    # target keeps the experiment's tags out until they are).
    set_project_tags = getattr(tracking, "set_project_tags", None)
    if set_project_tags is not None:
        set_project_tags(name, {**experiment.tags, EXPERIMENT_ID_TAG: experiment.experiment_id})
    return name


def _imported(tracking: Tracking, project: str) -> dict[str, str]:
    """MLflow run id → Cairn run id, for the runs of ``project`` already imported."""
    found: dict[str, str] = {}
    token = None
    while True:
        page = tracking.list_runs(project, include_deleted=True, limit=1000, page_token=token)
        for run in page.items:
            if RUN_ID_TAG in run.tags:
                found[run.tags[RUN_ID_TAG]] = run.id
        token = page.next_page_token
        if not token:
            return found


def _parents_first(runs: list[Any]) -> list[Any]:
    """Runs ordered so that a parent comes before its children (then by start time)."""
    by_id = {run.info.run_id: run for run in runs}

    def depth(run: Any) -> int:
        seen = set()
        while (parent := run.data.tags.get(PARENT_TAG)) in by_id and parent not in seen:
            seen.add(parent)
            run = by_id[parent]
        return len(seen)

    return sorted(runs, key=lambda run: (depth(run), run.info.start_time or 0))


def _import_run(
    tracking: Tracking,
    client: Any,
    project: str,
    source: Any,
    cairn_ids: Mapping[str, str],
    logged_models: Sequence[Any],
) -> str:
    info, data = source.info, source.data
    tags = dict(data.tags)
    run = tracking.create_run(
        project,
        name=info.run_name or None,
        user=info.user_id or None,
        tags=tags,
        parent_id=cairn_ids.get(tags.get(PARENT_TAG, "")),
        start_time=info.start_time,
    )
    try:
        _copy_contents(tracking, client, run, source, logged_models)
    except Exception:
        tracking.delete_run(run.id)  # not left behind as if it were the run
        raise
    return run.id


def _copy_contents(tracking: Tracking, client: Any, run: Run, source: Any, logged_models: Sequence[Any]) -> None:
    info, data = source.info, source.data
    if data.params:
        tracking.log_params(run.id, {key: str(value) for key, value in data.params.items()})
    _copy_metrics(tracking, client, run.id, info.run_id, list(data.metrics))
    _copy_artifacts(tracking, client, run.id, info.run_id, logged_models)
    status = _STATUS.get(info.status)
    if status is not None:
        end_time = max(info.end_time, run.start_time) if info.end_time else None
        tracking.update_run(run.id, RunUpdate(status=status, end_time=end_time))
    tracking.set_tags(run.id, {RUN_ID_TAG: info.run_id})
    if info.lifecycle_stage == "deleted":  # last: a deleted run takes no more tags
        tracking.delete_run(run.id)


def _copy_metrics(tracking: Tracking, client: Any, run_id: str, source_id: str, keys: list[str]) -> None:
    seq = 0
    for key in sorted(keys):
        history = client.get_metric_history(source_id, key)
        for start in range(0, len(history), limits.MAX_POINTS_PER_BATCH):
            chunk = history[start : start + limits.MAX_POINTS_PER_BATCH]
            columns = MetricColumns(
                key=key,
                steps=np.array([m.step for m in chunk], dtype=np.int64),
                timestamps=np.array([m.timestamp for m in chunk], dtype=np.int64),
                values=np.array([m.value for m in chunk], dtype=np.float64),
            )
            tracking.log_metrics(run_id, MetricBatch(client_id=f"mlflow-import-{run_id}", seq=seq, columns=[columns]))
            seq += 1


def _copy_artifacts(tracking: Tracking, client: Any, run_id: str, source_id: str, logged_models: Sequence[Any]) -> None:
    """The run's artifacts and its logged models' files (under ``models/MODEL_ID``), each MLflow
    model folder with a ``cairn-model.json``, logged into the run in one go."""
    import mlflow.artifacts

    with tempfile.TemporaryDirectory(prefix="cairn-mlflow-") as folder:
        files = []
        if client.list_artifacts(source_id):
            root = client.download_artifacts(source_id, "", dst_path=str(Path(folder, "run")))
            _write_cairn_manifests(Path(root))
            files += artifacts.collect(root, "")
        for model in logged_models:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=model.artifact_location,
                dst_path=str(Path(folder, model.model_id)),
                tracking_uri=client.tracking_uri,
            )
            _write_cairn_manifests(Path(local))
            files += artifacts.collect(local, f"{LOGGED_MODELS_FOLDER}/{model.model_id}")
        if files:
            artifacts.upload(tracking, run_id, files)


def _write_cairn_manifests(root: Path) -> None:
    """Write ``cairn-model.json`` into every MLflow model folder under ``root``, from its files.
    A folder whose ``MLmodel`` Cairn cannot read (no ``sklearn`` or ``python_function``
    flavor) gets none: its files still come in, but it cannot be registered."""
    for mlmodel in sorted(root.rglob(MLMODEL_NAME)):
        if not mlmodel.is_file():
            continue
        model_folder = mlmodel.parent
        digests = {
            relative: file_digest(path)[0]
            for relative, path in walk_folder(model_folder.resolve())
            if relative != MANIFEST_NAME
        }
        requirements = model_folder / "requirements.txt"
        try:
            manifest = manifest_for_mlflow_folder(
                mlmodel.read_bytes(), requirements.read_bytes() if requirements.is_file() else None, digests
            )
        except InvalidManifest:
            continue
        (model_folder / MANIFEST_NAME).write_bytes(manifest_to_json(manifest))
