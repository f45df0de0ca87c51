"""Projects, runs, params and tags in SQL."""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, false, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from cairn.core.access import ResourceKind
from cairn.core.clock import now_ms
from cairn.core.entities import (
    MetricSummary,
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
    ParamConflict,
    ProjectNotFound,
    RunNotFound,
)
from cairn.core.fingerprint import fingerprint as fingerprint_of
from cairn.core.params import decode_param, encode_param, same_param_value
from cairn.core.query.request import GroupQuery, RunQuery
from cairn.store.sql import schema as t
from cairn.store.sql.engine import Engines, reading, transaction
from cairn.store.sql.rows import dialect_insert, in_chunks, require_run
from cairn.store.sql.search import group_statement, groups_from_rows, search_page
from cairn.store.sql.server_secrets import ServerSecrets
from cairn.store.sql.similar import nearest_runs, pair_rows


class SqlRunStore:
    """Projects, runs, params and tags; the metric half lives in :mod:`.metrics`."""

    _engines: Engines
    _secrets: ServerSecrets

    # -- projects ---------------------------------------------------------------------------

    def create_project(self, name: str, description: str = "") -> Project:
        project = Project(id=uuid.uuid4().hex, name=name, description=description, created_at=now_ms())
        row = {"id": project.id, "name": name, "description": description, "created_at": project.created_at}
        try:
            with transaction(self._engines.write) as conn:
                conn.execute(insert(t.projects), row)
        except IntegrityError as exc:
            raise AlreadyExists(f"project {name!r} already exists", details={"project": name}) from exc
        return project

    def get_project(self, name_or_id: str, *, with_counts: bool = True) -> Project:
        with reading(self._engines) as conn:
            where = or_(t.projects.c.name == name_or_id, t.projects.c.id == name_or_id)
            projects = self._select_projects(conn, where, with_counts=with_counts)
        if not projects:
            raise ProjectNotFound(f"no project named {name_or_id!r}", details={"project": name_or_id})
        # A name wins over an id that happens to look the same.
        return next((p for p in projects if p.name == name_or_id), projects[0])

    def rename_project(self, project_id: str, new_name: str) -> Project:
        try:
            with transaction(self._engines.write) as conn:
                row = conn.execute(select(t.projects).where(t.projects.c.id == project_id)).one_or_none()
                if row is None:
                    raise ProjectNotFound(f"no project with id {project_id!r}", details={"project": project_id})
                old_name = row.name
                conn.execute(update(t.projects).where(t.projects.c.id == project_id).values(name=new_name))
                # Roles are held on a project's name (as on a model's): they follow the rename.
                grants = t.grants.c
                held = and_(grants.resource_kind == ResourceKind.PROJECT.value, grants.resource == old_name)
                conn.execute(update(t.grants).where(held).values(resource=new_name))
        except IntegrityError as exc:
            raise AlreadyExists(f"project {new_name!r} already exists", details={"project": new_name}) from exc
        # Read in the writing transaction: the caller's unit of work may not have committed yet.
        return Project(id=row.id, name=new_name, description=row.description, created_at=row.created_at)

    def list_projects(self, *, names: Collection[str] | None = None, include_deleted: bool = False) -> list[Project]:
        if names is not None and not names:
            return []
        conditions: list[ColumnElement[bool]] = [] if names is None else [t.projects.c.name.in_(sorted(names))]
        if not include_deleted:
            conditions.append(t.projects.c.deleted == false())
        where = and_(*conditions) if conditions else None
        with reading(self._engines) as conn:
            return self._select_projects(conn, where, with_counts=True)

    def _select_projects(self, conn: Connection, where: Any, *, with_counts: bool) -> list[Project]:
        columns: list[Any] = [t.projects]
        if with_counts:
            # Correlated per project, each answered from an index of runs (see schema.py).
            live = and_(t.runs.c.project_id == t.projects.c.id, t.runs.c.deleted == false())
            columns += [
                select(func.count()).where(live).scalar_subquery().label("run_count"),
                select(func.max(t.runs.c.start_time)).where(live).scalar_subquery().label("last_start"),
                select(func.max(t.runs.c.end_time)).where(live).scalar_subquery().label("last_end"),
            ]
        query = select(*columns)
        if where is not None:
            query = query.where(where)
        query = query.order_by(t.projects.c.created_at.desc(), t.projects.c.id)
        projects = []
        for row in conn.execute(query):
            m = row._mapping
            times = [m[k] for k in ("last_start", "last_end") if with_counts and m[k] is not None]
            projects.append(
                Project(
                    id=m["id"],
                    name=m["name"],
                    description=m["description"],
                    created_at=m["created_at"],
                    run_count=m["run_count"] or 0 if with_counts else 0,
                    last_activity=max(times) if times else None,
                    deleted=bool(m["deleted"]),
                )
            )
        return projects

    def set_project_deleted(self, project_id: str, deleted: bool) -> None:
        with transaction(self._engines.write) as conn:
            found = conn.execute(update(t.projects).where(t.projects.c.id == project_id).values(deleted=deleted))
            if found.rowcount == 0:
                raise ProjectNotFound(f"no project with id {project_id!r}", details={"project": project_id})
            # As MLflow deletes and restores an experiment's runs with it.
            conn.execute(update(t.runs).where(t.runs.c.project_id == project_id).values(deleted=deleted))

    def project_tags(self, project_id: str) -> dict[str, str]:
        return self.tags_of_projects([project_id])[project_id]

    def tags_of_projects(self, project_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {project_id: {} for project_id in project_ids}
        tags = t.project_tags.c
        with reading(self._engines) as conn:
            for chunk in in_chunks(project_ids):
                rows = conn.execute(
                    select(tags.project_id, tags.key, tags.value).where(tags.project_id.in_(chunk)).order_by(tags.key)
                )
                for row in rows:
                    found[row.project_id][row.key] = row.value
        return found

    def set_project_tags(self, project_id: str, tags: Mapping[str, str]) -> None:
        if not tags:
            return
        with transaction(self._engines.write) as conn:
            keys = list(tags)
            where = and_(t.project_tags.c.project_id == project_id, t.project_tags.c.key.in_(keys))
            conn.execute(t.project_tags.delete().where(where))
            rows = [{"project_id": project_id, "key": key, "value": value} for key, value in tags.items()]
            conn.execute(insert(t.project_tags), rows)

    def delete_project_tag(self, project_id: str, key: str) -> bool:
        with transaction(self._engines.write) as conn:
            where = and_(t.project_tags.c.project_id == project_id, t.project_tags.c.key == key)
            return bool(conn.execute(t.project_tags.delete().where(where)).rowcount)

    # -- runs -------------------------------------------------------------------------------

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
        run_id = run_id or uuid.uuid4().hex
        with transaction(self._engines.write) as conn:
            if parent_id is not None:
                require_run(conn, parent_id)
            conn.execute(
                insert(t.runs),
                {
                    "id": run_id,
                    "project_id": project_id,
                    "name": name,
                    "user_name": user,
                    "status": RunStatus.RUNNING.value,
                    "start_time": start_time,
                    "end_time": None,
                    "parent_id": parent_id,
                    "notes": notes,
                    "deleted": False,
                    "fingerprint": fingerprint_of(params),
                },
            )
            if tags:
                conn.execute(insert(t.tags), [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()])
            if params:
                conn.execute(insert(t.params), [_param_row(run_id, k, v) for k, v in params.items()])
                conn.execute(insert(t.param_pairs), pair_rows(run_id, project_id, start_time, params))
        return self.get_run(run_id)

    def get_run(self, run_id: str, *, details: bool = True) -> Run:
        with reading(self._engines) as conn:
            rows = conn.execute(_RUN_QUERY.where(t.runs.c.id == run_id)).all()
            runs = self._load_runs(conn, rows, details=details)
        if not runs:
            raise RunNotFound(f"no run with id {run_id!r}", details={"run_id": run_id})
        return runs[0]

    def update_run(self, run_id: str, update_: RunUpdate) -> Run:
        values: dict[str, Any] = {}
        if update_.status is not None:
            values["status"] = update_.status.value
        if update_.name is not None:
            values["name"] = update_.name
        if update_.notes is not None:
            values["notes"] = update_.notes
        if update_.end_time is not None:
            values["end_time"] = update_.end_time
        if values:
            self._update_run_row(run_id, values)
        return self.get_run(run_id)

    def set_run_deleted(self, run_id: str, deleted: bool) -> Run:
        self._update_run_row(run_id, {"deleted": deleted})
        return self.get_run(run_id)

    def _update_run_row(self, run_id: str, values: dict[str, Any]) -> None:
        with transaction(self._engines.write) as conn:
            result = conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(**values))
            if result.rowcount == 0:
                raise RunNotFound(f"no run with id {run_id!r}", details={"run_id": run_id})

    def list_runs(self, project_id: str, query: RunQuery) -> Page[Run]:
        with reading(self._engines) as conn:
            ids, token = search_page(conn, project_id, query, conn.dialect.name, self._secrets.page_token_key)
            rows = conn.execute(_RUN_QUERY.where(t.runs.c.id.in_(ids))).all() if ids else []
            by_id = {run.id: run for run in self._load_runs(conn, rows)}
        return Page(items=[by_id[i] for i in ids], next_page_token=token)

    def group_runs(self, project_id: str, query: GroupQuery) -> list[RunGroup]:
        with reading(self._engines) as conn:
            rows = conn.execute(group_statement(project_id, query, conn.dialect.name)).all()
        return groups_from_rows(rows, query)

    def _load_runs(self, conn: Connection, rows: Sequence[Any], *, details: bool = True) -> list[Run]:
        """Runs for the given rows of ``_RUN_QUERY``, with params, tags and summaries attached
        unless ``details`` is false."""
        ids = [row.id for row in rows]
        params: dict[str, dict[str, ParamValue]] = {i: {} for i in ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        metrics: dict[str, dict[str, MetricSummary]] = {i: {} for i in ids}
        # Plain tuples in key order straight from the primary keys: a page of 100 runs has
        # thousands of these rows, and per-row mapping or sorting in Python was most of a search.
        p, g, m = t.params.c, t.tags.c, t.metric_summaries.c
        for chunk in in_chunks(ids) if details else ():
            query = select(p.run_id, p.key, p.value_type, p.value_text).where(p.run_id.in_(chunk))
            for run_id, key, kind, text in _tuples(conn, query.order_by(p.run_id, p.key)):
                params[run_id][key] = decode_param(kind, text)
            query = select(g.run_id, g.key, g.value).where(g.run_id.in_(chunk))
            for run_id, key, value in _tuples(conn, query.order_by(g.run_id, g.key)):
                tags[run_id][key] = value
            query = select(
                m.run_id, m.key, m.last_value, m.last_step, m.last_timestamp, m.min_value, m.max_value, m["count"]
            ).where(m.run_id.in_(chunk))
            for run_id, key, last, step, stamp, low, high, count in _tuples(conn, query.order_by(m.run_id, m.key)):
                metrics[run_id][key] = MetricSummary(
                    key, math.nan if last is None else last, step, stamp, low, high, count
                )
        return [
            Run(
                id=row.id,
                project_id=row.project_id,
                project=row.project_name,
                name=row.name,
                user=row.user_name,
                status=RunStatus(row.status),
                start_time=row.start_time,
                end_time=row.end_time,
                parent_id=row.parent_id,
                notes=row.notes,
                deleted=row.deleted,
                params=params[row.id],
                tags=tags[row.id],
                metrics=metrics[row.id],
                fingerprint=row.fingerprint,
            )
            for row in rows
        ]

    # -- params and tags --------------------------------------------------------------------

    def log_params(self, run_id: str, params: Mapping[str, ParamValue]) -> None:
        if not params:
            return
        try:
            self._log_params_once(run_id, params)
        except IntegrityError:
            # Another writer inserted one of these keys between our read and our insert: the
            # second attempt sees its value and either agrees with it or reports the conflict.
            self._log_params_once(run_id, params)

    def _log_params_once(self, run_id: str, params: Mapping[str, ParamValue]) -> None:
        with transaction(self._engines.write) as conn:
            require_run(conn, run_id)
            stored: dict[str, ParamValue] = {}
            for chunk in in_chunks(list(params)):
                query = select(t.params).where(t.params.c.run_id == run_id, t.params.c.key.in_(chunk)).with_for_update()
                for row in conn.execute(query):
                    stored[row.key] = decode_param(row.value_type, row.value_text)
            conflicts = {
                key: {"stored": _jsonable(stored[key]), "new": _jsonable(value)}
                for key, value in params.items()
                if key in stored and not same_param_value(stored[key], value)
            }
            if conflicts:
                keys = ", ".join(sorted(conflicts))
                raise ParamConflict(
                    f"params are immutable; already logged with a different value: {keys}",
                    details={"run_id": run_id, "conflicts": conflicts},
                )
            new = {k: v for k, v in params.items() if k not in stored}
            if new:
                conn.execute(insert(t.params), [_param_row(run_id, k, v) for k, v in new.items()])
                run = self._refresh_fingerprint(conn, run_id)
                conn.execute(insert(t.param_pairs), pair_rows(run_id, run.project_id, run.start_time, new))

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        if not tags:
            return
        with transaction(self._engines.write) as conn:
            require_run(conn, run_id)
            statement = dialect_insert(conn, t.tags)
            statement = statement.on_conflict_do_update(
                index_elements=[t.tags.c.run_id, t.tags.c.key], set_={"value": statement.excluded.value}
            )
            conn.execute(statement, [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()])

    def delete_tag(self, run_id: str, key: str) -> None:
        with transaction(self._engines.write) as conn:
            require_run(conn, run_id)
            conn.execute(t.tags.delete().where(t.tags.c.run_id == run_id, t.tags.c.key == key))

    # -- fingerprints and similar runs ------------------------------------------------------

    def _refresh_fingerprint(self, conn: Connection, run_id: str) -> Any:
        """Recompute the run's fingerprint from all its params, in the caller's transaction;
        returns the run's project id and start time."""
        # Lock the run first (PostgreSQL; SQLite's write transactions are serial already): two
        # requests adding different params then recompute one after the other, the second
        # seeing the first's params. NO KEY UPDATE does not wait for the key-share locks the
        # param inserts themselves hold on the run, so the two cannot deadlock.
        locked = select(t.runs.c.project_id, t.runs.c.start_time).where(t.runs.c.id == run_id)
        run = conn.execute(locked.with_for_update(key_share=True)).one()
        rows = conn.execute(select(t.params).where(t.params.c.run_id == run_id))
        params = {row.key: decode_param(row.value_type, row.value_text) for row in rows}
        conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(fingerprint=fingerprint_of(params)))
        return run

    def runs_by_fingerprint(
        self, project_id: str, fingerprint: str, *, status: RunStatus | None = None, limit: int = 5
    ) -> list[Run]:
        # The ids come from ix_runs_project_fingerprint alone; only then are the runs read by
        # primary key, filtered and sorted. As one flat WHERE, SQLite took ix_runs_project_start
        # or ix_runs_project_end instead (as many equalities, and the order for free) and read
        # every live run of the project: 90 ms instead of 1 ms at 100,000 runs.
        same = select(t.runs.c.id).where(t.runs.c.project_id == project_id, t.runs.c.fingerprint == fingerprint)
        query = _RUN_QUERY.where(t.runs.c.id.in_(same), t.runs.c.deleted == false())
        if status is not None:
            query = query.where(t.runs.c.status == status.value)
        query = query.order_by(t.runs.c.start_time.desc(), t.runs.c.id.desc()).limit(limit)
        with reading(self._engines) as conn:
            return self._load_runs(conn, conn.execute(query).all())

    def similar_runs(self, run_id: str, *, limit: int = 5) -> list[SimilarRun]:
        with reading(self._engines) as conn:
            target = conn.execute(
                select(t.runs.c.id, t.runs.c.project_id, t.runs.c.start_time).where(t.runs.c.id == run_id)
            ).first()
            if target is None:
                raise RunNotFound(f"no run with id {run_id!r}", details={"run_id": run_id})
            # Candidates from the param_pairs index, then exact distances: see .similar.
            nearest, _exact = nearest_runs(conn, run_id, target.project_id, target.start_time, limit=limit)
            ids = [run_id for run_id, _ in nearest]
            rows = conn.execute(_RUN_QUERY.where(t.runs.c.id.in_(ids))).all() if ids else []
            by_id = {run.id: run for run in self._load_runs(conn, rows)}
        return [SimilarRun(by_id[id_], distance) for id_, distance in nearest]

    def metric_rank(self, project_id: str, key: str, value: float, *, lower_is_better: bool) -> tuple[int, int]:
        # Counts over ix_metric_summaries_project_key_last, less the deleted runs' summaries
        # (few, found through ix_runs_project_start): no run is read per summary.
        m = t.metric_summaries.c
        ahead_of = m.last_value < value if lower_is_better else m.last_value > value
        deleted = select(t.runs.c.id).where(t.runs.c.project_id == project_id, t.runs.c.deleted.is_(True))
        mine = and_(m.project_id == project_id, m.key == key)
        with reading(self._engines) as conn:
            ahead, total = conn.execute(select(func.count(case((ahead_of, 1))), func.count()).where(mine)).one()
            gone_ahead, gone = conn.execute(
                select(func.count(case((ahead_of, 1))), func.count()).where(mine, m.run_id.in_(deleted))
            ).one()
        return ahead - gone_ahead, total - gone


