"""How the CLI prints: tables for people, JSON for scripts, times and numbers in between.

Everything a user wrote (names, params, tags, notes) goes into :class:`rich.text.Text`, never
through rich's markup parser, so a run named ``[red]x`` prints as typed.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click
from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from cairn.core import clock
from cairn.core.entities import ParamValue, RunStatus

#: Width of tables written to a pipe or file, where there is no terminal to measure; wide
#: enough that ``cairn runs list | grep`` rarely sees a cell cut short.
PIPE_WIDTH = 160

STATUS_STYLES = {
    RunStatus.RUNNING: "cyan",
    RunStatus.FINISHED: "green",
    RunStatus.FAILED: "red",
    RunStatus.KILLED: "magenta",
}


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) as it is when printing: click's test runner swaps it."""
    stream = sys.stderr if stderr else sys.stdout
    measured = stream.isatty() or "COLUMNS" in os.environ
    return Console(
        stderr=stderr,
        width=None if measured else PIPE_WIDTH,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )


def table(*headers: str) -> Table:
    """A borderless table: one rule under the header, as ``docker ps`` and ``kubectl get`` do."""
    result = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        header_style="bold",
    )
    for header in headers:
        result.add_column(header, overflow="ellipsis", no_wrap=True)
    return result


#: Blanks between two columns of :func:`table`.
GAP = 3


@dataclass(eq=False)
class Column:
    """A column before it is laid out: :func:`fitted_table` decides which fit and how wide."""

    header: str
    cells: list[Text]
    max_width: int | None = None
    right: bool = False
    #: May be cut shorter than its content when the screen is narrow (names, param values).
    squeeze: bool = False
    #: Left out when it does not fit; lower ``priority`` is kept first. None: always shown.
    priority: int | None = None

    @property
    def width(self) -> int:
        natural = max([len(self.header)] + [cell.cell_len for cell in self.cells])
        return natural if self.max_width is None else min(natural, self.max_width)


def fitted_table(columns: Sequence[Column], width: int) -> tuple[Table, list[Column]]:
    """A table of ``columns`` in a screen ``width`` wide, and the columns it shows.

    Optional columns are added, most important first, while they fit; only squeezable ones are
    then cut short, so ids, numbers and times are never truncated.
    """
    shown = [c for c in columns if c.priority is None]
    used = sum(c.width for c in shown) + GAP * (len(shown) - 1)
    for column in sorted((c for c in columns if c.priority is not None), key=lambda c: c.priority or 0):
        if used + GAP + column.width <= width:
            shown.append(column)
            used += GAP + column.width
    shown.sort(key=columns.index)
    result = table()
    for column in shown:
        result.add_column(
            column.header,
            justify="right" if column.right else "left",
            overflow="ellipsis",
            no_wrap=True,
            max_width=column.max_width,
            min_width=None if column.squeeze else column.width,
        )
    for row in zip(*(column.cells for column in shown), strict=True):
        result.add_row(*row)
    return result, shown


def key_values(rows: Sequence[tuple[str, Text | str]]) -> Text:
    """``key  value`` lines with the values aligned; a value's later lines are indented too."""
    width = max((len(key) for key, _ in rows), default=0) + 2
    result = Text()
    for key, value in rows:
        value = value if isinstance(value, Text) else Text(value)
        result.append(key.ljust(width), style="dim")
        for number, line in enumerate(value.split("\n", allow_blank=True)):
            result.append_text(Text(" " * width) + line if number else line)
            result.append("\n")
    result.rstrip()
    return result


def show(*renderables: RenderableType) -> None:
    """Print to stdout; into a pipe or file without the trailing blanks rich pads cells with."""
    out = console()
    if out.is_terminal:
        for renderable in renderables:
            out.print(renderable)
        return
    with out.capture() as captured:
        for renderable in renderables:
            out.print(renderable)
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def print_json(data: Any) -> None:
    """Strict JSON (no NaN literals: the wire format already turned them into strings)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False))


# -- values ------------------------------------------------------------------------------------


def status_text(status: RunStatus, *, deleted: bool = False) -> Text:
    label = f"{status.value} (deleted)" if deleted else status.value
    return Text(label, style="dim" if deleted else STATUS_STYLES[status])


def number(value: float | None) -> str:
    """A metric value in a few significant digits; NaN and infinities spelled out."""
    if value is None:
        return "-"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:.5g}"


def param(value: ParamValue, *, compact: bool = False) -> str:
    """A param as typed; ``compact`` rounds floats for a table (0.30000000000000004 is 0.3)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return number(value)
        if compact:
            return f"{value:.6g}"
    return str(value)


def plural(count: int, noun: str) -> str:
    """``1 write``, ``2 writes``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# -- times -------------------------------------------------------------------------------------


def timestamp(ms: int | None) -> str:
    """Local wall-clock time, to the second."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def ago(ms: int | None, *, now: int | None = None) -> str:
    """How long ago, as a person says it (see :func:`cairn.core.clock.ago`); "never" for None."""
    return "never" if ms is None else clock.ago(ms, now=now)


def duration(ms: int | None) -> str:
    """``850ms``, ``42s``, ``3m 12s``, ``2h 05m``, ``3d 04h``."""
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{max(ms, 0)}ms"
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


def size(count: int) -> str:
    """Bytes for people: ``512 B``, ``22.1 kB``, ``1.1 GB`` (powers of 1000, as ``ls -h --si``)."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
