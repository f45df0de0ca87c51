"""``cairn webhooks``: subscribe URLs to the event log (docs/webhooks.md), list them, delete
them, and see each delivery's attempts with their status codes.

The secret a webhook signs with is printed once, by ``create``; later reads show its
fingerprint. Every rule (http(s) only, no private addresses unless the server allows them, known
event types) is the service's: a refusal is one ``Error:`` line and nothing is stored.
"""

from __future__ import annotations

import click
from rich.text import Text

from cairn.cli import output
from cairn.cli.options import json_option, open_tracking, uri_option
from cairn.core.clock import now_ms
from cairn.core.webhooks import Attempt, Delivery, DeliveryStatus, delivery_to_wire, webhook_to_wire

STATUS_STYLES = {
    DeliveryStatus.PENDING: "cyan",
    DeliveryStatus.SUCCEEDED: "green",
    DeliveryStatus.FAILED: "red",
}
#: Characters of an attempt's error the table shows; --json has all of it.
ERROR_WIDTH = 60


def _patterns(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """``--events a,b --events c`` as ``("a", "b", "c")``."""
    return tuple(name.strip() for value in values for name in value.split(",") if name.strip())


@click.group("webhooks")
def webhooks_group() -> None:
    """Send events to URLs as signed HTTP POSTs, and see how each delivery went."""


@webhooks_group.command("create")
@click.argument("url")
@click.option(
    "-e",
    "--events",
    "events",
    multiple=True,
    required=True,
    metavar="TYPES",
    callback=_patterns,
    help="Event types to send, comma-separated or repeated: a type (model_version.created), SUBJECT.* or *.",
)
@click.option(
    "--secret",
    metavar="S",
    default=None,
    help="Signing secret: whsec_ and base64, or 16 characters or more. Made and printed once if left out.",
)
@click.option("--description", metavar="TEXT", default="", help="What the webhook is for.")
@click.option("--disabled", is_flag=True, help="Create it disabled: nothing is queued for it until it is enabled.")
@uri_option
@json_option
def create_command(
    url: str,
    events: tuple[str, ...],
    secret: str | None,
    description: str,
    disabled: bool,
    uri: str | None,
    as_json: bool,
) -> None:
    """Subscribe URL to event types: each later event of those types is POSTed to it, signed."""
    with open_tracking(uri) as tracking:
        webhook = tracking.create_webhook(url, events, secret=secret, description=description, active=not disabled)
    if as_json:
        output.print_json(webhook_to_wire(webhook))
        return
    click.echo(f"Created webhook {webhook.id} for {webhook.url}")
    click.echo(f"  events: {', '.join(webhook.events)}")
    if secret is None:
        # The one time it is shown: a read later gives only its fingerprint.
        click.echo(f"  secret: {webhook.secret}  (shown once: keep it to verify deliveries)")
    else:
        click.echo(f"  secret: the one given (fingerprint {webhook.secret_fingerprint})")


@webhooks_group.command("list")
@uri_option
@json_option
def list_command(uri: str | None, as_json: bool) -> None:
    """List the webhooks: id, URL, the events they take, whether they are active."""
    with open_tracking(uri) as tracking:
        webhooks = tracking.list_webhooks()
    if as_json:
        output.print_json([webhook_to_wire(w) for w in webhooks])
        return
    if not webhooks:
        click.echo("No webhooks yet: cairn webhooks create URL --events TYPES adds one.")
        return
    now = now_ms()
    table, _ = output.fitted_table(
        [
            output.Column("id", [Text(w.id) for w in webhooks]),
            output.Column("url", [Text(w.url, style="bold") for w in webhooks], max_width=60, squeeze=True),
            output.Column("events", [Text(", ".join(w.events)) for w in webhooks], max_width=50, squeeze=True),
            output.Column(
                "active", [Text("yes", style="green") if w.active else Text("no", style="dim") for w in webhooks]
            ),
            output.Column("created", [Text(output.ago(w.created_at, now=now)) for w in webhooks], priority=1),
            output.Column("description", [Text(w.description) for w in webhooks], squeeze=True, priority=2),
        ],
        output.console().width,
    )
    output.show(table)


@webhooks_group.command("delete")
@click.argument("webhook_id", metavar="ID")
@uri_option
def delete_command(webhook_id: str, uri: str | None) -> None:
    """Delete a webhook and its deliveries: nothing more is sent to it, pending retries neither."""
    with open_tracking(uri) as tracking:
        tracking.delete_webhook(webhook_id)
    click.echo(f"Deleted webhook {webhook_id}")


@webhooks_group.command("deliveries")
@click.argument("webhook_id", metavar="ID")
@click.option(
    "--status",
    type=click.Choice([s.value for s in DeliveryStatus]),
    default=None,
    help="Only deliveries in this state.",
)
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    metavar="N",
    help="Show the newest N deliveries.",
)
@uri_option
@json_option
def deliveries_command(webhook_id: str, status: str | None, limit: int, uri: str | None, as_json: bool) -> None:
    """List a webhook's deliveries, newest first, each with its attempts and status codes."""
    with open_tracking(uri) as tracking:
        deliveries, more = output.first_items(
            lambda size, token: tracking.list_webhook_deliveries(
                webhook_id, status=status, limit=min(size, 1000), page_token=token
            ),
            limit,
        )
    if as_json:
        output.print_json([delivery_to_wire(d) for d in deliveries])
        return
    if not deliveries:
        click.echo("No deliveries match." if status else "No deliveries yet: none of its events has happened.")
        return
    now = now_ms()
    table, _ = output.fitted_table(
        [
            output.Column("delivery", [Text(d.id) for d in deliveries]),
            output.Column("event", [Text(d.event_type, style="bold") for d in deliveries]),
            output.Column("subject", [Text(d.subject) for d in deliveries], max_width=40, squeeze=True),
            output.Column("status", [_status(d) for d in deliveries]),
            output.Column("attempts", [Text(_attempts(d)) for d in deliveries], squeeze=True),
            output.Column("when", [Text(output.ago(d.created_at, now=now)) for d in deliveries], priority=1),
            output.Column("next", [Text(_next(d, now)) for d in deliveries], priority=2),
            output.Column(
                "last error",
                [Text(_last_error(d)) for d in deliveries],
                max_width=ERROR_WIDTH,
                squeeze=True,
                priority=3,
            ),
        ],
        output.console().width,
    )
    output.show(table)
    if more:
        click.echo(f"(the newest {limit}; --limit N shows more)")


