"""Copy an MLflow tracking store into Cairn: experiments become projects, runs become runs.

The source is read with MLflow's own client, so anything it takes as a tracking URI works
(a server, a SQLite or PostgreSQL database, an ``mlruns`` folder). Cairn is written through
the ``Tracking`` interface like the SDK, so the target is an embedded store or a server.

A run is recognised as imported by its ``mlflow.run_id`` tag, which is set last, once
everything else of the run is in: a run cut short by an error (or a crash) never carries
it, so the next import does that run again rather than skipping a half copy.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cairn.client import artifacts
from cairn.core import limits
from cairn.core.entities import Run, RunStatus, RunUpdate
from cairn.core.errors import ProjectNotFound
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.service.interface import Tracking

RUN_ID_TAG = "mlflow.run_id"
EXPERIMENT_ID_TAG = "mlflow.experiment_id"
PARENT_TAG = "mlflow.parentRunId"

_STATUS = {
    "FINISHED": RunStatus.FINISHED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.KILLED,
}


class SourceError(RuntimeError):
    """The MLflow store cannot be read at all (or the ``mlflow`` package is missing)."""


@dataclass
class ImportReport:
    experiments: int = 0
    imported: int = 0
    skipped: int = 0
    #: (MLflow run or experiment id, why it could not be imported)
    failed: list[tuple[str, str]] = field(default_factory=list)


def mlflow_client(source: str) -> Any:
    """MLflow's client on ``source``; raises SourceError without the package."""
    try:
        import mlflow
    except ImportError as exc:
        raise SourceError("importing MLflow data needs the mlflow package: pip install 'cairn[mlflow]'") from exc
    # MLflow 3 refuses to open an ``mlruns`` folder unless asked to: an old folder is exactly
    # what one imports, and the importer only reads it.
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # ours is the one shown
    try:
        return mlflow.MlflowClient(tracking_uri=source)
    except Exception as exc:  # an unsupported or malformed URI
        raise SourceError(f"cannot read the MLflow store at {source}: {_reason(exc)}") from exc


def import_mlflow(
    tracking: Tracking,
    source: str,
    *,
    project_prefix: str = "",
    on_total: Callable[[int], None] | None = None,
    on_run: Callable[[], None] | None = None,
) -> ImportReport:
    """Import every active experiment of ``source`` and every run of it (deleted runs too,
    which stay deleted). ``on_total`` hears how many runs there are, ``on_run`` each one done."""
    client = mlflow_client(source)
    from mlflow.entities import ViewType

    report = ImportReport()
    try:
        experiments = list(_pages(lambda token: client.search_experiments(ViewType.ACTIVE_ONLY, page_token=token)))
    except Exception as exc:  # MLflow raises many kinds for a store it cannot open
        raise SourceError(f"cannot read the MLflow store at {source}: {_reason(exc)}") from exc
    plans = []
    for experiment in experiments:
        try:
            runs = list(_runs_of(client, experiment.experiment_id))
        except Exception as exc:  # MLflow cannot list this experiment's runs; the others go on
            report.failed.append((f"experiment {experiment.experiment_id} ({experiment.name})", _reason(exc)))
            continue
        plans.append((experiment, runs))
    if on_total is not None:
        on_total(sum(len(runs) for _, runs in plans))
    for experiment, runs in plans:
        try:
            project = _project(tracking, project_prefix + experiment.name, experiment)
        except Exception as exc:  # one bad experiment must not stop the others
            report.failed.append((f"experiment {experiment.experiment_id} ({experiment.name})", _reason(exc)))
            for _ in runs:
                if on_run is not None:
                    on_run()
            continue
        report.experiments += 1
        cairn_ids = _imported(tracking, project)
        for run in _parents_first(runs):
            source_id = run.info.run_id
            if source_id in cairn_ids:
                report.skipped += 1
            else:
                try:
                    cairn_ids[source_id] = _import_run(tracking, client, project, run, cairn_ids)
                    report.imported += 1
                except Exception as exc:  # reported, and the rest go on
                    report.failed.append((source_id, _reason(exc)))
            if on_run is not None:
                on_run()
    return report


def _pages(fetch: Callable[[str | None], Any]) -> Iterator[Any]:
    token = None
    while True:
        page = fetch(token)
        yield from page
        token = page.token
        if not token:
            return


def _runs_of(client: Any, experiment_id: str) -> Iterator[Any]:
    """Every run of the experiment, deleted ones too, page after page."""
    from mlflow.entities import ViewType

    def page(token: str | None) -> Any:
        return client.search_runs([experiment_id], run_view_type=ViewType.ALL, max_results=1000, page_token=token)

    return _pages(page)


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


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


def _import_run(tracking: Tracking, client: Any, project: str, source: Any, cairn_ids: Mapping[str, str]) -> str:
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
        _copy_contents(tracking, client, run, source)
    except Exception:
        tracking.delete_run(run.id)  # not left behind as if it were the run
        raise
    return run.id


def _copy_contents(tracking: Tracking, client: Any, run: Run, source: Any) -> None:
    info, data = source.info, source.data
    if data.params:
        tracking.log_params(run.id, {key: str(value) for key, value in data.params.items()})
    _copy_metrics(tracking, client, run.id, info.run_id, list(data.metrics))
    _copy_artifacts(tracking, client, run.id, info.run_id)
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


def _copy_artifacts(tracking: Tracking, client: Any, run_id: str, source_id: str) -> None:
    if not client.list_artifacts(source_id):
        return
    with tempfile.TemporaryDirectory(prefix="cairn-mlflow-") as folder:
        root = client.download_artifacts(source_id, "", dst_path=folder)
        artifacts.upload(tracking, run_id, artifacts.collect(root, ""))
