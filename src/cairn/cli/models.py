"""``cairn models``: the model registry (docs/registry.md) from a terminal.

Reading lists models (those a query selects, if given), shows one with its versions, aliases,
protections and lineage, and lists the versions a query selects across models; writing
registers a run's logged model, sets, moves or removes an alias, protects an alias (then only a
merged review moves it: ``cairn reviews``), and moves a version between stages. Every rule
(alias characters, which versions exist, who may move an alias) is the service's: a refusal
comes back as a CairnError, which :mod:`cairn.cli.main` prints as one ``Error:`` line, and
nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import click
from rich.console import RenderableType
from rich.text import Text

from cairn.cli import output
from cairn.cli.errors import CommandError
from cairn.cli.options import json_option, open_tracking, uri_option
from cairn.core.access import Role
from cairn.core.clock import now_ms
from cairn.core.entities import Page
from cairn.core.errors import ReviewRequired
from cairn.core.limits import MAX_PAGE_SIZE
from cairn.core.registry import AliasMove, ModelVersion, RegisteredModel
from cairn.core.registry_wire import model_to_wire, version_to_wire
from cairn.core.reviews import DEFAULT_APPROVE_ROLE, DEFAULT_MERGE_ROLE, AliasProtection
from cairn.core.reviews_wire import protection_to_wire
from cairn.serving.container import MODEL_DIR, PORT, write_build_context

T = TypeVar("T")

#: Characters of a run id a versions table shows (as ``cairn runs list`` does).
SHORT_ID = 8
#: Characters of a dataset digest the lineage table shows (as ``cairn runs show`` does).
SHORT_DIGEST = 12


@click.group("models")
def models_group() -> None:
    """List, show and register models; set aliases and stages of their versions; protect aliases."""


@models_group.command("list")
@click.option(
    "-w",
    "--where",
    default="",
    metavar="QUERY",
    help="Only models matching QUERY, e.g. \"name like 'fraud%' and tags.team = 'risk'\" (see docs/query.md).",
)
@uri_option
@json_option
def list_command(where: str, uri: str | None, as_json: bool) -> None:
    """List the registered models by name (those --where selects): how many versions each has,
    the latest, its aliases and when it last changed."""
    with open_tracking(uri) as tracking:
        models = _every(lambda token: tracking.list_models(where=where, limit=MAX_PAGE_SIZE, page_token=token))
    if as_json:
        output.print_json([model_to_wire(m) for m in models])
        return
    if not models:
        if where:
            click.echo(f"No models match {where!r}.")
        else:
            click.echo("No models yet: cairn models register runs:/RUN_ID/PATH NAME registers one.")
        return
    table = output.table("name", "versions", "latest", "aliases", "updated")
    table.columns[1].justify = table.columns[2].justify = "right"
    now = now_ms()
    for model in models:
        table.add_row(
            Text(model.name, style="bold"),
            # Versions are never deleted one by one: numbers 1 to latest are all there.
            Text(str(model.latest_version or 0)),
            Text(_number(model.latest_version)),
            Text(_aliases(model.aliases)),
            Text(output.ago(model.updated_at, now=now)),
        )
    output.show(table)


@models_group.command("show")
@click.argument("name")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    metavar="N",
    help="Show at most N versions, newest first.",
)
@uri_option
@json_option
def show_command(name: str, limit: int, uri: str | None, as_json: bool) -> None:
    """Show the model NAME: its versions (stage, aliases, source run, flavor), where each alias
    points and who moved it last, which aliases are protected and how, and the lineage of each
    version: the run it came from and the datasets that run used."""
    with open_tracking(uri) as tracking:
        model = tracking.get_model(name)
        versions, more = output.first_items(
            lambda size, token: tracking.list_model_versions(name, limit=size, page_token=token), limit
        )
        history = tracking.model_alias_history(name) if model.aliases else []
        protections = tracking.list_alias_protections(name)
    if as_json:
        output.print_json(
            {
                "model": model_to_wire(model),
                "versions": [version_to_wire(v) for v in versions],
                "protections": [protection_to_wire(p) for p in protections],
            }
        )
        return
    output.show(*_model_details(model, versions, history), *_protections(protections))
    if more:
        output.console(stderr=True).print(
            Text(f"Showing the newest {output.plural(limit, 'version')}; --limit N shows more.", style="dim")
        )


@models_group.command("versions")
@click.argument("name", required=False)
@click.option(
    "-w",
    "--where",
    default="",
    metavar="QUERY",
    help="Only versions matching QUERY, e.g. \"run.params.lr = 0.01 and stage = 'Production'\" (see docs/query.md).",
)
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    metavar="N",
    help="Show at most N versions.",
)
@uri_option
@json_option
def versions_command(name: str | None, where: str, limit: int, uri: str | None, as_json: bool) -> None:
    """List the versions --where selects: of the model NAME, newest first, or of every model,
    by model name and then newest first. The table shows each version's stage, aliases, source
    run, flavor, who registered it and when; --json gives each version in full."""
    with open_tracking(uri) as tracking:
        if name is None:
            versions, more = output.first_items(
                lambda size, token: tracking.search_model_versions(where=where, limit=size, page_token=token), limit
            )
        else:
            versions, more = output.first_items(
                lambda size, token: tracking.list_model_versions(name, where=where, limit=size, page_token=token),
                limit,
            )
    if as_json:
        output.print_json([version_to_wire(v) for v in versions])
        return
    if not versions:
        of = f" of {name!r}" if name is not None else ""
        click.echo(f"No versions{of} match {where!r}." if where else f"No versions{of} yet.")
        return
    output.show(_versions_table(versions, with_model=name is None))
    if more:
        output.console(stderr=True).print(
            Text(f"Showing the first {output.plural(limit, 'version')}; --limit N shows more.", style="dim")
        )


def _versions_table(versions: Sequence[ModelVersion], *, with_model: bool) -> RenderableType:
    columns = ("model",) if with_model else ()
    table = output.table(*columns, "version", "stage", "aliases", "run", "flavor", "created by", "created")
    table.columns[len(columns)].justify = "right"
    for version in versions:
        model = (Text(version.model, style="bold"),) if with_model else ()
        table.add_row(
            *model,
            Text(str(version.version), style="" if with_model else "bold"),
            version.stage.value,
            Text(", ".join(version.aliases) or output.MISSING),
            version.run_id[:SHORT_ID],
            Text(version.flavor),
            Text(version.created_by),
            output.timestamp(version.created_at),
        )
    return table


def _model_details(
    model: RegisteredModel, versions: Sequence[ModelVersion], history: Sequence[AliasMove]
) -> list[RenderableType]:
    now = now_ms()
    rows: list[tuple[str, Text | str]] = [
        ("name", Text(model.name, style="bold")),
        ("latest", _number(model.latest_version)),
        ("created", output.timestamp(model.created_at)),
        ("updated", f"{output.timestamp(model.updated_at)} ({output.ago(model.updated_at, now=now)})"),
    ]
    if model.description:
        rows.append(("description", Text(model.description)))
    sections: list[RenderableType] = [output.key_values(rows)]
    if model.tags:
        sections += [output.heading("Tags", len(model.tags)), output.key_values(sorted(model.tags.items()))]
    if model.aliases:
        last_move = {move.alias: move for move in history}  # oldest first: the last one wins
        aliases = output.table("alias", "version", "moved by", "moved")
        for alias, number in sorted(model.aliases.items()):
            move = last_move.get(alias)
            aliases.add_row(
                Text(alias, style="bold"),
                str(number),
                Text(move.moved_by) if move else output.MISSING,
                output.ago(move.moved_at, now=now) if move else output.MISSING,
            )
        sections += [output.heading("Aliases", len(model.aliases)), aliases]
    if not versions:
        sections.append(Text(f"\nNo versions yet: cairn models register runs:/RUN_ID/PATH {model.name}"))
        return sections
    table = _versions_table(versions, with_model=False)
    sections += [output.heading("Versions", model.latest_version), table, output.heading("Lineage"), _lineage(versions)]
    return sections


def _protections(protections: Sequence[AliasProtection]) -> list[RenderableType]:
    if not protections:
        return []
    table = output.table("alias", "approvals", "approve role", "merge role", "checks")
    table.columns[1].justify = "right"
    for protection in protections:
        table.add_row(
            Text(protection.alias, style="bold"),
            str(protection.required_approvals),
            protection.approve_role.value,
            protection.merge_role.value,
            Text(", ".join(protection.checks) or output.MISSING),
        )
    return [output.heading("Protected aliases", len(protections)), table]


def _lineage(versions: Sequence[ModelVersion]) -> RenderableType:
    """One row per dataset a version's source run used; a version whose run used none has one."""
    table = output.table("version", "source", "dataset", "context", "digest")
    table.columns[0].justify = "right"
    for version in versions:
        used = version.datasets or (None,)
        for dataset in used:
            table.add_row(
                Text(str(version.version)),
                Text(version.source),
                Text(dataset.name) if dataset else output.MISSING,
                Text(dataset.context) if dataset else "",
                dataset.digest[:SHORT_DIGEST] if dataset else "",
            )
    return table


