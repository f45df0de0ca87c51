"""Monitors, their evaluated windows and their alerts in SQL (docs/monitoring.md).

Evaluations are claimed as webhook deliveries are (store/sql/webhooks.py): a monitor is due when
``next_run_at`` has passed and no live lease is held, and a claim sets a lease with a fresh
token in one conditional UPDATE, so of two processes polling at once exactly one wins. Recording
the evaluation's end checks the token: a worker whose lease ran out records nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, delete, desc, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from cairn.core.clock import now_ms
from cairn.core.errors import AlertNotFound, AlreadyExists, MonitorNotFound
from cairn.core.monitors import (
    Alert,
    AlertStatus,
    Monitor,
    MonitorConfig,
    MonitorWindow,
    config_from_wire,
)
from cairn.store.sql import schema as t
from cairn.store.sql.engine import Engines, reading, transaction
from cairn.store.sql.registry import model_id_of

_mo = t.monitors.c
_w = t.monitor_windows.c
_a = t.monitor_alerts.c
_m = t.registered_models.c

#: Alerts that are part of an ongoing episode.
_LIVE = (AlertStatus.OPEN.value, AlertStatus.ACKNOWLEDGED.value)


class SqlMonitorStore:
    """Implements :class:`cairn.store.base.MonitorStore`."""

    _engines: Engines

    # -- monitors -------------------------------------------------------------------------------

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
        now = now_ms()
        row = {
            "id": uuid.uuid4().hex,
            "name": name,
            "alias": alias,
            "version": version,
            "config": orjson.dumps(config.to_wire()).decode(),
            "schedule_s": schedule_s,
            "next_run_at": now,
            "lease_until": None,
            "lease_token": None,
            "last_run_at": None,
            "last_error": None,
            "created_by": created_by,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with transaction(self._engines.write) as conn:
                row["model_id"] = model_id_of(conn, model)
                conn.execute(insert(t.monitors), row)
        except IntegrityError:
            raise AlreadyExists(
                f"model {model!r} already has a monitor named {name!r}", details={"model": model, "monitor": name}
            ) from None
        return _monitor(model, row)

    def get_monitor(self, model: str, name: str) -> Monitor:
        with reading(self._engines) as conn:
            return _one_monitor(conn, model, name)

    def list_monitors(self, model: str | None = None) -> list[Monitor]:
        query = select(t.monitors, _m.name.label("model_name")).join(t.registered_models, _m.id == _mo.model_id)
        with reading(self._engines) as conn:
            if model is not None:
                query = query.where(_mo.model_id == model_id_of(conn, model))
            rows = conn.execute(query.order_by(_m.name, _mo.name)).mappings().all()
        return [_monitor(row["model_name"], row) for row in rows]

    def delete_monitor(self, model: str, name: str) -> Monitor:
        with transaction(self._engines.write) as conn:
            found = _one_monitor(conn, model, name)
            conn.execute(delete(t.monitor_alerts).where(_a.monitor_id == found.id))
            conn.execute(delete(t.monitor_windows).where(_w.monitor_id == found.id))
            conn.execute(delete(t.monitors).where(_mo.id == found.id))
        return found

    # -- claiming evaluations -------------------------------------------------------------------

    def claim_monitors(
        self, *, now: int, lease_ms: int, limit: int, model: str | None = None, name: str | None = None
    ) -> list[tuple[Monitor, str]]:
        """Claim monitors to evaluate, each with its lease token: those due (``next_run_at`` has
        passed), or the one named, due or not; never one whose lease is live."""
        free = or_(_mo.lease_until.is_(None), _mo.lease_until <= now)
        candidates = select(_mo.id).where(free)
        with reading(self._engines) as conn:
            if name is not None and model is not None:
                candidates = candidates.where(_mo.id == _one_monitor(conn, model, name).id)
            else:
                candidates = candidates.where(_mo.next_run_at <= now).order_by(_mo.next_run_at).limit(limit)
            ids = conn.scalars(candidates).all()
        if not ids:
            return []
        tokens: dict[str, str] = {}
        with transaction(self._engines.write) as conn:
            for monitor_id in sorted(ids):  # one lock order for every worker (PostgreSQL deadlocks)
                token = uuid.uuid4().hex
                claimed = conn.execute(
                    update(t.monitors)
                    .where(_mo.id == monitor_id, free)
                    .values(lease_until=now + lease_ms, lease_token=token)
                )
                if claimed.rowcount == 1:
                    tokens[monitor_id] = token
            if not tokens:
                return []
            rows = (
                conn.execute(
                    select(t.monitors, _m.name.label("model_name"))
                    .join(t.registered_models, _m.id == _mo.model_id)
                    .where(_mo.id.in_(sorted(tokens)))
                    .order_by(_mo.next_run_at)
                )
                .mappings()
                .all()
            )
        return [(_monitor(row["model_name"], row), tokens[row["id"]]) for row in rows]

    def finish_monitor_run(self, monitor_id: str, token: str, *, next_run_at: int, error: str | None) -> bool:
        """Release the lease and schedule the next evaluation; False when the lease was lost."""
        with transaction(self._engines.write) as conn:
            done = conn.execute(
                update(t.monitors)
                .where(_mo.id == monitor_id, _mo.lease_token == token)
                .values(
                    lease_until=None,
                    lease_token=None,
                    next_run_at=next_run_at,
                    last_run_at=now_ms(),
                    last_error=None if error is None else error[:2000],
                )
            )
            return done.rowcount == 1

    def holds_lease(self, monitor_id: str, token: str) -> bool:
        with reading(self._engines) as conn:
            return conn.scalar(select(_mo.id).where(_mo.id == monitor_id, _mo.lease_token == token)) is not None

    # -- windows --------------------------------------------------------------------------------

    def last_window_end(self, monitor_id: str, version: int) -> int | None:
        with reading(self._engines) as conn:
            found = conn.scalar(select(func.max(_w.end_ms)).where(_w.monitor_id == monitor_id, _w.version == version))
        return None if found is None else int(found)

    def add_window(self, window: MonitorWindow) -> None:
        row = {
            "monitor_id": window.monitor_id,
            "version": window.version,
            "start_ms": window.start_ms,
            "end_ms": window.end_ms,
            "rows": window.rows,
            "drifted_share": window.drifted_share,
            "drifted": window.drifted,
            "breached": window.breached,
            "result": orjson.dumps(window.result).decode(),
            "evaluated_at": window.evaluated_at,
        }
        with transaction(self._engines.write) as conn:
            conn.execute(insert(t.monitor_windows), row)

    def list_windows(
        self,
        monitor_id: str,
        *,
        version: int | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 1000,
    ) -> list[MonitorWindow]:
        """The newest ``limit`` windows in the range, answered oldest first."""
        query = select(t.monitor_windows).where(_w.monitor_id == monitor_id)
        if version is not None:
            query = query.where(_w.version == version)
        if since_ms is not None:
            query = query.where(_w.end_ms > since_ms)
        if until_ms is not None:
            query = query.where(_w.start_ms < until_ms)
        with reading(self._engines) as conn:
            rows = conn.execute(query.order_by(desc(_w.start_ms), desc(_w.version)).limit(limit)).mappings().all()
        return [_window(row) for row in reversed(rows)]

    # -- alerts ---------------------------------------------------------------------------------

    def live_alert(self, monitor_id: str, version: int) -> Alert | None:
        """The open or acknowledged alert of the monitor for the version: its ongoing episode."""
        with reading(self._engines) as conn:
            row = (
                conn.execute(
                    _alert_query()
                    .where(_a.monitor_id == monitor_id, _a.version == version, _a.status.in_(_LIVE))
                    .order_by(desc(_a.opened_at))
                    .limit(1)
                )
                .mappings()
                .first()
            )
        return None if row is None else _alert(row)

    def open_alert(
        self, monitor_id: str, version: int, *, window_ms: int, detail: Mapping[str, Any], opened_at: int
    ) -> str:
        alert_id = uuid.uuid4().hex
        with transaction(self._engines.write) as conn:
            conn.execute(
                insert(t.monitor_alerts),
                {
                    "id": alert_id,
                    "monitor_id": monitor_id,
                    "version": version,
                    "status": AlertStatus.OPEN.value,
                    "first_window_ms": window_ms,
                    "last_window_ms": window_ms,
                    "breached_windows": 1,
                    "detail": orjson.dumps(detail).decode(),
                    "opened_at": opened_at,
                },
            )
        return alert_id

    def extend_alert(self, alert_id: str, *, window_ms: int, detail: Mapping[str, Any]) -> None:
        with transaction(self._engines.write) as conn:
            conn.execute(
                update(t.monitor_alerts)
                .where(_a.id == alert_id)
                .values(
                    last_window_ms=window_ms,
                    breached_windows=_a.breached_windows + 1,
                    detail=orjson.dumps(detail).decode(),
                )
            )

    def set_alert_status(self, alert_id: str, status: AlertStatus, *, by: str, at: int) -> None:
        values: dict[str, Any] = {"status": status.value}
        if status is AlertStatus.ACKNOWLEDGED:
            values.update(acknowledged_by=by, acknowledged_at=at)
        elif status is AlertStatus.RESOLVED:
            values.update(resolved_by=by, resolved_at=at)
        with transaction(self._engines.write) as conn:
            conn.execute(update(t.monitor_alerts).where(_a.id == alert_id).values(**values))

    def get_alert(self, model: str, alert_id: str) -> Alert:
        with reading(self._engines) as conn:
            model_id = model_id_of(conn, model)
            row = conn.execute(_alert_query().where(_a.id == alert_id, _mo.model_id == model_id)).mappings().first()
        if row is None:
            raise AlertNotFound(
                f"model {model!r} has no alert {alert_id!r}", details={"model": model, "alert_id": alert_id}
            )
        return _alert(row)

    def list_alerts(
        self,
        model: str | None = None,
        *,
        monitor: str | None = None,
        statuses: tuple[AlertStatus, ...] = (),
        limit: int = 100,
    ) -> list[Alert]:
        """Alerts newest first: of a model (of one of its monitors), or of every model."""
        query = _alert_query()
        with reading(self._engines) as conn:
            if model is not None:
                model_id = model_id_of(conn, model)
                query = query.where(_mo.model_id == model_id)
                if monitor is not None:
                    query = query.where(_mo.id == _one_monitor(conn, model, monitor).id)
            if statuses:
                query = query.where(_a.status.in_([s.value for s in statuses]))
            rows = conn.execute(query.order_by(desc(_a.opened_at), _a.id).limit(limit)).mappings().all()
        return [_alert(row) for row in rows]


def _one_monitor(conn: Connection, model: str, name: str) -> Monitor:
    model_id = model_id_of(conn, model)
    row = conn.execute(select(t.monitors).where(_mo.model_id == model_id, _mo.name == name)).mappings().first()
    if row is None:
        raise MonitorNotFound(
            f"model {model!r} has no monitor named {name!r}", details={"model": model, "monitor": name}
        )
    return _monitor(model, row)


def _alert_query() -> Any:
    return (
        select(t.monitor_alerts, _mo.name.label("monitor_name"), _m.name.label("model_name"))
        .join(t.monitors, _mo.id == _a.monitor_id)
        .join(t.registered_models, _m.id == _mo.model_id)
    )


def _monitor(model: str, row: Any) -> Monitor:
    return Monitor(
        id=row["id"],
        model=model,
        name=row["name"],
        alias=row["alias"],
        version=row["version"],
        config=config_from_wire(orjson.loads(row["config"])),
        schedule_s=row["schedule_s"],
        next_run_at=row["next_run_at"],
        last_run_at=row["last_run_at"],
        last_error=row["last_error"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _window(row: Any) -> MonitorWindow:
    return MonitorWindow(
        monitor_id=row["monitor_id"],
        version=row["version"],
        start_ms=row["start_ms"],
        end_ms=row["end_ms"],
        rows=row["rows"],
        drifted_share=row["drifted_share"],
        drifted=bool(row["drifted"]),
        breached=bool(row["breached"]),
        result=orjson.loads(row["result"]),
        evaluated_at=row["evaluated_at"],
    )


def _alert(row: Any) -> Alert:
    return Alert(
        id=row["id"],
        monitor_id=row["monitor_id"],
        monitor=row["monitor_name"],
        model=row["model_name"],
        version=row["version"],
        status=AlertStatus(row["status"]),
        first_window_ms=row["first_window_ms"],
        last_window_ms=row["last_window_ms"],
        breached_windows=row["breached_windows"],
        detail=orjson.loads(row["detail"]),
        opened_at=row["opened_at"],
        acknowledged_by=row["acknowledged_by"],
        acknowledged_at=row["acknowledged_at"],
        resolved_by=row["resolved_by"],
        resolved_at=row["resolved_at"],
    )
