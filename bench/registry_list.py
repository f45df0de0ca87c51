"""How long listing 10,000 versions of one registered model takes, on SQLite and PostgreSQL,
in process and through a server.

    .venv/bin/python bench/registry_list.py                          # SQLite in a temp folder
    .venv/bin/python bench/registry_list.py --store postgresql://postgres@127.0.0.1:5432/bench

The store gets one model with ``--versions`` versions (each from a run that used a dataset, so
lineage is read too; three aliases and a tag per version), registered through the store's own
``create_version``. Then one page of every version, newest first, with aliases, tags and
lineage, is timed ``--repeat`` times three ways:

- ``service``: ``TrackingService.list_model_versions(name, limit=N)``, the store and the rules;
- ``embedded``: the SDK's tracking interface on the store, ``connect(URI).list_model_versions``;
- ``http``: the same call through ``connect("http://…")`` to ``cairn server`` on the same store
  in its own process: the store, the JSON the server writes, the transfer on loopback, and the
  client's decoding into ``ModelVersion`` entities.

Then the dashboard's page of that model (``GET /models/NAME``: the first 50 versions, the aliases
and their history) and its last page (``?before=51``) are timed the same way, served in process
by the real app (``create_app`` through httpx's ASGI transport: no network, no browser), to
show that a model's page does not grow with its versions.

Through the same server, the MLflow API's routes are timed too: ``model-versions/search`` of
every version, ``registered-models/get`` and ``registered-models/alias`` (issue 15).

The target (issue 12) is 100 ms or less. Not a pass/fail test: it reports medians.
Measured on 2 shared cores, 10,000 versions: see bench/README.md.
Progress goes to stderr; one JSON object goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from _procs import free_port, start_server, stop_tree, wait_until_ready
from cairn.blobs.local import LocalBlobStore
from cairn.client.connect import connect
from cairn.core.artifacts import DatasetSpec
from cairn.server.app import create_app
from cairn.service.interface import Tracking
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.settings import ServerSettings
from cairn.store.base import MetadataStore
from cairn.store.registry import open_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="store URI (default: a new SQLite file in a temp folder)")
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        uri = args.store or str(Path(folder) / "bench.db")
        store = open_store(uri)
        service = TrackingService(store, Principal("bench"))
        name = f"bench-{time.time_ns()}"
        fill_s = _fill(service, name, args.versions)
        result: dict[str, object] = {"backend": store.dialect, "versions": args.versions}
        try:
            result["service"] = _timed(service, name, args)
            embedded = connect(uri)
            try:
                result["embedded"] = _timed(embedded, name, args)
            finally:
                embedded.close()
            result["http"] = _through_a_server(uri, Path(folder), name, args)
            result.update(_time_model_pages(store, uri, Path(folder), name, args.repeat))
        finally:
            service.delete_model(name)
            store.close()
        result["register_ms_each"] = round(fill_s * 1000 / args.versions, 2)
    print(json.dumps(result))


def _fill(service: TrackingService, name: str, versions: int) -> float:
    run = service.create_run("registry-bench")
    data = service.log_dataset(
        run.id, DatasetSpec(name="train", digest="a" * 64, source_uri="train.csv", source_kind="file")
    )
    started = time.perf_counter()
    for number in range(1, versions + 1):
        service.store.create_version(
            name,
            run_id=run.id,
            source_path="model",
            tree_digest=f"{number:064x}",
            flavor="sklearn",
            signature={"inputs": [{"name": "x", "type": "double"}]},
            datasets=[(data.id, "train")],
            description="",
            tags={"validated": "yes"},
            created_by="bench",
        )
        if number % 2_000 == 0:
            print(f"{number} versions registered", file=sys.stderr)
    fill_s = time.perf_counter() - started
    for alias, version in (("champion", versions), ("challenger", versions - 1), ("old", 1)):
        service.set_model_alias(name, alias, version)
    return fill_s


def _timed(tracking: Tracking, name: str, args: argparse.Namespace) -> dict[str, float]:
    def listing() -> None:
        page = tracking.list_model_versions(name, limit=args.versions)
        assert len(page.items) == args.versions and page.items[0].aliases == ("champion",)

    return _times(listing, args.repeat)


def _through_a_server(uri: str, folder: Path, name: str, args: argparse.Namespace) -> dict[str, float]:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "cairn",
        "server",
        "--store",
        uri,
        "--blobs",
        str(folder / "blobs"),
        "--insecure-no-auth",
    ]
    server = start_server([*argv, "--port", str(port)], cwd=folder, log_path=folder / "server.log")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(server, f"{url}/health")
        remote = connect(url)
        try:
            remote.list_model_versions(name, limit=1)  # the connection is open before timing
            timed = _timed(remote, name, args)
        finally:
            remote.close()
        return {**timed, **_mlflow_routes(url, name, args)}
    finally:
        stop_tree(server)


def _mlflow_routes(url: str, name: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """The same versions through the MLflow API's routes (docs/mlflow.md), as MLflow's client
    asks for them: every version in one search page, the model with its latest versions, and
    the version an alias points at. Raw HTTP: what the server costs, not MLflow's client."""
    api = f"{url}/api/2.0/mlflow"
    searched = {"filter": f"name = '{name}'", "max_results": str(args.versions)}
    calls = {
        "mlflow_search_versions": (f"{api}/model-versions/search", searched, args.versions),
        "mlflow_get_model": (f"{api}/registered-models/get", {"name": name}, None),
        "mlflow_version_by_alias": (f"{api}/registered-models/alias", {"name": name, "alias": "champion"}, None),
    }
    result = {}
    with httpx.Client(timeout=120) as client:
        for key, (route, params, expected) in calls.items():

            def call(route: str = route, params: dict[str, str] = params, expected: int | None = expected) -> None:
                answer = client.get(route, params=params)
                answer.raise_for_status()
                if expected is not None:
                    assert len(answer.json()["model_versions"]) == expected

            call()  # warm-up
            result[key] = _times(call, args.repeat)
    return result


def _time_model_pages(store: MetadataStore, uri: str, folder: Path, name: str, repeat: int) -> dict[str, float]:
    """Median milliseconds of the dashboard's first and last page of the model's versions."""
    settings = ServerSettings(store_uri=uri, blobs_uri=str(folder / "blobs"))
    app = create_app(settings, store=store, blobs=LocalBlobStore(settings.blobs_uri))
    pages = {"model_page_ms_median": f"/models/{name}", "model_last_page_ms_median": f"/models/{name}?before=51"}

    async def measure() -> dict[str, float]:
        transport = httpx.ASGITransport(app=app)
        result = {}
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            for key, url in pages.items():
                (await client.get(url)).raise_for_status()  # warm-up
                timings = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    response = await client.get(url)
                    timings.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200 and response.text.count("data-version=") == 50, url
                result[key] = round(statistics.median(timings), 1)
        return result

    return asyncio.run(measure())


def _times(call: Callable[[], None], repeat: int) -> dict[str, float]:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return {"ms_median": round(statistics.median(timings), 1), "ms_min": round(min(timings), 1)}


if __name__ == "__main__":
    main()
