"""bench/_hey.py reads hey's summary right: fed hey 0.1.4's real output, captured against
`cairn serve` (tests/samples/hey/: a clean run at concurrency 16, a run of 400 answers, a run
whose server was stopped halfway, and one against a port nothing listens on)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from bench._hey import HeyOutputError, parse_hey, run_hey

SAMPLES = Path(__file__).parent / "samples" / "hey"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def test_a_clean_run_gives_throughput_and_percentiles_in_ms() -> None:
    parsed = parse_hey(sample("c16_all_200.txt"))
    assert parsed["total_s"] == 3.0059
    assert parsed["hey_requests_per_s"] == 1545.2862
    assert parsed["ok"] == parsed["answered"] == 4645
    assert parsed["ok_per_s"] == round(4645 / 3.0059, 1)
    assert parsed["non_200"] == parsed["errors"] == 0
    assert parsed["latency_ms"] == {
        "p10": 8.2,
        "p25": 9.0,
        "p50": 9.9,
        "p75": 11.4,
        "p90": 12.7,
        "p95": 14.2,
        "p99": 17.1,
    }
    assert (parsed["fastest_ms"], parsed["average_ms"], parsed["slowest_ms"]) == (3.9, 10.3, 20.5)


def test_answers_other_than_200_are_counted_apart() -> None:
    parsed = parse_hey(sample("all_400.txt"))
    assert parsed["status"] == {400: 50}
    assert (parsed["answered"], parsed["ok"], parsed["non_200"], parsed["errors"]) == (50, 0, 50, 0)
    assert parsed["ok_per_s"] == 0.0
    # 50 answers have no 99th percentile: hey prints "0% in 0.0000 secs" in its place.
    assert parsed["latency_ms"] == {"p10": 0.3, "p25": 0.3, "p50": 0.4, "p75": 0.4, "p90": 1.5, "p95": 3.4}


def test_failed_connections_do_not_count_as_throughput() -> None:
    # hey's Requests/sec counts the 21,774 refused connections after the server stopped.
    parsed = parse_hey(sample("server_stopped_midway.txt"))
    assert parsed["hey_requests_per_s"] == 7570.8845
    assert parsed["ok"] == 948
    assert parsed["ok_per_s"] == round(948 / 3.0012, 1)
    assert parsed["errors"] == 21774
    (message,) = parsed["error_messages"]
    assert "connection refused" in message
    assert parsed["latency_ms"]["p50"] == 6.6


def test_a_run_with_no_answer_has_no_latency() -> None:
    parsed = parse_hey(sample("nothing_listening.txt"))
    assert (parsed["answered"], parsed["errors"]) == (0, 20)
    assert parsed["latency_ms"] == {}
    assert parsed["average_ms"] is None  # hey prints NaN
    assert not math.isnan(parsed["ok_per_s"])


def test_output_that_is_not_a_summary_is_refused() -> None:
    with pytest.raises(HeyOutputError):
        parse_hey("Usage: hey [options...] <url>\n")


@pytest.mark.skipif(shutil.which("hey") is None, reason="hey is not installed (bench/setup_serving.sh installs it)")
def test_run_hey_reads_a_real_run(tmp_path: Path) -> None:
    # Nothing listens on the port: hey runs, and every request is an error, not a 200.
    body = tmp_path / "body.json"
    body.write_text("{}")
    parsed = run_hey("http://127.0.0.1:1/invocations", body, concurrency=2, duration_s=0.3)
    assert parsed["ok"] == 0
    assert parsed["errors"] > 0
    assert parsed["argv"][0] == "hey"
