"""``cairn projects list``, as a table and as JSON, on the embedded store and by --uri."""

from __future__ import annotations

import json

import pytest

from cairn.client.connect import connect
from cairn.core.wire import project_to_wire
from cairn.service.interface import Tracking

from .helpers import Invoke, Seeded


def test_table_lists_each_project_with_its_runs(
    invoke: Invoke, store_uri: str, seeded: Seeded, embedded: Tracking
) -> None:
    embedded.create_project("empty", "nothing yet")
    lines = invoke("projects", "list", "--uri", store_uri).stdout.splitlines()
    assert lines[0].split() == ["name", "runs", "last", "activity", "created", "description"]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert set(rows) == {"mnist", "empty"}
    assert rows["mnist"].split()[1] == "3"
    assert "just now" in rows["mnist"]  # the running run started a moment ago
    assert rows["empty"].split()[1:3] == ["0", "never"]
    assert rows["empty"].endswith("nothing yet")


def test_json_is_the_api_format(invoke: Invoke, store_uri: str, seeded: Seeded, embedded: Tracking) -> None:
    data = json.loads(invoke("projects", "list", "--uri", store_uri, "--json").stdout)
    assert data == [project_to_wire(p) for p in embedded.list_projects()]
    assert data[0]["name"] == "mnist" and data[0]["run_count"] == 3


def test_empty_store(invoke: Invoke, store_uri: str) -> None:
    assert "No projects yet" in invoke("projects", "list", "--uri", store_uri).stdout
    assert json.loads(invoke("projects", "list", "--uri", store_uri, "--json").stdout) == []


def test_default_store_is_cairn_home(invoke: Invoke) -> None:
    tracking = connect()  # CAIRN_HOME is this test's own folder (tests/conftest.py)
    try:
        tracking.create_run("home-project")
    finally:
        tracking.close()
    assert "home-project" in invoke("projects", "list").stdout


def test_cairn_uri_is_honoured(invoke: Invoke, store_uri: str, seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_URI", store_uri)
    assert "mnist" in invoke("projects", "list").stdout
