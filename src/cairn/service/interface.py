"""The tracking interface that clients program against.

:class:`~cairn.service.tracking.TrackingService` implements it in-process (embedded mode) and
:class:`~cairn.client.http.HttpTracking` implements it over the REST API; one contract test
suite runs against both, so local and remote cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from cairn.core.access import ApiToken, Grant, Identity, ResourceKind, Role, Team, User
from cairn.core.archive import ArchivedFile
from cairn.core.artifacts import Artifact, ArtifactEntry, DatasetSpec, DatasetVersion, RunInput, Snapshot, SnapshotFile
from cairn.core.diff import RunDiff
from cairn.core.discussion import Comment, ProjectFields, SavedView
from cairn.core.entities import IngestResult, Page, Project, Run, RunGroup, RunUpdate, SimilarRun
from cairn.core.events import Event
from cairn.core.metrics import MetricBatch, MetricHistory
from cairn.core.monitors import Alert, Monitor, MonitorRun, MonitorWindow
from cairn.core.prediction_labels import PredictionLabelFile
from cairn.core.prediction_logs import PredictionLogFile
from cairn.core.registry import AliasMove, ModelVersion, ModelVersionFolder, RegisteredModel
from cairn.core.reviews import AliasProtection, Review, ReviewComment, ReviewDetail
from cairn.core.webhooks import Delivery, Webhook


class Tracking(Protocol):
    """Projects, runs, params, tags, metrics, artifacts, datasets, snapshots, discussion, the
    model registry, the event log and webhooks.

    Every method raises the typed errors of :mod:`cairn.core.errors`, the same on every
    implementation: bad input is an InvalidInput (nothing of it is stored), an unknown id a
    NotFound, a broken rule a Conflict.
    """

    def create_project(self, name: str, description: str = "") -> Project:
        """Create a project. Raises AlreadyExists if the name is taken."""
        ...

    def get_project(self, name: str) -> Project:
        """The project named ``name``, with its run count and last activity. Raises
        ProjectNotFound."""
        ...

    def list_projects(self) -> list[Project]:
        """Every project, by name."""
        ...

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
    ) -> Run:
        """Start a run in ``project`` (created if new). ``config`` is flattened into params.

        ``run_id`` is an id the client chose (a run started offline, sent when the store is
        back): creating it again returns the run already made, so a replayed creation never
        makes two runs. Raises AlreadyExists if that id is a run of another project."""
        ...

    def get_run(self, run_id: str) -> Run:
        """The run with its params, tags and metric summaries (deleted runs too). Raises
        RunNotFound."""
        ...

    def update_run(self, run_id: str, update: RunUpdate) -> Run:
        """Change status, name, notes or end time (fields left None stay); returns the run.
        A terminal status without an end time sets it to now. An ended run cannot restart
        (RunNotActive), and no run ends before it started (InvalidValue)."""
        ...

    def delete_run(self, run_id: str) -> Run:
        """Mark the run deleted (hidden from listings unless asked for; nothing is erased);
        returns it. Raises RunNotFound."""
        ...

    def restore_run(self, run_id: str) -> Run:
        """Undo :meth:`delete_run`; returns the run. Raises RunNotFound."""
        ...

    def list_runs(
        self,
        project: str,
        *,
        where: str = "",
        order_by: str = "",
        include_deleted: bool = False,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Run]:
        """Runs matching the query ``where`` (docs/query.md), sorted by ``order_by`` (e.g.
        "metrics.acc desc, params.lr"; newest first when empty), at most ``limit`` (1 to
        MAX_PAGE_SIZE) per page; the page's ``next_page_token`` fetches the next. Raises
        InvalidQuery, and InvalidRequest for a token this server did not hand out."""
        ...

    def group_runs(
        self,
        project: str,
        *,
        group_by: str,
        metric: str | None = None,
        where: str = "",
        include_deleted: bool = False,
    ) -> list[RunGroup]:
        """Runs matching ``where`` grouped by a field (e.g. "params.optimizer"), with the count
        and the mean, min and max of ``metric`` (e.g. "metrics.acc") per group."""
        ...

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Log (nested) params, flattened with dots; all or none. The same value again is fine,
        another raises ParamConflict (params are immutable). Raises RunNotActive on an ended
        or deleted run."""
        ...

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Set tags, overwriting those of the same key; all or none. Ended runs may be tagged."""
        ...

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag; a key the run does not have is fine."""
        ...

    def log_metrics(self, run_id: str, batch: MetricBatch) -> IngestResult:
        """Append a batch of points, all or none, and update the run's metric summaries.
        ``(batch.client_id, batch.seq)`` names the batch: sent again, it is acknowledged
        (``duplicate=True``) and not stored twice. Raises RunNotActive on an ended run."""
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
        """The points of metric ``key`` with steps in [step_min, step_max], by step.

        ``total`` counts the points in that window. When ``max_points`` is given and the window
        holds more points than that, the answer is not cut short: it is the window's envelope,
        at most ``max_points`` points (each of about max_points/4 equal step spans keeps its
        first, last, minimum and maximum point, and its first NaN), with ``downsampled=True``;
        ``offset`` and ``limit`` are then ignored, so no spike is lost. Otherwise the points
        from ``offset`` on, at most ``limit`` of them, and ``next_offset`` where the next page
        starts (None on the last page). A run without the metric has an empty history.
        """
        ...

    def find_duplicates(self, project: str, fingerprint: str, limit: int = 5) -> list[Run]:
        """Finished, non-deleted runs of ``project`` whose fingerprint is ``fingerprint``
        (:func:`cairn.core.fingerprint.fingerprint`), newest first; [] for an unknown project."""
        ...

    def similar_runs(self, run_id: str, limit: int = 5) -> list[SimilarRun]:
        """Earlier runs of the run's project, nearest first by param distance (params that
        differ or exist on one side only), ties by how close the numbers are, then newest."""
        ...

    def diff_runs(self, run_id: str, against: str | None = None) -> RunDiff:
        """What changed from ``against`` to the run; without ``against``, from the run's nearest
        earlier run (the first of :meth:`similar_runs`). Raises NotFound if it has none."""
        ...

    # -- artifacts and datasets --------------------------------------------------------------

    def missing_blobs(self, digests: Sequence[str]) -> list[str]:
        """The digests whose bytes the store lacks (the others are marked as just seen)."""
        ...

    def upload_file(self, path: Path, digest: str, size: int, progress: Callable[[int], None] | None = None) -> None:
        """Store a local file's bytes, which must hash to ``digest`` (DigestMismatch if the file
        changed). ``progress`` is called with the bytes sent so far."""
        ...

    def log_artifacts(self, run_id: str, entries: Sequence[ArtifactEntry]) -> list[Artifact]:
        """Register uploaded files under paths of the run, all or none."""
        ...

    def list_artifacts(self, run_id: str, path: str = "") -> list[Artifact]:
        """The run's files at ``path`` or below it, by path."""
        ...

    def read_artifact(self, run_id: str, path: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """An artifact's bytes in [start, end), streamed. Raises ArtifactNotFound."""
        ...

    def read_artifact_folder(self, run_id: str, path: str) -> Iterator[tuple[ArchivedFile, Iterator[bytes]]]:
        """Every file at ``path`` (a folder, or one file) and below, by path, each with its
        digest and its bytes, streamed in one go (over HTTP, one archive): read each file's bytes
        to the end before the next. At most MAX_ARCHIVE_FILES files. Raises ArtifactNotFound."""
        ...

    def log_dataset(self, run_id: str, spec: DatasetSpec, context: str = "train") -> DatasetVersion:
        """Record a dataset version as an input of the run (one version per name and content)."""
        ...

    def list_datasets(self, project: str, name: str | None = None) -> list[DatasetVersion]:
        """A project's dataset versions, newest first per name, with the runs that used each."""
        ...

    def run_inputs(self, run_id: str) -> list[RunInput]:
        """The dataset versions the run used, each with its context ("train", ...)."""
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
        """Record the run's snapshot of ``kind`` (code, environment, command…) from uploaded files."""
        ...

    def run_snapshots(self, run_id: str) -> list[Snapshot]:
        """The run's snapshots, by kind (one per kind: code, environment, command, ...)."""
        ...

    def get_snapshot(self, snapshot_id: str) -> Snapshot:
        """A snapshot and its files; its id is the digest of its tree. Raises NotFound."""
        ...

    def read_snapshot_file(self, snapshot_id: str, path: str) -> Iterator[bytes]:
        """The bytes of the snapshot's file at ``path``, streamed. Raises NotFound."""
        ...

    # -- discussion: comments, saved views, field names -------------------------------------

    def add_comment(self, run_id: str, body: str) -> Comment:
        """Comment on a run as the acting user; ``body`` is markdown, stored as given (1 to
        20,000 characters, not only whitespace: InvalidValue). Finished and deleted runs may be
        commented on. ``@name`` mentions are parsed into ``mentions``."""
        ...

    def list_comments(self, run_id: str) -> list[Comment]:
        """The run's comments, oldest first. Raises RunNotFound."""
        ...

    def edit_comment(self, comment_id: str, body: str) -> Comment:
        """Replace a comment's body; only its author may (PermissionDenied). Raises CommentNotFound."""
        ...

    def delete_comment(self, comment_id: str) -> None:
        """Delete a comment; only its author may (PermissionDenied). Raises CommentNotFound."""
        ...

    def save_view(
        self,
        project: str,
        name: str,
        *,
        query: str = "",
        order_by: str = "",
        columns: Sequence[str] = (),
        charts: Sequence[str] = (),
        group_by: str = "",
    ) -> SavedView:
        """Save a named view of the project's runs; a name the project has already is replaced
        (same id). ``query`` and ``order_by`` as :meth:`list_runs` takes them, ``columns`` and
        ``group_by`` fields of the query language, ``charts`` metric keys. Raises InvalidQuery,
        InvalidValue, ProjectNotFound."""
        ...

    def list_views(self, project: str) -> list[SavedView]:
        """The project's saved views, by name."""
        ...

    def get_view(self, view_id: str) -> SavedView:
        """Raises ViewNotFound."""
        ...

    def delete_view(self, view_id: str) -> None:
        """Raises ViewNotFound."""
        ...

    def project_fields(self, project: str) -> ProjectFields:
        """The sorted, distinct param, metric and tag keys of the project's newest 2,000 live
        runs (for autocomplete)."""
        ...

    # -- the model registry (docs/registry.md) ---------------------------------------------

    def create_model(self, name: str, description: str = "", tags: Mapping[str, str] | None = None) -> RegisteredModel:
        """Register a model name with no versions yet (names have no ``/`` or ``@``: InvalidValue).
        Raises AlreadyExists."""
        ...

    def get_model(self, name: str) -> RegisteredModel:
        """The model with its tags, aliases and latest version number. Raises ModelNotFound."""
        ...

    def update_model(self, name: str, description: str) -> RegisteredModel:
        """Replace the model's description. Raises ModelNotFound."""
        ...

    def delete_model(self, name: str) -> None:
        """Delete the model with every version, alias and tag; runs and files stay. Raises
        ModelNotFound."""
        ...

    def list_models(
        self,
        *,
        where: str = "",
        name_like: str | None = None,
        tags: Mapping[str, str] | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        """Models by name for which the query ``where`` holds (docs/query.md: ``name``,
        ``tags.KEY``, ``alias``, ``latest_version``, ``created``…), ``limit`` (1 to 10,000) at
        a time. ``name_like`` is a LIKE pattern (``%`` any text, ``_`` one character,
        case-sensitive); every tag of ``tags`` must match. Raises InvalidQuery."""
        ...

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        """Set one tag of the model. Raises ModelNotFound."""
        ...

    def delete_model_tag(self, name: str, key: str) -> None:
        """Remove one tag of the model, if it has it. Raises ModelNotFound."""
        ...

    def register_model(
        self, source: str, name: str, *, description: str = "", tags: Mapping[str, str] | None = None
    ) -> ModelVersion:
        """Register the logged model at ``runs:/RUN_ID/PATH`` as the next version of ``name``
        (the model is made if new), recording the folder's tree digest, flavor, signature and
        the run's datasets. Raises InvalidValue (bad source or name, a manifest that is not
        format 1 or does not match the folder), RunNotFound, RunNotActive (deleted run),
        ArtifactNotFound (no ``cairn-model.json`` at PATH)."""
        ...

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        """Raises ModelNotFound, ModelVersionNotFound."""
        ...

    def list_model_versions(
        self, name: str, *, where: str = "", limit: int = 100, page_token: str | None = None
    ) -> Page[ModelVersion]:
        """The model's versions for which the query ``where`` holds, newest first, ``limit``
        (1 to 10,000) at a time. Raises ModelNotFound, InvalidQuery, InvalidPageToken."""
        ...

    def search_model_versions(
        self, *, where: str = "", limit: int = 100, page_token: str | None = None
    ) -> Page[ModelVersion]:
        """Versions of every model for which the query ``where`` holds (docs/query.md:
        ``name``, ``version``, ``stage``, ``flavor``, ``alias``, ``tags.KEY``, and the source
        run's fields as ``run.params.KEY``, ``run.metrics.KEY``…), by model name, then newest
        first, ``limit`` (1 to 10,000) at a time. Raises InvalidQuery, InvalidPageToken."""
        ...

    def run_model_versions(self, run_id: str) -> list[ModelVersion]:
        """Every version registered from the run, by model name and version. Raises RunNotFound."""
        ...

    def dataset_model_versions(self, dataset_version_id: str) -> list[ModelVersion]:
        """Every version whose source run used the dataset version, by model name and version."""
        ...

    def update_model_version(self, name: str, version: int, description: str) -> ModelVersion:
        """Replace the version's description. Raises ModelNotFound, ModelVersionNotFound."""
        ...

    def transition_stage(self, name: str, version: int, stage: str, *, archive_existing: bool = False) -> ModelVersion:
        """Move the version to None, Staging, Production or Archived (InvalidValue otherwise);
        with ``archive_existing``, the model's other versions in that stage (Staging or
        Production) are archived in the same transaction."""
        ...

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        """Set one tag of the version. Raises ModelNotFound, ModelVersionNotFound."""
        ...

    def delete_model_version_tag(self, name: str, version: int, key: str) -> None:
        """Remove one tag of the version, if it has it. Raises ModelNotFound, ModelVersionNotFound."""
        ...

    def set_model_alias(self, name: str, alias: str, version: int) -> AliasMove:
        """Point ``alias`` (``[a-z][a-z0-9_-]*``, not ``v3`` or ``latest``: InvalidValue) at
        ``version``, moving it off the version it named; recorded with who and when. Raises
        ModelNotFound, ModelVersionNotFound, ReviewRequired (a protected alias moves only by
        merging a review)."""
        ...

    def delete_model_alias(self, name: str, alias: str) -> AliasMove:
        """Remove the alias; recorded. Raises ModelNotFound, AliasNotFound, ReviewRequired."""
        ...

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version the alias points at. Raises ModelNotFound, AliasNotFound."""
        ...

    def read_model_version_folder(
        self, name: str, version: int | None = None, *, alias: str | None = None
    ) -> ModelVersionFolder:
        """The model folder of a version, by number or by the alias pointing at it (exactly one):
        where it was logged, the tree digest the version recorded, and every file with its digest
        and bytes (over HTTP, one request). Raises ModelNotFound, ModelVersionNotFound,
        AliasNotFound, ArtifactNotFound."""
        ...

    def model_alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every set, move and removal of the model's aliases (of ``alias`` only, if given),
        oldest first. Raises ModelNotFound."""
        ...

    # -- prediction logs: what a served version was asked and answered (docs/prediction-logs.md)

    def log_predictions(self, name: str, version: int, hour_ms: int, parquet_bytes: bytes) -> PredictionLogFile:
        """Keep a Parquet file of the version's predictions within the UTC hour starting at
        ``hour_ms`` (a multiple of 3,600,000): columns ``request_id``, ``timestamp_ms``,
        ``latency_ms``, ``model_version`` and the inputs and predictions. Needs the right to
        write to the model. Raises InvalidPredictionLog (not Parquet, a required column missing
        or of the wrong type, no rows, another version, a time outside the hour: nothing kept),
        InvalidValue, PayloadTooLarge (over 64 MiB), ModelNotFound, ModelVersionNotFound."""
        ...

    def list_prediction_logs(
        self,
        name: str,
        version: int | None = None,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 1000,
        page_token: str | None = None,
    ) -> Page[PredictionLogFile]:
        """The model's prediction log files (the version's, if given) that hold a prediction in
        [since_ms, until_ms), oldest first by their first prediction, ``limit`` (1 to 10,000) at
        a time. Raises ModelNotFound, ModelVersionNotFound, InvalidPageToken."""
        ...

    def read_prediction_log(self, name: str, version: int, file_id: str) -> bytes:
        """The bytes of one prediction log file (Parquet). Raises ModelNotFound,
        ModelVersionNotFound, PredictionLogNotFound."""
        ...

    # -- labels: the ground truth of logged predictions (docs/monitoring.md, "Labels")

    def log_prediction_labels(
        self,
        name: str,
        version: int,
        ids: Sequence[str],
        labels: Sequence[Any],
        timestamps: Sequence[int] | None = None,
    ) -> PredictionLabelFile:
        """Keep labels of the version's logged predictions, by request id (at most 100,000 a
        call), each known at its timestamp (ms; now when not given). A later label of an id
        replaces an earlier one. Needs the right to write to the model. Raises
        InvalidPredictionLabels, UnknownPredictionIds (the whole batch refused: nothing kept),
        ModelNotFound, ModelVersionNotFound."""
        ...

    def list_prediction_labels(
        self,
        name: str,
        version: int,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 1000,
        page_token: str | None = None,
    ) -> Page[PredictionLabelFile]:
        """The version's label files that label a prediction made in [since_ms, until_ms),
        oldest first by the first prediction they label, ``limit`` (1 to 10,000) at a time.
        Raises ModelNotFound, ModelVersionNotFound, InvalidPageToken."""
        ...

    def read_prediction_labels(self, name: str, version: int, file_id: str) -> bytes:
        """The bytes of one label file (Parquet: request_id, label, timestamp_ms). Raises
        ModelNotFound, ModelVersionNotFound, PredictionLabelsNotFound."""
        ...

    # -- monitoring: drift and performance of a served model (docs/monitoring.md) ------------

    def create_monitor(
        self,
        model: str,
        name: str = "default",
        *,
        alias: str | None = None,
        version: int | None = None,
        features: Sequence[str] | None = None,
        predictions: bool = True,
        window: str = "1d",
        schedule: str | int = 3600,
        drift: Mapping[str, Any] | None = None,
        performance: Mapping[str, float] | None = None,
        alert_on: str = "feature",
        reference: Mapping[str, Any] | None = None,
    ) -> Monitor:
        """A monitor of ``model``, following ``alias`` (``champion`` when neither alias nor
        version is given) or one version, due at once. Needs the maintainer role. Raises
        InvalidValue (naming the field), ModelNotFound, AliasNotFound, ModelVersionNotFound,
        AlreadyExists."""
        ...

    def get_monitor(self, model: str, name: str = "default") -> Monitor:
        """Raises ModelNotFound, MonitorNotFound."""
        ...

    def list_monitors(self, model: str | None = None) -> list[Monitor]:
        """The model's monitors, or those of every model the caller may read."""
        ...

    def delete_monitor(self, model: str, name: str = "default") -> None:
        """The monitor with its windows and alerts. Raises ModelNotFound, MonitorNotFound."""
        ...

    def run_monitor(self, model: str, name: str = "default") -> MonitorRun:
        """Evaluate the monitor now: every ended window since the last evaluated. ``busy`` when
        another process is evaluating it. Raises ModelNotFound, MonitorNotFound."""
        ...

    def run_due_monitors(self, *, limit: int = 100) -> list[MonitorRun]:
        """Evaluate every due monitor the caller may run (what the server does on its own)."""
        ...

    def list_monitor_windows(
        self,
        model: str,
        name: str = "default",
        *,
        version: int | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 1000,
    ) -> list[MonitorWindow]:
        """The monitor's evaluated windows (the newest ``limit`` in [since_ms, until_ms)),
        oldest first. Raises ModelNotFound, MonitorNotFound."""
        ...

    def list_alerts(
        self, model: str | None = None, *, monitor: str | None = None, status: Sequence[str] = (), limit: int = 100
    ) -> list[Alert]:
        """Alerts newest first, of the model (one of its monitors) or of every model the caller
        may read; ``status`` keeps those open, acknowledged or resolved."""
        ...

    def acknowledge_alert(self, model: str, alert_id: str) -> Alert:
        """Mark an alert seen; it stays its episode's. Raises AlertNotFound, Conflict (resolved)."""
        ...

    def resolve_alert(self, model: str, alert_id: str) -> Alert:
        """End an alert's episode by hand. Raises AlertNotFound, Conflict (resolved already)."""
        ...

    def drift_report(
        self,
        model: str,
        *,
        version: int | None = None,
        alias: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        window: str = "1d",
        monitor: str | None = None,
    ) -> dict[str, Any]:
        """Drift per window of a version's logged predictions against its reference, computed
        now, in the fixed form of ``cairn monitor report --json`` (docs/monitoring.md).
        Raises ModelNotFound, ModelVersionNotFound, AliasNotFound, ReferenceUnavailable."""
        ...

    def performance_report(
        self,
        model: str,
        version: int,
        window: str = "1d",
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> dict[str, Any]:
        """Performance per window of the version's labelled predictions in [start_ms, end_ms),
        measured now with the labels known now: ``{"model", "version", "kind", "windows":
        [{"start", "end", "rows", "labelled", "metrics"}]}`` (docs/monitoring.md). Raises
        ModelNotFound, ModelVersionNotFound, InvalidValue."""
        ...

    # -- reviews: a pull request for a model (docs/registry.md, "Reviews") -------------------

    def protect_alias(
        self,
        name: str,
        alias: str,
        *,
        approvals: int = 1,
        checks: Sequence[str] = (),
        approve_role: str = "editor",
        merge_role: str = "maintainer",
    ) -> AliasProtection:
        """Protect ``alias`` of the model (it need not point anywhere yet), or replace its
        protection: from now on it moves only by merging a review with ``approvals`` (0 to 100)
        approvals from people other than its author, and every check passing. A check is a
        query-language condition on the candidate's source run (``metrics.val/accuracy >=
        0.92``), ``signature-unchanged`` or ``no-archived-duplicate``. With authentication, an
        approver needs at least ``approve_role`` on the model and whoever merges
        ``merge_role`` (viewer, editor, maintainer or admin), and protecting needs the model's
        admin role. Raises InvalidValue, InvalidQuery, ModelNotFound."""
        ...

    def unprotect_alias(self, name: str, alias: str) -> None:
        """Lift the protection; open reviews stay open. Raises ModelNotFound, ProtectionNotFound."""
        ...

    def get_alias_protection(self, name: str, alias: str) -> AliasProtection:
        """Raises ModelNotFound, ProtectionNotFound."""
        ...

    def list_alias_protections(self, name: str) -> list[AliasProtection]:
        """The model's protected aliases, by alias. Raises ModelNotFound."""
        ...

    def open_review(self, name: str, version: int, alias: str, *, description: str = "") -> Review:
        """Open a review proposing to move ``alias`` to ``version``, authored by the acting
        user; the protection's checks run now and their results are kept. Raises
        ModelNotFound, ModelVersionNotFound, InvalidValue (the version already holds the alias,
        or a bad alias), AlreadyExists (an open review of that version for that alias)."""
        ...

    def get_review(self, review_id: int) -> Review:
        """Raises ReviewNotFound."""
        ...

    def list_reviews(
        self,
        *,
        model: str | None = None,
        alias: str | None = None,
        state: str | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Review]:
        """Reviews newest first, ``limit`` (1 to 10,000) at a time, of one model, alias or
        state (open, merged, closed) when given. Raises InvalidValue, ModelNotFound,
        InvalidPageToken."""
        ...

    def review_detail(self, review_id: int) -> ReviewDetail:
        """What a review's page shows, in one call: the review, its protection and thread, the
        candidate beside the version it is compared with (the alias's holder while open), their
        source runs with params and metrics, the run diff, and how their code and environment
        snapshots differ. Raises ReviewNotFound."""
        ...

    def approve_review(self, review_id: int, body: str = "") -> Review:
        """Approve as the acting user, replacing their earlier vote. Raises ReviewNotFound,
        ReviewNotOpen, SelfApproval (the author cannot approve their own review)."""
        ...

    def request_changes(self, review_id: int, body: str) -> Review:
        """Ask for changes (``body`` says which; required), replacing the acting user's earlier
        vote; the review cannot merge until they approve. Raises ReviewNotFound, ReviewNotOpen,
        SelfApproval, InvalidValue."""
        ...

    def comment_review(self, review_id: int, body: str, *, reply_to: int | None = None) -> ReviewComment:
        """Add a markdown comment to the review's thread (``@name`` mentions kept as data),
        answering the entry ``reply_to`` if given. Raises ReviewNotFound, CommentNotFound,
        InvalidValue."""
        ...

    def run_review_checks(self, review_id: int) -> Review:
        """Run an open review's checks again now and keep the results. Raises ReviewNotFound,
        ReviewNotOpen."""
        ...

    def merge_review(self, review_id: int) -> Review:
        """Run the checks again; if all pass, the approvals are in and nobody asks for changes,
        move the alias to the candidate (recorded in its history) and mark the review merged by
        the acting user, in one unit of work. Raises ReviewNotFound, ReviewNotOpen,
        ReviewNotMergeable (``details`` say what blocks it; nothing changed)."""
        ...

    def close_review(self, review_id: int) -> Review:
        """Close an open review without moving the alias. Raises ReviewNotFound, ReviewNotOpen."""
        ...

    def list_events(
        self,
        *,
        types: Sequence[str] = (),
        subject: str | None = None,
        actor: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Event]:
        """The event log, newest first, ``limit`` (1 to 10,000) at a time: every change to the
        registry and every run's creation, status change, deletion and restoration. ``types``
        are event types or patterns (``model_version.*``, ``*``); ``subject`` a path such as
        ``models/NAME/versions/3``, and ``PATH/*`` takes the subjects under it too; ``since``
        and ``until`` are milliseconds, ``until`` exclusive. Raises InvalidValue (an unknown
        type), InvalidPageToken."""
        ...

    def create_webhook(
        self,
        url: str,
        events: Sequence[str],
        *,
        secret: str | None = None,
        description: str = "",
        active: bool = True,
    ) -> Webhook:
        """Subscribe ``url`` to event types or patterns (``model_version.created``, ``review.*``,
        ``*``); every later event of those types is delivered to it, signed with ``secret`` (one
        is made when None). The answer is the only one that carries the secret. Raises
        InvalidValue (a URL that is not http(s), an unknown type, a secret too short),
        WebhookUrlRefused (a loopback or private address, unless allowed)."""
        ...

    def get_webhook(self, webhook_id: str) -> Webhook:
        """The webhook, with a fingerprint of its secret instead of the secret. Raises
        WebhookNotFound."""
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
        """Change what is not None: a disabled webhook (``active=False``) gets no new deliveries
        and its pending ones wait until it is enabled again. Raises WebhookNotFound and the
        errors of :meth:`create_webhook`."""
        ...

    def delete_webhook(self, webhook_id: str) -> None:
        """Delete the webhook with its deliveries: nothing more is sent to it. Raises
        WebhookNotFound."""
        ...

    def list_webhook_deliveries(
        self, webhook_id: str, *, status: str | None = None, limit: int = 50, page_token: str | None = None
    ) -> Page[Delivery]:
        """The webhook's deliveries with their attempts, newest event first, ``limit`` (1 to
        1,000) at a time; ``status`` is pending, succeeded or failed. Raises WebhookNotFound,
        InvalidValue, InvalidPageToken."""
        ...

    def get_webhook_delivery(self, webhook_id: str, delivery_id: str) -> Delivery:
        """One delivery with its attempts. Raises WebhookNotFound, DeliveryNotFound."""
        ...

    def redeliver_webhook_delivery(self, webhook_id: str, delivery_id: str) -> Delivery:
        """Send the delivery again, with the same ``webhook-id``: a finished one is pending
        with a new round of attempts, a pending one is due now. Raises WebhookNotFound,
        DeliveryNotFound."""
        ...

    # -- users, tokens, teams and roles (docs/access.md) -----------------------------------

    def whoami(self) -> Identity:
        """Who acts: the name, whether they may do everything, how they signed in, their teams
        and their account (None where no account has the name: embedded mode, no sign-in)."""
        ...

    def create_user(
        self,
        username: str,
        *,
        password: str | None = None,
        display_name: str = "",
        email: str = "",
        is_admin: bool = False,
        is_service: bool = False,
    ) -> User:
        """A new user (admins only); a service account (``is_service``) has no password and
        signs in with tokens only. Raises AlreadyExists, InvalidValue (a name's characters, a
        password too short, too long or too common), PermissionDenied."""
        ...

    def get_user(self, username: str) -> User:
        """A user: oneself, or anyone for an admin. Raises UserNotFound (also for one the
        caller may not look up)."""
        ...

    def list_users(self) -> list[User]:
        """Every user, by name (admins only). Raises PermissionDenied."""
        ...

    def update_user(
        self,
        username: str,
        *,
        display_name: str | None = None,
        email: str | None = None,
        is_admin: bool | None = None,
        disabled: bool | None = None,
    ) -> User:
        """Change what is not None: one's own display name and email; anything of anyone for
        an admin. Disabling ends the user's sessions and refuses their tokens at once; the last
        enabled admin stays one. Raises UserNotFound, PermissionDenied, InvalidValue."""
        ...

    def set_password(self, username: str, password: str, *, current_password: str | None = None) -> None:
        """A new password: one's own (with the current one), anyone's for an admin. Raises
        PermissionDenied (a wrong current password), InvalidValue, UserNotFound."""
        ...

    def create_token(
        self, name: str, *, username: str | None = None, expires_at: int | None = None
    ) -> tuple[ApiToken, str]:
        """A new API token named ``name`` for the acting user (admins: for ``username``, a
        service account), expiring at ``expires_at`` (milliseconds; None never, at most a year
        ahead), and its secret: the only time it is shown. Raises InvalidValue, UserNotFound,
        PermissionDenied (a disabled owner)."""
        ...

    def list_tokens(self, username: str | None = None) -> list[ApiToken]:
        """The acting user's tokens, oldest first, without their secrets; admins may name a
        user, or ``"*"`` for everyone's. Raises UserNotFound."""
        ...

    def revoke_token(self, token_id: str) -> ApiToken:
        """Revoke a token at once (one's own; anyone's for an admin); returns it. Raises
        TokenNotFound."""
        ...

    def create_team(self, name: str, description: str = "") -> Team:
        """A new, empty team (admins only). Raises AlreadyExists, InvalidValue,
        PermissionDenied."""
        ...

    def delete_team(self, name: str) -> None:
        """Delete a team and the roles it held (admins only). Raises TeamNotFound."""
        ...

    def list_teams(self) -> list[Team]:
        """Every team with its members, by name."""
        ...

    def set_team_member(self, team: str, username: str, member: bool = True) -> Team:
        """Add ``username`` to ``team`` (or, ``member=False``, take them out); returns the team.
        Admins only. Raises TeamNotFound, UserNotFound."""
        ...

    def grant_role(self, kind: ResourceKind, resource: str, subject: str, role: Role, *, team: bool = False) -> Grant:
        """Give a user (a team, with ``team``) ``role`` on a project or registered model,
        replacing the one it held; needs the admin role there. Raises UserNotFound,
        TeamNotFound, ProjectNotFound, ModelNotFound, PermissionDenied."""
        ...

    def revoke_role(self, kind: ResourceKind, resource: str, subject: str, *, team: bool = False) -> None:
        """Take a user's (team's) role on a project or model away; needs the admin role there.
        Raises GrantNotFound, ProjectNotFound, ModelNotFound, PermissionDenied."""
        ...

    def list_grants(self, kind: ResourceKind, resource: str) -> list[Grant]:
        """Who holds which role on a project or model, for anyone who can see it. Raises
        ProjectNotFound, ModelNotFound."""
        ...

    def close(self) -> None:
        """Release connections and files; the object is not used afterwards."""
        ...
