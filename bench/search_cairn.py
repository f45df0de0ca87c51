"""The Cairn half of the search benchmark: `Api(uri).runs(...)` and `.groups(...)` over 100,000 runs.

Run with the project venv's interpreter:

    .venv/bin/python bench/search_cairn.py > search-cairn.json
    .venv/bin/python bench/search_cairn.py --postgres ''      # SQLite only

The runs (bench/search_data.py, the same data the MLflow half loads) are not created through
the SDK: `cairn.store.sql.SqlStore(uri)` creates the schema with Cairn's migrations and the
project, then the runs, params, param_pairs, tags and metric_summaries rows are bulk-inserted as Cairn's
store writes them (metric_chunks stay empty: search reads summaries only). The SQLite database
is kept in bench/results/search-cache/ and reused by the next run; the PostgreSQL one is a
scratch database, created, loaded and dropped on every run.

Everything is timed in this process against the store (no server), like the MLflow half, and
every answer is checked against the generator's expected one. Progress goes to stderr; one
JSON object goes to stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import math
import os
import platform
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cairn
import search_data as data
from cairn.client.connect import connect
from cairn.store.sql import schema as t
from cairn.store.sql import similar
from cairn.store.sql.runs import _param_row
from cairn.store.sql.similar import pair_rows
from cairn.store.sql.store import SqlStore

try:  # the duplicate check's fingerprint (issue 4); NULL fingerprints before it existed
    from cairn.core.fingerprint import fingerprint
except ImportError:  # pragma: no cover - older trees
    fingerprint = None  # type: ignore[assignment]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MIGRATIONS_DIR = Path(cairn.__file__).resolve().parent / "store" / "sql" / "migrations" / "versions"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
LOAD_CHUNK_RUNS = 5_000
#: The tables loaded, in an order that satisfies the foreign keys.
TABLES = ("runs", "params", "param_pairs", "tags", "metric_summaries")
DUPLICATE_REPEATS = 50


def log(message: str) -> None:
    print(f"[search_cairn] {message}", file=sys.stderr, flush=True)


# -- the rows ---------------------------------------------------------------------------------


def schema_key() -> str:
    """Changes whenever the schema could: the head revision and the migrations' source."""
    h = hashlib.sha256(t.SCHEMA_HEAD.encode())
    for path in sorted(MIGRATIONS_DIR.glob("*.py")):
        h.update(path.name.encode() + path.read_bytes())
    h.update(b"fingerprint" if fingerprint is not None else b"no-fingerprint")
    # The loader writes param_pairs with the store's own hash of each param (only the hash:
    # a change to how candidates are chosen does not make the cached data stale).
    h.update(inspect.getsource(similar.pair_hash).encode())
    return h.hexdigest()[:12]


COLUMNS = {name: [c.name for c in getattr(t, name).columns] for name in TABLES}


_RUN_ID_AT = {name: COLUMNS[name].index("run_id") for name in TABLES if name != "runs"}
#: (key, type, value) -> the param row `_param_row` makes, without its run id: the values come
#: from small sets, so 2,000,000 rows need only a few thousand calls.
_PARAM_ROWS: dict[tuple[str, type, Any], tuple[tuple[Any, ...], tuple[Any, ...]]] = {}


def _param_tuple(run_id: str, key: str, value: Any) -> tuple[Any, ...]:
    memo_key = (key, type(value), value)
    halves = _PARAM_ROWS.get(memo_key)
    if halves is None:
        row = tuple(_param_row("", key, value)[c] for c in COLUMNS["params"])
        at = _RUN_ID_AT["params"]
        halves = _PARAM_ROWS[memo_key] = (row[:at], row[at + 1 :])
    return halves[0] + (run_id,) + halves[1]


def _ordered(table: str, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c] for c in COLUMNS[table])


