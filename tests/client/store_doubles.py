"""A store that fails on demand, for the writer's outage paths.

:class:`FlakyTracking` implements the Tracking protocol by handing every call to a real
:class:`TrackingService`; what it adds is the failure of an external dependency (the database or
the network going away), switched on and off by the test. It never imitates the SDK itself.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.blobs.local import LocalBlobStore
from cairn.client.run import Run
from cairn.client.writer import BackgroundWriter
from cairn.core.artifacts import Artifact, ArtifactEntry, DatasetSpec, DatasetVersion, RunInput
from cairn.core.entities import IngestResult, Page, Project, RunUpdate
from cairn.core.entities import Run as RunRecord
from cairn.core.errors import Unavailable
from cairn.core.metrics import MetricBatch, MetricHistory
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.settings import default_blobs_uri
from cairn.store.sql import SqlStore


def blobs_path() -> Path:
    return Path(default_blobs_uri())


@dataclass(frozen=True)
class Ingest:
    """One metric batch the store accepted (duplicates included)."""

    client_id: str
    seq: int
    points: int
    min_step: int
    max_step: int
    duplicate: bool


class FlakyTracking:
    """A real tracking service behind a switch: while ``down`` is set every call raises
    :class:`Unavailable`, as a store that went away does.

    ``lose_answers`` > 0 makes the next metric batches be stored and *then* fail, as when the
    connection drops after the server committed. ``log_delay`` makes each metric batch slow.
    The inner service stays open after ``close()``: the test reads the results through it.
    """

    def __init__(self, db: Path, *, log_delay: float = 0.0) -> None:
        self.uri = str(db)
        # The blob folder ``connect()`` opens for this store too, so `cairn sync` sees the same bytes.
        self.inner = TrackingService(SqlStore(self.uri), Principal("tester"), blobs=LocalBlobStore(blobs_path()))
        self.down = threading.Event()
        self.lose_answers = 0
        self.log_delay = log_delay
        self.sending = threading.Event()  # set when a metric batch starts
        self.ingests: list[Ingest] = []
        self.writes: list[tuple[str, Any]] = []  # accepted non-metric writes, in order
        self.metric_attempts = 0
        self.closed = False

    def _gate(self) -> None:
        if self.down.is_set():
            raise Unavailable("the test store is down")

    def create_project(self, name: str, description: str = "") -> Project:
        self._gate()
        return self.inner.create_project(name, description)

    def get_project(self, name: str) -> Project:
        self._gate()
        return self.inner.get_project(name)

    def list_projects(self) -> list[Project]:
        self._gate()
        return self.inner.list_projects()

    def create_run(
        self,
        project: str,
        *,
        name: str | None = None,
        user: str | None = None,
        config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        notes: str = "",
        parent_id: str | None = None,
        start_time: int | None = None,
        run_id: str | None = None,
    ) -> RunRecord:
        self._gate()
        return self.inner.create_run(
            project,
            name=name,
            user=user,
            config=config,
            tags=tags,
            notes=notes,
            parent_id=parent_id,
            start_time=start_time,
            run_id=run_id,
        )

    def get_run(self, run_id: str) -> RunRecord:
        self._gate()
        return self.inner.get_run(run_id)

    def update_run(self, run_id: str, update: RunUpdate) -> RunRecord:
        self._gate()
        record = self.inner.update_run(run_id, update)
        self.writes.append(("update", update))
        return record

    def delete_run(self, run_id: str) -> RunRecord:
        self._gate()
        return self.inner.delete_run(run_id)

    def restore_run(self, run_id: str) -> RunRecord:
        self._gate()
        return self.inner.restore_run(run_id)

    def list_runs(
        self,
        project: str,
        *,
        include_deleted: bool = False,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[RunRecord]:
        self._gate()
        return self.inner.list_runs(project, include_deleted=include_deleted, limit=limit, page_token=page_token)

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        self._gate()
        self.inner.log_params(run_id, params)
        self.writes.append(("params", dict(params)))

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        self._gate()
        self.inner.set_tags(run_id, tags)
        self.writes.append(("tags", dict(tags)))

    def delete_tag(self, run_id: str, key: str) -> None:
        self._gate()
        self.inner.delete_tag(run_id, key)

    def log_metrics(self, run_id: str, batch: MetricBatch) -> IngestResult:
        self.metric_attempts += 1
        self.sending.set()
        if self.log_delay:
            time.sleep(self.log_delay)
        self._gate()
        result = self.inner.log_metrics(run_id, batch)
        steps = [int(s) for c in batch.columns for s in (c.steps.min(), c.steps.max()) if len(c)]
        self.ingests.append(Ingest(batch.client_id, batch.seq, batch.points, min(steps), max(steps), result.duplicate))
        self.writes.append(("metrics", (min(steps), max(steps))))
        if self.lose_answers:
            self.lose_answers -= 1
            raise Unavailable("the connection dropped before the answer arrived")
        return result

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        *,
        step_min: int | None = None,
        step_max: int | None = None,
        max_points: int | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> MetricHistory:
        self._gate()
        return self.inner.get_metric_history(
            run_id,
            key,
            step_min=step_min,
            step_max=step_max,
            max_points=max_points,
            offset=offset,
            limit=limit,
        )

    # -- artifacts and datasets: gated like everything else --------------------------------

    def missing_blobs(self, digests: Sequence[str]) -> list[str]:
        self._gate()
        return self.inner.missing_blobs(digests)

    def upload_file(self, path: Path, digest: str, size: int, progress: Callable[[int], None] | None = None) -> None:
        self._gate()
        self.inner.upload_file(path, digest, size, progress)

    def log_artifacts(self, run_id: str, entries: Sequence[ArtifactEntry]) -> list[Artifact]:
        self._gate()
        logged = self.inner.log_artifacts(run_id, entries)
        self.writes.append(("artifacts", [entry.path for entry in entries]))
        return logged

    def list_artifacts(self, run_id: str, path: str = "") -> list[Artifact]:
        self._gate()
        return self.inner.list_artifacts(run_id, path)

    def read_artifact(self, run_id: str, path: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        self._gate()
        return self.inner.read_artifact(run_id, path, start, end)

    def log_dataset(self, run_id: str, spec: DatasetSpec, context: str = "train") -> DatasetVersion:
        self._gate()
        version = self.inner.log_dataset(run_id, spec, context)
        self.writes.append(("dataset", spec.name))
        return version

    def list_datasets(self, project: str, name: str | None = None) -> list[DatasetVersion]:
        self._gate()
        return self.inner.list_datasets(project, name)

    def run_inputs(self, run_id: str) -> list[RunInput]:
        self._gate()
        return self.inner.run_inputs(run_id)

    def close(self) -> None:
        self.closed = True

    def really_close(self) -> None:
        self.inner.close()


def start_run(
    tracking: FlakyTracking,
    spool_root: Path,
    *,
    project: str = "outage",
    flush_interval: float = 0.05,
    max_batch_points: int = 100_000,
    config: Mapping[str, Any] | None = None,
) -> Run:
    """A Run on ``tracking``, wired as ``cairn.init`` wires one (minus the exit hook)."""
    record = tracking.create_run(project, config=config)
    writer = BackgroundWriter(
        tracking,
        record.id,
        spool_root=spool_root,
        uri=tracking.uri,
        flush_interval=flush_interval,
        max_batch_points=max_batch_points,
    )
    return Run(tracking, record, writer, owns_tracking=True)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("cairn: warning:")]


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid
