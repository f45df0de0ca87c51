"""Wall-clock time as Cairn stores it: integer milliseconds since the Unix epoch.

How a time is shown to people ("3 min ago", a date in a zone) is :mod:`cairn.core.display`.
"""

from __future__ import annotations

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000
