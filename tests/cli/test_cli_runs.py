"""``cairn runs list`` and ``cairn runs show``, as tables and as JSON."""

from __future__ import annotations

import json
import math

from cairn.core.wire import run_to_wire
from cairn.service.interface import Tracking

from .helpers import Invoke, Seeded, log


def _rows(stdout: str) -> dict[str, list[str]]:
    """Table rows by their first cell (the short id), split on runs of blanks."""
    lines = stdout.splitlines()
    return {line.split()[0]: line.split() for line in lines[2:]}


def test_list_table(invoke: Invoke, store_uri: str, seeded: Seeded) -> None:
    result = invoke("runs", "list", "mnist", "--uri", store_uri)
    header = result.stdout.splitlines()[0].split()
    # lr differs between runs and comes first; seed is the same everywhere and is left out.
    assert header == [
        "id",
        "name",
        "status",
        "user",
        "started",
        "duration",
        "lr",
        "net.depth",
        "loss",
        "val_loss",
    ]
    rows = _rows(result.stdout)
    assert list(rows) == [
        seeded.running.id[:8],
        seeded.second.id[:8],
        seeded.first.id[:8],
    ]  # newest first
    assert rows[seeded.first.id[:8]][1:4] == ["baseline", "finished", "ada"]
    assert rows[seeded.first.id[:8]][-6:] == ["3m", "12s", "0.1", "2", "0.5", "NaN"]
    assert rows[seeded.second.id[:8]][2] == "failed"
    assert rows[seeded.second.id[:8]][-6:] == ["1h", "00m", "0.01", "8", "0.25", "-"]
    assert rows[seeded.running.id[:8]][2] == "running"
    assert rows[seeded.running.id[:8]][-4:] == ["0.001", "-", "-", "-"]
    assert "Not shown: 1 param (" in result.stderr  # seed, the same in every run


def test_list_json_is_every_run_in_full(invoke: Invoke, store_uri: str, seeded: Seeded, embedded: Tracking) -> None:
    data = json.loads(invoke("runs", "list", "mnist", "--uri", store_uri, "--json").stdout)
    expected = [seeded.running, seeded.second, seeded.first]
    assert data == [run_to_wire(embedded.get_run(run.id)) for run in expected]
    first = data[2]
    assert first["params"] == {"lr": 0.1, "seed": 0, "net.depth": 2}
    assert first["tags"] == {"team": "vision"}
    assert first["notes"] == "the first try"
    assert (first["start_time"], first["end_time"]) == (1_700_000_000_000, 1_700_000_192_000)
    assert first["metrics"]["loss"] == {
        "last": 0.5,
        "last_step": 2,
        "last_timestamp": 1_700_000_000_000,
        "min": 0.5,
        "max": 2.0,
        "count": 3,
    }
    # JSON has no NaN or infinity: they are strings, as on the wire.
    assert first["metrics"]["val_loss"]["last"] == "NaN"
    assert first["metrics"]["val_loss"]["min"] is None
    assert data[1]["metrics"]["loss"]["max"] == "Infinity"


def test_list_limit(invoke: Invoke, store_uri: str, seeded: Seeded) -> None:
    result = invoke("runs", "list", "mnist", "--uri", store_uri, "--limit", "2")
    assert list(_rows(result.stdout)) == [seeded.running.id[:8], seeded.second.id[:8]]
    assert "Showing the 2 newest runs" in result.stderr
    data = json.loads(invoke("runs", "list", "mnist", "--uri", store_uri, "-n", "1", "--json").stdout)
    assert [run["id"] for run in data] == [seeded.running.id]
    invoke("runs", "list", "mnist", "--uri", store_uri, "--limit", "0", code=2)


def test_list_include_deleted(invoke: Invoke, store_uri: str, seeded: Seeded, embedded: Tracking) -> None:
    embedded.delete_run(seeded.first.id)
    assert seeded.first.id[:8] not in invoke("runs", "list", "mnist", "--uri", store_uri).stdout
    rows = _rows(invoke("runs", "list", "mnist", "--uri", store_uri, "--include-deleted").stdout)
    assert rows[seeded.first.id[:8]][2:4] == ["finished", "(deleted)"]
    data = json.loads(invoke("runs", "list", "mnist", "--uri", store_uri, "--include-deleted", "--json").stdout)
    assert [run["deleted"] for run in data] == [False, False, True]


def test_list_chosen_columns(invoke: Invoke, store_uri: str, seeded: Seeded) -> None:
    result = invoke("runs", "list", "mnist", "--uri", store_uri, "-p", "seed", "--metric", "loss")
    assert result.stdout.splitlines()[0].split()[-2:] == ["seed", "loss"]
    assert _rows(result.stdout)[seeded.second.id[:8]][-2:] == ["0", "0.25"]
    assert result.stderr == ""


