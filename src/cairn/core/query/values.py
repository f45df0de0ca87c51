"""Turning query literals into the numbers runs are stored with (times in ms since the epoch).

Shared by the SQL compiler and the Python evaluator, so the two read ``-7d`` and
``'2026-11-01'`` the same way. Dates without a zone are UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cairn.core.query.ast import Duration, Value


def parse_instant(text: str) -> int | None:
    """Milliseconds since the epoch of an ISO date or date-time, or None if it is not one."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def time_millis(value: Value, now_ms: int) -> int:
    """A ``created``/``ended`` literal: an age such as -7d, or a date (the parser checked it)."""
    if isinstance(value, Duration):
        return now_ms + value.millis
    instant = parse_instant(str(value))
    assert instant is not None, "the parser accepts only dates it can read"
    return instant


def duration_millis(value: Value) -> int:
    """A ``duration`` literal: seconds, or a span such as 2h."""
    if isinstance(value, Duration):
        return value.millis
    assert isinstance(value, int | float) and not isinstance(value, bool)
    return round(value * 1000)
