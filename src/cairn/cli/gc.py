"""``cairn gc``: purge deleted runs and free the blobs nothing points at any more."""

from __future__ import annotations

import click

from cairn.blobs.registry import open_blobs
from cairn.cli import output
from cairn.cli.options import Duration, store_options
from cairn.client.connect import is_remote
from cairn.service.artifacts import DEFAULT_GC_GRACE_MS
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.store.registry import open_store


@click.command("gc")
@store_options
@click.option(
    "--grace",
    "grace_minutes",
    metavar="MINUTES",
    type=click.IntRange(min=0),
    default=DEFAULT_GC_GRACE_MS // 60_000,
    show_default=True,
    help="Spare blobs and uploads touched this recently (uploads in flight finish within it).",
)
@click.option("--keep-deleted", is_flag=True, help="Do not purge deleted runs; only free unreferenced blobs.")
@click.option(
    "--prediction-retention",
    type=Duration(),
    default=None,
    metavar="DURATION",
    help="Drop prediction logs and labels older than this (30d, 12w…), and free their bytes.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be removed, remove nothing.")
def gc_command(
    store_uri: str,
    blobs_uri: str,
    blobs_endpoint: str | None,
    grace_minutes: int,
    keep_deleted: bool,
    prediction_retention: int | None,
    dry_run: bool,
) -> None:
    """Purge deleted runs for good, then delete blobs no artifact or stored dataset uses.

    Run it where the store and blob store are reachable (not through a server). It is safe
    while clients upload: bytes touched within --grace are kept, and a blob's record is removed
    before its bytes, so an upload of the same content meanwhile sends it again.
    """
    if is_remote(store_uri):
        raise click.UsageError("cairn gc works on the store itself: give --store a path or a database URI")
    service = TrackingService(
        open_store(store_uri), Principal.local_user(), blobs=open_blobs(blobs_uri, endpoint_url=blobs_endpoint)
    )
    try:
        service.blobs.check()
        report = service.collect_garbage(
            grace_ms=grace_minutes * 60_000,
            purge_deleted=not keep_deleted,
            dry_run=dry_run,
            prediction_retention_ms=None if prediction_retention is None else prediction_retention * 1000,
        )
    finally:
        service.close()
    purge, delete, abort = (
        ("would purge", "would delete", "would abort") if dry_run else ("purged", "deleted", "aborted")
    )
    message = (
        f"{purge} {output.plural(report.purged_runs, 'deleted run')}; "
        f"{delete} {output.plural(report.deleted_blobs, 'blob')}, freeing {output.size(report.freed_bytes)}; "
        f"{abort} {output.plural(report.aborted_uploads, 'abandoned upload')}."
    )
    if prediction_retention is not None:
        drop = "would drop" if dry_run else "dropped"
        message += f" {drop.capitalize()} {output.plural(report.dropped_prediction_files, 'prediction log file')}."
    click.echo(message[0].upper() + message[1:])
    if report.kept_runs:
        click.echo(
            f"Kept {output.plural(len(report.kept_runs), 'deleted run')} that registered model versions come from "
            f"(their files stay loadable; delete those versions to purge them): {', '.join(report.kept_runs)}"
        )
