"""The tracking rules: what may be logged, to which run, by whom.

Both the server and the embedded client call this class, so a rule lives in exactly one place.
The store below guarantees atomicity; the rules above it are here:

- metrics and params go only to a run that is running and not deleted;
- tags and notes may still change after a run ends (people mark the best run afterwards);
- a run that ended does not start running again; ending it twice the same way is a no-op;
- params are immutable (the store checks it atomically, see ``MetadataStore.log_params``);
- every key, name and value is checked against the limits in :mod:`cairn.core.limits`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cairn.core import limits
from cairn.core.access import ResourceKind, Role, SubjectKind
from cairn.core.clock import now_ms
from cairn.core.diff import RunDiff, diff_runs
from cairn.core.entities import (
    IngestResult,
    Page,
    ParamValue,
    Project,
    Run,
    RunGroup,
    RunStatus,
    RunUpdate,
    SimilarRun,
)
from cairn.core.errors import (
    AlreadyExists,
    Conflict,
    InvalidQuery,
    InvalidRequest,
    InvalidValue,
    NotFound,
    ProjectNotFound,
    RunNotActive,
    RunNotFound,
)
from cairn.core.events import EventType, project_subject, run_subject
from cairn.core.fingerprint import check_fingerprint
from cairn.core.metrics import MetricBatch, MetricHistory
from cairn.core.names import generate_run_name
from cairn.core.params import flatten_config
from cairn.core.query.ast import Source
from cairn.core.query.parser import parse_field, parse_order, parse_query
from cairn.core.query.request import GroupQuery, RunQuery
from cairn.service.access import AccessRules
from cairn.service.artifacts import ArtifactRules
from cairn.service.discussion import DiscussionRules
from cairn.service.logged_models import LoggedModelRules
from cairn.service.monitors import MonitorRules
from cairn.service.policy import Action, AllowAll, Policy, Principal, check_run
from cairn.service.prediction_labels import PredictionLabelRules
from cairn.service.prediction_logs import PredictionLogRules
from cairn.service.reviews import ReviewRules
from cairn.service.webhooks import WebhookRules
from cairn.store.base import MetadataStore

if TYPE_CHECKING:
    from cairn.blobs.base import BlobStore


class TrackingService(
    AccessRules,
    ArtifactRules,
    DiscussionRules,
    ReviewRules,
    WebhookRules,
    PredictionLogRules,
    PredictionLabelRules,
    LoggedModelRules,
    MonitorRules,
):
    """Implements :class:`cairn.service.interface.Tracking` over a metadata store and a blob
    store (without one, everything but artifacts and stored datasets works).

    ``allow_private_webhooks`` lets webhooks name loopback and private addresses (a server's
    ``--allow-private-webhooks``; ``CAIRN_ALLOW_PRIVATE_WEBHOOKS`` in embedded mode)."""

    def __init__(
        self,
        store: MetadataStore,
        principal: Principal,
        policy: Policy | None = None,
        blobs: BlobStore | None = None,
        *,
        allow_private_webhooks: bool = False,
    ) -> None:
        self.store = store
        self.principal = principal
        self.policy = policy or AllowAll()
        self._blobs = blobs
        self.allow_private_webhooks = allow_private_webhooks

    def acting_as(self, principal: Principal) -> TrackingService:
        """The same service for another principal (the server makes one per request)."""
        return TrackingService(
            self.store, principal, self.policy, self._blobs, allow_private_webhooks=self.allow_private_webhooks
        )

    # -- projects ---------------------------------------------------------------------------

    def create_project(self, name: str, description: str = "", tags: Mapping[str, str] | None = None) -> Project:
        """A new project. Any signed-in user may make one, and becomes its admin in the same
        unit of work. Raises AlreadyExists."""
        limits.check_name(name, "project name")
        limits.check_text(description, "project description", limits.MAX_PROJECT_DESCRIPTION_LENGTH)
        checked_tags = _checked_tags(tags or {})
        self.policy.check(self.principal, Action.READ, None)  # signed in: nothing more
        with self.store.atomic():
            project = self.store.create_project(name, description)
            self.store.set_project_tags(project.id, checked_tags)
            self._grant_creator(ResourceKind.PROJECT, project.name)
            data: dict[str, Any] = {"description": description}
            if checked_tags:
                data["tags"] = checked_tags
            self._record(EventType.PROJECT_CREATED, project_subject(project.name), data)
        return project

    def get_project(self, name: str, *, with_counts: bool = True) -> Project:
        """The project by name or id; without its run counts and last activity (a scan of its
        runs) when ``with_counts`` is false, for a caller that only needs to find it."""
        project = self.store.get_project(name, with_counts=with_counts)
        self.policy.check(self.principal, Action.READ, project.name)
        return project

    def list_projects(self, *, include_deleted: bool = False) -> list[Project]:
        """The projects the principal may see (every one for an admin and without auth)."""
        self.policy.check(self.principal, Action.READ, None)
        visible = self.policy.visible(self.principal, ResourceKind.PROJECT)
        return self.store.list_projects(names=visible, include_deleted=include_deleted)

    def delete_project(self, name: str) -> Project:
        """Delete a project (``name`` may be its id) and its runs, softly: it leaves listings
        and takes no new runs until :meth:`restore_project`. Needs the delete right."""
        return self._set_project_deleted(name, True)

    def restore_project(self, name: str) -> Project:
        """Restore a deleted project and every run of it (as MLflow restores an experiment)."""
        return self._set_project_deleted(name, False)

    def _set_project_deleted(self, name: str, deleted: bool) -> Project:
        project = self.store.get_project(name, with_counts=False)
        self.policy.check(self.principal, Action.DELETE, project.name)
        if project.deleted != deleted:
            event = EventType.PROJECT_DELETED if deleted else EventType.PROJECT_RESTORED
            with self.store.atomic():
                self.store.set_project_deleted(project.id, deleted)
                self._record(event, project_subject(project.name), {"project_id": project.id})
        return self.store.get_project(project.id)

    def project_tags(self, name: str) -> dict[str, str]:
        project = self.store.get_project(name, with_counts=False)
        self.policy.check(self.principal, Action.READ, project.name)
        return self.store.project_tags(project.id)

    def tags_of_projects(self, projects: list[Project]) -> dict[str, dict[str, str]]:
        """The tags of projects the caller listed (so may read), by project id, in one read."""
        for project in projects:
            self.policy.check(self.principal, Action.READ, project.name)
        return self.store.tags_of_projects([project.id for project in projects])

    def set_project_tags(self, name: str, tags: Mapping[str, str]) -> None:
        checked = _checked_tags(tags)
        project = self.store.get_project(name, with_counts=False)
        self.policy.check(self.principal, Action.WRITE, project.name)
        with self.store.atomic():
            self.store.set_project_tags(project.id, checked)
            self._record(EventType.PROJECT_TAG_SET, project_subject(project.name), {"tags": dict(checked)})

    def delete_project_tag(self, name: str, key: str) -> None:
        """Remove a project's tag. Raises NotFound if it has none by that key."""
        limits.check_key(key, "tag")
        project = self.store.get_project(name, with_counts=False)
        self.policy.check(self.principal, Action.WRITE, project.name)
        with self.store.atomic():
            if not self.store.delete_project_tag(project.id, key):
                raise NotFound(
                    f"project {project.name!r} has no tag {key!r}", details={"project": project.name, "key": key}
                )
            self._record(EventType.PROJECT_TAG_DELETED, project_subject(project.name), {"key": key})

    def rename_project(self, name: str, new_name: str) -> Project:
        """Rename a project (``name`` may also be its id); its runs, views and roles follow it.
        Needs the maintain role, as changing who finds the project where. Raises AlreadyExists."""
        limits.check_name(new_name, "project name")
        project = self.store.get_project(name, with_counts=False)
        self.policy.check(self.principal, Action.MAINTAIN, project.name)
        if project.deleted:
            raise Conflict(f"project {project.name!r} is deleted; restore it first", details={"project": project.name})
        if new_name != project.name:
            with self.store.atomic():
                self.store.rename_project(project.id, new_name)
                data = {"from": project.name, "to": new_name}
                self._record(EventType.PROJECT_RENAMED, project_subject(new_name), data)
        return self.store.get_project(project.id)

    def _project_id(self, name: str, action: Action = Action.READ) -> str:
        """The id of a project, without the run counts a listing shows (they cost a scan)."""
        project = self.store.get_project(name, with_counts=False)
        self.policy.check(self.principal, action, project.name)
        return project.id

    def _project_for_new_run(self, name: str) -> Project:
        """The project a new run goes to, with the right to write to it; made (by a first run)
        if it does not exist yet, as :meth:`create_project` makes one."""
        try:
            project = self.store.get_project(name, with_counts=False)
            self.policy.check(self.principal, Action.WRITE, project.name)
        except ProjectNotFound:
            try:
                return self.create_project(name)
            except AlreadyExists:  # created by a concurrent first run
                project = self.store.get_project(name, with_counts=False)
                self.policy.check(self.principal, Action.WRITE, project.name)
        if project.deleted:
            # MLflow's answer too (an invalid value, not a state): the project is the argument.
            raise InvalidValue(
                f"project {project.name!r} is deleted; restore it before starting runs in it",
                details={"project": project.name},
            )
        return project

    def _grant_creator(self, kind: ResourceKind, name: str) -> None:
        """Make whoever signed in and created a project or model its admin (call it inside the
        creation's unit of work). Without authentication nobody holds roles, so none is kept."""
        if self.principal.authenticated:
            self.store.set_grant(kind, name, SubjectKind.USER, self.principal.name, Role.ADMIN, self.principal.name)

    # -- runs -------------------------------------------------------------------------------

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
        limits.check_name(project, "project name")
        self.policy.check(self.principal, Action.READ, None)  # signed in; the project's own check follows
        if run_id is not None:
            existing = self._run_created_before(limits.check_run_id(run_id), project)
            if existing is not None:
                return existing
        params = _checked_params(config or {})
        checked_tags = _checked_tags(tags or {})
        run_name = generate_run_name() if name is None else limits.check_name(name, "run name")
        # Signed in, the run is the signed-in user's, whatever name the client sends (the SDK
        # sends the operating-system user): a token cannot log runs as somebody else.
        claimed = None if user is None else limits.check_name(user, "user")
        run_user = self.principal.name if claimed is None or self.principal.authenticated else claimed
        limits.check_text(notes, "notes", limits.MAX_NOTES_LENGTH)
        if start_time is not None:
            limits.check_timestamp(start_time)
        if parent_id is not None:
            parent = self.store.get_run(parent_id, details=False)  # RunNotFound before anything is written
            check_run(self.policy, self.principal, Action.READ, parent)
        project_id = self._project_for_new_run(project).id
        with self.store.atomic():
            run = self.store.create_run(
                project_id,
                name=run_name,
                user=run_user,
                start_time=now_ms() if start_time is None else start_time,
                parent_id=parent_id,
                notes=notes,
                tags=checked_tags,
                params=params,
                run_id=run_id,
            )
            self._record(EventType.RUN_CREATED, run_subject(run.id), _run_data(run))
        return run

    def _run_created_before(self, run_id: str, project: str) -> Run | None:
        """The run ``run_id`` if a replayed creation already made it in ``project``."""
        try:
            run = self.store.get_run(run_id)
        except RunNotFound:
            return None
        if run.project != project:
            raise AlreadyExists(f"run id {run_id} is taken by a run of another project", details={"run_id": run_id})
        check_run(self.policy, self.principal, Action.WRITE, run)
        return run

    def get_run(self, run_id: str, *, details: bool = True) -> Run:
        """The run; without params, tags and metric summaries (one row, read faster) when
        ``details`` is false, for a caller that only needs to know it exists and where."""
        run = self.store.get_run(run_id, details=details)
        check_run(self.policy, self.principal, Action.READ, run)
        return run

    def update_run(self, run_id: str, update: RunUpdate) -> Run:
        run = self._writable_run(run_id, Action.WRITE, allow_ended=True)
        if update.name is not None:
            limits.check_name(update.name, "run name")
        if update.notes is not None:
            limits.check_text(update.notes, "notes", limits.MAX_NOTES_LENGTH)
        if update.end_time is not None:
            limits.check_timestamp(update.end_time)
            if update.end_time < run.start_time:
                raise InvalidValue("a run cannot end before it started", details={"start_time": run.start_time})
        if update.status is not None and update.status is not run.status:
            if run.status.is_terminal:
                raise RunNotActive(
                    f"run {run_id} has already ended as {run.status.value}; it cannot become {update.status.value}",
                    details={"run_id": run_id, "status": run.status.value},
                )
            if update.status.is_terminal and update.end_time is None:
                update = RunUpdate(status=update.status, name=update.name, notes=update.notes, end_time=now_ms())
        if update.status is None or update.status is run.status:
            if update.name is None and update.notes is None:
                return self.store.update_run(run_id, update)
            with self.store.atomic():
                updated = self.store.update_run(run_id, update)
                changed = {"name": update.name, "notes_changed": update.notes is not None}
                self._record(EventType.RUN_UPDATED, run_subject(run_id), {**_run_data(updated), **changed})
            return updated
        with self.store.atomic():
            updated = self.store.update_run(run_id, update)
            self._record(
                EventType.RUN_STATUS_CHANGED,
                run_subject(run_id),
                {"from_status": run.status.value, **_run_data(updated)},
            )
        return updated

    def delete_run(self, run_id: str) -> Run:
        run = self.store.get_run(run_id)
        check_run(self.policy, self.principal, Action.DELETE, run)
        with self.store.atomic():
            deleted = self.store.set_run_deleted(run_id, True)
            self._record(EventType.RUN_DELETED, run_subject(run_id), _run_data(deleted))
        return deleted

    def restore_run(self, run_id: str) -> Run:
        run = self.store.get_run(run_id)
        check_run(self.policy, self.principal, Action.DELETE, run)
        with self.store.atomic():
            restored = self.store.set_run_deleted(run_id, False)
            self._record(EventType.RUN_RESTORED, run_subject(run_id), _run_data(restored))
        return restored

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
        limits.check_page_size(limit)
        query = RunQuery(
            where=parse_query(where),
            where_text=where,
            order=parse_order(order_by),
            order_text=order_by,
            limit=limit,
            page_token=page_token,
            include_deleted=include_deleted,
            now_ms=now_ms(),
        )
        return self.store.list_runs(self._project_id(project), query)

    def group_runs(
        self,
        project: str,
        *,
        group_by: str,
        metric: str | None = None,
        where: str = "",
        include_deleted: bool = False,
    ) -> list[RunGroup]:
        metric_field = None if metric is None else parse_field(metric)
        if metric_field is not None and metric_field.source is not Source.METRIC:
            raise InvalidQuery.at("the aggregated field must be a metric, such as metrics.acc", metric or "", 0)
        group_field = parse_field(group_by)
        if group_field.source in (Source.METRIC, Source.DATASET):
            raise InvalidQuery.at(
                f"runs are grouped by a param, a tag or an attribute, not a {group_field.source.value}", group_by, 0
            )
        query = GroupQuery(
            group_by=group_field,
            metric=metric_field,
            where=parse_query(where),
            include_deleted=include_deleted,
            now_ms=now_ms(),
        )
        return self.store.group_runs(self._project_id(project), query)

    # -- params, tags, metrics --------------------------------------------------------------

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        flat = _checked_params(params)
        self._writable_run(run_id, Action.WRITE, allow_ended=False)
        self.store.log_params(run_id, flat)

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        checked = _checked_tags(tags)
        self._writable_run(run_id, Action.WRITE, allow_ended=True)
        with self.store.atomic():
            self.store.set_tags(run_id, checked)
            self._record(EventType.RUN_TAG_SET, run_subject(run_id), {"tags": dict(checked)})

    def delete_tag(self, run_id: str, key: str) -> None:
        limits.check_key(key, "tag")
        self._writable_run(run_id, Action.WRITE, allow_ended=True)
        with self.store.atomic():
            self.store.delete_tag(run_id, key)
            self._record(EventType.RUN_TAG_DELETED, run_subject(run_id), {"key": key})

    def log_metrics(self, run_id: str, batch: MetricBatch) -> IngestResult:
        batch.check()
        if not batch.client_id or len(batch.client_id) > 64:
            raise InvalidRequest("client_id must be 1 to 64 characters")
        self._writable_run(run_id, Action.WRITE, allow_ended=False)
        return self.store.log_metrics(run_id, batch)

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
        limits.check_key(key, "metric")
        if max_points is not None and not 1 <= max_points <= limits.MAX_HISTORY_POINTS:
            raise InvalidRequest(f"max_points must be between 1 and {limits.MAX_HISTORY_POINTS}")
        if offset < 0:
            raise InvalidRequest("offset must not be negative")
        if limit is not None and not 1 <= limit <= limits.MAX_HISTORY_POINTS:
            raise InvalidRequest(f"limit must be between 1 and {limits.MAX_HISTORY_POINTS}")
        self._readable_run(run_id)
        return self.store.get_metric_history(
            run_id, key, step_min=step_min, step_max=step_max, max_points=max_points, offset=offset, limit=limit
        )

    # -- insight: duplicates, similar runs, what changed ------------------------------------

    def find_duplicates(self, project: str, fingerprint: str, limit: int = 5) -> list[Run]:
        """Finished, live runs of ``project`` with this fingerprint, newest first; none for a
        project that does not exist yet."""
        limits.check_name(project, "project name")
        check_fingerprint(fingerprint)
        limits.check_page_size(limit)
        try:
            found = self.store.get_project(project, with_counts=False)
        except ProjectNotFound:
            self.policy.check(self.principal, Action.READ, None)  # a project to be: nothing to hide
            return []
        self.policy.check(self.principal, Action.READ, found.name)
        return self.store.runs_by_fingerprint(found.id, fingerprint, status=RunStatus.FINISHED, limit=limit)

    def similar_runs(self, run_id: str, limit: int = 5) -> list[SimilarRun]:
        """The earlier runs of the run's project nearest to it by param distance."""
        limits.check_page_size(limit)
        self._readable_run(run_id)
        return self.store.similar_runs(run_id, limit=limit)

    def metric_rank(self, run_id: str, key: str, *, lower_is_better: bool) -> tuple[int, int] | None:
        """``(rank, of)``: where the run stands among the live runs of its project that have
        ``key``, by its last value (1 is the best; ties share a rank); None when the run has no
        finite last value of ``key``. Two indexed counts, whatever the project's size."""
        run = self.get_run(run_id)
        summary = run.metrics.get(key)
        if summary is None or not math.isfinite(summary.last):
            return None
        ahead, total = self.store.metric_rank(run.project_id, key, summary.last, lower_is_better=lower_is_better)
        return ahead + 1, total

    def diff_runs(self, run_id: str, against: str | None = None) -> RunDiff:
        """What changed from ``against`` (by default the run's nearest earlier run) to the run.
        Raises NotFound when there is no earlier run to compare with."""
        run = self.get_run(run_id)
        if against is not None:
            return diff_runs(run, self.get_run(against))
        nearest = self.store.similar_runs(run_id, limit=1)
        if not nearest:
            raise NotFound(
                f"run {run_id} has no earlier run in project {run.project!r} to compare with; name one",
                details={"run_id": run_id, "project": run.project},
            )
        return diff_runs(run, nearest[0].run)

    def close(self) -> None:
        self.store.close()
        if self._blobs is not None:
            self._blobs.close()

    def _writable_run(self, run_id: str, action: Action, *, allow_ended: bool) -> Run:
        run = self.store.get_run(run_id, details=False)  # on every ingest: status is all we need
        check_run(self.policy, self.principal, action, run)
        if run.deleted:
            raise RunNotActive(f"run {run_id} is deleted", details={"run_id": run_id, "deleted": True})
        if run.status.is_terminal and not allow_ended:
            raise RunNotActive(
                f"run {run_id} has ended ({run.status.value}); nothing more can be logged to it",
                details={"run_id": run_id, "status": run.status.value},
            )
        return run


def _checked_params(config: Mapping[str, Any]) -> dict[str, ParamValue]:
    """Flat, typed params within the limits: the one check for params at creation and later."""
    params = flatten_config(config)
    limits.check_item_count(params, "params")
    return params


def _checked_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    return limits.check_tags(tags)


def _run_data(run: Run) -> dict[str, Any]:
    """What a run's event carries: enough to act on without a second request."""
    return {
        "status": run.status.value,
        "run_id": run.id,
        "project": run.project,
        "name": run.name,
        "user": run.user,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "deleted": run.deleted,
    }
