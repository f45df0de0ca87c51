"""Wall-clock time as Cairn stores it: integer milliseconds since the Unix epoch."""

from __future__ import annotations

import time
from datetime import datetime


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ago(ms: int, *, now: int | None = None, date_prefix: str = "") -> str:
    """How long ago, as a person says it: "just now", "12 min ago", "3 days ago"; after a month
    the local date, after ``date_prefix`` ("on " reads well inside a sentence)."""
    seconds = ((now_ms() if now is None else now) - ms) / 1000
    if seconds < 10:
        return "just now"
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    if days < 31:
        return "1 day ago" if days == 1 else f"{days} days ago"
    return date_prefix + datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d")
