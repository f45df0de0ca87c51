"""Comments on runs, saved views and a project's field names, in SQL."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import delete, false, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from cairn.core.clock import now_ms
from cairn.core.discussion import Comment, ProjectFields, SavedView
from cairn.core.errors import CommentNotFound, ViewNotFound
from cairn.store.sql import schema as t
from cairn.store.sql.engine import Engines, reading, transaction
from cairn.store.sql.rows import require_run


class SqlDiscussionStore:
    """Implements :class:`cairn.store.base.DiscussionStore`."""

    _engines: Engines

    # -- comments ---------------------------------------------------------------------------

    def add_comment(self, run_id: str, author: str, body: str, mentions: Sequence[str]) -> Comment:
        c = t.comments.c
        with transaction(self._engines.write) as conn:
            require_run(conn, run_id)
            # Two comments in the same millisecond would tie and list in random id order: each
            # comment of a run gets a later time than the one before it.
            latest = conn.scalar(select(func.max(c.created_at)).where(c.run_id == run_id))
            now = now_ms()
            comment = Comment(
                id=uuid.uuid4().hex,
                run_id=run_id,
                author=author,
                body=body,
                mentions=tuple(mentions),
                created_at=now if latest is None else max(now, latest + 1),
                updated_at=None,
            )
            conn.execute(
                insert(t.comments),
                {
                    "id": comment.id,
                    "run_id": run_id,
                    "author": author,
                    "body": body,
                    "mentions": _json(comment.mentions),
                    "created_at": comment.created_at,
                    "updated_at": None,
                },
            )
        return comment

    def list_comments(self, run_id: str) -> list[Comment]:
        c = t.comments.c
        with reading(self._engines) as conn:
            require_run(conn, run_id)
            rows = conn.execute(select(t.comments).where(c.run_id == run_id).order_by(c.created_at, c.id))
            return [_comment(row._mapping) for row in rows]

    def get_comment(self, comment_id: str) -> Comment:
        with reading(self._engines) as conn:
            row = conn.execute(select(t.comments).where(t.comments.c.id == comment_id)).first()
        if row is None:
            raise _no_comment(comment_id)
        return _comment(row._mapping)

    def update_comment(self, comment_id: str, body: str, mentions: Sequence[str]) -> Comment:
        c = t.comments.c
        with transaction(self._engines.write) as conn:
            values = {"body": body, "mentions": _json(tuple(mentions)), "updated_at": now_ms()}
            if conn.execute(update(t.comments).where(c.id == comment_id).values(**values)).rowcount == 0:
                raise _no_comment(comment_id)
            row = conn.execute(select(t.comments).where(c.id == comment_id)).one()
        return _comment(row._mapping)

    def delete_comment(self, comment_id: str) -> None:
        with transaction(self._engines.write) as conn:
            if conn.execute(delete(t.comments).where(t.comments.c.id == comment_id)).rowcount == 0:
                raise _no_comment(comment_id)

    # -- saved views ------------------------------------------------------------------------

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
        try:
            view_id = self._save_view_once(project_id, name, query, order_by, columns, charts, group_by, created_by)
        except IntegrityError:
            # Another request created a view of that name between our look and our insert: the
            # second attempt finds it and replaces its contents.
            view_id = self._save_view_once(project_id, name, query, order_by, columns, charts, group_by, created_by)
        return self.get_view(view_id)

    def _save_view_once(
        self,
        project_id: str,
        name: str,
        query: str,
        order_by: str,
        columns: Sequence[str],
        charts: Sequence[str],
        group_by: str,
        created_by: str,
    ) -> str:
        v = t.saved_views.c
        now = now_ms()
        contents = {
            "query": query,
            "order_by": order_by,
            "columns": _json(tuple(columns)),
            "charts": _json(tuple(charts)),
            "group_by": group_by,
            "updated_at": now,
        }
        with transaction(self._engines.write) as conn:
            found = conn.scalar(select(v.id).where(v.project_id == project_id, v.name == name).with_for_update())
            if found is not None:
                conn.execute(update(t.saved_views).where(v.id == found).values(**contents))
                return str(found)
            view_id = secrets.token_hex(8)
            row = {"id": view_id, "project_id": project_id, "name": name, "created_by": created_by, "created_at": now}
            conn.execute(insert(t.saved_views), {**row, **contents})
            return view_id

    def list_views(self, project_id: str) -> list[SavedView]:
        v = t.saved_views.c
        with reading(self._engines) as conn:
            rows = conn.execute(_VIEW_QUERY.where(v.project_id == project_id).order_by(v.name, v.id))
            return [_view(row._mapping) for row in rows]

    def get_view(self, view_id: str) -> SavedView:
        with reading(self._engines) as conn:
            row = conn.execute(_VIEW_QUERY.where(t.saved_views.c.id == view_id)).first()
        if row is None:
            raise ViewNotFound(f"no saved view with id {view_id!r}", details={"view_id": view_id})
        return _view(row._mapping)

    def delete_view(self, view_id: str) -> None:
        with transaction(self._engines.write) as conn:
            if conn.execute(delete(t.saved_views).where(t.saved_views.c.id == view_id)).rowcount == 0:
                raise ViewNotFound(f"no saved view with id {view_id!r}", details={"view_id": view_id})

    # -- field names ------------------------------------------------------------------------

    def project_fields(self, project_id: str, *, newest_runs: int | None = None) -> ProjectFields:
        r = t.runs.c
        runs = select(r.id).where(r.project_id == project_id, r.deleted == false())
        if newest_runs is not None:
            # Walks ix_runs_project_start from its newest end and stops after newest_runs.
            runs = runs.order_by(r.start_time.desc(), r.id.desc()).limit(newest_runs)
        ids = runs.subquery()
        found: dict[str, list[str]] = {}
        with reading(self._engines) as conn:
            for name, table in (("params", t.params), ("metrics", t.metric_summaries), ("tags", t.tags)):
                key = table.c.key
                query = select(key).distinct().where(table.c.run_id.in_(select(ids.c.id))).order_by(key)
                found[name] = list(conn.scalars(query))
        return ProjectFields(params=found["params"], metrics=found["metrics"], tags=found["tags"])


_VIEW_QUERY = select(t.saved_views, t.projects.c.name.label("project_name")).join(
    t.projects, t.projects.c.id == t.saved_views.c.project_id
)


def _json(items: tuple[str, ...]) -> str:
    return orjson.dumps(list(items)).decode()


def _no_comment(comment_id: str) -> CommentNotFound:
    return CommentNotFound(f"no comment with id {comment_id!r}", details={"comment_id": comment_id})


def _comment(row: Any) -> Comment:
    return Comment(
        id=row["id"],
        run_id=row["run_id"],
        author=row["author"],
        body=row["body"],
        mentions=tuple(orjson.loads(row["mentions"])),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _view(row: Any) -> SavedView:
    return SavedView(
        id=row["id"],
        project=row["project_name"],
        name=row["name"],
        query=row["query"],
        order_by=row["order_by"],
        columns=tuple(orjson.loads(row["columns"])),
        charts=tuple(orjson.loads(row["charts"])),
        group_by=row["group_by"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
