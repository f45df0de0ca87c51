"""``cairn predict``: score a file or a folder with a model from the store (docs/batch-scoring.md)."""

from __future__ import annotations

import click

from cairn.cli.options import uri_option
from cairn.serving.batch import DEFAULT_BATCH_ROWS, DEFAULT_PROJECT, MAX_BATCH_ROWS, predict


@click.command("predict")
@click.argument("model_uri", metavar="MODEL_URI")
@click.option(
    "-i",
    "--input",
    "input_path",
    required=True,
    metavar="INPUT",
    help="A .csv or .parquet file, or a folder of Parquet files; a local path or s3://BUCKET/KEY.",
)
@click.option(
    "-o",
    "--output",
    "output_path",
    required=True,
    metavar="OUTPUT",
    help="A .csv or .parquet file, or a folder (no suffix) of Parquet parts; a local path or s3://BUCKET/KEY.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="local: stream batches through this process. dask: map_partitions on a Dask cluster.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="The Dask scheduler (tcp://HOST:PORT) for --engine dask. [default: a local cluster]",
)
@click.option(
    "--batch-rows",
    type=click.IntRange(1, MAX_BATCH_ROWS),
    default=DEFAULT_BATCH_ROWS,
    show_default=True,
    help="Rows given to the model in one call: memory holds about one batch.",
)
@click.option(
    "--keep",
    "keep",
    multiple=True,
    metavar="COLUMN",
    help="Write only this input column beside the predictions (repeat for several). [default: every input column]",
)
@click.option("--predictions-only", is_flag=True, help="Write the predictions without any input column.")
@click.option("--overwrite", is_flag=True, help="Replace the output if it exists (refused otherwise).")
@click.option(
    "--project",
    default=DEFAULT_PROJECT,
    show_default=True,
    help="The project the scoring run is recorded in.",
)
@click.option("--no-run", is_flag=True, help="Do not record the scoring as a run.")
@uri_option
def predict_command(
    model_uri: str,
    input_path: str,
    output_path: str,
    engine: str,
    scheduler: str | None,
    batch_rows: int,
    keep: tuple[str, ...],
    predictions_only: bool,
    overwrite: bool,
    project: str,
    no_run: bool,
    uri: str | None,
) -> None:
    """Score INPUT with the model at MODEL_URI and write OUTPUT.

    MODEL_URI is models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN_ID/NAME; an alias is
    pinned to its version when scoring starts. OUTPUT holds the input's columns and the
    predictions (prediction, or prediction_* for several per row), row for row in the input's
    order; it appears whole or not at all. The scoring is recorded as a run.
    """
    if predictions_only and keep:
        raise click.UsageError("--keep and --predictions-only cannot be used together")
    if scheduler is not None and engine != "dask":
        raise click.UsageError("--scheduler is for --engine dask")
    result = predict(
        model_uri,
        input_path,
        output=output_path,
        engine="dask" if engine == "dask" else "local",
        scheduler=scheduler,
        batch_rows=batch_rows,
        keep=[] if predictions_only else (list(keep) or None),
        overwrite=overwrite,
        uri=uri,
        project=project,
        record_run=not no_run,
    )
    version = f" (version {result.model_version})" if result.model_version is not None else ""
    line = f"Scored {result.rows:,} rows with {result.model_uri}{version} in {result.seconds:.1f}s: {result.output}"
    click.echo(line)
    if result.run_id is not None:
        click.echo(f"Run {result.run_id} in project {project}")
