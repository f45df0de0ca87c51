"""The outbox: an event's webhook deliveries, queued in the transaction that appends it.

Matching is one indexed lookup: a webhook subscribed to ``*``, to the event's ``SUBJECT.*`` or
to its exact type gets the event (:func:`cairn.core.events.patterns_naming`).
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, bindparam, insert, select

from cairn.core.events import EventType, patterns_naming
from cairn.core.webhooks import DeliveryStatus
from cairn.store.sql import schema as t

_w = t.webhooks.c
_p = t.webhook_event_types.c

# Built once: on every event, building and compiling the statement would cost more than running
# it on the (usually empty) subscription index.
_SUBSCRIBED = (
    select(_p.webhook_id)
    .join(t.webhooks, _w.id == _p.webhook_id)
    .where(_p.pattern.in_(bindparam("patterns", expanding=True)), _w.active.is_(True))
    .distinct()
)


def enqueue_deliveries(conn: Connection, event_seq: int, type_: EventType, created_at: int) -> int:
    """Queue the event for every active webhook subscribed to its type; how many."""
    webhook_ids = conn.scalars(_SUBSCRIBED, {"patterns": list(patterns_naming(type_))}).all()
    if webhook_ids:
        conn.execute(
            insert(t.webhook_deliveries),
            [
                {
                    "id": uuid.uuid4().hex,
                    "webhook_id": webhook_id,
                    "event_seq": event_seq,
                    "status": DeliveryStatus.PENDING.value,
                    "attempt_count": 0,
                    "round_start": 0,
                    "next_attempt_at": created_at,
                    "lease_until": None,
                    "lease_token": None,
                    "created_at": created_at,
                    "finished_at": None,
                }
                for webhook_id in sorted(webhook_ids)
            ],
        )
    return len(webhook_ids)
