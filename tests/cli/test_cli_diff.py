"""``cairn diff``: the table, colours, JSON, the nearest earlier run, and the mistakes."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

from cairn.cli.diff import render
from cairn.client.http import HttpTracking
from cairn.core.wire import diff_to_wire
from cairn.service.interface import Tracking

from .helpers import Invoke, Seeded, log


def _row(stdout: str, key: str) -> list[str]:
    """The cells of the table row for ``key`` (the mark, then the key, then the values)."""
    for line in stdout.splitlines():
        cells = line.split()
        if len(cells) > 1 and cells[1] == key:
            return cells
    raise AssertionError(f"no row for {key!r} in:\n{stdout}")


def test_against_the_nearest_earlier_run(invoke: Invoke, store_uri: str, seeded: Seeded) -> None:
    out = invoke("diff", seeded.second.id, "--uri", store_uri).stdout
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["from", "baseline", seeded.first.id + ","]
    assert "the nearest earlier run (2 params apart)" in lines[0]
    assert lines[2].split()[:3] == ["to", "deeper", seeded.second.id]
    assert "Params (2 changed, 1 the same)" in out
    assert _row(out, "lr") == ["~", "lr", "0.1", "0.01"]
    assert _row(out, "net.depth") == ["~", "net.depth", "2", "8"]
    assert "Metrics (1 changed, 1 removed)" in out
    # loss: last 0.5 -> 0.25, min 0.5 -> 0.25, max 2.0 -> inf
    assert _row(out, "loss") == ["~", "loss", "0.5", "0.25", "-0.25", "-0.25", "+inf"]
    assert _row(out, "val_loss") == ["-", "val_loss", "NaN", "-"]
    assert "Tags (1 removed)" in out and _row(out, "team") == ["-", "team", "vision", "-"]
    assert "Notes changed" in out and "-the first try" in out
    assert "\x1b[" not in out  # no colour into a pipe


def test_against_a_named_run_and_as_json(invoke: Invoke, store_uri: str, seeded: Seeded, embedded: Tracking) -> None:
    out = invoke("diff", seeded.running.id, seeded.first.id, "--uri", store_uri).stdout
    assert "nearest" not in out
    assert _row(out, "net.depth") == ["-", "net.depth", "2", "-"]
    assert "The same: 1 param" not in out  # params changed, so they have their own table
    data = json.loads(invoke("diff", seeded.running.id, seeded.first.id, "--uri", store_uri, "--json").stdout)
    expected = diff_to_wire(embedded.diff_runs(seeded.running.id, seeded.first.id))
    assert data == json.loads(json.dumps({**expected, "snapshots": []}))  # these runs captured nothing
    assert data["baseline"]["id"] == seeded.first.id and data["params"]["changed"]["lr"] == {
        "before": 0.1,
        "after": 0.001,
    }
    assert data["metrics"]["removed"]["val_loss"]["last"] == "NaN"


def test_a_run_against_itself(invoke: Invoke, store_uri: str, seeded: Seeded) -> None:
    out = invoke("diff", seeded.first.id, seeded.first.id, "--uri", store_uri).stdout
    assert "No differences in params, metrics, tags or notes." in out


def test_what_stayed_the_same_is_summed_up(invoke: Invoke, store_uri: str, embedded: Tracking) -> None:
    a = embedded.create_run("p", config={"lr": 0.1}, tags={"t": "1"}, start_time=1_000)
    log(embedded, a.id, "acc", [0.5])
    b = embedded.create_run("p", config={"lr": 0.1}, tags={"t": "1"}, start_time=2_000)
    log(embedded, b.id, "acc", [0.75])
    out = invoke("diff", b.id, "--uri", store_uri).stdout
    assert "(0 params apart)" in out
    assert _row(out, "acc") == ["~", "acc", "0.5", "0.75", "+0.25", "+0.25", "+0.25"]
    assert out.rstrip().endswith("The same: 1 param, 1 tag.")


def test_colours_on_a_terminal(seeded: Seeded, embedded: Tracking) -> None:
    console = Console(force_terminal=True, color_system="standard", width=120)
    with console.capture() as captured:
        for part in render(embedded.diff_runs(seeded.second.id), nearest=True):
            console.print(part)
    text = captured.get()
    assert "\x1b[33m~" in text  # changed: yellow
    assert "\x1b[31m-" in text  # removed: red
    with console.capture() as captured:
        for part in render(embedded.diff_runs(seeded.first.id, seeded.second.id), nearest=False):
            console.print(part)
    assert "\x1b[32m+" in captured.get()  # added: green


def test_mistakes(invoke: Invoke, store_uri: str, seeded: Seeded) -> None:
    first = invoke("diff", seeded.first.id, "--uri", store_uri, code=1)
    assert first.stderr == (
        f"Error: run {seeded.first.id} has no earlier run in its project to compare with; "
        f"name one: cairn diff {seeded.first.id} RUN_B [not_found]\n"
    )
    short = invoke("diff", seeded.first.id[:8], "--uri", store_uri, code=1)
    assert "run ids are 32 characters long" in short.stderr and short.stderr.endswith(" [run_not_found]\n")
    missing = invoke("diff", seeded.first.id, "0" * 32, "--uri", store_uri, code=1)
    assert missing.stderr == f"Error: no run with id '{'0' * 32}' [run_not_found]\n"
    invoke("diff", code=2)


def test_through_a_server(invoke: Invoke, server: Any) -> None:
    remote = HttpTracking(server.url)
    try:
        a = remote.create_run("remote", config={"lr": 0.1}, start_time=1_000)
        b = remote.create_run("remote", config={"lr": 0.2}, start_time=2_000)
    finally:
        remote.close()
    out = invoke("diff", b.id, "--uri", server.url).stdout
    assert a.id in out and _row(out, "lr") == ["~", "lr", "0.1", "0.2"]
