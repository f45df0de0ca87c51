"""How values are shown to people: one answer, used by the CLI, the dashboard and the SDK's messages.

Every function here is pure and total: it never raises for a value of its type, and ``None``
(no value) is shown as :data:`MISSING`. The answers, and why:

- **Numbers** (metric values, float params in a table): six significant digits (``0.912346``,
  ``1.23457e+07``, ``1e-12``), Python's ``g`` format, which a user of pandas or NumPy reads
  without thinking; ``-0.0`` is ``0``. Non-finite values as NumPy prints them: ``inf``,
  ``-inf``, and ``NaN`` as pandas does; the charts' markers say the same. (The wire format's
  ``"Infinity"`` is for machines, :mod:`cairn.core.wire`.)
- **Durations**: the two largest units, no spaces inside a unit: ``850ms``, ``42s``,
  ``3m 12s``, ``2h 05m``, ``3d 04h``. A negative duration (a clock that went back) keeps its
  sign rather than being shown as zero.
- **Sizes**: binary (IEC) units, ``512 B``, ``1.5 KiB``, ``22.1 MiB``: Cairn's own limits are
  powers of two and documented in MiB (docs/limits.md), so a file at a limit shows as the
  limit reads ("1.0 MiB", not "1.0 MB"), and a KiB cannot be misread as 1000 or 1024 bytes.
- **Times**: ``2024-05-01 14:03:11`` in a zone the caller chooses (the CLI the machine's local
  zone, as ``ls -l`` and ``git log`` do; the dashboard UTC, because its readers sit in many
  zones), with the zone's name appended where a reader could not guess it.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

#: What every function here shows for None (no value).
MISSING = "—"
#: Significant digits of a number.
DIGITS = 6


def number(value: float | None) -> str:
    """A metric value in six significant digits; ``NaN``, ``inf``, ``-inf`` by name."""
    if value is None:
        return MISSING
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value + 0.0:.{DIGITS}g}"  # + 0.0 turns -0.0 into 0.0


def signed(delta: float | None) -> str:
    """A change with its sign: ``+0.04``, ``-1.2``, ``0``, ``+inf``; ``NaN`` has none."""
    if delta is None:
        return MISSING
    if delta == 0 or math.isnan(delta):
        return number(delta)
    return ("+" if delta > 0 else "") + number(delta)


def value(item: Any, *, compact: bool = True) -> str:
    """Any value a run holds (a param, a tag, a dataset's row count): numbers as :func:`number`,
    booleans as the query language and JSON spell them (``true``), text as it is.

    ``compact=False`` shows a float param in full (``0.00012345678``) where there is room for
    it; a table cell rounds it like a metric."""
    if item is None:
        return MISSING
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, float):
        return number(item) if compact or not math.isfinite(item) else repr(item + 0.0)
    return str(item)


def plural(count: int, noun: str) -> str:
    """``1 write``, ``2 writes``, ``0 writes``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def duration(ms: int | None) -> str:
    """``850ms``, ``42s``, ``3m 12s``, ``2h 05m``, ``3d 04h``; ``-3m 12s`` before its start."""
    if ms is None:
        return MISSING
    if ms < 0:
        return "-" + duration(-ms)
    if ms < 1000:
        return f"{ms}ms"
    seconds = ms // 1000
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


_SIZE_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def size(count: int | None) -> str:
    """Bytes in binary units: ``512 B``, ``1.5 KiB``, ``22.1 MiB``, ``1.1 GiB``."""
    if count is None:
        return MISSING
    if count < 0:
        return "-" + size(-count)
    if count < 1024:
        return f"{count} B"
    amount = float(count)
    for unit in _SIZE_UNITS:
        amount /= 1024
        # 1023.96 KiB would print as "1024.0 KiB": such an amount is shown in the next unit.
        if round(amount, 1) < 1024 or unit == _SIZE_UNITS[-1]:
            return f"{amount:.1f} {unit}"
    raise AssertionError("unreachable")


def timestamp(ms: int | None, zone: dt.tzinfo | None, *, show_zone: bool = False) -> str:
    """``2024-05-01 14:03:11`` in ``zone`` (None: the machine's local zone, as
    :meth:`datetime.datetime.astimezone` reads it), with the zone's name when ``show_zone``."""
    if ms is None:
        return MISSING
    moment = _moment(ms, zone)
    text = moment.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")  # strftime drops a year's leading zeros
    return f"{text} {moment.tzname()}" if show_zone else text


def iso_timestamp(ms: int | None) -> str:
    """``2024-05-01T12:03:11Z``: for machines (an HTML ``datetime`` attribute), always UTC;
    empty for None, since a machine would misread a placeholder."""
    if ms is None:
        return ""
    return _moment(ms, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def ago(ms: int | None, *, now: int, zone: dt.tzinfo | None, date_prefix: str = "") -> str:
    """How long before ``now`` (both ms since the epoch), as a person says it: "just now",
    "12 s ago", "12 min ago", "3 h ago", "3 days ago"; after a month the date in ``zone``,
    after ``date_prefix`` ("on " reads well inside a sentence). A time in the future (another
    machine's clock) is "just now"."""
    if ms is None:
        return MISSING
    seconds = (now - ms) / 1000
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
    return date_prefix + _moment(ms, zone).date().isoformat()


# The range datetime can hold: a stored time outside it is shown at the nearest end rather
# than raising in the middle of a page.
_MIN_MS = -62_135_596_800_000 + 86_400_000  # 0001-01-02, so that any zone's offset still fits
_MAX_MS = 253_402_300_799_000 - 86_400_000  # 9999-12-30


def _moment(ms: int, zone: dt.tzinfo | None) -> dt.datetime:
    clamped = min(max(ms, _MIN_MS), _MAX_MS)
    return dt.datetime.fromtimestamp(clamped / 1000, tz=dt.UTC).astimezone(zone)
