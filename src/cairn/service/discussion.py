"""The rules for comments, saved views and a project's field names, mixed into
:class:`TrackingService`.

- a comment may be written on any run its author can read and write to, finished or deleted:
  comments are discussion about the run, not data of it;
- only a comment's author may edit it; its author or a maintainer of the project may delete it
  (a maintainer keeps the discussion civil);
- a saved view is checked whole before it is stored: its query and sort order must parse, its
  columns and group_by must be fields of the query language, its charts metric keys;
- saving a view under a name the project already has replaces its contents, keeping its id;
- an editor saves views and replaces or deletes their own; a maintainer manages everyone's
  (docs/access.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cairn.core.access import ResourceKind, Role
from cairn.core.discussion import (
    Comment,
    ProjectFields,
    SavedView,
    check_charts,
    check_columns,
    check_comment_body,
    check_group_by,
    check_view_name,
    check_view_text,
    parse_mentions,
)
from cairn.core.errors import CommentNotFound, PermissionDenied, ViewNotFound
from cairn.core.events import EventType, comment_subject, project_subject
from cairn.core.query.parser import parse_order, parse_query
from cairn.service.events import EventRules
from cairn.service.policy import Action, check_run, hidden_as

if TYPE_CHECKING:
    from cairn.core.entities import Run
    from cairn.service.policy import Policy, Principal
    from cairn.store.base import MetadataStore

#: The roles that may delete anyone's comment in a project.
_MODERATORS = (Role.MAINTAINER, Role.ADMIN)
#: How many of a project's newest runs :meth:`DiscussionRules.project_fields` reads.
FIELDS_FROM_NEWEST_RUNS = 2_000


class DiscussionRules(EventRules):
    store: MetadataStore
    principal: Principal
    policy: Policy

    # -- comments ---------------------------------------------------------------------------

    def add_comment(self, run_id: str, body: str) -> Comment:
        """Comment on a run as the acting principal. ``body`` is markdown, stored as given."""
        check_comment_body(body)
        self._run_to_discuss(run_id)
        with self.store.atomic():
            comment = self.store.add_comment(run_id, self.principal.name, body, parse_mentions(body))
            self._record(EventType.COMMENT_CREATED, comment_subject(run_id, comment.id), {"author": comment.author})
        return comment

    def list_comments(self, run_id: str) -> list[Comment]:
        """The run's comments, oldest first."""
        run = self.store.get_run(run_id, details=False)
        check_run(self.policy, self.principal, Action.READ, run)
        return self.store.list_comments(run_id)

    def edit_comment(self, comment_id: str, body: str) -> Comment:
        """Replace a comment's body (its author only); mentions are parsed again."""
        check_comment_body(body)
        comment = self._own_comment(comment_id, "edit")
        with self.store.atomic():
            edited = self.store.update_comment(comment_id, body, parse_mentions(body))
            self._record(EventType.COMMENT_UPDATED, comment_subject(comment.run_id, comment_id), {})
        return edited

    def delete_comment(self, comment_id: str) -> None:
        """Delete a comment for good (its author, or a maintainer of the project)."""
        comment = self._own_comment(comment_id, "delete")
        with self.store.atomic():
            self.store.delete_comment(comment_id)
            self._record(
                EventType.COMMENT_DELETED, comment_subject(comment.run_id, comment_id), {"author": comment.author}
            )

    def _run_to_discuss(self, run_id: str) -> Run:
        run = self.store.get_run(run_id, details=False)
        check_run(self.policy, self.principal, Action.WRITE, run)
        return run

    def _own_comment(self, comment_id: str, verb: str) -> Comment:
        comment = self.store.get_comment(comment_id)
        run = self.store.get_run(comment.run_id, details=False)
        with hidden_as(CommentNotFound(f"no comment with id {comment_id!r}", details={"comment_id": comment_id})):
            self.policy.check(self.principal, Action.READ, run.project)
        if comment.author == self.principal.name:
            self.policy.check(self.principal, Action.WRITE, run.project)
        elif verb == "delete" and self._moderates(run.project):
            pass  # a maintainer removes what does not belong in the project's discussion
        else:
            raise PermissionDenied(
                f"only {comment.author!r}, who wrote this comment, may {verb} it",
                details={"comment_id": comment_id, "author": comment.author},
            )
        return comment

    def _moderates(self, project: str) -> bool:
        """Whether the principal is a signed-in maintainer of the project. Without sign-in
        every name is taken at its word, so nobody moderates and only authors delete."""
        if not self.principal.authenticated:
            return False
        return self.policy.role(self.principal, ResourceKind.PROJECT, project) in _MODERATORS

    # -- saved views ------------------------------------------------------------------------

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
        """Save a view of the project's runs under ``name``, replacing the view of that name if
        there is one (same id). Raises InvalidQuery for a query, sort order, column or group_by
        the query language refuses; ProjectNotFound."""
        checked_name = check_view_name(name)
        parse_query(check_view_text(query, "query"))
        parse_order(check_view_text(order_by, "order_by"))
        checked_columns = check_columns(columns)
        checked_charts = check_charts(charts)
        check_group_by(group_by)
        project_id = self._project_id_for(project, Action.WRITE)
        replaced = next((v for v in self.store.list_views(project_id) if v.name == checked_name), None)
        if replaced is not None:
            self._may_change_view(replaced)
        with self.store.atomic():
            view = self.store.save_view(
                project_id,
                checked_name,
                query=query,
                order_by=order_by,
                columns=checked_columns,
                charts=checked_charts,
                group_by=group_by,
                created_by=self.principal.name,
            )
            self._record(EventType.VIEW_SAVED, project_subject(view.project), {"view_id": view.id, "view": view.name})
        return view

    def list_views(self, project: str) -> list[SavedView]:
        """The project's saved views, by name."""
        return self.store.list_views(self._project_id_for(project, Action.READ))

    def get_view(self, view_id: str) -> SavedView:
        """Raises ViewNotFound."""
        view = self.store.get_view(view_id)
        with hidden_as(_no_view(view_id)):
            self.policy.check(self.principal, Action.READ, view.project)
        return view

    def delete_view(self, view_id: str) -> None:
        """Raises ViewNotFound."""
        view = self.get_view(view_id)
        self._may_change_view(view)
        with self.store.atomic():
            self.store.delete_view(view_id)
            self._record(EventType.VIEW_DELETED, project_subject(view.project), {"view_id": view_id, "view": view.name})

    def _may_change_view(self, view: SavedView) -> None:
        """One's own views need the editor role; everyone's, the maintainer's."""
        mine = view.created_by == self.principal.name
        self.policy.check(self.principal, Action.WRITE if mine else Action.MAINTAIN, view.project)

    # -- field names ------------------------------------------------------------------------

    def project_fields(self, project: str) -> ProjectFields:
        """The distinct param, metric and tag keys of the project's live runs, sorted.

        Only the newest :data:`FIELDS_FROM_NEWEST_RUNS` (2,000) runs are read, found from the
        ``ix_runs_project_start`` index: exact for most projects, and for a large one the keys
        people use now. An exact answer over 100,000 runs of 20 params and 10 metrics took
        3.5 s on SQLite and 1.4 s on PostgreSQL; the newest 2,000 take about 60 ms and 100 ms.
        Keys that only older runs have are missed.
        """
        project_id = self._project_id_for(project, Action.READ)
        return self.store.project_fields(project_id, newest_runs=FIELDS_FROM_NEWEST_RUNS)

    def _project_id_for(self, name: str, action: Action) -> str:
        project = self.store.get_project(name, with_counts=False)
        self.policy.check(self.principal, action, project.name)
        return project.id


def _no_view(view_id: str) -> ViewNotFound:
    return ViewNotFound(f"no saved view with id {view_id!r}", details={"view_id": view_id})
