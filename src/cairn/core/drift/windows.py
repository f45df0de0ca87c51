"""Cutting logged rows into windows: by UTC time ("1h", "6h", "1d", "7d") or by count ("rows:N").

Time windows are aligned to UTC: hours and days to midnight of 1970-01-01, weeks ("7d", any
multiple of seven days) to Mondays, as ISO weeks are. Count windows take the rows in time order,
N at a time, the last one holding what is left. Windows without rows are left out.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from cairn.core.errors import InvalidValue

_UNITS_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}
_WEEK_MS = 7 * 86_400_000
#: 1970-01-05, the first Monday after the epoch: where weeks start.
_MONDAY_MS = 4 * 86_400_000
_TIME = re.compile(r"(\d{1,6})([mhd])")
_ROWS = re.compile(r"rows:(\d{1,12})")
#: Timestamps from 0001-01-01 to 9999-12-31 (UTC): beyond them a window's end overflows int64.
_MIN_MS = -62_135_596_800_000
_MAX_MS = 253_402_300_799_999


class Window(NamedTuple):
    """Rows ``rows`` (indices into the timestamps given, in time order) of ``[start_ms, end_ms)``.
    A count window runs from its first row's time to just after its last one's."""

    start_ms: int
    end_ms: int
    rows: np.ndarray


def parse_window(window: str) -> tuple[str, int]:
    """``("time", milliseconds)`` or ``("rows", N)``; :class:`InvalidValue` for anything else."""
    if isinstance(window, str):
        if match := _TIME.fullmatch(window.strip()):
            size = int(match.group(1)) * _UNITS_MS[match.group(2)]
            if size > 0:
                return "time", size
        elif match := _ROWS.fullmatch(window.strip()):
            if int(match.group(1)) > 0:
                return "rows", int(match.group(1))
    raise InvalidValue(
        f"a window is a time such as 1h, 6h, 1d or 7d, or rows:N for every N rows, not {window!r}",
        details={"window": str(window)},
    )


def split_windows(timestamps_ms: np.ndarray, window: str) -> list[Window]:
    """The non-empty windows of ``window`` that rows with these timestamps (ms since the
    epoch, UTC, in any order) fall in, in time order."""
    kind, size = parse_window(window)
    stamps = np.asarray(timestamps_ms)
    if stamps.ndim != 1:
        raise InvalidValue("timestamps must be a flat list of milliseconds since the epoch")
    if stamps.size == 0:
        return []
    if not np.issubdtype(stamps.dtype, np.integer):
        if not np.issubdtype(stamps.dtype, np.floating) or not np.all(np.isfinite(stamps)):
            raise InvalidValue("timestamps must be whole milliseconds since the epoch")
        if np.any(stamps != np.floor(stamps)):
            raise InvalidValue("timestamps must be whole milliseconds since the epoch")
    if stamps.min() < _MIN_MS or stamps.max() > _MAX_MS:
        raise InvalidValue("timestamps must be milliseconds since the epoch between the years 1 and 9999")
    stamps = stamps.astype(np.int64, copy=False)
    order = np.argsort(stamps, kind="stable")
    ordered = stamps[order]
    if kind == "rows":
        return [
            Window(int(ordered[i]), int(ordered[min(i + size, ordered.size) - 1]) + 1, order[i : i + size])
            for i in range(0, ordered.size, size)
        ]
    origin = _MONDAY_MS if size % _WEEK_MS == 0 else 0
    slots = (ordered - origin) // size
    cuts = np.flatnonzero(np.diff(slots)) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [ordered.size]))
    return [
        Window(int(slots[a] * size + origin), int((slots[a] + 1) * size + origin), order[a:b])
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
    ]
