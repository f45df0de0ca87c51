"""``cairn runs``: the runs of a project, and one run in detail."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence, Set

import click
from rich.console import RenderableType
from rich.text import Text

from cairn.cli import output
from cairn.cli.errors import CommandError
from cairn.cli.options import json_option, open_tracking, uri_option
from cairn.core.artifacts import Artifact, RunInput
from cairn.core.clock import now_ms
from cairn.core.entities import ParamValue, Run, RunStatus
from cairn.core.errors import RunNotFound
from cairn.core.wire import group_to_wire, run_to_wire

#: Columns of params and metrics a table shows unless told which.
DEFAULT_PARAM_COLUMNS = 3
DEFAULT_METRIC_COLUMNS = 4
SHORT_ID = 8
#: Length of a full run id (a UUID in hex).
FULL_ID = 32
#: Artifacts ``runs show`` lists before pointing at ``cairn artifacts list``.
SHOWN_ARTIFACTS = 20


@click.group("runs")
def runs_group() -> None:
    """List the runs of a project, or show one run in detail."""


@runs_group.command("list")
@click.argument("project")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    metavar="N",
    help="Show at most N runs, newest first.",
)
@click.option(
    "-w",
    "--where",
    default="",
    metavar="QUERY",
    help="Only runs matching QUERY, e.g. \"metrics.acc > 0.9 and params.optimizer = 'adam'\" (see docs/query.md).",
)
@click.option(
    "-s",
    "--sort",
    "order_by",
    default="",
    metavar="ORDER",
    help='Sort by fields, e.g. "metrics.acc desc, params.lr". Default: newest first.',
)
@click.option("--include-deleted", is_flag=True, help="Also list deleted runs, marked as such.")
@click.option(
    "-p",
    "--param",
    "param_keys",
    multiple=True,
    metavar="KEY",
    help="Show this param as a column (repeatable). "
    f"Default: up to {DEFAULT_PARAM_COLUMNS} params that differ between runs.",
)
@click.option(
    "-m",
    "--metric",
    "metric_keys",
    multiple=True,
    metavar="KEY",
    help="Show the last value of this metric as a column (repeatable). "
    f"Default: up to {DEFAULT_METRIC_COLUMNS} metrics most runs have.",
)
@uri_option
@json_option
def list_command(
    project: str,
    limit: int,
    where: str,
    order_by: str,
    include_deleted: bool,
    param_keys: tuple[str, ...],
    metric_keys: tuple[str, ...],
    uri: str | None,
    as_json: bool,
) -> None:
    """List the runs of PROJECT: newest first, or as --sort says, only those --where selects.

    The table shows a short id, name, status, user, start time, duration, a few params and the
    last value of a few metrics. --json gives every run in full: params, tags, notes, and each
    metric's last, min, max, count and last step.
    """
    with open_tracking(uri) as tracking:
        runs, more = output.first_items(
            lambda size, token: tracking.list_runs(
                project,
                where=where,
                order_by=order_by,
                include_deleted=include_deleted,
                limit=size,
                page_token=token,
            ),
            limit,
        )
    if as_json:
        output.print_json([run_to_wire(run) for run in runs])
        return
    if not runs:
        click.echo(f"No runs in project {project!r} match {where!r}." if where else f"No runs in project {project!r}.")
        return
    chosen = bool(param_keys or metric_keys)
    if chosen:
        params, metrics = list(param_keys), list(metric_keys)
    else:
        params = _informative_params([r.params for r in runs], DEFAULT_PARAM_COLUMNS)
        metrics = _common_keys([r.metrics for r in runs], DEFAULT_METRIC_COLUMNS)
    # On a narrow screen the metrics are kept before the params, unless the user chose columns.
    param_columns = {
        key: output.Column(
            key,
            [_param_cell(r, key) for r in runs],
            max_width=20,
            squeeze=True,
            priority=i if chosen else len(metrics) + i,
        )
        for i, key in enumerate(params)
    }
    metric_columns = {
        key: output.Column(key, [_metric_cell(r, key) for r in runs], max_width=14, right=True, priority=i)
        for i, key in enumerate(metrics)
    }
    table, shown = output.fitted_table(
        [*_fixed_columns(runs), *param_columns.values(), *metric_columns.values()],
        output.console().width,
    )
    output.show(table)
    _print_hints(
        params if chosen else {k for r in runs for k in r.params},
        metrics if chosen else {k for r in runs for k in r.metrics},
        shown_params={k for k, column in param_columns.items() if column in shown},
        shown_metrics={k for k, column in metric_columns.items() if column in shown},
        more=more,
        limit=limit,
    )


def _fixed_columns(runs: Sequence[Run]) -> list[output.Column]:
    """id, name, status, user, started and duration: what every run has."""
    now = now_ms()

    def elapsed(run: Run) -> Text:
        if run.status is RunStatus.RUNNING and run.end_time is None:
            return Text(output.duration(now - run.start_time), style="italic")
        return Text(output.duration(run.duration_ms))

    return [
        output.Column("id", [Text(r.id[:SHORT_ID], style="bold") for r in runs]),
        output.Column("name", [Text(r.name) for r in runs], max_width=32, squeeze=True),
        output.Column("status", [output.status_text(r.status, deleted=r.deleted) for r in runs]),
        output.Column("user", [Text(r.user) for r in runs], max_width=16, squeeze=True),
        output.Column("started", [Text(output.ago(r.start_time, now=now)) for r in runs]),
        output.Column("duration", [elapsed(r) for r in runs]),
    ]


def _param_cell(run: Run, key: str) -> Text:
    return Text(output.param(run.params[key], compact=True)) if key in run.params else Text("-")


def _metric_cell(run: Run, key: str) -> Text:
    return Text(output.number(run.metrics[key].last)) if key in run.metrics else Text("-")


def _print_hints(
    params: Collection[str],
    metrics: Collection[str],
    *,
    shown_params: Set[str],
    shown_metrics: Set[str],
    more: bool,
    limit: int,
) -> None:
    """What the table left out, on stderr so that stdout holds only the table."""
    hints = []
    if more:
        hints.append(f"Showing the {limit} newest runs; --limit N shows more.")
    hidden_params = set(params) - shown_params
    hidden_metrics = set(metrics) - shown_metrics
    hidden = [
        output.plural(len(keys), noun) for keys, noun in ((hidden_params, "param"), (hidden_metrics, "metric")) if keys
    ]
    if hidden:
        hints.append(
            f"Not shown: {' and '.join(hidden)} (--param/--metric KEY picks columns; "
            "cairn runs show RUN shows everything)."
        )
    if hints:
        err = output.console(stderr=True)
        for hint in hints:
            err.print(Text(hint, style="dim"))


def _common_keys(maps: Sequence[Mapping[str, object]], count: int) -> list[str]:
    """The keys most of the maps have, alphabetical among equals."""
    seen = Counter(key for m in maps for key in m)
    return sorted(seen, key=lambda key: (-seen[key], key))[:count]


def _informative_params(maps: Sequence[Mapping[str, ParamValue]], count: int) -> list[str]:
    """Params that tell runs apart, most common first; one every run has alike says nothing."""
    seen = Counter(key for m in maps for key in m)
    values: dict[str, set[str]] = {}
    for m in maps:
        for key, value in m.items():
            values.setdefault(key, set()).add(repr(value))
    if len(maps) > 1:
        seen = Counter({k: n for k, n in seen.items() if n < len(maps) or len(values[k]) > 1})
    return sorted(seen, key=lambda key: (-seen[key], key))[:count]


@runs_group.command("show")
@click.argument("run_id", metavar="RUN")
@uri_option
@json_option
def show_command(run_id: str, uri: str | None, as_json: bool) -> None:
    """Show one run: overview, params, tags, metric summaries and notes.

    RUN is the run's full id, as cairn runs list PROJECT --json prints it.
    """
    with open_tracking(uri) as tracking:
        try:
            run = tracking.get_run(run_id)
        except RunNotFound as exc:
            if len(run_id) < FULL_ID:
                raise CommandError.of(
                    exc,
                    f"{exc.message}; run ids are {FULL_ID} characters long "
                    "(cairn runs list PROJECT --json shows them in full)",
                ) from exc
            raise
        if as_json:
            output.print_json(run_to_wire(run))
            return
        inputs = tracking.run_inputs(run.id)
        artifacts = tracking.list_artifacts(run.id)
    output.show(*_run_details(run), *_inputs_and_artifacts(run, inputs, artifacts))


def _run_details(run: Run) -> list[RenderableType]:
    """The sections of ``runs show``, each under a heading; empty ones are left out."""
    sections: list[RenderableType] = [_overview(run)]
    if run.params:
        sections += [
            output.heading("Params", len(run.params)),
            output.key_values([(k, output.param(v)) for k, v in sorted(run.params.items())]),
        ]
    if run.tags:
        sections += [output.heading("Tags", len(run.tags)), output.key_values(sorted(run.tags.items()))]
    if run.metrics:
        metrics = output.table("key", "last", "step", "min", "max", "count")
        for column in metrics.columns[1:]:
            column.justify = "right"
        for key, s in sorted(run.metrics.items()):
            metrics.add_row(
                Text(key),
                Text(output.number(s.last)),
                Text(str(s.last_step)),
                Text(output.number(s.min)),
                Text(output.number(s.max)),
                Text(str(s.count)),
            )
        sections += [output.heading("Metrics", len(run.metrics)), metrics]
    if run.notes:
        sections += [output.heading("Notes"), Text(run.notes)]
    return sections


def _inputs_and_artifacts(run: Run, inputs: list[RunInput], artifacts: list[Artifact]) -> list[RenderableType]:
    sections: list[RenderableType] = []
    if inputs:
        table = output.table("dataset", "context", "digest", "rows", "cols", "source")
        for used in inputs:
            version = used.dataset
            table.add_row(
                Text(version.name),
                Text(used.context),
                version.digest[:12],
                "" if version.rows is None else str(version.rows),
                "" if version.columns is None else str(version.columns),
                Text(version.source_uri or version.source_kind),
            )
        sections += [output.heading("Datasets", len(inputs)), table]
    if artifacts:
        table = output.table("path", "size", "kind")
        for artifact in artifacts[:SHOWN_ARTIFACTS]:
            table.add_row(Text(artifact.path), output.size(artifact.size), artifact.kind)
        sections += [output.heading("Artifacts", len(artifacts)), table]
        if len(artifacts) > SHOWN_ARTIFACTS:
            sections.append(Text(f"… and {len(artifacts) - SHOWN_ARTIFACTS} more: cairn artifacts list {run.id}"))
    return sections


def _overview(run: Run) -> Text:
    now = now_ms()
    running = run.status is RunStatus.RUNNING and run.end_time is None
    rows: list[tuple[str, Text | str]] = [
        ("id", run.id),
        ("project", run.project),
        ("name", run.name),
        ("status", output.status_text(run.status, deleted=run.deleted)),
        ("user", run.user),
        ("started", f"{output.timestamp(run.start_time)} ({output.ago(run.start_time, now=now)})"),
        ("ended", output.timestamp(run.end_time)),
        (
            "duration",
            f"{output.duration(now - run.start_time)} so far" if running else output.duration(run.duration_ms),
        ),
    ]
    if run.parent_id is not None:
        rows.append(("parent", run.parent_id))
    return output.key_values(rows)


@runs_group.command("groups")
@click.argument("project")
@click.option(
    "-b", "--by", "group_by", required=True, metavar="FIELD", help='Group by this field, e.g. "params.optimizer".'
)
@click.option(
    "-m", "--metric", default=None, metavar="METRIC", help='Aggregate this metric per group, e.g. "metrics.acc".'
)
@click.option("-w", "--where", default="", metavar="QUERY", help="Only runs matching QUERY (see docs/query.md).")
@click.option("--include-deleted", is_flag=True, help="Count deleted runs too.")
@uri_option
@json_option
def groups_command(
    project: str, group_by: str, metric: str | None, where: str, include_deleted: bool, uri: str | None, as_json: bool
) -> None:
    """Group the runs of PROJECT by a field: how many runs per value, and a metric's mean, min
    and max in each group, largest group first."""
    with open_tracking(uri) as tracking:
        groups = tracking.group_runs(
            project, group_by=group_by, metric=metric, where=where, include_deleted=include_deleted
        )
    if as_json:
        output.print_json([group_to_wire(g) for g in groups])
        return
    headers = [group_by, "runs"] + ([f"mean {metric}", "min", "max"] if metric else [])
    table = output.table(*headers)
    for group in groups:
        cells = [
            Text("(none)" if group.value is None else output.param(group.value, compact=True)),
            Text(str(group.count)),
        ]
        if metric:
            cells += [
                Text(output.number(v)) if v is not None else Text("-") for v in (group.mean, group.min, group.max)
            ]
        table.add_row(*cells)
    output.show(table)
