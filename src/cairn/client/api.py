"""``cairn.Api()``: read projects, runs, metric histories and the model registry from any store
or server.

What it returns are lists and records as ever; in a notebook they show as tables with links into
the dashboard, and ``to_pandas()`` turns them into DataFrames (:mod:`cairn.client.results`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from cairn.client import lifecycle
from cairn.client.connect import connect, resolve_uri
from cairn.client.notebook_display import show_records_from
from cairn.client.results import (
    Artifacts,
    DatasetVersions,
    Events,
    History,
    ModelVersions,
    Projects,
    RegisteredModels,
    RunGroups,
    RunInputs,
    Runs,
    SimilarRuns,
)
from cairn.core.diff import RunDiff
from cairn.core.entities import Page, Project, Run
from cairn.core.registry import ModelVersion

_PAGE = 1000
_HISTORY_PAGE = 1_000_000
T = TypeVar("T")


class Api:
    """Read access. ``uri`` defaults to ``CAIRN_URI``, then the embedded store."""

    def __init__(self, uri: str | None = None) -> None:
        # Read your own writes: what this process logged (runs an integration finished in the
        # background too) reaches the store before anything is read back.
        lifecycle.flush()
        self.uri = resolve_uri(uri)
        self._tracking = connect(self.uri)
        # In a notebook, a run read back (``api.run(ID)``) shows as its summary.
        show_records_from(self.uri)

    def projects(self) -> Projects:
        return Projects(self._tracking.list_projects(), uri=self.uri)

    def project(self, name: str) -> Project:
        return self._tracking.get_project(name)

    def runs(
        self,
        project: str,
        *,
        where: str = "",
        order_by: str = "",
        include_deleted: bool = False,
        limit: int | None = None,
    ) -> Runs:
        """Runs of a project matching ``where`` (docs/query.md), sorted by ``order_by``
        ("metrics.acc desc", newest first when empty); all of them unless ``limit`` is given.

            api.runs("mnist", where="metrics.acc > 0.9 and params.optimizer = 'adam'",
                     order_by="metrics.acc desc", limit=10)
        """
        return Runs(
            self.iter_runs(project, where=where, order_by=order_by, include_deleted=include_deleted, limit=limit),
            uri=self.uri,
        )

    def iter_runs(
        self,
        project: str,
        *,
        where: str = "",
        order_by: str = "",
        include_deleted: bool = False,
        limit: int | None = None,
    ) -> Iterator[Run]:
        """Like :meth:`runs`, one page at a time, for projects too large to hold at once."""
        return _paged(
            lambda size, token: self._tracking.list_runs(
                project, where=where, order_by=order_by, include_deleted=include_deleted, limit=size, page_token=token
            ),
            limit,
        )

    def groups(
        self, project: str, group_by: str, metric: str | None = None, *, where: str = "", include_deleted: bool = False
    ) -> RunGroups:
        """Runs grouped by a field, largest group first, with the count and a metric's mean,
        min and max per group: ``api.groups("mnist", "params.optimizer", "metrics.acc")``."""
        return RunGroups(
            self._tracking.group_runs(
                project, group_by=group_by, metric=metric, where=where, include_deleted=include_deleted
            ),
            uri=self.uri,
        )

    def run(self, run_id: str) -> Run:
        return self._tracking.get_run(run_id)

    # -- the model registry -------------------------------------------------------------------

    def models(self, *, where: str = "", limit: int | None = None) -> RegisteredModels:
        """Registered models by name for which ``where`` holds (docs/query.md; MLflow's
        ``search_registered_models``); all of them unless ``limit`` is given.

            api.models(where="name like 'fraud%' and tags.team = 'risk'")
            api.models(where="alias = 'champion'")
        """
        return RegisteredModels(
            _paged(lambda size, token: self._tracking.list_models(where=where, limit=size, page_token=token), limit),
            uri=self.uri,
        )

    def model_versions(self, model: str | None = None, *, where: str = "", limit: int | None = None) -> ModelVersions:
        """Versions for which ``where`` holds (docs/query.md; MLflow's ``search_model_versions``):
        of ``model``, newest first, or of every model, by name and then newest first; all of
        them unless ``limit`` is given. The source run's fields are ``run.params.KEY``,
        ``run.metrics.KEY``, ``run.tags.KEY``…

            api.model_versions(where="run.params.lr = 0.01 and run.metrics.val_acc >= 0.9")
            api.model_versions("fraud", where="stage = 'Production'")
        """

        def fetch(size: int, token: str | None) -> Page[ModelVersion]:
            if model is None:
                return self._tracking.search_model_versions(where=where, limit=size, page_token=token)
            return self._tracking.list_model_versions(model, where=where, limit=size, page_token=token)

        return ModelVersions(_paged(fetch, limit), uri=self.uri)

    def history(
        self,
        run_id: str,
        key: str,
        *,
        max_points: int | None = None,
        step_min: int | None = None,
        step_max: int | None = None,
    ) -> History:
        """A metric's points ordered by step; with ``max_points``, its min/max envelope."""
        first = self._tracking.get_metric_history(
            run_id,
            key,
            step_min=step_min,
            step_max=step_max,
            max_points=max_points,
            limit=None if max_points else _HISTORY_PAGE,
        )
        if first.next_offset is None:
            return History.of(first)
        parts = [first]
        while parts[-1].next_offset is not None:
            parts.append(
                self._tracking.get_metric_history(
                    run_id,
                    key,
                    step_min=step_min,
                    step_max=step_max,
                    offset=parts[-1].next_offset or 0,
                    limit=_HISTORY_PAGE,
                )
            )
        return History(
            key=key,
            steps=np.concatenate([p.steps for p in parts]),
            timestamps=np.concatenate([p.timestamps for p in parts]),
            values=np.concatenate([p.values for p in parts]),
            total=first.total,
        )

    def similar(self, run: RunLike, limit: int = 5) -> SimilarRuns:
        """The earlier runs of the run's project nearest to it, as ``(run, distance)`` pairs:
        the distance is how many params differ or exist on one side only; ties go to the run
        whose differing numbers are closest, then to the newest (docs/insight.md)."""
        return SimilarRuns(self._tracking.similar_runs(_run_id(run), limit), uri=self.uri)

    def diff(self, run: RunLike, against: RunLike | None = None) -> RunDiff:
        """What changed from ``against`` to ``run``: params, metrics, tags and notes. Without
        ``against``, from the run's nearest earlier run (the first of :meth:`similar`)."""
        return self._tracking.diff_runs(_run_id(run), None if against is None else _run_id(against))

    # -- artifacts and datasets --------------------------------------------------------------

    def artifacts(self, run: RunLike, path: str = "") -> Artifacts:
        """The run's files at ``path`` or below it (all of them by default), by path."""
        return Artifacts(self._tracking.list_artifacts(_run_id(run), path), uri=self.uri)

    def download(self, run: RunLike, path: str, destination: str | os.PathLike[str] = ".") -> list[Path]:
        """Download an artifact file, or a folder of them, into ``destination``; each file is
        checked against its SHA-256. Returns the files written."""
        from cairn.client.artifacts import download

        return download(self._tracking, _run_id(run), path, destination)

    def read_artifact(self, run: RunLike, path: str) -> bytes:
        """A small artifact's bytes, in memory (use :meth:`download` for large ones)."""
        return b"".join(self._tracking.read_artifact(_run_id(run), path))

    def datasets(self, project: str, name: str | None = None) -> DatasetVersions:
        """A project's dataset versions (of one dataset, with ``name``), newest first per
        name; each lists the runs that used it in ``used_by`` as (run id, context)."""
        return DatasetVersions(self._tracking.list_datasets(project, name), uri=self.uri)

    def inputs(self, run: RunLike) -> RunInputs:
        """The dataset versions a run used, and in which context."""
        return RunInputs(self._tracking.run_inputs(_run_id(run)), uri=self.uri)

    def events(
        self,
        *,
        types: Sequence[str] = (),
        subject: str | None = None,
        actor: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int | None = 100,
    ) -> Events:
        """The event log, newest first (docs/events.md): the newest ``limit`` events, or all
        with ``limit=None``.

            api.events(types=["model_version_alias.*"], subject="models/fraud/*", limit=20)
        """
        return Events(
            _paged(
                lambda size, token: self._tracking.list_events(
                    types=types, subject=subject, actor=actor, since=since, until=until, limit=size, page_token=token
                ),
                limit,
            ),
            uri=self.uri,
        )

    def close(self) -> None:
        self._tracking.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


#: A run id, or anything with one: a run read back, or the SDK's run.
RunLike = str | _HasId


def _run_id(run: RunLike) -> str:
    return run if isinstance(run, str) else run.id


def _paged(fetch: Callable[[int, str | None], Page[T]], limit: int | None) -> Iterator[T]:
    """The items of a paged listing, page by page, ``limit`` at most (all when None)."""
    token: str | None = None
    seen = 0
    if limit is not None and limit <= 0:
        return
    while True:
        page = fetch(_PAGE if limit is None else min(_PAGE, limit - seen), token)
        yield from page.items
        seen += len(page.items)
        token = page.next_page_token
        if token is None or (limit is not None and seen >= limit):
            return
