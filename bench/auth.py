"""What authentication costs (issue 13): ingest through a real server with and without it, the
token check, and a sign-in.

    .venv/bin/python bench/auth.py             # about a minute on 2 cores
    .venv/bin/python bench/auth.py --quick     # a smoke run

Three measures, in one run:

- **ingest**: two real servers (``cairn.server.serve.serve``, as ``cairn server`` runs it, in
  their own processes, ``--workers`` each), one with ``require_auth=False`` and one with
  ``require_auth=True``, each on its own SQLite store. The client is the SDK a training script
  uses (``cairn.init`` with ``CAIRN_URI``; with auth also ``CAIRN_TOKEN``: the personal token
  of a user who is an editor of the project, not an admin, so every request goes through the
  role check). Each round logs ``--runs`` runs of ``--batches`` batches; a batch is
  ``--steps`` × ``run.log`` of ``--keys`` keys followed by ``run.flush()``, which waits until
  the server acknowledged it: one request per batch, so a per-request cost shows. The two
  servers take turns, ``--rounds`` rounds each, and the medians are compared (a shared
  machine's load moves single rounds by more than the 5% the target allows). The servers'
  CPU seconds are reported beside the wall times: they move much less with load.
- **token check**: ``Authenticator.token_principal`` in process on the auth store: warm (the
  one-second cache holds it) and cold (a fresh Authenticator every call, so the store is read,
  as after a revocation or once a second); microseconds, median and p99.
- **role check**: ``RolePolicy.check`` of the editor writing to the project, cached and read
  from the store (a fresh policy every call), the other half of what a request with a token
  costs;
- **sign-in**: ``Authenticator.sign_in`` with the right password, a wrong one, and a user who
  does not exist (argon2id verifies a hash each time); milliseconds. At most 10 attempts per
  user a minute are allowed, so few are timed.

Targets: ingest with a token within 5% of ingest without auth; a token check ≤ 50 µs at the
median. Progress goes to stderr; the table, then one JSON object, to stdout (``--json`` for
the JSON alone).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cairn
from _procs import LOOPBACK, ServerProcess, free_port, start_server, stop_tree, tree_cpu_s, wait_until_ready
from _stats import percentile
from cairn.core.access import ResourceKind, Role
from cairn.service.authn import Authenticator
from cairn.service.policy import Action, Principal, RolePolicy
from cairn.service.tracking import TrackingService
from cairn.store.registry import open_store

PROJECT = "auth-bench"
USER = "bench-user"
PASSWORD = "a long bench password 4711"
ADMIN = Principal("bench-admin", is_admin=True, authenticated=True)


def log(message: str) -> None:
    print(f"[auth] {message}", file=sys.stderr, flush=True)


# -- the servers ----------------------------------------------------------------------------


@dataclass
class Server:
    process: ServerProcess
    url: str
    auth: bool


def serve(store: str, blobs: str, port: int, workers: int, auth: bool) -> None:
    """The child process: ``cairn server``'s own serve() on the given settings."""
    from cairn.server.serve import serve as run
    from cairn.settings import ServerSettings

    run(ServerSettings(store_uri=store, blobs_uri=blobs, port=port, workers=workers, require_auth=auth))


@contextmanager
def server(workdir: Path, name: str, workers: int, *, auth: bool) -> Iterator[Server]:
    port = free_port()
    argv = [
        sys.executable, __file__, "--serve",
        str(workdir / f"{name}.db"), str(workdir / f"{name}-blobs"), str(port), str(workers), "1" if auth else "0",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    env["CAIRN_HOME"] = str(workdir / f"{name}-home")
    process = start_server(argv, cwd=workdir, log_path=workdir / f"{name}.log", env=env)
    try:
        url = f"http://{LOOPBACK}:{port}"
        wait_until_ready(process, f"{url}/health")
        yield Server(process, url, auth)
    finally:
        stop_tree(process)


def prepare_auth_store(uri: str) -> str:
    """A project, a user who edits it (not an admin), and that user's personal token."""
    store = open_store(uri)
    try:
        admin = TrackingService(store, ADMIN)
        admin.create_user(ADMIN.name, password=PASSWORD, is_admin=True)
        admin.create_project(PROJECT)
        admin.create_user(USER, password=PASSWORD)
        admin.grant_role(ResourceKind.PROJECT, PROJECT, USER, Role.EDITOR)
        user = TrackingService(store, Principal(USER, authenticated=True))
        return user.create_token("bench")[1]
    finally:
        store.close()


# -- ingest ---------------------------------------------------------------------------------


def ingest_round(target: Server, token: str | None, args: argparse.Namespace) -> dict[str, float]:
    """One round of runs through the SDK: wall seconds and the server tree's CPU seconds."""
    os.environ["CAIRN_URI"] = target.url
    if token is None:
        os.environ.pop("CAIRN_TOKEN", None)
    else:
        os.environ["CAIRN_TOKEN"] = token
    keys = [f"metric_{k}" for k in range(args.keys)]
    cpu_before = tree_cpu_s(target.process.pid)
    started = time.perf_counter()
    for number in range(args.runs):
        run = cairn.init(PROJECT, name=f"run-{number}", capture=False)
        step = 0
        for _batch in range(args.batches):
            for _ in range(args.steps):
                scale = 1.0 / (step + 1)
                run.log({key: scale * k for k, key in enumerate(keys)}, step=step)
                step += 1
            if not run.flush(timeout=60):
                raise RuntimeError(f"a batch did not reach the server at {target.url}")
        run.finish()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "server_cpu_s": tree_cpu_s(target.process.pid) - cpu_before}


def measure_ingest(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    token = prepare_auth_store(str(workdir / "auth.db"))
    with (
        server(workdir, "open", args.workers, auth=False) as open_server,
        server(workdir, "auth", args.workers, auth=True) as auth_server,
    ):
        _check_refuses_anonymous(auth_server.url)
        log("warm-up round on each server")
        ingest_round(open_server, None, _warm_up(args))
        ingest_round(auth_server, token, _warm_up(args))
        rounds: dict[str, list[dict[str, float]]] = {"no_auth": [], "token": []}
        for number in range(args.rounds):
            # Taking turns, the order flipped every round: a drift in the machine's load then
            # falls on both sides alike.
            order = [("no_auth", open_server, None), ("token", auth_server, token)]
            for label, target, credential in order if number % 2 == 0 else reversed(order):
                result = ingest_round(target, credential, args)
                rounds[label].append(result)
                log(f"round {number + 1} {label}: {result['seconds']:.2f} s, server CPU {result['server_cpu_s']:.2f} s")
    requests = args.runs * args.batches
    summary: dict[str, Any] = {
        "runs": args.runs,
        "batches_per_run": args.batches,
        "points_per_batch": args.steps * args.keys,
        "requests_per_round": requests,
        "rounds": args.rounds,
        "workers": args.workers,
    }
    for label, results in rounds.items():
        seconds = statistics.median(r["seconds"] for r in results)
        summary[label] = {
            "seconds_median": round(seconds, 3),
            "seconds_min": round(min(r["seconds"] for r in results), 3),
            "seconds_all": [round(r["seconds"], 3) for r in results],
            "server_cpu_s_median": round(statistics.median(r["server_cpu_s"] for r in results), 3),
            "ms_per_batch": round(seconds * 1000 / requests, 2),
        }
    summary["ratio_wall"] = round(summary["token"]["seconds_median"] / summary["no_auth"]["seconds_median"], 3)
    # The fastest round of each is the least disturbed by the rest of a shared machine.
    summary["ratio_wall_min"] = round(summary["token"]["seconds_min"] / summary["no_auth"]["seconds_min"], 3)
    summary["ratio_server_cpu"] = round(
        summary["token"]["server_cpu_s_median"] / summary["no_auth"]["server_cpu_s_median"], 3
    )
    return summary


def _check_refuses_anonymous(url: str) -> None:
    """The auth server must really ask for a token, or its figures would measure nothing."""
    answer = httpx.get(f"{url}/api/v1/projects", timeout=10)
    if answer.status_code != 401:
        raise RuntimeError(f"the auth server answered {answer.status_code} to a request without a token, not 401")


def _warm_up(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "runs": 1, "batches": min(args.batches, 5)})


# -- the token check and sign-in ------------------------------------------------------------


def measure_token_check(uri: str, calls: int) -> dict[str, Any]:
    store = open_store(uri)
    try:
        token = TrackingService(store, Principal(USER, authenticated=True)).create_token("check")[1]
        warm = Authenticator(store)
        warm.token_principal(token, LOOPBACK)  # the first use writes last_used_at and the audit event
        warm_us = _time_us(lambda: warm.token_principal(token, LOOPBACK), calls)
        cold_us = []
        for _ in range(max(calls // 20, 50)):
            fresh = Authenticator(store)  # nothing cached: the store is read, as after a revocation
            started = time.perf_counter_ns()
            fresh.token_principal(token, LOOPBACK)
            cold_us.append((time.perf_counter_ns() - started) / 1000)
        # After a revocation in this process every cached token is read again at once.
        other = TrackingService(store, Principal(USER, authenticated=True)).create_token("revoked")[0]
        warm.token_principal(token, LOOPBACK)
        TrackingService(store, ADMIN).revoke_token(other.id)
        started = time.perf_counter_ns()
        warm.token_principal(token, LOOPBACK)
        after_revocation_us = (time.perf_counter_ns() - started) / 1000
    finally:
        store.close()
    return {
        "warm_us": _summary(warm_us),
        "cold_us": _summary(cold_us),
        "after_revocation_us": round(after_revocation_us, 1),
        "calls": calls,
        "backend": "sqlite",
    }


def measure_role_check(uri: str, calls: int) -> dict[str, Any]:
    """RolePolicy.check of an editor writing to the project: cached (as every request after
    the first in a second) and read from the store (a fresh policy each call)."""
    store = open_store(uri)
    try:
        editor = Principal(USER, authenticated=True)
        warm = RolePolicy(store)
        warm.check(editor, Action.WRITE, PROJECT)
        warm_us = _time_us(lambda: warm.check(editor, Action.WRITE, PROJECT), calls)
        cold_us = []
        for _ in range(max(calls // 20, 50)):
            fresh = RolePolicy(store)
            started = time.perf_counter_ns()
            fresh.check(editor, Action.WRITE, PROJECT)
            cold_us.append((time.perf_counter_ns() - started) / 1000)
    finally:
        store.close()
    return {"warm_us": _summary(warm_us), "cold_us": _summary(cold_us)}


def measure_sign_in(uri: str) -> dict[str, Any]:
    """Right password, wrong password, unknown user: 3 + 3 attempts for the one user and 3 for
    unknown names, under the limit of 10 a minute per user (no address, so no address limit)."""
    store = open_store(uri)
    try:
        authenticator = Authenticator(store)
        times: dict[str, list[float]] = {"right_password_ms": [], "wrong_password_ms": [], "unknown_user_ms": []}
        for attempt in range(3):
            for label, name, password in (
                ("right_password_ms", USER, PASSWORD),
                ("wrong_password_ms", USER, PASSWORD + "!"),
                ("unknown_user_ms", f"nobody-{attempt}", PASSWORD),
            ):
                started = time.perf_counter()
                try:
                    authenticator.sign_in(name, password, None)
                except Exception:  # the two failures: SignInFailed, as expected
                    pass
                times[label].append((time.perf_counter() - started) * 1000)
    finally:
        store.close()
    return {label: round(statistics.median(values), 1) for label, values in times.items()}


def _time_us(call: Callable[[], object], calls: int) -> list[float]:
    clock = time.perf_counter_ns
    durations = [0.0] * calls
    for i in range(calls):
        started = clock()
        call()
        durations[i] = (clock() - started) / 1000
    return durations


def _summary(samples: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(samples), 1), "p99": round(percentile(samples, 0.99), 1)}


# -- the report -----------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    ingest = results["ingest"]
    check = results["token_check"]
    roles = results["role_check"]
    sign_in = results["sign_in"]
    ratio = ingest["ratio_wall"]
    rows = [
        ("ingest without auth, median", f"{ingest['no_auth']['seconds_median']:.2f} s", ""),
        ("ingest with a token, median", f"{ingest['token']['seconds_median']:.2f} s", ""),
        ("ingest: token / no auth (wall, medians)", f"{ratio:.3f}", "yes" if ratio <= 1.05 else "NO"),
        ("ingest: token / no auth (wall, fastest rounds)", f"{ingest['ratio_wall_min']:.3f}", ""),
        ("ingest: token / no auth (server CPU)", f"{ingest['ratio_server_cpu']:.3f}", ""),
        ("token check, cached, median / p99", f"{check['warm_us']['median']} / {check['warm_us']['p99']} µs",
         "yes" if check["warm_us"]["median"] <= 50 else "NO"),
        ("token check, store read, median / p99", f"{check['cold_us']['median']} / {check['cold_us']['p99']} µs",
         ""),
        ("token check right after a revocation", f"{check['after_revocation_us']} µs", ""),
        ("role check, cached, median / p99", f"{roles['warm_us']['median']} / {roles['warm_us']['p99']} µs", ""),
        ("role check, store read, median / p99", f"{roles['cold_us']['median']} / {roles['cold_us']['p99']} µs", ""),
        ("sign-in, right password (argon2id)", f"{sign_in['right_password_ms']} ms", ""),
        ("sign-in, wrong password", f"{sign_in['wrong_password_ms']} ms", ""),
        ("sign-in, unknown user", f"{sign_in['unknown_user_ms']} ms", ""),
    ]  # fmt: skip
    lines = [
        f"Auth: {ingest['runs']} runs x {ingest['batches_per_run']} batches of {ingest['points_per_batch']:,} "
        f"points per round, {ingest['rounds']} rounds each, {ingest['workers']} workers, SQLite",
        "",
        "| measure | value | target met |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {name} | {value} | {met} |" for name, value, met in rows]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run with smaller counts")
    parser.add_argument("--runs", type=int, default=5, help="runs per round")
    parser.add_argument("--batches", type=int, default=40, help="flushed batches per run (a request each)")
    parser.add_argument("--steps", type=int, default=100, help="run.log calls per batch")
    parser.add_argument("--keys", type=int, default=10, help="metric keys per run.log call")
    parser.add_argument("--rounds", type=int, default=5, help="rounds on each server, taking turns")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--checks", type=int, default=20_000, help="timed token checks (a twentieth cold)")
    parser.add_argument("--json", action="store_true", help="print only the JSON")
    parser.add_argument("--serve", nargs=5, metavar="X", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.batches, args.rounds, args.checks = 2, 10, 2, 2_000
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.serve:
        store, blobs, port, workers, auth = args.serve
        serve(store, blobs, int(port), int(workers), auth == "1")
        return
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="cairn-auth-bench-") as folder:
        workdir = Path(folder)
        os.environ["CAIRN_HOME"] = str(workdir / "client-home")
        os.environ["CAIRN_CAPTURE"] = "0"
        results: dict[str, Any] = {"ingest": measure_ingest(workdir, args)}
        log("timing the token check")
        results["token_check"] = measure_token_check(str(workdir / "auth.db"), args.checks)
        log("timing the role check")
        results["role_check"] = measure_role_check(str(workdir / "auth.db"), args.checks)
        log("timing sign-in")
        results["sign_in"] = measure_sign_in(str(workdir / "auth.db"))
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_1min_before": round(load_before, 2),
        "loadavg_1min_after": round(os.getloadavg()[0], 2),
    }
    if not args.json:
        print(table(results))
        print()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