def run_rows(chunk: list[data.SyntheticRun], project_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """The rows Cairn's store writes for these runs (create_run, log_params, set_tags, the
    metric summaries an ingest keeps), as tuples in each table's column order."""
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLES}
    for run in chunk:
        run_row = {
            "id": run.id,
            "project_id": project_id,
            "name": run.name,
            "user_name": run.user,
            "status": run.status,
            "start_time": run.start_time,
            "end_time": run.end_time,
            "parent_id": None,
            "notes": "",
            "deleted": False,
            "fingerprint": fingerprint(run.params) if fingerprint is not None else None,
        }
        rows["runs"].append(_ordered("runs", run_row))
        rows["params"].extend(_param_tuple(run.id, key, value) for key, value in run.params.items())
        rows["param_pairs"].extend(
            _ordered("param_pairs", row) for row in pair_rows(run.id, project_id, run.start_time, run.params)
        )
        rows["tags"].extend(
            _ordered("tags", {"run_id": run.id, "key": key, "value": value}) for key, value in run.tags.items()
        )
        rows["metric_summaries"].extend(
            _ordered(
                "metric_summaries",
                {
                    "run_id": run.id,
                    "project_id": project_id,
                    "key": key,
                    "last_value": m.last,
                    "last_step": m.last_step,
                    "last_timestamp": m.last_timestamp,
                    "min_value": m.min,
                    "max_value": m.max,
                    "count": m.count,
                },
            )
            for key, m in run.metrics.items()
        )
    return rows


#: The first ``n`` runs of a data set, oldest first: the search data (data.runs) by default.
RunSource = Callable[[int], Iterator[data.SyntheticRun]]


def chunks(n: int, source: RunSource = data.runs) -> Iterator[list[data.SyntheticRun]]:
    chunk: list[data.SyntheticRun] = []
    for run in source(n):
        chunk.append(run)
        if len(chunk) == LOAD_CHUNK_RUNS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def create_schema(uri: str) -> str:
    """Cairn's own migrations and create_project; returns the project id."""
    store = SqlStore(uri)
    try:
        return store.create_project(data.PROJECT, "search benchmark: synthetic runs").id
    finally:
        store.close()


# -- SQLite -----------------------------------------------------------------------------------


def sqlite_path(cache: Path, n: int) -> Path:
    return cache / f"cairn-{schema_key()}-{n}.db"


def load_sqlite(path: Path, n: int, source: RunSource = data.runs) -> dict[str, Any]:
    temporary = path.with_name(path.name + f".loading{os.getpid()}")
    for leftover in (temporary, Path(f"{temporary}-wal"), Path(f"{temporary}-shm")):
        leftover.unlink(missing_ok=True)
    temporary.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        project_id = create_schema(str(temporary))
        schema_s = time.perf_counter() - started
        connection = sqlite3.connect(temporary, isolation_level=None)
        try:
            # The file is renamed into place only once loaded: no fsync while loading.
            connection.execute("PRAGMA synchronous=OFF")
            connection.execute("PRAGMA cache_size=-1000000")
            counts = dict.fromkeys(TABLES, 0)
            connection.execute("BEGIN")
            for chunk in chunks(n, source):
                for table, rows in run_rows(chunk, project_id).items():
                    columns = COLUMNS[table]
                    connection.executemany(
                        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows
                    )
                    counts[table] += len(rows)
            connection.execute("COMMIT")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
    except BaseException:
        for leftover in (temporary, Path(f"{temporary}-wal"), Path(f"{temporary}-shm")):
            leftover.unlink(missing_ok=True)
        raise
    temporary.replace(path)
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "schema_s": round(schema_s, 1),
        "rows": counts,
        "bytes": path.stat().st_size,
        "fingerprints": fingerprint is not None,
        "method": "SqlStore(uri) creates the schema (Cairn's migrations) and the project; then one sqlite3 "
        "transaction of executemany INSERTs into runs, params, param_pairs, tags and metric_summaries",
    }


