"""Run `hey` (Debian's package of the Go HTTP load generator) and read its summary.

Stdlib only. A compiled load generator, so that the client's own cost is small next to the
server's: a Python one would mostly measure itself.

What hey's summary means, read off its output (hey 0.1.4, tests/samples/hey/):

- `Requests/sec` counts every request it tried, failed connections included: against a server
  that died halfway it reports thousands of "requests" per second. `ok_per_s` here is the
  200 answers alone over the run's `Total` time, and is what the benchmark reports.
- The latency lines (`Slowest`, the percentiles) cover the requests that got an HTTP answer,
  whatever its status; connection errors are only counted, in `Error distribution`.
- A percentile whose rank falls past the last answer (p99 of fewer than 100 answers) is
  printed as `0% in 0.0000 secs`: it is left out, not read as a latency of 0.
"""

from __future__ import annotations

import re
import resource
import subprocess
from pathlib import Path
from typing import Any

#: Latency percentiles hey prints, as `NN% in S secs`.
_PERCENTILE = re.compile(r"^\s*(\d+)% in ([0-9.]+) secs\s*$")
_SUMMARY_FIELD = re.compile(r"^\s*(Total|Slowest|Fastest|Average|Requests/sec):\s*(\S+)")
_STATUS = re.compile(r"^\s*\[(\d{3})\]\s+(\d+) responses\s*$")
_ERROR = re.compile(r"^\s*\[(\d+)\]\s+(.*?)\s*$")


class HeyOutputError(ValueError):
    """hey printed something that is not its summary (a usage message, a crash)."""


def parse_hey(text: str) -> dict[str, Any]:
    """hey's summary as numbers: seconds in ms, and counts.

    Keys: `total_s`, `hey_requests_per_s` (hey's own figure, failures included), `ok_per_s`
    (200 answers per second), `answered` (requests with any HTTP status), `ok` (status 200),
    `non_200` (other statuses), `errors` (no HTTP answer: refused, reset, timed out), `status`
    ({code: count}), `error_messages` ({message: count}), `latency_ms` ({"p50": ms, ...}, empty
    when nothing answered), `fastest_ms`, `average_ms`, `slowest_ms` (None when nothing
    answered).
    """
    summary: dict[str, float] = {}
    percentiles: dict[str, float] = {}
    status: dict[int, int] = {}
    error_messages: dict[str, int] = {}
    section = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.endswith(":") and not line.startswith(" "):
            section = stripped[:-1]
            continue
        if section == "Summary" and (match := _SUMMARY_FIELD.match(line)):
            summary[match.group(1)] = float(match.group(2))  # "NaN" parses as nan
        elif section == "Latency distribution" and (match := _PERCENTILE.match(line)) and match.group(1) != "0":
            percentiles[f"p{match.group(1)}"] = round(float(match.group(2)) * 1000, 1)
        elif section == "Status code distribution" and (match := _STATUS.match(line)):
            status[int(match.group(1))] = int(match.group(2))
        elif section == "Error distribution" and (match := _ERROR.match(line)):
            error_messages[match.group(2)] = error_messages.get(match.group(2), 0) + int(match.group(1))
    if "Total" not in summary or "Requests/sec" not in summary:
        raise HeyOutputError(f"no hey summary in its output: {text[:500]!r}")
    total_s = summary["Total"]
    answered = sum(status.values())
    ok = status.get(200, 0)

    def ms(field: str) -> float | None:
        return round(summary[field] * 1000, 1) if answered and field in summary else None

    return {
        "total_s": total_s,
        "hey_requests_per_s": summary["Requests/sec"],
        "ok_per_s": round(ok / total_s, 1) if total_s > 0 else 0.0,
        "answered": answered,
        "ok": ok,
        "non_200": answered - ok,
        "errors": sum(error_messages.values()),
        "status": status,
        "error_messages": error_messages,
        "latency_ms": percentiles,
        "fastest_ms": ms("Fastest"),
        "average_ms": ms("Average"),
        "slowest_ms": ms("Slowest"),
    }


def run_hey(
    url: str, body: Path, *, concurrency: int, duration_s: float, hey: str = "hey", timeout_s: int = 20
) -> dict[str, Any]:
    """POST the JSON file `body` to `url` from `concurrency` kept-alive connections for
    `duration_s` seconds; hey's parsed summary, with the command that ran and the CPU seconds
    hey itself used (`hey_cpu_s`: on a small machine the load generator takes cores from the
    server, and this says how much)."""
    argv = [
        hey,
        "-z", f"{duration_s:g}s",
        "-c", str(concurrency),
        "-t", str(timeout_s),
        "-m", "POST",
        "-T", "application/json",
        "-D", str(body),
        url,
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + timeout_s + 30)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise HeyOutputError(f"hey exited with {completed.returncode}: {completed.stderr[-500:]}")
    result = parse_hey(completed.stdout)
    result["argv"] = ["hey", *argv[1:-1], "URL"]
    result["hey_cpu_s"] = round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2)
    return result
