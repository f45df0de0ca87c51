"""``cairn diff``: what changed between a run and an earlier one."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TypeVar

import click
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from cairn.cli import output
from cairn.cli.errors import CommandError
from cairn.cli.options import json_option, open_tracking, uri_option
from cairn.client.snapshots import SnapshotDiff, diff_snapshots
from cairn.core.diff import MappingDiff, MetricsDiff, RunDiff, RunRef
from cairn.core.entities import ParamValue
from cairn.core.errors import NotFound, RunNotFound
from cairn.core.wire import diff_to_wire
from cairn.service.interface import Tracking

#: Length of a full run id (a UUID in hex).
FULL_ID = 32
ADDED, REMOVED, CHANGED = "green", "red", "yellow"
_MARKS = {ADDED: "+", REMOVED: "-", CHANGED: "~"}
V = TypeVar("V")


@click.command("diff")
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B", required=False)
@uri_option
@json_option
def diff_command(run_a: str, run_b: str | None, uri: str | None, as_json: bool) -> None:
    """Show what changed from RUN_B to RUN_A: params, metrics, tags, notes, code and packages.

    Without RUN_B, RUN_A is compared with its nearest earlier run in the same project: the one
    whose params differ least (docs/insight.md). Added (+, green) means RUN_A has it and RUN_B
    does not; removed (-, red) the reverse; changed (~, yellow) shows RUN_B's value, then
    RUN_A's. Runs are named by their full ids.
    """
    with open_tracking(uri) as tracking:
        try:
            diff = tracking.diff_runs(run_a, run_b)
        except RunNotFound as exc:
            missing = str(exc.details.get("run_id", ""))
            if missing and len(missing) < FULL_ID:
                raise CommandError.of(
                    exc,
                    f"{exc.message}; run ids are {FULL_ID} characters long "
                    "(cairn runs list PROJECT --json shows them in full)",
                ) from exc
            raise
        except NotFound as exc:
            if run_b is not None or type(exc) is not NotFound:
                raise
            hint = f"run {run_a} has no earlier run in its project to compare with; name one: cairn diff {run_a} RUN_B"
            raise CommandError.of(exc, hint) from exc
        changes = snapshot_changes(tracking, diff.run.id, diff.baseline.id)
    if as_json:
        output.print_json({**diff_to_wire(diff), "snapshots": [_snapshot_diff_to_wire(c) for c in changes]})
        return
    output.show(*render(diff, nearest=run_b is None), *render_snapshots(changes))


def snapshot_changes(tracking: Tracking, run_id: str, baseline_id: str) -> list[SnapshotDiff]:
    """How the code and environment snapshots of two runs differ (kinds neither has are left out)."""
    after = {s.kind: s for s in tracking.run_snapshots(run_id)}
    before = {s.kind: s for s in tracking.run_snapshots(baseline_id)}
    changes = []
    for kind in ("code", "environment", "command", "notebook", "config"):
        if kind in after or kind in before:
            change = diff_snapshots(tracking, before.get(kind), after.get(kind))
            if change.changed:
                changes.append(change)
    return changes


def render_snapshots(changes: list[SnapshotDiff]) -> list[RenderableType]:
    parts: list[RenderableType] = []
    for change in changes:
        if change.packages:
            table = output.table("", "package", "before", "after")
            for package in change.packages:
                color = ADDED if package.before is None else REMOVED if package.after is None else CHANGED
                table.add_row(
                    Text(_MARKS[color], style=color),
                    Text(package.name),
                    Text(package.before or "-"),
                    Text(package.after or "-"),
                )
            parts += [Text(f"\nPackages ({len(change.packages)} changed)", style="bold"), table]
            continue
        title = {"code": "Code", "command": "Command", "notebook": "Notebook", "config": "Config"}.get(
            change.kind, change.kind.title()
        )
        parts.append(Text(f"\n{title} ({output.plural(len(change.files), 'file')} changed)", style="bold"))
        for file in change.files:
            color = {"added": ADDED, "removed": REMOVED}.get(file.status, CHANGED)
            parts.append(Text(f"{_MARKS[color]} {file.path}", style=color))
            if file.diff:
                parts.append(_colored_diff(file.diff))
    return parts


def _colored_diff(text: str) -> Text:
    shown = Text()
    for line in text.splitlines(keepends=True):
        style = (
            ADDED
            if line.startswith("+")
            else REMOVED
            if line.startswith("-")
            else "cyan"
            if line.startswith("@@")
            else ""
        )
        shown.append("    " + line, style=style)
    return shown


def _snapshot_diff_to_wire(change: SnapshotDiff) -> dict[str, object]:
    return {
        "kind": change.kind,
        "before": None if change.before is None else change.before.id,
        "after": None if change.after is None else change.after.id,
        "files": [{"path": f.path, "status": f.status, "diff": f.diff} for f in change.files],
        "packages": [{"name": p.name, "before": p.before, "after": p.after} for p in change.packages],
    }


def render(diff: RunDiff, *, nearest: bool) -> list[RenderableType]:
    """The header, then a table per section that changed, then what stayed the same."""
    how = f", the nearest earlier run ({output.plural(diff.distance, 'param')} apart)" if nearest else ""
    header = output.key_values([("from", _ref(diff.baseline, how)), ("to", _ref(diff.run, ""))])
    parts: list[RenderableType] = [header]
    same: list[str] = []
    if diff.params.count:
        parts += [_heading("Params", diff.params), _values_table(diff.params, _param)]
    elif diff.params.unchanged:
        same.append(output.plural(diff.params.unchanged, "param"))
    if diff.metrics.count:
        parts += [_heading("Metrics", diff.metrics), _metrics_table(diff.metrics)]
    elif diff.metrics.unchanged:
        same.append(output.plural(diff.metrics.unchanged, "metric"))
    if diff.tags.count:
        parts += [_heading("Tags", diff.tags), _values_table(diff.tags, str)]
    elif diff.tags.unchanged:
        same.append(output.plural(diff.tags.unchanged, "tag"))
    if diff.notes is not None:
        parts += [Text("\nNotes changed", style="bold"), _notes(diff.notes.before, diff.notes.after)]
    if diff.empty:
        parts.append(Text("\nNo differences in params, metrics, tags or notes."))
    elif same:
        parts.append(Text(f"\nThe same: {', '.join(same)}.", style="dim"))
    return parts


def _ref(ref: RunRef, how: str) -> Text:
    text = Text(ref.name, style="bold")
    text.append(f"  {ref.id}{how}")
    text.append(f"\n{ref.status.value}, {ref.user}, started {output.timestamp(ref.start_time)}", style="dim")
    return text


def _heading(title: str, diff: MappingDiff[ParamValue] | MappingDiff[str] | MetricsDiff) -> Text:
    counts = [
        f"{n} {word}"
        for n, word in (
            (len(diff.changed), "changed"),
            (len(diff.added), "added"),
            (len(diff.removed), "removed"),
            (diff.unchanged, "the same"),
        )
        if n
    ]
    return Text(f"\n{title} ({', '.join(counts)})", style="bold")


def _values_table(diff: MappingDiff[V], show: Callable[[V], str]) -> Table:
    table = output.table("", "key", "before", "after")
    for key, change in diff.changed.items():
        _row(table, CHANGED, key, show(change.before), show(change.after))
    for key, value in diff.added.items():
        _row(table, ADDED, key, "-", show(value))
    for key, value in diff.removed.items():
        _row(table, REMOVED, key, show(value), "-")
    return table


def _metrics_table(diff: MetricsDiff) -> Table:
    table = output.table("", "key", "last before", "last after", "Δ last", "Δ min", "Δ max")
    for column in table.columns[2:]:
        column.justify = "right"
    for key, change in diff.changed.items():
        _row(
            table,
            CHANGED,
            key,
            output.number(change.before.last),
            output.number(change.after.last),
            output.signed(change.last),
            output.signed(change.min),
            output.signed(change.max),
        )
    for key, summary in diff.added.items():
        _row(table, ADDED, key, "-", output.number(summary.last), "", "", "")
    for key, summary in diff.removed.items():
        _row(table, REMOVED, key, output.number(summary.last), "-", "", "", "")
    return table


def _row(table: Table, style: str, key: str, *cells: str) -> None:
    table.add_row(Text(_MARKS[style], style=style), Text(key, style=style), *(Text(c) for c in cells))


def _param(value: ParamValue) -> str:
    return output.param(value)


def _notes(before: str, after: str) -> Text:
    """A unified diff of the notes' lines, without the file headers."""
    text = Text()
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=1)
    for line in lines:
        if line.startswith(("---", "+++")):
            continue
        style = ADDED if line.startswith("+") else REMOVED if line.startswith("-") else "dim"
        text.append(line + "\n", style=style)
    text.rstrip()
    return text
