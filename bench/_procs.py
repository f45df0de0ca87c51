"""Start, time, measure and stop a benchmarked server process tree.

Stdlib only, so that each half of the benchmark can import it from its own venv
(the MLflow half runs in bench/.venv-mlflow, the Cairn half in the project venv).

A "tree" is the server process and all of its descendants: MLflow's server is a
launcher plus uvicorn/gunicorn workers, so measuring the launcher alone would
undercount memory and leave workers running after a stop.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A started server subprocess, and when it was started (monotonic seconds)."""

    process: subprocess.Popen[bytes]
    started_at: float
    log_path: Path
    # pid -> kernel start time, so a stop never signals a recycled pid.
    seen: dict[int, int] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, max_chars: int = 4000) -> str:
        """The end of the server's combined stdout/stderr, for error messages."""
        try:
            return self.log_path.read_text(errors="replace")[-max_chars:]
        except OSError:
            return ""


def start_server(argv: Sequence[str], *, cwd: Path, log_path: Path, env: dict[str, str] | None = None) -> ServerProcess:
    """Launch `argv` in its own session so the whole tree can be signalled at once.

    Output goes to a file rather than a pipe: nobody reads a pipe during the run,
    and a full pipe would block a chatty server mid-benchmark.
    """
    log_file = open(log_path, "wb")
    try:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log_file.close()
    return ServerProcess(process=process, started_at=time.monotonic(), log_path=log_path)


def start_cairn_server(python: str, workdir: Path, port: int, workers: int) -> ServerProcess:
    """`python -m cairn server` with its store and blobs in `workdir`, as the side-by-side
    benchmarks run it. The server gets a CAIRN_HOME of its own and none of the caller's other
    CAIRN_ settings; this process's CAIRN_HOME moves beside it, so the client's staging and
    spool stay inside `workdir` too."""
    argv = [
        python, "-m", "cairn", "server",
        "--store", str(workdir / "cairn.db"),
        "--blobs", str(workdir / "blobs"),
        "--port", str(port),
        "--workers", str(workers),
        "--insecure-no-auth",  # as MLflow's server runs beside it: without sign-in
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    env["CAIRN_HOME"] = str(workdir / "server-home")
    os.environ["CAIRN_HOME"] = str(workdir / "client-home")
    return start_server(argv, cwd=workdir, log_path=workdir / "server.log", env=env)


def start_mlflow_server(mlflow: str, workdir: Path, port: int) -> ServerProcess:
    """`mlflow server --serve-artifacts` on SQLite and an artifact folder in `workdir`: MLflow's
    own way of taking artifacts through its server, as the side-by-side benchmarks run it."""
    argv = [
        mlflow, "server",
        "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
        "--serve-artifacts",
        "--artifacts-destination", str(workdir / "artifacts"),
        "--host", LOOPBACK,
        "--port", str(port),
    ]  # fmt: skip
    return start_server(argv, cwd=workdir, log_path=workdir / "server.log")


def wait_until_ready(server: ServerProcess, url: str, timeout_s: float = 120.0) -> float:
    """Poll `url` until it answers 2xx; return seconds since the server was started.

    Raises RuntimeError with the server's log tail if it exits or never answers.
    """
    deadline = server.started_at + timeout_s
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"server exited with code {server.process.returncode} before answering "
                f"{url}\n--- server log ---\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2.0) as response:
                if 200 <= response.status < 300:
                    ready_s = time.monotonic() - server.started_at
                    remember_tree(server)
                    return ready_s
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"server did not answer {url} within {timeout_s:.0f} s\n--- server log ---\n{server.log_tail()}"
            )
        time.sleep(0.05)


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (field 3, the state, comes first)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None  # exited while we looked
    # The command name is in parentheses and may contain spaces or ')'.
    return stat[stat.rindex(")") + 2 :].split()


def _start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def _children_by_parent() -> dict[int, list[int]]:
    # /proc/PID/task/TID/children needs a kernel option that is not always on,
    # so build the parent map from every /proc/PID/stat instead.
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def tree_pids(root_pid: int) -> set[int]:
    """The pid of `root_pid` and all its living descendants."""
    children = _children_by_parent()
    found: set[int] = set()
    pending = [root_pid]
    while pending:
        pid = pending.pop()
        if pid in found:
            continue
        found.add(pid)
        pending.extend(children.get(pid, ()))
    return found


def _rss_bytes(pid: int) -> int:
    try:
        resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return resident_pages * _PAGE_SIZE


def tree_rss_bytes(root_pid: int) -> int:
    """Summed resident memory of a process tree.

    Shared pages (the interpreter, imported libraries) count once per process,
    the same way `ps` and psutil's rss do, so a forked-worker server is charged
    for each of its workers.
    """
    return sum(_rss_bytes(pid) for pid in tree_pids(root_pid))