def ensure_sqlite(cache: Path, n: int) -> tuple[Path, dict[str, Any]]:
    path = sqlite_path(cache, n)
    if path.exists():
        log(f"reusing {path}")
        return path, {"cached": True, "bytes": path.stat().st_size, "runs": n}
    log(f"loading {n:,} runs into {path}")
    info = load_sqlite(path, n)
    log(f"loaded {n:,} runs into SQLite in {info['seconds']} s")
    removed = data.prune(path, f"cairn-*-{n}.db*")
    if removed:
        log(f"removed stale cached databases: {', '.join(removed)}")
    return path, {**info, "runs": n}


# -- PostgreSQL -------------------------------------------------------------------------------


def _database_uri(server_uri: str, database: str) -> str:
    base, _, _ = server_uri.rpartition("/")
    return f"{base}/{database}"


def _psycopg_uri(uri: str) -> str:
    return uri.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def scratch_database(server_uri: str) -> Iterator[str]:
    """A new, empty database on the server, dropped on the way out; yields its URI."""
    import psycopg

    name = f"cairn_bench_search_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(_psycopg_uri(server_uri), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _database_uri(server_uri, name)
    finally:
        with psycopg.connect(_psycopg_uri(server_uri), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log(f"dropped the scratch database {name}")


def load_postgres(uri: str, n: int, source: RunSource = data.runs) -> dict[str, Any]:
    """Cairn's schema, then COPY of every row; secondary indexes are dropped for the copy and
    built again from their own definitions afterwards (faster than maintaining them row by row)."""
    import psycopg

    started = time.perf_counter()
    project_id = create_schema(uri)
    schema_s = time.perf_counter() - started
    counts = dict.fromkeys(TABLES, 0)
    with psycopg.connect(_psycopg_uri(uri)) as connection:
        connection.execute("SET maintenance_work_mem = '512MB'")
        # The rows are consistent by construction: skip the per-row foreign-key triggers.
        connection.execute("SET session_replication_role = replica")
        indexes = connection.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = 'public' AND i.tablename = ANY(%s) AND i.indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))",
            (list(TABLES),),
        ).fetchall()
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        with connection.cursor() as cursor:
            for chunk in chunks(n, source):
                for table, rows in run_rows(chunk, project_id).items():
                    with cursor.copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                    counts[table] += len(rows)
        copied_at = time.perf_counter()
        for _, definition in indexes:
            connection.execute(definition)
        connection.commit()
    indexed_at = time.perf_counter()
    with psycopg.connect(_psycopg_uri(uri), autocommit=True) as connection:
        # What autovacuum does on its own soon after a bulk load: statistics for the planner
        # and the visibility map for index-only scans. Done here so the timings do not depend
        # on when it happens to run.
        connection.execute("VACUUM (ANALYZE)")
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "schema_s": round(schema_s, 1),
        "copy_s": round(copied_at - started - schema_s, 1),
        "index_s": round(indexed_at - copied_at, 1),
        "vacuum_analyze_s": round(time.perf_counter() - indexed_at, 1),
        "rows": counts,
        "fingerprints": fingerprint is not None,
        "runs": n,
        "method": "SqlStore(uri) creates the schema and the project; secondary indexes dropped, COPY into runs, "
        "params, param_pairs, tags and metric_summaries with foreign-key triggers off "
        "(session_replication_role = replica), "
        "the indexes built again from pg_indexes' definitions, then VACUUM (ANALYZE)",
    }


# -- checks -----------------------------------------------------------------------------------