@models_group.command("register")
@click.argument("source", metavar="RUNS_URI")
@click.argument("name")
@click.option("-d", "--description", default="", metavar="TEXT", help="The version's description.")
@uri_option
def register_command(source: str, name: str, description: str, uri: str | None) -> None:
    """Register the model a run logged, RUNS_URI (runs:/RUN_ID/PATH, as run.log_model returns
    it), as the next version of the model NAME, made if new; print the version."""
    with open_tracking(uri) as tracking:
        version = tracking.register_model(source, name, description=description)
    click.echo(
        f"Registered {version.source} as {version.model} version {version.version}: "
        f"models:/{version.model}/{version.version}"
    )


@models_group.command("alias")
@click.argument("name")
@click.argument("alias")
@click.argument("version", type=int, required=False)
@click.option("--delete", is_flag=True, help="Remove ALIAS instead of pointing it at a version.")
@uri_option
def alias_command(name: str, alias: str, version: int | None, delete: bool, uri: str | None) -> None:
    """Point ALIAS of the model NAME at VERSION, setting it or moving it from the version it
    named, and print the move; with --delete, remove it. Every move is kept in the model's
    alias history with who made it."""
    if delete == (version is not None):
        raise click.UsageError("give VERSION to set or move the alias, or --delete to remove it (not both)")
    with open_tracking(uri) as tracking:
        try:
            if version is None:
                move = tracking.delete_model_alias(name, alias)
            else:
                move = tracking.set_model_alias(name, alias, version)
        except ReviewRequired as exc:
            how = f"; open one: cairn reviews open {name} {version} --alias {alias}" if version is not None else ""
            raise CommandError.of(exc, exc.message + how) from exc
    click.echo(_move_line(move))


