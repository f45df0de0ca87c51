"""A page of versions, as JSON and in columns (docs/api.md, "The model registry"): the same
versions either way, shared signatures and lineages written once, and the JSON form the one a
client gets without asking."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
from tests.contract.test_registry import log_model_folder
from tests.helpers import ThreadedServer

from cairn.client.http import HttpTracking
from cairn.core.artifacts import DatasetSpec
from cairn.core.registry_wire import (
    VERSION_COLUMNS_MEDIA_TYPE,
    versions_from_columns,
    versions_from_wire,
)

COLUMNS = {"accept": VERSION_COLUMNS_MEDIA_TYPE}


def test_a_page_is_the_same_as_json_and_in_columns(server: ThreadedServer, tmp_path: Path) -> None:
    tracking = HttpTracking(server.url)
    try:
        with_data, without = tracking.create_run("reg"), tracking.create_run("reg")
        spec = DatasetSpec(name="iris", digest="a" * 64, source_uri="iris.csv", source_kind="file")
        tracking.log_dataset(with_data.id, spec)
        for run, name in ((with_data, "a"), (without, "a"), (with_data, "a"), (without, "b")):
            log_model_folder(tracking, run.id, tmp_path)
            tracking.register_model(f"runs:/{run.id}/model", name)
        tracking.set_model_alias("a", "champion", 3)
        tracking.set_model_version_tag("a", 2, "validated", "yes")
        expected = [tracking.get_model_version("a", n) for n in (3, 2, 1)]
    finally:
        tracking.close()

    for path in ("/api/v1/models/a/versions", "/api/v1/model-versions?where=name%20%3D%20'a'"):
        plain = httpx.get(server.url + path)
        assert plain.headers["content-type"] == "application/json"
        assert versions_from_wire(plain.json()["versions"]) == expected
        columns = httpx.get(server.url + path, headers=COLUMNS)
        assert columns.headers["content-type"] == VERSION_COLUMNS_MEDIA_TYPE
        page = orjson.loads(columns.content)
        assert versions_from_columns(page) == expected and page["next_page_token"] is None
        # Versions 3 and 1 share their run's lineage and every version the manifest's signature.
        assert len(page["lineages"]) == 2 and len(page["signatures"]) == 1
        assert page["columns"]["datasets"] == [0, 1, 0] and page["columns"]["signature"] == [0, 0, 0]
        assert len(columns.content) < len(plain.content)

    one = httpx.get(server.url + "/api/v1/models/a/versions?limit=1", headers=COLUMNS)
    assert versions_from_columns(one.json()) == expected[:1] and one.json()["next_page_token"] == "3"
    refused = httpx.get(server.url + "/api/v1/model-versions?where=bogus%20%3D%201", headers=COLUMNS)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_query"
