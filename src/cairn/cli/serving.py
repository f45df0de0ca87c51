"""``cairn serve MODEL_URI``: one model over HTTP, in MLflow's and the V2 protocol's shapes."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path

import click

from cairn.cli.options import uri_option


@click.command("serve")
@click.argument("model_uri")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="The port (0: any free one)."
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option(
    "--max-batch-size",
    default=32,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Most rows predicted in one call of the model when requests arrive together; 1 turns batching off.",
)
@click.option(
    "--max-batch-wait-ms",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1000),
    help=(
        "How long a request may wait for others to share its batch. 0: none, though requests that "
        "arrive while the model is busy still go together."
    ),
)
@click.option(
    "--log-predictions",
    "log_predictions",
    metavar="RATE",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="The share of requests whose inputs and outputs are logged to the store (0 to 1).",
)
@click.option(
    "--poll-seconds",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0, 86_400),
    help="For models:/NAME@ALIAS, how often to ask where the alias points (0: never follow it).",
)
@click.option(
    "--max-body-mb", default=64, show_default=True, type=click.IntRange(1, 4096), help="The largest request body."
)
@click.option(
    "--allowed-hosts",
    metavar="NAMES",
    default="",
    help=(
        "Host names to answer besides the listening address and localhost, comma-separated: a "
        "proxy's name, *.example.com for its subdomains, * for any (DNS rebinding)."
    ),
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where fetched models are kept. [default: $CAIRN_HOME/serving/models]",
)
@uri_option
def serve_command(
    model_uri: str,
    host: str,
    port: int,
    workers: int,
    max_batch_size: int,
    max_batch_wait_ms: float,
    log_predictions: float,
    poll_seconds: float,
    max_body_mb: int,
    allowed_hosts: str,
    cache_dir: str | None,
    uri: str | None,
) -> None:
    """Serve MODEL_URI over HTTP: models:/NAME@ALIAS (following the alias as it moves),
    models:/NAME/VERSION, runs:/RUN_ID/NAME or a model folder's path.

    POST /invocations takes MLflow's payloads; /v2/models/NAME/infer the Open Inference
    Protocol's. /health, /metadata and /metrics (Prometheus) describe the server.
    """
    if workers > 1:
        # Every worker counts in files here; any worker's /metrics adds them up. Set before
        # prometheus_client is imported, which reads it once.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cairn-serve-metrics-")
    from cairn.server.serve import bind_socket, run_uvicorn, supervise
    from cairn.serving.app import ServeOptions
    from cairn.serving.process import ServeSettings, prepare, worker_app

    settings = ServeSettings(
        model_uri=model_uri,
        store_uri=uri,
        options=ServeOptions(
            max_batch_size=max_batch_size,
            max_batch_wait_ms=max_batch_wait_ms,
            max_body_bytes=max_body_mb * 1024 * 1024,
            allowed_hosts=tuple(name.strip() for name in allowed_hosts.split(",") if name.strip()),
            host=host,
        ),
        poll_seconds=poll_seconds,
        log_predictions=log_predictions,
        cache_dir=None if cache_dir is None else Path(cache_dir).resolve(),
    )
    _log_to_stderr()
    prepared = prepare(settings)
    sock = bind_socket(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    address = f"http://{'[' + bound_host + ']' if ':' in bound_host else bound_host}:{bound_port}"
    model = prepared.model
    name = model.location.name or model.folder.name
    click.echo(
        f"Serving {model_uri} (version {model.label}, {model.loaded.flavor}) at {address}\n"
        f"  MLflow: POST {address}/invocations   V2: POST {address}/v2/models/{name}/infer",
        err=True,
    )
    sys.stderr.flush()

    def run_worker(listening: socket.socket) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        run_uvicorn(worker_app(prepared), listening)

    if workers == 1:
        run_worker(sock)
    else:
        supervise(workers, run_worker, sock)


def _log_to_stderr() -> None:
    """What the server does (alias moves, swaps, failed loads) on stderr, with the time."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s cairn serve: %(message)s"))
    logger = logging.getLogger("cairn.serve")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
