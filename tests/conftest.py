"""Fixtures shared by the whole suite.

``tracking`` is the contract fixture: the same test runs against embedded SQLite, an HTTP
client talking to a real in-process server on a loopback port (backed by SQLite), and
PostgreSQL. ``postgres_url`` is a fresh database for this test session, dropped at the end.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from cairn.client.http import HttpTracking
from cairn.service.interface import Tracking
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.settings import ServerSettings
from cairn.store.sql import SqlStore

POSTGRES_URL = os.environ.get("CAIRN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def clean_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own CAIRN_HOME and no CAIRN_URI/CAIRN_TOKEN from the caller."""
    home = tmp_path / "cairn-home"
    monkeypatch.setenv("CAIRN_HOME", str(home))
    monkeypatch.delenv("CAIRN_URI", raising=False)
    monkeypatch.delenv("CAIRN_TOKEN", raising=False)
    return home


# -- PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A new database on the test PostgreSQL server, for this session only."""
    admin_url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except sqlalchemy.exc.OperationalError as exc:
        message = f"PostgreSQL is not reachable at {POSTGRES_URL} (set CAIRN_TEST_POSTGRES_URL): {exc.orig}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    name = f"cairn_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[SqlStore]:
    """The session's PostgreSQL store, emptied after each test."""
    store = SqlStore(postgres_url)
    try:
        yield store
    finally:
        with store._engines.write.begin() as connection:
            connection.exec_driver_sql(
                "TRUNCATE ingest_batches, metric_summaries, metric_chunks, tags, params, runs, projects CASCADE"
            )
        store.close()


# -- an in-process server on a loopback port -------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadedServer:
    """Cairn's real app under uvicorn, in a thread of the test process."""

    def __init__(self, settings: ServerSettings) -> None:
        import uvicorn

        from cairn.server.app import create_app

        self.app = create_app(settings)
        self.url = f"http://127.0.0.1:{settings.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=settings.port, log_level="error", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.app.state.tracking.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ThreadedServer]:
    settings = ServerSettings(
        store_uri=str(tmp_path / "server.db"), blobs_uri=str(tmp_path / "blobs"), port=free_port()
    )
    with ThreadedServer(settings) as running:
        yield running


# -- the contract fixture --------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "http", pytest.param("postgres", marks=pytest.mark.postgres)])
def tracking(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Tracking]:
    """The tracking interface on each backend; the contract suite must pass on all three."""
    backend: Tracking
    if request.param == "sqlite":
        backend = TrackingService(SqlStore(str(tmp_path / "embedded.db")), Principal("tester"))
    elif request.param == "http":
        running = request.getfixturevalue("server")
        backend = HttpTracking(running.url)
    else:
        backend = TrackingService(request.getfixturevalue("postgres_store"), Principal("tester"))
    try:
        yield backend
    finally:
        if request.param == "http":
            backend.close()
        elif request.param == "sqlite":
            backend.close()
