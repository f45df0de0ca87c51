"""How the CLI prints: tables for people, JSON for scripts, times and numbers in between.

Values are shown as :mod:`cairn.core.display` shows them everywhere; this module adds only what
is the terminal's own: "-" for no value, and times in the machine's local zone.

Everything a user wrote (names, params, tags, notes) goes into :class:`rich.text.Text`, never
through rich's markup parser, so a run named ``[red]x`` prints as typed.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import click
from rich import box
from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from cairn.core import clock, display
from cairn.core.entities import Page, ParamValue, RunStatus
from cairn.core.limits import MAX_PAGE_SIZE

#: Width of tables written to a pipe or file, where there is no terminal to measure; wide
#: enough that ``cairn runs list | grep`` rarely sees a cell cut short.
PIPE_WIDTH = 160

#: What a cell with no value shows: a plain hyphen, which pipes, greps and aligns in any terminal
#: (the dashboard's "—" is :data:`cairn.core.display.MISSING`).
MISSING = "-"
#: Times are shown in the machine's local zone (None: what ``datetime.astimezone`` reads).
LOCAL_ZONE = None

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


def progress_bar(label: str) -> Progress:
    """A bar on stderr that counts done of total and guesses the time left; gone when done.
    For a terminal only: callers check ``sys.stderr.isatty()``."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
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
    """A metric value as :func:`cairn.core.display.number` shows it."""
    return MISSING if value is None else display.number(value)


def signed(delta: float | None) -> str:
    """A change with its sign (:func:`cairn.core.display.signed`)."""
    return MISSING if delta is None else display.signed(delta)


def param(value: ParamValue, *, compact: bool = False) -> str:
    """A param as typed; ``compact`` rounds floats for a table (0.30000000000000004 is 0.3)."""
    return MISSING if value is None else display.value(value, compact=compact)


plural = display.plural


def truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# -- times -------------------------------------------------------------------------------------


def timestamp(ms: int | None) -> str:
    """Local wall-clock time, to the second, as ``ls -l`` and ``git log`` show times."""
    return MISSING if ms is None else display.timestamp(ms, LOCAL_ZONE)


def ago(ms: int | None, *, now: int | None = None) -> str:
    """How long ago, as a person says it (:func:`cairn.core.display.ago`); "never" for None."""
    if ms is None:
        return "never"
    return display.ago(ms, now=clock.now_ms() if now is None else now, zone=LOCAL_ZONE)


def duration(ms: int | None) -> str:
    """``850ms``, ``42s``, ``3m 12s``, ``2h 05m``, ``3d 04h`` (:func:`cairn.core.display.duration`)."""
    return MISSING if ms is None else display.duration(ms)


def size(count: int) -> str:
    """Bytes for people, in binary units: ``512 B``, ``21.6 KiB`` (:func:`cairn.core.display.size`)."""
    return display.size(count)


T = TypeVar("T")


def first_items(fetch: Callable[[int, str | None], Page[T]], limit: int) -> tuple[list[T], bool]:
    """Up to ``limit`` items of a paged listing, page by page (``fetch(page_size, token)``);
    and whether there are more."""
    items: list[T] = []
    token: str | None = None
    while len(items) < limit:
        page = fetch(min(limit - len(items), MAX_PAGE_SIZE), token)
        items.extend(page.items)
        token = page.next_page_token
        if token is None:
            break
    return items, token is not None


def heading(title: str, count: int | None = None) -> Text:
    """A section's title in ``show`` output, with its item count when it has one."""
    return Text(f"\n{title}" + ("" if count is None else f" ({count})"), style="bold")