def _command(pid: int, max_chars: int = 60) -> str:
    """A short, run-independent label for a process: its argv with paths cut to basenames."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [arg.decode(errors="replace").rstrip("/").rsplit("/", 1)[-1] for arg in argv if arg]
    return " ".join(words)[:max_chars]


def rss_by_child(root_pid: int) -> dict[str, float]:
    """MB of RSS of the root alone and of each direct child's subtree, keyed by command.

    Says which part of a server (web workers, background job runners) holds the memory.
    """
    breakdown = {f"root: {_command(root_pid)}": _rss_bytes(root_pid) / 2**20}
    for child in _children_by_parent().get(root_pid, ()):
        label = f"child: {_command(child)}"
        while label in breakdown:  # identical workers: keep each, distinctly named
            label += "'"
        breakdown[label] = tree_rss_bytes(child) / 2**20
    return {label: round(mb, 1) for label, mb in breakdown.items()}


def _pss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def tree_pss_bytes(root_pid: int) -> int:
    """Summed proportional memory of a process tree: shared pages split between sharers.

    Closer to what the tree really costs than summed RSS, but reading it walks
    page tables, so it is for one-off readings, not the background sampler.
    """
    return sum(_pss_bytes(pid) for pid in tree_pids(root_pid))


class RssSampler:
    """Sample a tree's total RSS in a background thread; keep the peak.

    Use as a context manager around the phase being measured. The thread shares the
    measuring process (and its GIL), so it is kept cheap: the tree is found by a scan of
    /proc only every `rescan_s`, and in between only the known pids' statm is read.
    """

    def __init__(self, root_pid: int, interval_s: float = 0.1, rescan_s: float = 1.0) -> None:
        self.root_pid = root_pid
        self.interval_s = interval_s
        self.rescan_s = rescan_s
        self.peak_bytes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        pids: set[int] = set()
        scanned_at = -math.inf
        while not self._stop.is_set():
            if time.monotonic() - scanned_at >= self.rescan_s:
                pids = tree_pids(self.root_pid)
                scanned_at = time.monotonic()
            self.peak_bytes = max(self.peak_bytes, sum(_rss_bytes(pid) for pid in pids))
            self.samples += 1
            self._stop.wait(self.interval_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        # One last sample so a phase shorter than the interval still has a value.
        self.peak_bytes = max(self.peak_bytes, tree_rss_bytes(self.root_pid))


def remember_tree(server: ServerProcess) -> None:
    """Note the tree's current pids, so a stop still finds workers that were re-parented."""
    for pid in tree_pids(server.pid):
        started = _start_time(pid)
        if started is not None:
            server.seen.setdefault(pid, started)


def _still_ours(pid: int, started: int) -> bool:
    fields = _stat_fields(pid)
    if fields is None:
        return False
    # A zombie has exited already; a different start time means the pid was reused.
    return fields[0] != "Z" and int(fields[19]) == started


def _signal_ours(server: ServerProcess, sig: signal.Signals) -> None:
    for pid, started in server.seen.items():
        if _still_ours(pid, started):
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


def _any_ours_alive(server: ServerProcess) -> bool:
    return any(_still_ours(pid, started) for pid, started in server.seen.items())


def stop_tree(server: ServerProcess, grace_s: float = 10.0) -> None:
    """Stop the server and every process it started: SIGTERM, then SIGKILL.

    Signals the process group (the server was started in its own session) and
    also each pid seen in the tree, in case a worker moved to a group of its own.
    """
    remember_tree(server)
    if server.process.poll() is None:
        # While our child is unreaped its pid (the group id) cannot be reused.
        try:
            os.killpg(server.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    _signal_ours(server, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        server.process.poll()  # reap our direct child so it does not stay a zombie
        if not _any_ours_alive(server):
            break
        time.sleep(0.1)
    else:
        _signal_ours(server, signal.SIGKILL)
    try:
        server.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def settled_rss_bytes(root_pid: int, timeout_s: float = 20.0) -> tuple[int, int]:
    """Tree RSS once it stops moving, and how many processes the tree has then.

    A server answers before all its workers (and MLflow's job runner) have finished
    importing, so the first reading would undercount idle memory.
    """
    deadline = time.monotonic() + timeout_s
    readings: list[tuple[int, int]] = []
    while time.monotonic() < deadline:
        readings.append((len(tree_pids(root_pid)), tree_rss_bytes(root_pid)))
        if len(readings) >= 4:
            window = readings[-4:]
            same_tree = len({count for count, _ in window}) == 1
            low, high = min(r for _, r in window), max(r for _, r in window)
            if same_tree and high - low <= 0.01 * high:
                break
        time.sleep(0.5)
    count, rss = readings[-1]
    return rss, count


def keepalive_get_ms(host: str, port: int, path: str, requests: int) -> list[float]:
    """Milliseconds of each of `requests` sequential GETs on one kept-alive connection.

    Stdlib http.client with TCP_NODELAY on the client socket, so that any ~40 ms stall
    left (Nagle's algorithm meeting a delayed ACK) is the server's doing. A GET has no
    body, so the client writes each request in a single send.
    """
    import http.client

    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.connect()
        assert connection.sock is not None
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        durations_ms = []
        for _ in range(requests):
            started = time.perf_counter_ns()
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            durations_ms.append((time.perf_counter_ns() - started) / 1e6)
            if not 200 <= response.status < 300:
                raise RuntimeError(f"GET {path} answered {response.status}")
            if response.will_close:
                raise RuntimeError(f"GET {path}: the server closed the kept-alive connection")
        return durations_ms
    finally:
        connection.close()


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_s(root_pid: int, pids: set[int] | None = None) -> float:
    """CPU seconds (user + system) used so far by the living processes of a tree.

    Less moved by other work on the machine than wall time, so it says where the cost
    is when the machine is shared; a process that exits takes its share with it.
    Pass `pids` (from tree_pids) to skip the scan of /proc when the tree is known.
    """
    total_ticks = 0
    for pid in tree_pids(root_pid) if pids is None else pids:
        fields = _stat_fields(pid)
        if fields:
            total_ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return total_ticks / _CLOCK_TICKS