_ROLES = [role.value for role in Role]


@models_group.command("protect")
@click.argument("name")
@click.argument("alias")
@click.option(
    "--approvals",
    type=int,
    default=None,
    show_default="1",
    metavar="N",
    help="Approvals a review needs, from people other than its author.",
)
@click.option(
    "--check",
    "checks",
    multiple=True,
    metavar="EXPR",
    help="A check every review must pass: a condition on the candidate's source run "
    "('metrics.val/accuracy >= 0.92'), signature-unchanged or no-archived-duplicate. Repeatable.",
)
@click.option(
    "--approve-role",
    type=click.Choice(_ROLES),
    default=None,
    show_default="editor",
    metavar="ROLE",
    help="The least role on the model a reviewer needs to approve (viewer, editor, maintainer, admin).",
)
@click.option(
    "--merge-role",
    type=click.Choice(_ROLES),
    default=None,
    show_default="maintainer",
    metavar="ROLE",
    help="The least role on the model needed to merge a review into ALIAS.",
)
@click.option("--remove", is_flag=True, help="Lift the protection instead: ALIAS may be moved directly again.")
@uri_option
def protect_command(
    name: str,
    alias: str,
    approvals: int | None,
    checks: tuple[str, ...],
    approve_role: str | None,
    merge_role: str | None,
    remove: bool,
    uri: str | None,
) -> None:
    """Protect ALIAS of the model NAME: from now on it moves only by merging a review (cairn
    reviews open) with N approvals and every check passing. On a server with sign-in, approvers
    need --approve-role on the model and whoever merges --merge-role. Run again to replace the
    rules; --remove lifts them."""
    if remove and (approvals is not None or checks or approve_role or merge_role):
        raise click.UsageError("--remove lifts the protection: give it without --approvals, --check and the roles")
    with open_tracking(uri) as tracking:
        if remove:
            tracking.unprotect_alias(name, alias)
            click.echo(f"{name}@{alias} is no longer protected.")
            return
        protection = tracking.protect_alias(
            name,
            alias,
            approvals=1 if approvals is None else approvals,
            checks=checks,
            approve_role=approve_role or DEFAULT_APPROVE_ROLE.value,
            merge_role=merge_role or DEFAULT_MERGE_ROLE.value,
        )
    needs = output.plural(protection.required_approvals, "approval")
    roles = f"approved by: {protection.approve_role.value} or above; merged by: {protection.merge_role.value} or above"
    click.echo(f"{name}@{alias} is protected: a review needs {needs} ({roles})", nl=not protection.checks)
    if protection.checks:
        click.echo(" and these checks:")
        for check in protection.checks:
            click.echo(f"  {check}")