def test_list_on_a_narrow_terminal(invoke: Invoke, store_uri: str, seeded: Seeded) -> None:
    result = invoke("runs", "list", "mnist", "--uri", store_uri, env={"COLUMNS": "72"})
    lines = result.stdout.splitlines()
    # Metrics are kept before params; ids, statuses and numbers are never cut short.
    assert lines[0].split() == ["id", "name", "status", "user", "started", "duration", "loss"]
    assert max(len(line) for line in lines) <= 72
    assert _rows(result.stdout)[seeded.first.id[:8]][-1] == "0.5"
    assert "Not shown: 3 params and 1 metric" in result.stderr


def test_list_many_runs_across_pages(invoke: Invoke, store_uri: str, embedded: Tracking) -> None:
    for i in range(5):
        embedded.create_run("many", name=f"r{i}", start_time=1_700_000_000_000 + i)
    result = invoke("runs", "list", "many", "--uri", store_uri, "--json")
    assert [run["name"] for run in json.loads(result.stdout)] == ["r4", "r3", "r2", "r1", "r0"]


def test_list_prints_user_text_as_typed(invoke: Invoke, store_uri: str, embedded: Tracking) -> None:
    embedded.create_run("odd", name="[bold]not markup[/bold] :smile:")
    assert "[bold]not markup[/bold] :smile:" in invoke("runs", "list", "odd", "--uri", store_uri).stdout


def test_list_truncates_wide_cells(invoke: Invoke, store_uri: str, embedded: Tracking) -> None:
    embedded.create_run("wide", name="n" * 100, config={"path": "/data/" + "x" * 200})
    result = invoke("runs", "list", "wide", "--uri", store_uri)
    assert "n" * 100 not in result.stdout and "…" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) < 160


def test_list_empty_project(invoke: Invoke, store_uri: str, embedded: Tracking) -> None:
    embedded.create_project("quiet")
    assert "No runs in project 'quiet'" in invoke("runs", "list", "quiet", "--uri", store_uri).stdout
    assert json.loads(invoke("runs", "list", "quiet", "--uri", store_uri, "--json").stdout) == []


def test_list_unknown_project_is_a_clean_error(invoke: Invoke, store_uri: str, seeded: Seeded) -> None:
    result = invoke("runs", "list", "nope", "--uri", store_uri, code=1)
    assert result.stderr == "Error: no project named 'nope' [project_not_found]\n"


def test_show(invoke: Invoke, store_uri: str, seeded: Seeded) -> None:
    out = invoke("runs", "show", seeded.first.id, "--uri", store_uri).stdout
    lines = [line.split() for line in out.splitlines()]
    assert ["id", seeded.first.id] in lines
    assert ["name", "baseline"] in lines
    assert ["status", "finished"] in lines
    assert ["user", "ada"] in lines
    assert ["duration", "3m", "12s"] in lines
    assert ["Params", "(3)"] in lines and ["net.depth", "2"] in lines and ["lr", "0.1"] in lines
    assert ["Tags", "(1)"] in lines and ["team", "vision"] in lines
    assert ["Metrics", "(2)"] in lines
    assert ["loss", "0.5", "2", "0.5", "2", "3"] in lines  # key, last, step, min, max, count
    assert ["val_loss", "NaN", "0", "-", "-", "1"] in lines
    assert ["Notes"] in lines and out.rstrip().endswith("the first try")


def test_show_running_run_without_extras(invoke: Invoke, store_uri: str, seeded: Seeded) -> None:
    out = invoke("runs", "show", seeded.running.id, "--uri", store_uri).stdout
    assert "so far" in out
    assert "Tags" not in out and "Metrics" not in out and "Notes" not in out


def test_show_json(invoke: Invoke, store_uri: str, seeded: Seeded, embedded: Tracking) -> None:
    log(embedded, seeded.running.id, "acc", [-math.inf])
    data = json.loads(invoke("runs", "show", seeded.running.id, "--uri", store_uri, "--json").stdout)
    assert data == run_to_wire(embedded.get_run(seeded.running.id))
    assert data["metrics"]["acc"]["last"] == "-Infinity"


def test_show_non_finite_param(invoke: Invoke, store_uri: str, embedded: Tracking) -> None:
    run = embedded.create_run("p", config={"clip": math.inf})
    assert json.loads(invoke("runs", "show", run.id, "--uri", store_uri, "--json").stdout)["params"] == {
        "clip": {"float": "Infinity"}
    }
    assert ["clip", "inf"] in [
        line.split() for line in invoke("runs", "show", run.id, "--uri", store_uri).stdout.splitlines()
    ]


def test_show_unknown_run_is_a_clean_error(invoke: Invoke, store_uri: str, seeded: Seeded) -> None:
    result = invoke("runs", "show", "0" * 32, "--uri", store_uri, code=1)
    assert result.stderr == f"Error: no run with id '{'0' * 32}' [run_not_found]\n"
    short = invoke("runs", "show", seeded.first.id[:8], "--uri", store_uri, "--json", code=1)
    assert short.stdout == ""
    assert short.stderr.startswith(f"Error: no run with id '{seeded.first.id[:8]}'; run ids are 32 characters")