_RUN_QUERY = select(t.runs, t.projects.c.name.label("project_name")).join(
    t.projects, t.projects.c.id == t.runs.c.project_id
)


def summary_from_row(row: Any) -> MetricSummary:
    # Rows are tuples, whose .count is a method: read the columns through the mapping.
    m = row._mapping
    return MetricSummary(
        key=m["key"],
        last=math.nan if m["last_value"] is None else m["last_value"],
        last_step=m["last_step"],
        last_timestamp=m["last_timestamp"],
        min=m["min_value"],
        max=m["max_value"],
        count=m["count"],
    )


def _param_row(run_id: str, key: str, value: ParamValue) -> dict[str, Any]:
    kind, text = encode_param(value)
    # Numbers, and booleans as 0 and 1, again as a float for comparisons; NaN compares as NULL.
    number = float(value) if isinstance(value, int | float) else None
    if number is not None and math.isnan(number):
        number = None
    return {"run_id": run_id, "key": key, "value_type": kind, "value_text": text, "value_number": number}


def _jsonable(value: ParamValue) -> ParamValue:
    return repr(value) if isinstance(value, float) and not math.isfinite(value) else value


def _tuples(conn: Connection, query: Any) -> Any:
    """The rows of ``query``, typed loosely: callers unpack them as tuples."""
    return conn.execute(query)
