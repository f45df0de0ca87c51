"""``cairn reviews``: a pull request for a model, from a terminal (docs/registry.md, "Reviews").

Open a review of a version for an alias, read it (its checks with the values they saw, the
candidate beside the version it would replace, the thread), vote, comment, merge or close it.
Who acts is the configured user (``CAIRN_USER``, else the operating-system user). Every rule
(who may approve, what blocks a merge) is the service's: a refusal is one ``Error:`` line and
nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from cairn.cli import output
from cairn.cli.options import json_option, open_tracking, uri_option
from cairn.core.clock import now_ms
from cairn.core.diff import FileStatus
from cairn.core.entities import Run
from cairn.core.reviews import CheckResult, Review, ReviewComment, ReviewDetail, ReviewState
from cairn.core.reviews_wire import review_comment_to_wire, review_detail_to_wire, review_to_wire

STATE_STYLES = {ReviewState.OPEN: "cyan", ReviewState.MERGED: "green", ReviewState.CLOSED: "magenta"}
_FILE_MARKS: dict[FileStatus, tuple[str, str]] = {
    "added": ("+", "green"),
    "removed": ("-", "red"),
    "changed": ("~", "yellow"),
}
F = TypeVar("F", bound=Callable[..., Any])
#: Files of a snapshot's changes the show command lists; --json has them all.
MAX_FILES_SHOWN = 20


@click.group("reviews")
def reviews_group() -> None:
    """Review a model version before a protected alias moves to it: open, show, vote, merge."""


def _body_option(*, required: bool, help_text: str) -> Callable[[F], F]:
    """``-m/--message TEXT``, passed as ``body``."""
    return click.option("-m", "--message", "body", required=required, metavar="TEXT", help=help_text)


@reviews_group.command("list")
@click.option("--model", metavar="NAME", help="Only reviews of the model NAME.")
@click.option(
    "--state",
    type=click.Choice(["open", "merged", "closed", "all"]),
    default="open",
    show_default=True,
    help="Only reviews in this state.",
)
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    metavar="N",
    help="Show the newest N reviews.",
)
@uri_option
@json_option
def list_command(model: str | None, state: str, limit: int, uri: str | None, as_json: bool) -> None:
    """List reviews, newest first: the candidate and the alias, who opened it, how its checks
    went and how many approvals it has."""
    wanted = None if state == "all" else state
    with open_tracking(uri) as tracking:
        reviews, more = output.first_items(
            lambda size, token: tracking.list_reviews(model=model, state=wanted, limit=size, page_token=token), limit
        )
    if as_json:
        output.print_json([review_to_wire(r) for r in reviews])
        return
    if not reviews:
        click.echo(f"No {'' if wanted is None else wanted + ' '}reviews.")
        return
    now = now_ms()
    table = output.table("id", "model", "alias", "change", "state", "author", "checks", "approvals", "updated")
    table.columns[0].justify = "right"
    for review in reviews:
        table.add_row(
            Text(str(review.id), style="bold"),
            Text(review.model),
            Text(f"@{review.alias}"),
            _change(review),
            Text(review.state.value, style=STATE_STYLES[review.state]),
            Text(review.author),
            _checks_summary(review.checks),
            Text(f"{len(review.approvals)}/{review.required_approvals}"),
            output.ago(review.updated_at, now=now),
        )
    output.show(table)
    if more:
        click.echo(f"(the newest {limit}; --limit N shows more)")


@reviews_group.command("show")
@click.argument("review_id", metavar="ID", type=int)
@uri_option
@json_option
def show_command(review_id: int, uri: str | None, as_json: bool) -> None:
    """Show review ID: its checks with the values they saw, the votes, the candidate beside the
    version it would replace (metrics and params of both source runs, the datasets, what changed
    in code and packages), and the thread of comments."""
    with open_tracking(uri) as tracking:
        detail = tracking.review_detail(review_id)
    if as_json:
        output.print_json(review_detail_to_wire(detail))
        return
    output.show(*render(detail))


@reviews_group.command("open")
@click.argument("name")
@click.argument("version", type=int)
@click.option("--alias", "alias", required=True, metavar="ALIAS", help="The alias the review would move to VERSION.")
@click.option("-d", "--description", default="", metavar="TEXT", help="Why: markdown, shown atop the review.")
@uri_option
def open_command(name: str, version: int, alias: str, description: str, uri: str | None) -> None:
    """Open a review proposing to move ALIAS of the model NAME to VERSION; the protection's
    checks run at once and are printed."""
    with open_tracking(uri) as tracking:
        review = tracking.open_review(name, version, alias, description=description)
    click.echo(f"Opened review {review.id}: {_change_line(review)}")
    output.show(*_checks_table(review.checks))
    click.echo(_needs(review))


@reviews_group.command("approve")
@click.argument("review_id", metavar="ID", type=int)
@_body_option(required=False, help_text="What to say with the approval (markdown).")
@uri_option
def approve_command(review_id: int, body: str | None, uri: str | None) -> None:
    """Approve review ID (not one you opened); your latest vote is the one that counts."""
    with open_tracking(uri) as tracking:
        review = tracking.approve_review(review_id, body or "")
    click.echo(f"Approved review {review.id}. {_needs(review)}")


@reviews_group.command("request-changes")
@click.argument("review_id", metavar="ID", type=int)
@_body_option(required=True, help_text="What to change (markdown).")
@uri_option
def request_changes_command(review_id: int, body: str, uri: str | None) -> None:
    """Ask for changes on review ID; it does not merge until you approve it."""
    with open_tracking(uri) as tracking:
        review = tracking.request_changes(review_id, body)
    click.echo(f"Requested changes on review {review.id}. {_needs(review)}")


@reviews_group.command("comment")
@click.argument("review_id", metavar="ID", type=int)
@_body_option(required=True, help_text="The comment (markdown; @name mentions are kept).")
@click.option("--reply-to", type=int, metavar="COMMENT_ID", help="Answer this entry of the thread.")
@uri_option
@json_option
def comment_command(review_id: int, body: str, reply_to: int | None, uri: str | None, as_json: bool) -> None:
    """Comment on review ID, or answer one of its comments."""
    with open_tracking(uri) as tracking:
        comment = tracking.comment_review(review_id, body, reply_to=reply_to)
    if as_json:
        output.print_json(review_comment_to_wire(comment))
        return
    click.echo(f"Commented on review {comment.review_id} (comment {comment.id}).")


@reviews_group.command("merge")
@click.argument("review_id", metavar="ID", type=int)
@uri_option
def merge_command(review_id: int, uri: str | None) -> None:
    """Merge review ID: its checks run again, and if every one passes, the approvals are in and
    nobody asks for changes, the alias moves to the candidate."""
    with open_tracking(uri) as tracking:
        review = tracking.merge_review(review_id)
    before = "(unset)" if review.merged_from_version is None else f"version {review.merged_from_version}"
    click.echo(f"Merged review {review.id}: {review.model}@{review.alias}: {before} → version {review.version}")


@reviews_group.command("close")
@click.argument("review_id", metavar="ID", type=int)
@uri_option
def close_command(review_id: int, uri: str | None) -> None:
    """Close review ID without moving the alias."""
    with open_tracking(uri) as tracking:
        review = tracking.close_review(review_id)
    click.echo(f"Closed review {review.id}; {review.model}@{review.alias} did not move.")


# -- rendering ----------------------------------------------------------------------------------


def render(detail: ReviewDetail) -> list[RenderableType]:
    """The review page of a terminal: header, checks, votes, the comparison, the thread."""
    review = detail.review
    now = now_ms()
    rows: list[tuple[str, Text | str]] = [
        ("review", Text(f"{review.id}  {_change_line(review)}", style="bold")),
        ("state", _state_line(review, now)),
        ("opened", f"by {review.author}, {output.ago(review.created_at, now=now)}"),
        ("approvals", f"{len(review.approvals)} of {review.required_approvals}" + _names(review.approvals)),
    ]
    if review.changes_requested_by:
        rows.append(("changes", Text("requested by " + ", ".join(review.changes_requested_by), style="red")))
    if review.description:
        rows.append(("description", Text(review.description)))
    sections: list[RenderableType] = [output.key_values(rows)]
    ran = f"ran {output.ago(review.checks_ran_at, now=now)}"
    sections += [output.heading(f"Checks ({ran})"), *_checks_table(review.checks)]
    sections += _comparison(detail)
    sections += _thread(detail.comments, now)
    return sections


def _checks_table(checks: tuple[CheckResult, ...]) -> list[RenderableType]:
    if not checks:
        return [Text("No checks: the alias is not protected by any.", style="dim")]
    table = output.table("", "check", "saw")
    for check in checks:
        mark = Text("pass", style="green") if check.passed else Text("FAIL", style="bold red")
        table.add_row(mark, Text(check.check), Text(check.message))
    return [table]


def _comparison(detail: ReviewDetail) -> list[RenderableType]:
    candidate, compared = detail.candidate, detail.compared_with
    if compared is None:
        return [Text(f"\nNo version holds @{detail.review.alias}: version {candidate.version} has nothing beside it.")]
    left, right = f"v{compared.version}", f"v{candidate.version}"
    parts: list[RenderableType] = [
        output.heading(f"Version {compared.version} → version {candidate.version}"),
        output.key_values(
            [
                (left, Text(f"{compared.source}  {compared.flavor}")),
                (right, Text(f"{candidate.source}  {candidate.flavor}")),
            ]
        ),
    ]
    if detail.candidate_run is None or detail.compared_run is None:
        parts.append(Text("A source run is gone: nothing more to compare.", style="dim"))
        return parts
    parts += _metrics(detail.compared_run, detail.candidate_run, left, right)
    parts += _params(detail, left, right)
    parts += _datasets(detail, left, right)
    for changes in detail.snapshots:
        title = f"{changes.kind.title()} ({output.plural(len(changes.files), 'file')} changed)"
        parts.append(output.heading(title))
        for path, status in list(changes.files.items())[:MAX_FILES_SHOWN]:
            mark, style = _FILE_MARKS[status]
            parts.append(Text(f"{mark} {path}", style=style))
        if len(changes.files) > MAX_FILES_SHOWN:
            parts.append(Text(f"… and {len(changes.files) - MAX_FILES_SHOWN} more (--json lists them)", style="dim"))
        if changes.packages:
            table = output.table("package", left, right)
            for package in changes.packages:
                table.add_row(Text(package.name), package.before or output.MISSING, package.after or output.MISSING)
            parts.append(table)
    return parts


def _metrics(before: Run, after: Run, left: str, right: str) -> list[RenderableType]:
    keys = sorted(before.metrics.keys() | after.metrics.keys())
    if not keys:
        return []
    table = output.table("metric", left, right, "Δ")
    for column in table.columns[1:]:
        column.justify = "right"
    for key in keys:
        old, new = before.metrics.get(key), after.metrics.get(key)
        delta = None if old is None or new is None else new.last - old.last
        table.add_row(
            Text(key),
            output.number(None if old is None else old.last),
            output.number(None if new is None else new.last),
            output.signed(delta),
        )
    return [output.heading("Metrics (last values)"), table]


def _params(detail: ReviewDetail, left: str, right: str) -> list[RenderableType]:
    diff = detail.diff
    if diff is None or not diff.params.count:
        same = 0 if diff is None else diff.params.unchanged
        return [Text(f"\nParams: the same ({output.plural(same, 'param')}).", style="dim")] if same else []
    table = output.table("param", left, right)
    for key, change in diff.params.changed.items():
        table.add_row(Text(key), output.param(change.before), output.param(change.after))
    for key, value in diff.params.added.items():
        table.add_row(Text(key), output.MISSING, output.param(value))
    for key, value in diff.params.removed.items():
        table.add_row(Text(key), output.param(value), output.MISSING)
    title = f"Params ({len(diff.params.changed) + len(diff.params.added) + len(diff.params.removed)} differ"
    title += f", {diff.params.unchanged} the same)" if diff.params.unchanged else ")"
    return [output.heading(title), table]


def _datasets(detail: ReviewDetail, left: str, right: str) -> list[RenderableType]:
    assert detail.compared_with is not None
    sides = {left: detail.compared_with.datasets, right: detail.candidate.datasets}
    if not any(sides.values()):
        return []
    table: Table = output.table("version", "dataset", "context", "digest")
    for side, datasets in sides.items():
        for dataset in datasets:
            table.add_row(side, Text(dataset.name), Text(dataset.context), dataset.digest[:12])
    return [output.heading("Datasets"), table]


def _thread(comments: tuple[ReviewComment, ...], now: int) -> list[RenderableType]:
    if not comments:
        return [Text("\nNo comments yet.", style="dim")]
    parts: list[RenderableType] = [output.heading("Thread", len(comments))]
    for entry in comments:
        verb = {"approved": " approved", "changes_requested": " requested changes"}.get(entry.kind.value, "")
        line = Text(f"#{entry.id} ", style="dim")
        line.append(entry.author, style="bold")
        line.append(verb, style="green" if entry.kind.value == "approved" else "red" if verb else "")
        answer = f", answering #{entry.reply_to}" if entry.reply_to is not None else ""
        line.append(f"  {output.ago(entry.created_at, now=now)}{answer}", style="dim")
        parts.append(line)
        if entry.body:
            parts.append(Text("  " + entry.body.replace("\n", "\n  ")))
    return parts


def _change(review: Review) -> Text:
    before = output.MISSING if review.base_version is None else str(review.base_version)
    return Text(f"{before} → {review.version}")


def _change_line(review: Review) -> str:
    before = "(unset)" if review.base_version is None else f"version {review.base_version}"
    return f"{review.model}@{review.alias}: {before} → version {review.version}"


def _state_line(review: Review, now: int) -> Text:
    text = Text(review.state.value, style=STATE_STYLES[review.state])
    if review.state is ReviewState.MERGED:
        text.append(f" by {review.merged_by}, {output.ago(review.merged_at, now=now)}")
    elif review.state is ReviewState.CLOSED:
        text.append(f" by {review.closed_by}, {output.ago(review.closed_at, now=now)}")
    elif review.mergeable:
        text.append(" — ready to merge", style="green")
    return text


def _checks_summary(checks: tuple[CheckResult, ...]) -> Text:
    if not checks:
        return Text(output.MISSING)
    passed = sum(c.passed for c in checks)
    return Text(f"{passed}/{len(checks)} passed", style="green" if passed == len(checks) else "red")


def _needs(review: Review) -> str:
    if review.state is not ReviewState.OPEN:
        return f"The review is {review.state.value}."
    if review.mergeable:
        return f"Ready to merge: cairn reviews merge {review.id}"
    missing = []
    failed = sum(not c.passed for c in review.checks)
    if failed:
        missing.append(f"{output.plural(failed, 'check')} failing")
    if len(review.approvals) < review.required_approvals:
        missing.append(f"{len(review.approvals)} of {review.required_approvals} approvals")
    if review.changes_requested_by:
        missing.append("changes requested by " + ", ".join(review.changes_requested_by))
    return "Not ready to merge: " + "; ".join(missing) + "."


def _names(names: tuple[str, ...]) -> str:
    return f" ({', '.join(names)})" if names else ""
