"""The metadata store interface: what the service layer needs from a database.

The store keeps data consistent (transactions, uniqueness, atomic batches) but holds no
business rules: whether a run may still be logged to, or who may do what, is decided by the
service. Metric points sit behind their own protocol so that a columnar backend could take them
over later without touching the rest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Protocol

from cairn.core.access import ApiToken, Grant, ResourceKind, Role, SsoLogin, SubjectKind, Team, User
from cairn.core.artifacts import Artifact, ArtifactEntry, DatasetSpec, DatasetVersion, RunInput, Snapshot, SnapshotFile
from cairn.core.discussion import Comment, ProjectFields, SavedView
from cairn.core.entities import IngestResult, Page, ParamValue, Project, Run, RunGroup, RunStatus, RunUpdate, SimilarRun
from cairn.core.events import Event, EventType
from cairn.core.logged_models import LoggedModel, LoggedModelStatus
from cairn.core.metrics import MetricBatch, MetricHistory
from cairn.core.monitors import Alert, AlertStatus, Monitor, MonitorConfig, MonitorWindow
from cairn.core.prediction_labels import PredictionLabelFile
from cairn.core.prediction_logs import ColumnMismatch, PredictionLogFile
from cairn.core.query.ast import Expr
from cairn.core.query.request import GroupQuery, RunQuery
from cairn.core.registry import AliasMove, ModelVersion, RegisteredModel, Stage
from cairn.core.reviews import (
    DEFAULT_APPROVE_ROLE,
    DEFAULT_MERGE_ROLE,
    AliasProtection,
    CheckResult,
    Decision,
    EntryKind,
    Review,
    ReviewComment,
    ReviewState,
)
from cairn.core.webhooks import Attempt, ClaimedDelivery, Delivery, DeliveryStatus, Webhook


class ProjectStore(Protocol):
    def create_project(self, name: str, description: str = "") -> Project:
        """Create a project. Raises AlreadyExists if the name is taken."""
        ...

    def get_project(self, name_or_id: str, *, with_counts: bool = True) -> Project:
        """The project with that name or id (run_count and last_activity left at 0 and None
        unless ``with_counts``). Raises ProjectNotFound."""
        ...

    def list_projects(self, *, names: Collection[str] | None = None, include_deleted: bool = False) -> list[Project]:
        """Every project (of ``names`` only, when given; deleted ones only if asked), with run
        counts and last activity, newest first."""
        ...

    def set_project_deleted(self, project_id: str, deleted: bool) -> None:
        """Delete or restore a project, and every run of it with it. Raises ProjectNotFound."""
        ...

    def project_tags(self, project_id: str) -> dict[str, str]:
        """The project's tags by key."""
        ...

    def tags_of_projects(self, project_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Each project's tags by its id, in one read (an empty dict for a project without)."""
        ...

    def set_project_tags(self, project_id: str, tags: Mapping[str, str]) -> None:
        """Set tags of a project, replacing the values of keys it has."""
        ...

    def delete_project_tag(self, project_id: str, key: str) -> bool:
        """Remove one tag; whether the project had it."""
        ...

    def rename_project(self, project_id: str, new_name: str) -> Project:
        """Give the project another name, and move the roles held on it to that name in the
        same transaction; the project is returned without counts. Raises ProjectNotFound, or
        AlreadyExists if the name is taken."""
        ...


class RunStore(Protocol):
    def create_run(
        self,
        project_id: str,
        *,
        name: str,
        user: str,
        start_time: int,
        parent_id: str | None,
        notes: str,
        tags: Mapping[str, str],
        params: Mapping[str, ParamValue],
        run_id: str | None = None,
    ) -> Run:
        """Create a running run with its first tags and params, in one transaction; its id is
        ``run_id`` when the client chose one, else a new one."""
        ...

    def get_run(self, run_id: str, *, details: bool = True) -> Run:
        """The run with params, tags and metric summaries (without them, and faster, when
        ``details`` is false). Raises RunNotFound."""
        ...

    def update_run(self, run_id: str, update: RunUpdate) -> Run:
        """Apply the non-None fields of ``update``. Raises RunNotFound."""
        ...

    def set_run_deleted(self, run_id: str, deleted: bool) -> Run:
        """Soft-delete or restore a run. Raises RunNotFound."""
        ...

    def list_runs(self, project_id: str, query: RunQuery) -> Page[Run]:
        """The page of a project's runs that ``query`` selects, in its order (newest first
        when it has none), with a token for the next page that stays valid while runs are added.
        Raises InvalidRequest for a token of another query."""
        ...

    def group_runs(self, project_id: str, query: GroupQuery) -> list[RunGroup]:
        """The runs ``query`` selects, grouped by one field, largest group first."""
        ...

    def log_params(self, run_id: str, params: Mapping[str, ParamValue]) -> None:
        """Store params atomically: a key already stored with a different value raises
        ParamConflict and stores none of ``params``; the same value again is a no-op."""
        ...

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Insert or overwrite tags, all or none."""
        ...

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove one tag; a missing tag is fine."""
        ...

    def runs_by_fingerprint(
        self, project_id: str, fingerprint: str, *, status: RunStatus | None = None, limit: int = 5
    ) -> list[Run]:
        """Live (not deleted) runs of a project with this fingerprint (and ``status``, when
        given), newest first: one lookup in the (project, fingerprint) index."""
        ...

    def similar_runs(self, run_id: str, *, limit: int = 5) -> list[SimilarRun]:
        """The live runs of the run's project that started before it, nearest first: by param
        distance (params that differ or exist on one side only), then by how far the differing
        values are (numbers by relative difference, anything else counts 1), then newest
        first, each with its exact distance. In a project of many runs they are the nearest
        among a bounded set of candidates (the most recent runs sharing each of the run's
        params, and the most recent runs), so the call costs the same at any size: exact
        whenever that set provably holds the answer, and always in a project of up to 100
        earlier runs (see :mod:`cairn.store.sql.similar`). Raises RunNotFound."""
        ...

    def metric_rank(self, project_id: str, key: str, value: float, *, lower_is_better: bool) -> tuple[int, int]:
        """``(ahead, total)``: how many live runs of the project have a last value of ``key``
        better than ``value`` (greater, or less when lower is better; NaN is never better),
        and how many have ``key`` at all. Two counts over one index range."""
        ...


class MetricStore(Protocol):
    def log_metrics(self, run_id: str, batch: MetricBatch) -> IngestResult:
        """Append a batch and update the run's summaries in one transaction.

        A batch whose (client_id, seq) was already stored for this run is not stored again:
        the result says ``duplicate=True``.
        """
        ...

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
        """Points of a metric ordered by step, within [step_min, step_max].

        With ``max_points``, a window larger than that comes back as its envelope (see
        :func:`cairn.core.metrics.envelope_indices`); otherwise ``offset``/``limit`` page it.
        A key the run never logged gives an empty history.
        """
        ...


class ArtifactStore(Protocol):
    """Which run holds which bytes under which path, datasets, and the record of stored blobs.

    The blob store holds the bytes; the ``blobs`` record here is what uploads and gc agree on:
    an artifact may only point at a recorded digest, and gc forgets a record (atomically, only
    while nothing points at it and nobody touched it lately) before it deletes the bytes.
    """

    def record_blob(self, digest: str, size: int) -> None:
        """Record bytes now in the blob store (or refresh the record's last-seen time)."""
        ...

    def touch_blobs(self, digests: Sequence[str]) -> dict[str, int]:
        """The recorded ones among ``digests`` with their sizes; their last-seen time is
        refreshed, so gc spares them while the client registers them."""
        ...

    def recorded_blobs(self, digests: Sequence[str]) -> set[str]:
        """The recorded ones among ``digests``, without touching them."""
        ...

    def unreferenced_blobs(self, seen_before: int) -> list[tuple[str, int]]:
        """(digest, size) of recorded blobs no artifact or stored dataset file points at and
        nobody touched since ``seen_before`` (ms)."""
        ...

    def forget_blob(self, digest: str, seen_before: int) -> bool:
        """Delete a blob's record if it is still unreferenced and untouched since
        ``seen_before``; True when it was deleted (then, and only then, may its bytes go)."""
        ...

    def add_artifacts(self, run_id: str, entries: Sequence[ArtifactEntry]) -> list[Artifact]:
        """Register artifacts, all or none. A path logged again is replaced. Raises BlobNotFound
        for a digest that is not recorded, InvalidValue for a size that does not match it."""
        ...

    def list_artifacts(self, run_id: str, prefix: str = "", limit: int = 100_000) -> list[Artifact]:
        """The run's files at ``prefix`` or below it, by path. Raises RunNotFound."""
        ...

    def get_artifact(self, run_id: str, path: str) -> Artifact:
        """Raises ArtifactNotFound or RunNotFound."""
        ...

    def log_dataset(self, project_id: str, spec: DatasetSpec, run_id: str | None, context: str) -> DatasetVersion:
        """Record a dataset version (once per content digest and name) and, with ``run_id``,
        the run's use of it. A stored version's file digests must be recorded blobs."""
        ...

    def list_datasets(self, project_id: str, name: str | None = None) -> list[DatasetVersion]:
        """Versions by name, newest first, with the runs that used each. Raises
        DatasetNotFound for a name the project lacks."""
        ...

    def run_inputs(self, run_id: str) -> list[RunInput]:
        """The dataset versions a run used, in the order it logged them."""
        ...

    def dataset_version(self, version_id: str) -> DatasetVersion:
        """A dataset version by id. Raises DatasetNotFound."""
        ...

    def dataset_files(self, version_id: str) -> list[tuple[str, str, int]]:
        """A version's manifest: (path, digest, size) by path."""
        ...

    def save_snapshot(
        self,
        run_id: str,
        kind: str,
        files: Sequence[SnapshotFile],
        *,
        message: str = "",
        meta: Mapping[str, Any] | None = None,
    ) -> Snapshot:
        """Record the run's snapshot of ``kind`` (one per kind per run; again replaces it). An
        identical tree in the project is the same snapshot; a new one's parent is the snapshot
        of that kind the project's latest run recorded. Every file's bytes must be recorded
        blobs (BlobNotFound)."""
        ...

    def get_snapshot(self, snapshot_id_: str, *, project_id: str | None = None) -> Snapshot:
        """A snapshot with its files. Raises NotFound."""
        ...

    def run_snapshots(self, run_id: str) -> list[Snapshot]:
        """The run's snapshots, by kind. Raises RunNotFound."""
        ...

    def purge_orphan_snapshots(self) -> int:
        """Remove snapshots no run points at; returns how many."""
        ...

    def deleted_run_ids(self) -> list[str]: ...

    def purge_run(self, run_id: str) -> bool:
        """Remove a deleted run and all it logged, for good; False when it is not deleted."""
        ...


class DiscussionStore(Protocol):
    """Comments on runs, saved views of a project's runs, and the keys a project's runs use."""

    def add_comment(self, run_id: str, author: str, body: str, mentions: Sequence[str]) -> Comment:
        """Store a new comment, timed after the run's previous one. Raises RunNotFound."""
        ...

    def list_comments(self, run_id: str) -> list[Comment]:
        """The run's comments, oldest first. Raises RunNotFound."""
        ...

    def get_comment(self, comment_id: str) -> Comment:
        """Raises CommentNotFound."""
        ...

    def update_comment(self, comment_id: str, body: str, mentions: Sequence[str]) -> Comment:
        """Replace a comment's body and mentions and set its ``updated_at``. Raises CommentNotFound."""
        ...

    def delete_comment(self, comment_id: str) -> None:
        """Raises CommentNotFound."""
        ...

    def save_view(
        self,
        project_id: str,
        name: str,
        *,
        query: str,
        order_by: str,
        columns: Sequence[str],
        charts: Sequence[str],
        group_by: str,
        created_by: str,
    ) -> SavedView:
        """Create the project's view ``name``, or replace the contents of the one of that name
        (keeping its id, creator and creation time)."""
        ...

    def list_views(self, project_id: str) -> list[SavedView]:
        """The project's views, by name."""
        ...

    def get_view(self, view_id: str) -> SavedView:
        """Raises ViewNotFound."""
        ...

    def delete_view(self, view_id: str) -> None:
        """Raises ViewNotFound."""
        ...

    def project_fields(self, project_id: str, *, newest_runs: int | None = None) -> ProjectFields:
        """The distinct param, metric and tag keys of the project's live runs, sorted; with
        ``newest_runs``, of only that many of its newest runs (by start time)."""
        ...


class RegistryStore(Protocol):
    """Registered models, their versions, tags, aliases and alias history (docs/registry.md).

    Names, aliases and stages arrive checked; the store keeps them consistent: version numbers
    distinct under concurrent registrations, one version per alias, a move and its history
    entry in one transaction.
    """

    def create_model(self, name: str, description: str, tags: Mapping[str, str]) -> RegisteredModel:
        """Raises AlreadyExists if the name is taken."""
        ...

    def get_model(self, name: str) -> RegisteredModel:
        """Raises ModelNotFound."""
        ...

    def update_model(self, name: str, description: str) -> RegisteredModel:
        """Replace the description. Raises ModelNotFound."""
        ...

    def delete_model(self, name: str) -> None:
        """The model with its versions, tags, aliases and alias history. Raises ModelNotFound."""
        ...

    def rename_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename the model; roles on it follow. Raises ModelNotFound, AlreadyExists."""
        ...

    def delete_version(self, name: str, version: int) -> None:
        """The version with its tags, lineage, reviews and prediction-log records (the caller
        has made sure no alias points at it). Raises ModelNotFound, ModelVersionNotFound."""
        ...

    def list_models(
        self,
        *,
        name_like: str | None,
        tags: Mapping[str, str],
        limit: int,
        after_name: str | None,
        where: Expr | None = None,
        now_ms: int = 0,
        names: Collection[str] | None = None,
    ) -> list[RegisteredModel]:
        """Up to ``limit`` models by name, after ``after_name``; ``name_like`` is a SQL LIKE
        pattern (case-sensitive), every tag of ``tags`` must match exactly, and ``where`` (a
        query of the models' vocabulary, with ``now_ms`` as "now") must hold; only models of
        ``names``, when given (those the principal may see)."""
        ...

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        """Raises ModelNotFound."""
        ...

    def delete_model_tag(self, name: str, key: str) -> None:
        """Deleting a tag the model lacks does nothing. Raises ModelNotFound."""
        ...

    def create_version(
        self,
        name: str,
        *,
        run_id: str,
        source_path: str,
        tree_digest: str,
        flavor: str,
        signature: Mapping[str, Any] | None,
        datasets: Sequence[tuple[str, str]],
        description: str,
        tags: Mapping[str, str],
        created_by: str,
    ) -> ModelVersion:
        """The model's next version (the model is made if it does not exist), in stage None.
        ``datasets`` are (dataset version id, context) pairs: its lineage."""
        ...

    def get_version(self, name: str, version: int) -> ModelVersion:
        """Raises ModelNotFound, ModelVersionNotFound."""
        ...

    def list_versions(
        self,
        name: str,
        *,
        limit: int,
        before_version: int | None,
        where: Expr | None = None,
        now_ms: int = 0,
    ) -> list[ModelVersion]:
        """Up to ``limit`` versions, newest first, below ``before_version``, for which ``where``
        (a query of the versions' vocabulary, with ``now_ms`` as "now") holds. Raises
        ModelNotFound."""
        ...

    def search_versions(
        self,
        *,
        where: Expr | None,
        now_ms: int,
        limit: int,
        after: tuple[str, int] | None,
        names: Collection[str] | None = None,
    ) -> list[ModelVersion]:
        """Up to ``limit`` versions of any model (of ``names`` only, when given) for which
        ``where`` holds, by model name, then newest first; after the version ``after`` (model
        name, number)."""
        ...

    def versions_of_run(self, run_id: str) -> list[ModelVersion]:
        """Every version registered from the run, by model name and version."""
        ...

    def versions_of_dataset(self, dataset_version_id: str) -> list[ModelVersion]:
        """Every version whose source run used the dataset version, by model name and version."""
        ...

    def update_version(self, name: str, version: int, description: str) -> ModelVersion:
        """Replace the description. Raises ModelNotFound, ModelVersionNotFound."""
        ...

    def set_stage(self, name: str, version: int, stage: Stage, *, archive_existing: bool) -> ModelVersion:
        """Move the version to ``stage``; with ``archive_existing`` and a stage of Staging or
        Production, the model's other versions in that stage move to Archived."""
        ...

    def set_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        """Raises ModelNotFound, ModelVersionNotFound."""
        ...

    def delete_version_tag(self, name: str, version: int, key: str) -> None:
        """Raises ModelNotFound, ModelVersionNotFound."""
        ...

    def set_alias(self, name: str, alias: str, version: int, moved_by: str) -> AliasMove:
        """Point the alias at ``version`` (moving it from another) and record the move. Raises
        ModelNotFound, ModelVersionNotFound."""
        ...

    def delete_alias(self, name: str, alias: str, moved_by: str) -> AliasMove:
        """Remove the alias and record it. Raises ModelNotFound, AliasNotFound."""
        ...

    def version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """Raises ModelNotFound, AliasNotFound."""
        ...

    def alias_history(self, name: str, alias: str | None) -> list[AliasMove]:
        """The moves of the model's aliases (of ``alias`` only, if given), oldest first."""
        ...


class PredictionLogStore(Protocol):
    """The record of prediction log files (docs/prediction-logs.md): one row per Parquet file of
    a model version's predictions, whose bytes are a blob recorded already."""

    def add_prediction_log(
        self,
        name: str,
        version: int,
        *,
        hour_ms: int,
        rows: int,
        first_ms: int,
        last_ms: int,
        size: int,
        digest: str,
        created_by: str,
        mismatches: tuple[ColumnMismatch, ...] = (),
        mismatched_rows: int = 0,
    ) -> PredictionLogFile:
        """Raises ModelNotFound, ModelVersionNotFound, BlobNotFound (no record of the bytes)."""
        ...

    def list_prediction_logs(
        self,
        name: str,
        version: int | None,
        *,
        since_ms: int | None,
        until_ms: int | None,
        limit: int,
        after: tuple[int, str] | None,
    ) -> list[PredictionLogFile]:
        """The model's (the version's) files holding a prediction in [since_ms, until_ms), by
        first prediction time and id, those after ``after`` (such a pair). Raises
        ModelNotFound, ModelVersionNotFound."""
        ...

    def get_prediction_log(self, name: str, version: int, file_id: str) -> PredictionLogFile:
        """Raises ModelNotFound, ModelVersionNotFound, PredictionLogNotFound."""
        ...

    def drop_prediction_files(self, before_ms: int, *, dry_run: bool = False) -> int:
        """Forget prediction log and label files whose rows all precede ``before_ms``; how many."""
        ...


class PredictionLabelStore(Protocol):
    """The record of label files (docs/monitoring.md, "Labels"): one row per Parquet file of
    labels for a model version's predictions, whose bytes are a blob recorded already;
    ``first_ms`` and ``last_ms`` are the times of the predictions labelled."""

    def add_prediction_labels(
        self,
        name: str,
        version: int,
        *,
        rows: int,
        first_ms: int,
        last_ms: int,
        size: int,
        digest: str,
        created_by: str,
    ) -> PredictionLabelFile:
        """Raises ModelNotFound, ModelVersionNotFound, BlobNotFound (no record of the bytes)."""
        ...

    def list_prediction_labels(
        self,
        name: str,
        version: int,
        *,
        since_ms: int | None,
        until_ms: int | None,
        limit: int,
        after: tuple[int, str] | None,
    ) -> list[PredictionLabelFile]:
        """The version's label files labelling a prediction made in [since_ms, until_ms) (by
        their span of prediction times), by first prediction time and id, those after
        ``after``. Raises ModelNotFound, ModelVersionNotFound."""
        ...

    def get_prediction_labels(self, name: str, version: int, file_id: str) -> PredictionLabelFile:
        """Raises ModelNotFound, ModelVersionNotFound, PredictionLabelsNotFound."""
        ...


class ReviewStore(Protocol):
    """Alias protections and reviews (docs/registry.md, "Reviews").

    Names, aliases, checks and bodies arrive checked; whether a vote or a merge is allowed is
    the service's to decide. The store keeps a review's end atomic: it leaves the open state
    once."""

    def set_protection(
        self,
        name: str,
        alias: str,
        required_approvals: int,
        checks: Sequence[str],
        actor: str,
        *,
        approve_role: Role = DEFAULT_APPROVE_ROLE,
        merge_role: Role = DEFAULT_MERGE_ROLE,
    ) -> AliasProtection:
        """Protect the alias, or replace its protection (keeping who made it first); the open
        reviews of the alias take the new number of approvals. ``approve_role`` and
        ``merge_role`` are the model roles approving and merging need. Raises ModelNotFound."""
        ...

    def delete_protection(self, name: str, alias: str) -> None:
        """Raises ModelNotFound, ProtectionNotFound."""
        ...

    def get_protection(self, name: str, alias: str) -> AliasProtection | None:
        """The alias's protection, None if it has none. Raises ModelNotFound."""
        ...

    def list_protections(self, name: str) -> list[AliasProtection]:
        """The model's protections, by alias. Raises ModelNotFound."""
        ...

    def create_review(
        self,
        name: str,
        *,
        alias: str,
        version: int,
        base_version: int | None,
        author: str,
        description: str,
        required_approvals: int,
        checks: Sequence[CheckResult],
    ) -> Review:
        """A new open review with the next id and the checks' first results. Raises
        ModelNotFound."""
        ...

    def get_review(self, review_id: int, *, lock: bool = False) -> Review:
        """Raises ReviewNotFound. With ``lock``, inside a unit of work, the review's row stays
        locked until it ends, so a concurrent merge or close waits and then sees this one's."""
        ...

    def list_reviews(
        self,
        *,
        model: str | None,
        alias: str | None,
        state: ReviewState | None,
        before_id: int | None,
        limit: int,
        models: Collection[str] | None = None,
    ) -> list[Review]:
        """Up to ``limit`` reviews, newest first, below ``before_id`` (of the models in
        ``models`` only, when given). Raises ModelNotFound for a model filter that names none."""
        ...

    def find_open_review(self, name: str, alias: str, version: int) -> int | None:
        """The id of the open review of ``version`` for ``alias``, if there is one."""
        ...

    def save_check_results(self, review_id: int, required_approvals: int, checks: Sequence[CheckResult]) -> Review:
        """Replace the review's check results (and the approvals it needs). Raises ReviewNotFound."""
        ...

    def set_review_vote(self, review_id: int, reviewer: str, decision: Decision) -> None:
        """Record the reviewer's vote, replacing their earlier one."""
        ...

    def add_review_comment(
        self,
        review_id: int,
        author: str,
        kind: EntryKind,
        body: str,
        mentions: Sequence[str],
        reply_to: int | None,
    ) -> ReviewComment:
        """Append an entry to the review's thread."""
        ...

    def get_review_comment(self, comment_id: int) -> ReviewComment:
        """Raises CommentNotFound."""
        ...

    def list_review_comments(self, review_id: int) -> list[ReviewComment]:
        """The review's thread, in the order written."""
        ...

    def finish_review(
        self, review_id: int, state: ReviewState, actor: str, *, merged_from_version: int | None = None
    ) -> Review:
        """Mark an open review merged or closed by ``actor``. Raises ReviewNotFound, and
        ReviewNotOpen when it is no longer open (a concurrent merge or close came first)."""
        ...

    def archived_duplicates(self, name: str, tree_digest: str) -> list[int]:
        """The numbers of the model's Archived versions with that tree digest, ascending."""
        ...


class EventStore(Protocol):
    """The append-only event log (docs/events.md), and units of work that keep a change and its
    event together."""

    def atomic(self) -> contextlib.AbstractContextManager[None]:
        """A unit of work: every store write inside it is kept, or none is."""
        ...

    def append_event(self, type_: EventType, subject: str, actor: str, data: Mapping[str, Any]) -> Event:
        """Add an event at the end of the log, inside the open unit of work if there is one,
        with a delivery for every active webhook subscribed to its type."""
        ...

    def list_events(
        self,
        *,
        types: Collection[EventType] | None,
        subject: str | None,
        subject_prefix: bool,
        actor: str | None,
        since: int | None,
        until: int | None,
        before_seq: int | None,
        limit: int,
    ) -> list[Event]:
        """Events newest first; ``subject_prefix`` also matches the subjects under ``subject``
        (``models/m`` finds ``models/m/versions/1``); ``since``/``until`` are milliseconds,
        ``until`` exclusive; ``before_seq`` pages."""
        ...


class WebhookStore(Protocol):
    """Webhooks and the deliveries of events to them (docs/webhooks.md).

    Appending an event (:meth:`EventStore.append_event`) queues a delivery for every active
    webhook subscribed to its type, in the same transaction. Deliveries are claimed under a
    lease, so any number of workers share them and none is sent by two at once.
    """

    def create_webhook(
        self, *, url: str, events: Sequence[str], description: str, secret: str, active: bool, created_by: str
    ) -> Webhook:
        """Store a webhook (checked by the service); the answer has no secret, its fingerprint."""
        ...

    def get_webhook(self, webhook_id: str) -> Webhook:
        """Raises WebhookNotFound."""
        ...

    def list_webhooks(self) -> list[Webhook]:
        """Every webhook, oldest first."""
        ...

    def update_webhook(
        self,
        webhook_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        description: str | None = None,
        active: bool | None = None,
        secret: str | None = None,
    ) -> Webhook:
        """Change the fields that are not None. Raises WebhookNotFound."""
        ...

    def delete_webhook(self, webhook_id: str) -> None:
        """The webhook with its deliveries, pending or not. Raises WebhookNotFound."""
        ...

    def list_deliveries(
        self, webhook_id: str, *, status: DeliveryStatus | None, before_seq: int | None, limit: int
    ) -> list[Delivery]:
        """Up to ``limit`` deliveries of the webhook with their attempts, newest event first,
        of events before ``before_seq``. Raises WebhookNotFound."""
        ...

    def get_delivery(self, webhook_id: str, delivery_id: str) -> Delivery:
        """Raises WebhookNotFound, DeliveryNotFound."""
        ...

    def redeliver(self, webhook_id: str, delivery_id: str) -> Delivery:
        """Make the delivery due now; a finished one is pending again, with a new round of
        attempts. Raises WebhookNotFound, DeliveryNotFound."""
        ...

    def claim_deliveries(self, *, now: int, lease_ms: int, limit: int) -> list[ClaimedDelivery]:
        """Lease up to ``limit`` pending deliveries of active webhooks that are due at ``now``
        (ms) and not leased, until ``now + lease_ms``: each to one caller only."""
        ...

    def finish_attempt(
        self, claim: ClaimedDelivery, attempt: Attempt, *, status: DeliveryStatus, next_attempt_at: int | None
    ) -> bool:
        """Record an attempt and what follows (pending again at ``next_attempt_at``, or
        finished), and release the lease; False, recording nothing, when the claim's lease is
        no longer the delivery's (it was deleted, or another worker took it over)."""
        ...


class AccessStore(Protocol):
    """Users, credentials, teams and role grants (docs/access.md). Secrets arrive already
    hashed: the store never sees a password, token or session id in the clear."""

    #: Changes whenever this store object revokes a token, disables a user, changes a password
    #: or ends a session: a credential cache in this process compares it (docs/access.md).
    access_generation: int

    def create_user(
        self,
        *,
        username: str,
        display_name: str,
        email: str,
        password_hash: str | None,
        is_admin: bool,
        is_service: bool = False,
        source: str = "local",
        external_id: str | None = None,
    ) -> User:
        """Raises AlreadyExists for a taken name (compared without case)."""
        ...

    def get_user(self, username: str) -> User:
        """Raises UserNotFound."""
        ...

    def find_external_user(self, source: str, external_id: str) -> User | None: ...

    def list_users(self) -> list[User]: ...

    def count_admins(self) -> int:
        """Enabled global admins."""
        ...

    def update_user(
        self,
        username: str,
        *,
        display_name: str | None = None,
        email: str | None = None,
        is_admin: bool | None = None,
        disabled: bool | None = None,
        password_hash: str | None = None,
    ) -> User:
        """Change what is given; disabling or a new password ends the user's sessions in the
        same transaction. Raises UserNotFound."""
        ...

    def password_hash(self, username: str) -> tuple[User, str | None] | None: ...

    def create_token(self, username: str, *, name: str, digest: str, hint: str, expires_at: int | None) -> ApiToken: ...

    def list_tokens(self, username: str | None = None) -> list[ApiToken]: ...

    def get_token(self, token_id: str) -> ApiToken:
        """Raises TokenNotFound."""
        ...

    def revoke_token(self, token_id: str) -> ApiToken: ...

    def token_owner(self, digest: str) -> tuple[ApiToken, User] | None: ...

    def touch_token(self, token_id: str, at: int) -> None: ...

    def create_session(self, digest: str, username: str, *, expires_at: int, address: str | None) -> None: ...

    def session_owner(self, digest: str) -> tuple[tuple[int, int, int], User] | None:
        """((created, last seen, absolute expiry), user) of the session, or None."""
        ...

    def touch_session(self, digest: str, at: int) -> None: ...

    def delete_session(self, digest: str) -> None: ...

    def delete_expired_sessions(self, *, before: int, idle_before: int) -> int: ...

    def create_team(self, name: str, description: str) -> Team: ...

    def get_team(self, name: str) -> Team: ...

    def list_teams(self) -> list[Team]: ...

    def delete_team(self, name: str) -> None: ...

    def set_team_member(self, team: str, username: str, member: bool) -> Team: ...

    def teams_of(self, username: str) -> list[str]: ...

    def set_grant(
        self, kind: ResourceKind, resource: str, subject_kind: SubjectKind, subject: str, role: Role, granted_by: str
    ) -> Grant: ...

    def delete_grant(self, kind: ResourceKind, resource: str, subject_kind: SubjectKind, subject: str) -> None:
        """Raises GrantNotFound."""
        ...

    def list_grants(
        self,
        kind: ResourceKind | None = None,
        resource: str | None = None,
        *,
        subject: tuple[SubjectKind, str] | None = None,
    ) -> list[Grant]: ...

    def roles_held(self, username: str, kind: ResourceKind, resources: Sequence[str] | None = None) -> dict[str, Role]:
        """The best role the user holds on each resource, directly or through a team."""
        ...

    def rename_grants(self, kind: ResourceKind, old: str, new: str) -> None: ...

    def count_sign_in_attempts(self, keys: Iterable[str], *, since: int, record_at: int | None = None) -> int: ...

    def save_sso_login(self, state_digest: str, login: SsoLogin, *, expired_before: int) -> None:
        """Keep a started single sign-on; those begun before ``expired_before`` are dropped."""
        ...

    def take_sso_login(self, state_digest: str) -> SsoLogin | None:
        """The started sign-on with this state, removed in the same transaction: of two
        callbacks with one state, at most one gets it."""
        ...


class LoggedModelStore(Protocol):
    """Logged models' records (core/logged_models.py); their files are their run's artifacts."""

    def create_logged_model(self, model: LoggedModel) -> None: ...

    def get_logged_model(self, model_id: str) -> LoggedModel:
        """Raises LoggedModelNotFound."""
        ...

    def update_logged_model(
        self,
        model_id: str,
        *,
        updated_at: int,
        status: LoggedModelStatus | None = None,
        status_message: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        deleted: bool | None = None,
    ) -> LoggedModel:
        """Change the fields given (tags and params are replaced whole). Raises LoggedModelNotFound."""
        ...

    def list_logged_models(
        self, *, project_ids: list[str] | None = None, run_id: str | None = None, deleted: bool = False
    ) -> list[LoggedModel]:
        """Newest first, in the projects given (all when None), of one run when given."""
        ...


class MonitorStore(Protocol):
    """Monitors, their evaluated windows and their alerts (docs/monitoring.md). Evaluations are
    claimed under a lease, as webhook deliveries are."""

    def create_monitor(
        self,
        model: str,
        name: str,
        *,
        alias: str | None,
        version: int | None,
        config: MonitorConfig,
        schedule_s: int,
        created_by: str,
    ) -> Monitor:
        """Due at once. Raises ModelNotFound, AlreadyExists."""
        ...

    def get_monitor(self, model: str, name: str) -> Monitor:
        """Raises ModelNotFound, MonitorNotFound."""
        ...

    def list_monitors(self, model: str | None = None) -> list[Monitor]:
        """By model name, then monitor name; a model's only when given."""
        ...

    def delete_monitor(self, model: str, name: str) -> Monitor:
        """With its windows and alerts. Raises ModelNotFound, MonitorNotFound."""
        ...

    def claim_monitors(
        self, *, now: int, lease_ms: int, limit: int, model: str | None = None, name: str | None = None
    ) -> list[tuple[Monitor, str]]:
        """Monitors to evaluate, each with its lease token: the due ones, or the one named."""
        ...

    def finish_monitor_run(self, monitor_id: str, token: str, *, next_run_at: int, error: str | None) -> bool:
        """Release the lease and schedule the next run; False when the lease was lost."""
        ...

    def holds_lease(self, monitor_id: str, token: str) -> bool: ...

    def last_window_end(self, monitor_id: str, version: int) -> int | None: ...

    def add_window(self, window: MonitorWindow) -> None: ...

    def list_windows(
        self,
        monitor_id: str,
        *,
        version: int | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 1000,
    ) -> list[MonitorWindow]:
        """The newest ``limit`` windows in the range, oldest first."""
        ...

    def live_alert(self, monitor_id: str, version: int) -> Alert | None:
        """The open or acknowledged alert of the monitor for the version."""
        ...

    def open_alert(
        self, monitor_id: str, version: int, *, window_ms: int, detail: Mapping[str, Any], opened_at: int
    ) -> str: ...

    def extend_alert(self, alert_id: str, *, window_ms: int, detail: Mapping[str, Any]) -> None: ...

    def set_alert_status(self, alert_id: str, status: AlertStatus, *, by: str, at: int) -> None: ...

    def get_alert(self, model: str, alert_id: str) -> Alert:
        """Raises ModelNotFound, AlertNotFound."""
        ...

    def list_alerts(
        self,
        model: str | None = None,
        *,
        monitor: str | None = None,
        statuses: tuple[AlertStatus, ...] = (),
        limit: int = 100,
    ) -> list[Alert]:
        """Newest first."""
        ...


class MetadataStore(
    AccessStore,
    ProjectStore,
    RunStore,
    MetricStore,
    ArtifactStore,
    DiscussionStore,
    RegistryStore,
    LoggedModelStore,
    PredictionLogStore,
    PredictionLabelStore,
    MonitorStore,
    ReviewStore,
    EventStore,
    WebhookStore,
    Protocol,
):
    """Everything the service layer persists. Implemented by :class:`cairn.store.sql.SqlStore`."""

    def close(self) -> None:
        """Release connections."""
        ...
