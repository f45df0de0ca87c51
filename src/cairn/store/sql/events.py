"""The event log in SQL: appended inside the change's own transaction (with the webhook
deliveries it calls for, see .outbox), read newest first."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Collection, Iterator, Mapping
from typing import Any

import orjson
from sqlalchemy import Row, insert, select

from cairn.core.clock import now_ms
from cairn.core.events import Event, EventType
from cairn.store.sql import schema as t
from cairn.store.sql.engine import Engines, reading, transaction
from cairn.store.sql.outbox import enqueue_deliveries

_e = t.events.c


class SqlEventStore:
    """Implements :class:`cairn.store.base.EventStore`."""

    _engines: Engines

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction for every write inside: all of them are kept, or none."""
        with transaction(self._engines.write):
            yield

    def append_event(self, type_: EventType, subject: str, actor: str, data: Mapping[str, Any]) -> Event:
        event_id, created_at = uuid.uuid4().hex, now_ms()
        row = {
            "id": event_id,
            "type": type_.value,
            "subject": subject,
            "actor": actor,
            "created_at": created_at,
            "data": orjson.dumps(dict(data)).decode(),
        }
        with transaction(self._engines.write) as conn:
            seq = conn.execute(insert(t.events).returning(_e.seq), row).scalar_one()
            enqueue_deliveries(conn, int(seq), type_, created_at)
        return Event(int(seq), event_id, type_, subject, actor, created_at, dict(data))

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
        query = select(t.events).order_by(_e.seq.desc()).limit(limit)
        if types is not None:
            query = query.where(_e.type.in_(sorted(t_.value for t_ in types)))
        if subject is not None:
            if subject_prefix:
                # A model's own events and its versions': models/NAME and models/NAME/…
                query = query.where((_e.subject == subject) | (_e.subject.startswith(subject + "/", autoescape=True)))
            else:
                query = query.where(_e.subject == subject)
        if actor is not None:
            query = query.where(_e.actor == actor)
        if since is not None:
            query = query.where(_e.created_at >= since)
        if until is not None:
            query = query.where(_e.created_at < until)
        if before_seq is not None:
            query = query.where(_e.seq < before_seq)
        with reading(self._engines) as conn:
            return [event_from_row(row) for row in conn.execute(query)]


def event_from_row(row: Row[Any]) -> Event:
    return Event(
        seq=int(row.seq),
        id=row.id,
        type=EventType(row.type),
        subject=row.subject,
        actor=row.actor,
        created_at=int(row.created_at),
        data=orjson.loads(row.data),
    )