def verify(uri: str, n: int) -> int:
    """Read a few runs back through `cairn.Api(uri).run`: every field must be as generated."""
    wanted = {0, n // 3, n // 2, n - 2, n - 1}
    checked = 0
    with cairn.Api(uri) as api:
        for run in data.runs(max(wanted) + 1):
            if run.index not in wanted:
                continue
            got = api.run(run.id)
            problems = []
            if (got.name, got.user, got.status.value, got.project) != (run.name, run.user, run.status, data.PROJECT):
                problems.append(f"attributes {got.name} {got.user} {got.status} {got.project}")
            if (got.start_time, got.end_time) != (run.start_time, run.end_time):
                problems.append("times")
            if dict(got.params) != run.params or any(type(got.params[k]) is not type(v) for k, v in run.params.items()):
                problems.append(f"params {dict(got.params)}")
            if dict(got.tags) != run.tags:
                problems.append(f"tags {dict(got.tags)}")
            for key, m in run.metrics.items():
                s = got.metrics.get(key)
                if s is None or (s.last, s.min, s.max, s.count, s.last_step) != (
                    m.last,
                    m.min,
                    m.max,
                    m.count,
                    m.last_step,
                ):
                    problems.append(f"metric {key}: {s}")
            if fingerprint is not None and getattr(got, "fingerprint", fingerprint(run.params)) != fingerprint(
                run.params
            ):
                problems.append("fingerprint")
            if problems:
                raise RuntimeError(f"run {run.id} reads back wrong through cairn.Api().run: {problems}")
            checked += 1
    return checked


def check_ids(key: str, expected: dict[str, Any]) -> Callable[[list[str]], None]:
    def check(ids: list[str]) -> None:
        if ids != expected[key]["first_ids"]:
            raise RuntimeError(f"Cairn's answer to {key} differs from the expected one")

    return check


def check_groups(expected: dict[str, Any]) -> Callable[[dict[str, dict[str, float]]], None]:
    def check(groups: dict[str, dict[str, float]]) -> None:
        want = expected["group_by"]["groups"]
        if set(groups) != set(want) or any(
            groups[g]["count"] != want[g]["count"] or not math.isclose(groups[g]["mean"], want[g]["mean"], rel_tol=1e-9)
            for g in want
        ):
            raise RuntimeError(f"Cairn's group means differ from the expected ones: {groups}")

    return check


# -- timing -----------------------------------------------------------------------------------


def measure_queries(uri: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    expected = data.expected(n, args.cache_dir)
    results: dict[str, Any] = {}
    with cairn.Api(uri) as api:
        for key, where, order_by, _about in data.CAIRN_QUERIES:

            def call(where: str | None = where, order_by: str | None = order_by) -> list[str]:
                found = api.runs(data.PROJECT, where=where or "", order_by=order_by or "", limit=data.LIMIT)
                return [run.id for run in found]

            timing = data.time_query(call, check_ids(key, expected), repeats=args.repeats, budget_s=args.budget_s)
            timing.update(
                runs=n,
                where=where,
                order_by=order_by,
                matched=expected[key]["matched"],
                call=f"cairn.Api(uri).runs({data.PROJECT!r}, where={where or ''!r}, order_by={order_by or ''!r}, "
                f"limit={data.LIMIT})",
            )
            results[key] = timing
            log(f"{key}: p50 {timing['p50_ms']} ms, p95 {timing['p95_ms']} ms")

        def group() -> dict[str, dict[str, float]]:
            found = api.groups(data.PROJECT, data.GROUP_BY, data.GROUP_METRIC, where=data.GROUP_WHERE)
            return {str(g.value): {"count": g.count, "mean": g.mean} for g in found}

        timing = data.time_query(group, check_groups(expected), repeats=args.repeats, budget_s=args.budget_s)
        timing.update(
            runs=n,
            where=data.GROUP_WHERE,
            group_by=data.GROUP_BY,
            metric=data.GROUP_METRIC,
            matched=expected["group_by"]["matched"],
            call=f"cairn.Api(uri).groups({data.PROJECT!r}, group_by={data.GROUP_BY!r}, metric={data.GROUP_METRIC!r}, "
            f"where={data.GROUP_WHERE!r}): count, mean, min and max per group, computed by the database",
        )
        results["group_by"] = timing
        log(f"group_by: p50 {timing['p50_ms']} ms, p95 {timing['p95_ms']} ms")
    return results


def a_finished_run(n: int) -> data.SyntheticRun:
    """A finished run from the middle of the set: the config `cairn.init` is given again."""
    for run in data.runs(n // 2 + 100):
        if run.index >= n // 2 and run.status == "finished":
            return run
    raise RuntimeError("no finished run")


def measure_duplicates(uri: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """The lookup `cairn.init(project, config=..., on_duplicate=...)` makes before creating a run."""
    if fingerprint is None:
        return {"skipped": "cairn.core.fingerprint does not exist yet", "pending": True}
    tracking = connect(uri)
    if not hasattr(tracking, "find_duplicates"):
        tracking.close()
        return {"skipped": "Tracking.find_duplicates does not exist yet", "pending": True}
    earlier = a_finished_run(n)
    digest = fingerprint(earlier.params)
    fresh = dict(earlier.params, seed=123_456)  # a config nobody ran: the usual case
    fresh_digest = fingerprint(fresh)

    def check_hit(found: list[Any]) -> None:
        if [r.id for r in found] != [earlier.id]:
            raise RuntimeError(f"find_duplicates found {[r.id for r in found]}, not {earlier.id}")

    def check_miss(found: list[Any]) -> None:
        if found:
            raise RuntimeError("find_duplicates found a run for a config nobody ran")

    try:
        hit = data.time_query(
            lambda: tracking.find_duplicates(data.PROJECT, digest, 5),
            check_hit,
            repeats=DUPLICATE_REPEATS,
            budget_s=args.budget_s,
        )
        miss = data.time_query(
            lambda: tracking.find_duplicates(data.PROJECT, fresh_digest, 5),
            check_miss,
            repeats=DUPLICATE_REPEATS,
            budget_s=args.budget_s,
        )
    finally:
        tracking.close()

    def init_skip() -> Any:
        # The whole of cairn.init on a duplicate with on_duplicate="skip": connecting (opening
        # the store), fingerprinting, the lookup; nothing is written.
        return cairn.init(data.PROJECT, config=earlier.params, uri=uri, on_duplicate="skip")

    def check_skipped(run: Any) -> None:
        if not getattr(run, "skipped", False):
            raise RuntimeError("cairn.init did not skip a duplicate config")

    whole = data.time_query(init_skip, check_skipped, repeats=args.repeats, budget_s=args.budget_s)
    hit.update(
        runs=n,
        miss_p50_ms=miss["p50_ms"],
        miss_p95_ms=miss["p95_ms"],
        init_skip_p50_ms=whole["p50_ms"],
        init_skip_p95_ms=whole["p95_ms"],
        call=f"Tracking.find_duplicates({data.PROJECT!r}, fingerprint(params), 5), the lookup cairn.init makes, "
        f"with the params of an existing finished run (miss_*: a config nobody ran); init_skip_*: the whole "
        f"cairn.init(project, config=params, uri=uri, on_duplicate='skip'), store opening included",
    )
    log(f"duplicate lookup: p50 {hit['p50_ms']} ms (miss {miss['p50_ms']} ms, whole init {whole['p50_ms']} ms)")
    return hit


def measure_run_page(uri: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """The dashboard's run page of the newest run (99,999 earlier runs to be near), and the
    similar-runs request behind its "similar runs" card, through the real app in this process
    (ASGI, no socket): what the server spends answering them."""
    import warnings

    from fastapi.testclient import TestClient

    from cairn.server.app import create_app
    from cairn.settings import ServerSettings

    newest = data.runs_at(n, n - 1)
    with tempfile.TemporaryDirectory(prefix="cairn-bench-run-page-") as blobs:
        app = create_app(ServerSettings(store_uri=uri, blobs_uri=blobs))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Starlette's notice about TestClient's httpx
            # localhost: the server answers only to the hosts it is bound to (DNS rebinding).
            client = TestClient(app, base_url="http://localhost")

        def page() -> str:
            response = client.get(f"/runs/{newest.id}")
            response.raise_for_status()
            return response.text

        def check_page(html: str) -> None:
            if newest.name not in html or "similar" not in html.lower():
                raise RuntimeError("the run page does not show the run and its similar runs")

        def similar_request() -> list[Any]:
            response = client.get(f"/api/v1/runs/{newest.id}/similar", params={"limit": 3})
            response.raise_for_status()
            found: list[Any] = response.json()["runs"]
            return found

        def check_similar(found: list[Any]) -> None:
            if len(found) != 3:
                raise RuntimeError(f"similar runs: {len(found)} instead of 3")

        try:
            run_page = data.time_query(page, check_page, repeats=args.repeats, budget_s=args.budget_s)
            similar_ms = data.time_query(similar_request, check_similar, repeats=args.repeats, budget_s=args.budget_s)
        finally:
            client.close()
            app.state.tracking.close()
    run_page.update(runs=n, call=f"GET /runs/{{id}} of the newest run ({n - 1:,} earlier runs), in process")
    similar_ms.update(runs=n, call="GET /api/v1/runs/{id}/similar?limit=3 of the newest run, in process")
    log(f"run page: p50 {run_page['p50_ms']} ms; similar: p50 {similar_ms['p50_ms']} ms")
    return {"run_page_ms": run_page, "similar_ms": similar_ms}


def measure_backend(uri: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    verified = verify(uri, n)
    log(f"verified {verified} runs through cairn.Api().run")
    return {
        "verified_runs": verified,
        "queries": measure_queries(uri, n, args),
        "duplicate_lookup_ms": measure_duplicates(uri, n, args),
        **measure_run_page(uri, n, args),
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"tool": "cairn", "version": cairn.__version__}
    load_before = os.getloadavg()[0]
    path, load_info = ensure_sqlite(args.cache_dir, args.runs)
    results["sqlite"] = {"load": load_info, **measure_backend(str(path), args.runs, args)}
    if args.postgres:
        try:
            with scratch_database(args.postgres) as uri:
                log(f"loading {args.runs:,} runs into a scratch PostgreSQL database")
                load_info = load_postgres(uri, args.runs)
                log(f"loaded {args.runs:,} runs into PostgreSQL in {load_info['seconds']} s")
                results["postgresql"] = {"load": load_info, **measure_backend(uri, args.runs, args)}
        except Exception as exc:  # the SQLite half stands on its own
            if not args.require_postgres:
                log(f"PostgreSQL: {type(exc).__name__}: {exc}")
                results["postgresql"] = {"skipped": f"{type(exc).__name__}: {exc}"}
            else:
                raise
    else:
        results["postgresql"] = {"skipped": "no --postgres server given"}
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_1min_before": round(load_before, 2),
        "loadavg_1min_after": round(os.getloadavg()[0], 2),
    }
    results["note"] = "cairn.Api(uri) on a store URI opens the store in this process: no server, like the MLflow half"
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=data.RUNS)
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per query after one warm-up")
    parser.add_argument("--budget-s", type=float, default=10.0, help="stop repeating a query after this long")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("CAIRN_BENCH_POSTGRES", DEFAULT_POSTGRES),
        help="a PostgreSQL server URI (a scratch database is created there and dropped); '' to skip",
    )
    parser.add_argument("--require-postgres", action="store_true", help="fail instead of skipping PostgreSQL")
    parser.add_argument("--cache-dir", type=Path, default=data.cache_dir(RESULTS_DIR))
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # SystemExit runs the finally blocks: the scratch database is dropped.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cairn-bench-search-") as home:
        # cairn.init runs here too: whatever it might keep goes to a temporary CAIRN_HOME.
        os.environ["CAIRN_HOME"] = home
        os.environ.pop("CAIRN_URI", None)
        results = measure(args)
    results["bench_wall_s"] = round(time.monotonic() - started, 1)
    log(f"done in {results['bench_wall_s']} s")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
