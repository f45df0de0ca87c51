"""Logged models' records in SQL (core/logged_models.py): one row each, tags and params as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import Row, insert, select, update

from cairn.core.errors import LoggedModelNotFound
from cairn.core.logged_models import LoggedModel, LoggedModelStatus
from cairn.store.sql import schema as t
from cairn.store.sql.engine import Engines, reading, transaction

_l = t.logged_models.c
_p = t.projects.c

_SELECT = select(t.logged_models, _p.name.label("project_name")).join(t.projects, _p.id == _l.project_id)


class SqlLoggedModelStore:
    """Implements :class:`cairn.store.base.LoggedModelStore`."""

    _engines: Engines

    def create_logged_model(self, model: LoggedModel) -> None:
        with transaction(self._engines.write) as conn:
            conn.execute(
                insert(t.logged_models).values(
                    id=model.id,
                    project_id=model.project_id,
                    run_id=model.run_id,
                    source_run_id=model.source_run_id,
                    name=model.name,
                    status=model.status.value,
                    status_message=model.status_message,
                    model_type=model.model_type,
                    tags=_json(model.tags),
                    params=_json(model.params),
                    created_by=model.created_by,
                    created_at=model.created_at,
                    updated_at=model.updated_at,
                    deleted=model.deleted,
                )
            )

    def get_logged_model(self, model_id: str) -> LoggedModel:
        with reading(self._engines) as conn:
            row = conn.execute(_SELECT.where(_l.id == model_id)).one_or_none()
        if row is None:
            raise LoggedModelNotFound(f"no logged model with id {model_id!r}", details={"model_id": model_id})
        return _logged_model(row)

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
        values: dict[str, Any] = {"updated_at": updated_at}
        if status is not None:
            values["status"] = status.value
        if status_message is not None:
            values["status_message"] = status_message
        if tags is not None:
            values["tags"] = _json(tags)
        if params is not None:
            values["params"] = _json(params)
        if deleted is not None:
            values["deleted"] = deleted
        with transaction(self._engines.write) as conn:
            done = conn.execute(update(t.logged_models).where(_l.id == model_id).values(**values))
            if done.rowcount == 0:
                raise LoggedModelNotFound(f"no logged model with id {model_id!r}", details={"model_id": model_id})
            return self.get_logged_model(model_id)

    def list_logged_models(
        self, *, project_ids: list[str] | None = None, run_id: str | None = None, deleted: bool = False
    ) -> list[LoggedModel]:
        query = _SELECT.where(_l.deleted == deleted).order_by(_l.created_at.desc(), _l.id)
        if project_ids is not None:
            query = query.where(_l.project_id.in_(project_ids))
        if run_id is not None:
            query = query.where(_l.run_id == run_id)
        with reading(self._engines) as conn:
            return [_logged_model(row) for row in conn.execute(query)]


def _json(values: Mapping[str, str]) -> str:
    return orjson.dumps(dict(values)).decode()


def _logged_model(row: Row[Any]) -> LoggedModel:
    return LoggedModel(
        id=row.id,
        project_id=row.project_id,
        project=row.project_name,
        run_id=row.run_id,
        source_run_id=row.source_run_id,
        name=row.name,
        status=LoggedModelStatus(row.status),
        status_message=row.status_message,
        model_type=row.model_type,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted=row.deleted,
        tags=orjson.loads(row.tags),
        params=orjson.loads(row.params),
    )
