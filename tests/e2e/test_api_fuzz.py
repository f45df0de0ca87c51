"""Schemathesis against the published OpenAPI document, over HTTP to a running server.

Whatever a client sends, the answer is never a 5xx, and every 4xx carries the one error
envelope ``{"error": {"code", "message", "details"}}`` that the Python client decodes into a
typed exception. Examples are bounded per operation and derandomized, so a run is repeatable.

Not included: the stateful phase. Its scenarios share the server's state, so a replay meets a
different server (the project it created the first time now exists) and Hypothesis stops with
FlakyStrategyDefinition. Instead, half of the well-formed run ids and project names are pointed
at a run that exists, which takes single calls past the 404.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from cairn.client.http import HttpTracking
from cairn.core import binary_batch
from cairn.core.entities import Run
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.server.app import create_app
from cairn.settings import ServerSettings

if TYPE_CHECKING:
    from tests.conftest import ThreadedServer

EXAMPLES_PER_OPERATION = 25


def error_envelope(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> bool:
    """A 4xx body is ``{"error": {"code": str, "message": str, "details": {...}}}``, only."""
    if not 400 <= response.status_code < 500:
        return True
    try:
        body: Any = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    error = body.get("error") if isinstance(body, dict) and set(body) == {"error"} else None
    if not (
        isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and isinstance(error.get("message"), str)
        and isinstance(error.get("details"), dict)
    ):
        raise AssertionError(f"{response.status_code} answered with {response.content[:500]!r}")
    return True


def _published_document() -> dict[str, Any]:
    """What GET /api/v1/openapi.json answers, rendered by an app over a throwaway store.

    The schema must exist when pytest collects the module, before any fixture runs; the lazy
    ``schemathesis.pytest.from_fixture`` would avoid that, but schemathesis 4.32 reads
    ``Item._nodeid``, which pytest 9 no longer has.
    """
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        app = create_app(ServerSettings(store_uri=str(folder / "openapi.db"), blobs_uri=str(folder / "blobs")))
        try:
            return app.openapi()
        finally:
            app.state.tracking.close()


# The SDK's packed metric batches are bytes: fuzz them as arbitrary binary bodies, which the
# decoder must refuse with a 400 envelope whatever they hold.
schemathesis.serializer.alias(binary_batch.MEDIA_TYPE, "application/octet-stream")
schema = schemathesis.openapi.from_dict(_published_document())


@pytest.fixture
def existing_run(server: ThreadedServer) -> Run:
    """A run with a param, a tag and a metric, for the fuzzer to aim at."""
    tracking = HttpTracking(server.url)
    try:
        run = tracking.create_run("fuzzed", config={"lr": 0.1}, tags={"team": "a"})
        loss = MetricColumns("loss", np.arange(3), np.zeros(3, np.int64), np.ones(3))
        tracking.log_metrics(run.id, MetricBatch("fuzz", 0, [loss]))
        return run
    finally:
        tracking.close()


def _aim_at(case: schemathesis.Case, run: Run) -> None:
    """Point half of the well-formed run ids and project names at ones that exist.

    Random ones are almost never found, and the fuzzer would test little past the 404. Which
    half depends only on the generated value, so the run stays reproducible.
    """
    for parameters, name, value in (
        (case.path_parameters, "run_id", run.id),
        (case.query, "project", run.project),
    ):
        generated = (parameters or {}).get(name)
        if isinstance(generated, str) and 0 < len(generated) <= 64 and len(generated) % 2 == 0:
            parameters[name] = value


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    # One server for all the examples of an operation, on purpose: what earlier requests
    # created is there for later ones to trip over.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_server_errors_and_one_error_envelope(
    case: schemathesis.Case, server: ThreadedServer, existing_run: Run
) -> None:
    _aim_at(case, existing_run)
    case.call_and_validate(base_url=server.url, checks=[not_a_server_error, error_envelope])
