"""Fixtures shared by the whole suite.

``tracking`` is the contract fixture: the same test runs against embedded SQLite, an HTTP
client talking to a real in-process server on a loopback port (backed by SQLite), the same with
authentication required and an admin's API token (``http-auth``), and PostgreSQL.
``postgres_url`` is a fresh database for this test session, dropped at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from tests.access_helpers import SIGNED_IN, TESTER, Team
from tests.helpers import IN_CI, POSTGRES_URL, ThreadedServer, free_port

from cairn.blobs.local import LocalBlobStore
from cairn.client import lifecycle
from cairn.client.http import HttpTracking
from cairn.service.interface import Tracking
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.settings import ServerSettings
from cairn.store.sql import SqlStore


@pytest.fixture(autouse=True)
def clean_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own CAIRN_HOME and no CAIRN_URI/CAIRN_TOKEN/CAIRN_USER from the caller.

    Automatic capture (code, environment, console, system metrics) is off unless a test turns
    it on (tests/client/test_capture_run.py does): other tests check exactly what they logged."""
    home = tmp_path / "cairn-home"
    monkeypatch.setenv("CAIRN_HOME", str(home))
    monkeypatch.setenv("CAIRN_CAPTURE", "0")
    monkeypatch.delenv("CAIRN_URI", raising=False)
    monkeypatch.delenv("CAIRN_TOKEN", raising=False)
    monkeypatch.delenv("CAIRN_USER", raising=False)
    yield home
    # Runs an integration finished in the background end within the test that made them: their
    # last warnings belong to its captured output, not to a later test's.
    lifecycle.wait_for_closing(timeout=60)


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
                "TRUNCATE sso_logins, sign_in_attempts, grants, team_members, teams, sessions, api_tokens, users, "
                "review_comments, review_votes, review_check_results, reviews, alias_protection_checks, "
                "alias_protections, webhook_attempts, webhook_deliveries, webhook_event_types, webhooks, events, "
                "prediction_logs, registered_models, snapshot_files, snapshots, blobs, ingest_batches, "
                "metric_summaries, metric_chunks, tags, params, runs, projects CASCADE"
            )
        store.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ThreadedServer]:
    settings = ServerSettings(
        store_uri=str(tmp_path / "server.db"), blobs_uri=str(tmp_path / "blobs"), port=free_port()
    )
    with ThreadedServer(settings) as running:
        yield running


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[ThreadedServer]:
    """A server that requires authentication (``require_auth=True``); make users and tokens
    with ``Team(auth_server.app.state.tracking.store)`` (tests/access_helpers.py)."""
    settings = ServerSettings(
        store_uri=str(tmp_path / "server.db"),
        blobs_uri=str(tmp_path / "blobs"),
        port=free_port(),
        require_auth=True,
    )
    with ThreadedServer(settings) as running:
        yield running


# -- the contract fixture --------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "http", "http-auth", pytest.param("postgres", marks=pytest.mark.postgres)])
def tracking(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tracking]:
    """The tracking interface on each backend; the contract suite must pass on all four.

    ``http-auth`` signs in with a global admin's token (the user "tester", as embedded), so every
    request also passes the token check and the role policy; ``CAIRN_TOKEN`` holds it for the SDK
    (``cairn.init(uri=URL)``), and tests.contract.helpers.acting_as gives colleagues tokens."""
    backend: Tracking
    blobs = LocalBlobStore(tmp_path / "blobs")
    if request.param == "sqlite":
        backend = TrackingService(SqlStore(str(tmp_path / "embedded.db")), Principal(TESTER), blobs=blobs)
    elif request.param == "http":
        running = request.getfixturevalue("server")
        backend = HttpTracking(running.url)
    elif request.param == "http-auth":
        running = request.getfixturevalue("auth_server")
        team = Team(running.app.state.tracking.store)
        token = team.user(TESTER, is_admin=True, password=None)
        SIGNED_IN[running.url] = team
        monkeypatch.setenv("CAIRN_TOKEN", token)
        backend = HttpTracking(running.url, token=token)
    else:
        backend = TrackingService(request.getfixturevalue("postgres_store"), Principal(TESTER), blobs=blobs)
    try:
        yield backend
    finally:
        if request.param.startswith("http"):
            SIGNED_IN.pop(backend.base_url, None)  # type: ignore[attr-defined]
            backend.close()
        elif request.param == "sqlite":
            backend.close()


# -- S3: moto's server on a loopback port, spoken to over real HTTP ---------------------------


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of moto's S3 server, running in a thread for the whole session.

    boto3 finds dummy credentials in the environment meanwhile, and nothing from the
    caller's ``~/.aws``. Tests pass the URL as ``endpoint_url`` themselves.
    """
    import logging

    from moto.server import ThreadedMotoServer

    aws_home = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_CONFIG_FILE", str(aws_home / "config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws_home / "credentials"))
        requests_log = logging.getLogger("werkzeug")  # a line per request otherwise
        level = requests_log.level
        requests_log.setLevel(logging.WARNING)
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        host, port = moto.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            moto.stop()
            requests_log.setLevel(level)


@pytest.fixture
def s3_bucket_uri(s3_endpoint: str) -> Iterator[str]:
    """``s3://<a new bucket>/prefix`` on the moto server; the bucket is emptied and removed after."""
    import boto3

    bucket = f"cairn-test-{uuid.uuid4().hex[:16]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint)  # the default session: models read once
    client.create_bucket(Bucket=bucket)
    try:
        yield f"s3://{bucket}/prefix"
    finally:
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for upload in page.get("Uploads", []):
                client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=obj["Key"])
        client.delete_bucket(Bucket=bucket)
        client.close()