@webhooks_group.command("redeliver")
@click.argument("webhook_id", metavar="ID")
@click.argument("delivery_id", metavar="DELIVERY")
@uri_option
def redeliver_command(webhook_id: str, delivery_id: str, uri: str | None) -> None:
    """Send a delivery again, with the same webhook-id; a finished one gets a new round of attempts."""
    with open_tracking(uri) as tracking:
        delivery = tracking.redeliver_webhook_delivery(webhook_id, delivery_id)
    click.echo(f"Delivery {delivery.id} is queued again ({delivery.event_type} {delivery.subject})")


def _status(delivery: Delivery) -> Text:
    return Text(delivery.status.value, style=STATUS_STYLES[delivery.status])


def _attempt(attempt: Attempt) -> str:
    return str(attempt.status_code) if attempt.status_code is not None else "error"


def _attempts(delivery: Delivery) -> str:
    """The attempts' outcomes in order: ``500 500 200``, ``error`` where no status came."""
    return " ".join(_attempt(a) for a in delivery.attempts) or output.MISSING


def _next(delivery: Delivery, now: int) -> str:
    if delivery.next_attempt_at is None:
        return output.MISSING
    return "now" if delivery.next_attempt_at <= now else f"in {output.duration(delivery.next_attempt_at - now)}"


def _last_error(delivery: Delivery) -> str:
    last = delivery.attempts[-1] if delivery.attempts else None
    if last is None:
        return output.MISSING
    return last.error or (
        f"HTTP {last.status_code}" if last.status_code and last.status_code >= 300 else output.MISSING
    )
