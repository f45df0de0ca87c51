"""``cairn runs list --where/--sort`` and ``cairn runs groups``."""

from __future__ import annotations

import json

from .helpers import Invoke, Seeded


def _ids(invoke: Invoke, *args: str) -> list[str]:
    return [run["id"] for run in json.loads(invoke("runs", "list", "mnist", *args, "--json").stdout)]


def test_where_selects_and_sort_orders(invoke: Invoke, seeded: Seeded, store_uri: str) -> None:
    uri = ("--uri", store_uri)
    assert _ids(invoke, "--where", "params.lr < 0.05", *uri) == [seeded.running.id, seeded.second.id]
    assert _ids(invoke, "--where", "metrics.loss.min < 1 and tags.team = 'vision'", *uri) == [seeded.first.id]
    assert _ids(invoke, "--sort", "params.lr", *uri) == [seeded.running.id, seeded.second.id, seeded.first.id]
    # Missing values sort last whatever the direction: the running run has no loss.
    assert _ids(invoke, "--sort", "metrics.loss.min desc", *uri) == [
        seeded.first.id,
        seeded.second.id,
        seeded.running.id,
    ]
    assert _ids(invoke, "--where", "params.net.depth is null", *uri) == [seeded.running.id]
    assert _ids(invoke, "-w", "status = 'finished'", "-n", "1", *uri) == [seeded.first.id]


def test_nothing_matches(invoke: Invoke, seeded: Seeded, store_uri: str) -> None:
    result = invoke("runs", "list", "mnist", "--where", "params.lr > 5", "--uri", store_uri)
    assert "No runs in project 'mnist' match 'params.lr > 5'." in result.stdout


def test_a_bad_query_points_at_its_column(invoke: Invoke, seeded: Seeded, store_uri: str) -> None:
    result = invoke("runs", "list", "mnist", "--where", "metrics.loss >> 1", "--uri", store_uri, code=1)
    assert result.stderr.splitlines()[-3:] == [
        "Error: expected a value, found '>' at column 15 [invalid_query]",
        "  metrics.loss >> 1",
        "                ^",
    ]
    assert "Traceback" not in result.output
    typed = invoke("runs", "list", "mnist", "--where", "metrics.loss > 'low'", "--uri", store_uri, code=1)
    assert "metrics.loss is a number" in typed.stderr


def test_groups(invoke: Invoke, seeded: Seeded, store_uri: str) -> None:
    table = invoke(
        "runs", "groups", "mnist", "--by", "params.seed", "--metric", "metrics.loss", "--uri", store_uri
    ).stdout
    assert "params.seed" in table and "mean metrics.loss" in table
    groups = json.loads(
        invoke("runs", "groups", "mnist", "-b", "status", "-m", "metrics.loss.min", "--uri", store_uri, "--json").stdout
    )
    by_status = {g["value"]: g for g in groups}
    assert by_status["finished"] == {"value": "finished", "count": 1, "mean": 0.5, "min": 0.5, "max": 0.5}
    assert by_status["running"]["count"] == 1 and by_status["running"]["mean"] is None
    refused = invoke("runs", "groups", "mnist", "--by", "metrics.loss", "--uri", store_uri, code=1)
    assert "not a metric" in refused.stderr
