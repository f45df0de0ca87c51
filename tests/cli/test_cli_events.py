"""``cairn events list``: the log as a table and as JSON, filtered; bad filters are one
``Error:`` line."""

from __future__ import annotations

import json

from cairn.core.entities import RunStatus, RunUpdate
from cairn.service.interface import Tracking

from .helpers import Invoke


def test_lists_newest_first_with_filters(invoke: Invoke, embedded: Tracking, store_uri: str) -> None:
    assert invoke("events", "list", "--uri", store_uri).stdout == "No events yet.\n"
    run = embedded.create_run("mnist", name="baseline")
    embedded.update_run(run.id, RunUpdate(status=RunStatus.FINISHED))
    embedded.create_model("digits", "handwriting")

    table = invoke("events", "list", "--uri", store_uri).stdout.splitlines()
    assert table[0].split() == ["when", "type", "subject", "actor", "data"]
    rows = [line.split() for line in table[2:]]
    assert [row[2] for row in rows] == [
        "registered_model.created",
        "run.status_changed",
        "run.created",
        "project.created",
    ]
    assert rows[0][3:5] == ["models/digits", "ada"] and len(rows[0]) == 5
    assert "status=finished" in table[3] and "from_status=running" in table[3]

    listed = json.loads(invoke("events", "list", "--uri", store_uri, "--json", "-t", "run.*").stdout)
    assert [e["type"] for e in listed] == ["run.status_changed", "run.created"]
    assert listed[1]["subject"] == f"runs/{run.id}" and listed[1]["data"]["name"] == "baseline"
    only = json.loads(invoke("events", "list", "--uri", store_uri, "--json", "--subject", "models/digits").stdout)
    assert [e["type"] for e in only] == ["registered_model.created"]

    newest = invoke("events", "list", "--uri", store_uri, "-n", "1")
    assert "registered_model.created" in newest.stdout and "run.created" not in newest.stdout
    assert "(the newest 1; --limit N shows more)" in newest.stdout
    nothing = invoke("events", "list", "--uri", store_uri, "--actor", "grace").stdout
    assert nothing == "No events match.\n"


def test_an_unknown_type_is_one_error_line(invoke: Invoke, store_uri: str) -> None:
    result = invoke("events", "list", "--uri", store_uri, "-t", "model.exploded", code=1)
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: 'model.exploded' is not an event type")
