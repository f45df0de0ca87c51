"""Webhooks and their deliveries in SQL: the outbox of the event log.

An event's deliveries are inserted by :func:`cairn.store.sql.outbox.enqueue_deliveries` in the
transaction that appends the event, one per active webhook subscribed to its type: the event and
its deliveries are kept together or not at all, and they outlive the process.

Claiming is a conditional UPDATE per due row, ``… WHERE id = ? AND status = 'pending' AND
(lease_until IS NULL OR lease_until <= now)``: of two workers, on two threads or two servers,
exactly one changes the row (PostgreSQL re-checks the condition on the row the other just
committed; SQLite lets one writer in at a time). An attempt's outcome is recorded only while
the claim's lease token is still the row's, so a worker whose lease ran out records nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, or_, select, update

from cairn.core.clock import now_ms
from cairn.core.errors import DeliveryNotFound, WebhookNotFound
from cairn.core.webhooks import Attempt, ClaimedDelivery, Delivery, DeliveryStatus, Webhook, secret_fingerprint
from cairn.store.sql import schema as t
from cairn.store.sql.engine import Engines, reading, transaction
from cairn.store.sql.events import event_from_row

_w = t.webhooks.c
_p = t.webhook_event_types.c
_d = t.webhook_deliveries.c
_a = t.webhook_attempts.c
_e = t.events.c

#: Characters of an answer's body an attempt keeps.
RESPONSE_EXCERPT = 1000


class SqlWebhookStore:
    """Implements :class:`cairn.store.base.WebhookStore`."""

    _engines: Engines

    # -- webhooks ---------------------------------------------------------------------------

    def create_webhook(
        self, *, url: str, events: Sequence[str], description: str, secret: str, active: bool, created_by: str
    ) -> Webhook:
        webhook_id, now = uuid.uuid4().hex, now_ms()
        row = {
            "id": webhook_id,
            "url": url,
            "description": description,
            "secret": secret,
            "active": active,
            "created_by": created_by,
            "created_at": now,
            "updated_at": now,
        }
        with transaction(self._engines.write) as conn:
            conn.execute(insert(t.webhooks), row)
            _put_patterns(conn, webhook_id, events)
            return _webhook(conn, webhook_id)

    def get_webhook(self, webhook_id: str) -> Webhook:
        with reading(self._engines) as conn:
            return _webhook(conn, webhook_id)

    def list_webhooks(self) -> list[Webhook]:
        with reading(self._engines) as conn:
            rows = conn.execute(select(t.webhooks).order_by(_w.created_at, _w.id)).all()
            patterns = _patterns(conn, [row.id for row in rows])
        return [_webhook_from(row, patterns[row.id]) for row in rows]

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
        changes: dict[str, Any] = {
            name: value
            for name, value in (("url", url), ("description", description), ("active", active), ("secret", secret))
            if value is not None
        }
        with transaction(self._engines.write) as conn:
            _require_webhook(conn, webhook_id)
            conn.execute(update(t.webhooks).where(_w.id == webhook_id).values(**changes, updated_at=now_ms()))
            if events is not None:
                conn.execute(delete(t.webhook_event_types).where(_p.webhook_id == webhook_id))
                _put_patterns(conn, webhook_id, events)
            return _webhook(conn, webhook_id)

    def delete_webhook(self, webhook_id: str) -> None:
        with transaction(self._engines.write) as conn:
            _require_webhook(conn, webhook_id)
            # Its patterns, deliveries and their attempts go with it: nothing more is sent.
            conn.execute(delete(t.webhooks).where(_w.id == webhook_id))

    # -- deliveries ---------------------------------------------------------------------------

    def list_deliveries(
        self, webhook_id: str, *, status: DeliveryStatus | None, before_seq: int | None, limit: int
    ) -> list[Delivery]:
        query = _delivery_query().where(_d.webhook_id == webhook_id).order_by(_d.event_seq.desc()).limit(limit)
        if status is not None:
            query = query.where(_d.status == status.value)
        if before_seq is not None:
            query = query.where(_d.event_seq < before_seq)
        with reading(self._engines) as conn:
            _require_webhook(conn, webhook_id)
            rows = conn.execute(query).all()
            attempts = _attempts(conn, [row.id for row in rows])
        return [_delivery(row, attempts[row.id]) for row in rows]

    def get_delivery(self, webhook_id: str, delivery_id: str) -> Delivery:
        with reading(self._engines) as conn:
            return _one_delivery(conn, webhook_id, delivery_id)

    def redeliver(self, webhook_id: str, delivery_id: str) -> Delivery:
        now = now_ms()
        with transaction(self._engines.write) as conn:
            found = _one_delivery(conn, webhook_id, delivery_id)
            values: dict[str, Any] = {"status": DeliveryStatus.PENDING.value, "next_attempt_at": now}
            if found.status is not DeliveryStatus.PENDING:
                # A finished delivery starts a new round of attempts; a pending one is only due now.
                values.update(round_start=_d.attempt_count, finished_at=None)
            conn.execute(update(t.webhook_deliveries).where(_d.id == delivery_id).values(**values))
            return _one_delivery(conn, webhook_id, delivery_id)

    def claim_deliveries(self, *, now: int, lease_ms: int, limit: int) -> list[ClaimedDelivery]:
        due = (
            select(_d.id)
            .join(t.webhooks, _w.id == _d.webhook_id)
            .where(_d.status == DeliveryStatus.PENDING.value, _d.next_attempt_at <= now, _w.active.is_(True))
            .where(or_(_d.lease_until.is_(None), _d.lease_until <= now))
            .order_by(_d.next_attempt_at)
            .limit(limit)
        )
        # Read first, on the read engine: an idle server polls without taking SQLite's write lock.
        with reading(self._engines) as conn:
            candidates = conn.scalars(due).all()
        if not candidates:
            return []
        tokens: dict[str, str] = {}
        with transaction(self._engines.write) as conn:
            # In one order for every worker: two PostgreSQL transactions locking the same rows
            # in different orders would deadlock.
            for delivery_id in sorted(candidates):
                token = uuid.uuid4().hex
                claimed = conn.execute(
                    update(t.webhook_deliveries)
                    .where(_d.id == delivery_id, _d.status == DeliveryStatus.PENDING.value, _d.next_attempt_at <= now)
                    .where(or_(_d.lease_until.is_(None), _d.lease_until <= now))
                    .values(lease_until=now + lease_ms, lease_token=token)
                )
                if claimed.rowcount == 1:
                    tokens[delivery_id] = token
            if not tokens:
                return []
            rows = conn.execute(
                select(
                    _d.id.label("delivery_id"),
                    _d.webhook_id,
                    _d.attempt_count,
                    _d.round_start,
                    _w.url,
                    _w.secret,
                    *t.events.c,
                )
                .join(t.webhooks, _w.id == _d.webhook_id)
                .join(t.events, _e.seq == _d.event_seq)
                .where(_d.id.in_(sorted(tokens)))
                .order_by(_d.next_attempt_at)
            ).all()
        return [
            ClaimedDelivery(
                id=row.delivery_id,
                webhook_id=row.webhook_id,
                url=row.url,
                secret=row.secret,
                event=event_from_row(row),
                number=row.attempt_count + 1,
                round_number=row.attempt_count - row.round_start + 1,
                lease_token=tokens[row.delivery_id],
            )
            for row in rows
        ]

    def finish_attempt(
        self, claim: ClaimedDelivery, attempt: Attempt, *, status: DeliveryStatus, next_attempt_at: int | None
    ) -> bool:
        finished = status is not DeliveryStatus.PENDING
        with transaction(self._engines.write) as conn:
            recorded = conn.execute(
                update(t.webhook_deliveries)
                .where(_d.id == claim.id, _d.lease_token == claim.lease_token)
                .values(
                    status=status.value,
                    attempt_count=_d.attempt_count + 1,
                    next_attempt_at=None if finished else next_attempt_at,
                    finished_at=now_ms() if finished else None,
                    lease_until=None,
                    lease_token=None,
                )
            )
            if recorded.rowcount != 1:
                return False  # deleted meanwhile, or the lease ran out and another took it
            conn.execute(
                insert(t.webhook_attempts),
                {
                    "delivery_id": claim.id,
                    "number": attempt.number,
                    "started_at": attempt.started_at,
                    "duration_ms": attempt.duration_ms,
                    "status_code": attempt.status_code,
                    "error": attempt.error,
                    "response": attempt.response[:RESPONSE_EXCERPT],
                },
            )
            return True


def _put_patterns(conn: Connection, webhook_id: str, events: Sequence[str]) -> None:
    conn.execute(
        insert(t.webhook_event_types),
        [{"webhook_id": webhook_id, "position": i, "pattern": pattern} for i, pattern in enumerate(events)],
    )


def _require_webhook(conn: Connection, webhook_id: str) -> None:
    if conn.scalar(select(_w.id).where(_w.id == webhook_id)) is None:
        raise WebhookNotFound(f"no webhook with id {webhook_id!r}", details={"webhook_id": webhook_id})


def _webhook(conn: Connection, webhook_id: str) -> Webhook:
    row = conn.execute(select(t.webhooks).where(_w.id == webhook_id)).first()
    if row is None:
        raise WebhookNotFound(f"no webhook with id {webhook_id!r}", details={"webhook_id": webhook_id})
    return _webhook_from(row, _patterns(conn, [webhook_id])[webhook_id])


def _patterns(conn: Connection, webhook_ids: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    if webhook_ids:
        query = select(_p.webhook_id, _p.pattern).where(_p.webhook_id.in_(webhook_ids)).order_by(_p.position)
        for webhook_id, pattern in conn.execute(query):
            found[webhook_id].append(pattern)
    return found


def _webhook_from(row: Row[Any], patterns: list[str]) -> Webhook:
    return Webhook(
        id=row.id,
        url=row.url,
        events=tuple(patterns),
        description=row.description,
        active=bool(row.active),
        secret_fingerprint=secret_fingerprint(row.secret),
        created_by=row.created_by,
        created_at=int(row.created_at),
        updated_at=int(row.updated_at),
    )


def _delivery_query() -> Any:
    return select(
        _d.id,
        _d.webhook_id,
        _d.event_seq,
        _d.status,
        _d.next_attempt_at,
        _d.created_at,
        _d.finished_at,
        _e.id.label("event_id"),
        _e.type.label("event_type"),
        _e.subject,
    ).join(t.events, _e.seq == _d.event_seq)


def _one_delivery(conn: Connection, webhook_id: str, delivery_id: str) -> Delivery:
    _require_webhook(conn, webhook_id)
    row = conn.execute(_delivery_query().where(_d.id == delivery_id, _d.webhook_id == webhook_id)).first()
    if row is None:
        raise DeliveryNotFound(
            f"webhook {webhook_id} has no delivery {delivery_id!r}",
            details={"webhook_id": webhook_id, "delivery_id": delivery_id},
        )
    return _delivery(row, _attempts(conn, [delivery_id])[delivery_id])


def _attempts(conn: Connection, delivery_ids: Sequence[str]) -> dict[str, list[Attempt]]:
    found: dict[str, list[Attempt]] = defaultdict(list)
    if delivery_ids:
        query = select(t.webhook_attempts).where(_a.delivery_id.in_(delivery_ids)).order_by(_a.number)
        for row in conn.execute(query):
            found[row.delivery_id].append(
                Attempt(
                    number=int(row.number),
                    started_at=int(row.started_at),
                    duration_ms=int(row.duration_ms),
                    status_code=row.status_code,
                    error=row.error,
                    response=row.response,
                )
            )
    return found


def _delivery(row: Row[Any], attempts: list[Attempt]) -> Delivery:
    return Delivery(
        id=row.id,
        webhook_id=row.webhook_id,
        event_id=row.event_id,
        event_seq=int(row.event_seq),
        event_type=row.event_type,
        subject=row.subject,
        status=DeliveryStatus(row.status),
        next_attempt_at=None if row.next_attempt_at is None else int(row.next_attempt_at),
        created_at=int(row.created_at),
        finished_at=None if row.finished_at is None else int(row.finished_at),
        attempts=tuple(attempts),
    )