def _move_line(move: AliasMove) -> str:
    """``digits@champion: version 2 → version 3``; an alias that was unset or is removed says so."""
    before = "(unset)" if move.from_version is None else f"version {move.from_version}"
    after = "(removed)" if move.to_version is None else f"version {move.to_version}"
    same = " (unchanged)" if move.from_version == move.to_version else ""
    return f"{move.model}@{move.alias}: {before} → {after}{same}"


@models_group.command("stage")
@click.argument("name")
@click.argument("version", type=int)
@click.argument("stage")
@click.option(
    "--archive-existing",
    is_flag=True,
    help="Move the model's other versions in STAGE to Archived (Staging or Production only).",
)
@uri_option
def stage_command(name: str, version: int, stage: str, archive_existing: bool, uri: str | None) -> None:
    """Move VERSION of the model NAME to STAGE: None, Staging, Production or Archived (any case),
    MLflow's classic stages; print the change."""
    with open_tracking(uri) as tracking:
        before = tracking.get_model_version(name, version).stage
        after = tracking.transition_stage(name, version, stage, archive_existing=archive_existing)
    click.echo(f"{after.model} version {after.version}: {before.value} → {after.stage.value}")


# -- helpers -----------------------------------------------------------------------------------


@models_group.command("dockerfile")
@click.argument("model_uri")
@click.option(
    "-o",
    "--output",
    "output_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="The folder to write the build context into; must not exist, or be empty.",
)
@click.option(
    "--cairn-wheel",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    metavar="FILE",
    default=None,
    help="Install Cairn in the image from this wheel (copied into the context) instead of from the package index.",
)
@click.option(
    "--base-image",
    metavar="IMAGE",
    default=None,
    help="The image to build on; python:X.Y-slim for the Python the model was saved with by default.",
)
@uri_option
def dockerfile_command(
    model_uri: str, output_dir: Path, cairn_wheel: Path | None, base_image: str | None, uri: str | None
) -> None:
    """Write a container image's build context that serves MODEL_URI (models:/NAME@ALIAS,
    models:/NAME/VERSION or runs:/RUN_ID/PATH) into DIR: a Dockerfile, the model's pinned
    requirements and the model folder itself, every file checked against its digest. The image
    serves that exact version without access to the Cairn store (docs/serving.md)."""
    with open_tracking(uri) as tracking:
        context = write_build_context(tracking, model_uri, output_dir, cairn_wheel=cairn_wheel, base_image=base_image)
    click.echo(
        f"Wrote {output_dir}/ for {context.resolved} ({context.manifest.flavor}, {len(context.manifest.files)} "
        f"model files checked) on {context.base_image}; build and run it with:\n"
        f"  docker build -t my-model {output_dir}\n"
        f"  docker run -p {PORT}:{PORT} my-model\n"
        f"It runs: cairn serve {MODEL_DIR} --host 0.0.0.0 --port {PORT}"
    )


def _every(fetch: Callable[[str | None], Page[T]]) -> list[T]:
    """Every item of a paged listing, page by page."""
    items: list[T] = []
    token: str | None = None
    while True:
        page = fetch(token)
        items.extend(page.items)
        token = page.next_page_token
        if token is None:
            return items


def _aliases(aliases: Mapping[str, int]) -> str:
    """``@champion → 3, @challenger → 4``, by alias."""
    return ", ".join(f"@{alias} → {number}" for alias, number in sorted(aliases.items())) or output.MISSING


def _number(version: int | None) -> str:
    return output.MISSING if version is None else str(version)
