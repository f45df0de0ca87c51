"""How long listing 10,000 versions of one registered model takes, on SQLite and PostgreSQL.

    .venv/bin/python bench/registry_list.py                          # SQLite in a temp folder
    .venv/bin/python bench/registry_list.py --store postgresql://postgres@127.0.0.1:5432/bench

The store gets one model with ``--versions`` versions (each from a run that used a dataset, so
lineage is read too; three aliases and a tag per version), registered through the store's own
``create_version``; then ``TrackingService.list_model_versions(name, limit=N)`` (one page of
every version, newest first, with aliases, tags and lineage) is timed ``--repeat`` times.
The target (issue 12) is 100 ms or less. Not a pass/fail test: it reports the median.

Then the dashboard's page of that model (``GET /models/NAME``: the first 50 versions, the aliases
and their history) and its last page (``?before=51``) are timed the same way, served in process
by the real app (``create_app`` through httpx's ASGI transport: no network, no browser), to
show that a model's page does not grow with its versions.

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
from pathlib import Path

import httpx

from cairn.blobs.local import LocalBlobStore
from cairn.core.artifacts import DatasetSpec
from cairn.server.app import create_app
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
        run = service.create_run("registry-bench")
        data = service.log_dataset(
            run.id, DatasetSpec(name="train", digest="a" * 64, source_uri="train.csv", source_kind="file")
        )
        started = time.perf_counter()
        for number in range(1, args.versions + 1):
            store.create_version(
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
        for alias, version in (("champion", args.versions), ("challenger", args.versions - 1), ("old", 1)):
            service.set_model_alias(name, alias, version)
        timings = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            page = service.list_model_versions(name, limit=args.versions)
            timings.append((time.perf_counter() - started) * 1000)
            assert len(page.items) == args.versions and page.items[0].aliases == ("champion",)
        page_ms = _time_model_pages(store, uri, Path(folder), name, args.repeat)
        result = {
            "backend": store.dialect,
            "versions": args.versions,
            "list_ms_median": round(statistics.median(timings), 1),
            "list_ms_min": round(min(timings), 1),
            "register_ms_each": round(fill_s * 1000 / args.versions, 2),
            **page_ms,
        }
        service.delete_model(name)
        store.close()
    print(json.dumps(result))


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


if __name__ == "__main__":
    main()
