"""``cairn events``: the event log (docs/events.md) from a terminal — what changed in the
registry and in runs, by whom, newest first."""

from __future__ import annotations

import click
from rich.text import Text

from cairn.cli import output
from cairn.cli.options import json_option, open_tracking, uri_option
from cairn.core.clock import now_ms
from cairn.core.events import Event, detail_fields, event_to_wire

#: Characters of an event's data the table shows; --json has all of it.
DATA_WIDTH = 80


@click.group("events")
def events_group() -> None:
    """The event log: every change to models, versions, aliases, stages, reviews and runs."""


@events_group.command("list")
@click.option(
    "-t",
    "--type",
    "types",
    multiple=True,
    metavar="TYPE",
    help="Only events of TYPE: a type (model_version.created), SUBJECT.* (review.*) or *. Repeatable.",
)
@click.option("--subject", metavar="PATH", help="Only events of PATH (models/NAME); PATH/* takes those under it too.")
@click.option("--actor", metavar="NAME", help="Only events made by NAME.")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    metavar="N",
    help="Show the newest N events.",
)
@uri_option
@json_option
def list_command(
    types: tuple[str, ...], subject: str | None, actor: str | None, limit: int, uri: str | None, as_json: bool
) -> None:
    """List the newest events: when, what type, on what, by whom."""
    with open_tracking(uri) as tracking:
        events, more = output.first_items(
            lambda size, token: tracking.list_events(
                types=types, subject=subject, actor=actor, limit=size, page_token=token
            ),
            limit,
        )
    if as_json:
        output.print_json([event_to_wire(e) for e in events])
        return
    if not events:
        click.echo("No events match." if types or subject or actor else "No events yet.")
        return
    now = now_ms()
    table, _ = output.fitted_table(
        [
            output.Column("when", [Text(output.ago(e.created_at, now=now)) for e in events]),
            output.Column("type", [Text(e.type.value, style="bold") for e in events]),
            output.Column("subject", [Text(e.subject) for e in events]),
            output.Column("actor", [Text(e.actor) for e in events], max_width=24),
            # What is left of the line; --json has all of it.
            output.Column("data", [Text(_summary(e)) for e in events], max_width=DATA_WIDTH, squeeze=True),
        ],
        output.console().width,
    )
    output.show(table)
    if more:
        click.echo(f"(the newest {limit}; --limit N shows more)")


def _summary(event: Event) -> str:
    """The event's details as ``key=value`` pairs (:func:`cairn.core.events.detail_fields`)."""
    return " ".join(f"{key}={value}" for key, value in detail_fields(event))
