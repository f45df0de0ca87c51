"""Schemathesis against the published OpenAPI document, over HTTP to a running server.

The document must be true, and this test is what holds it so: the routes return raw JSON from
:mod:`cairn.core.wire`, which no model checks on the way out. For every generated request:

- the answer is never a 5xx, and every 4xx carries the one error envelope
  ``{"error": {"code", "message", "details"}}`` that the Python client decodes;
- its status, content type and body are ones the document gives for that operation
  (``status_code_conformance``, ``content_type_conformance``, ``response_schema_conformance``);
- a request the document calls invalid is refused (``negative_data_rejection``), and a request
  it calls valid is not refused with a 400 (``positive_data_acceptance``), except for the few
  rules JSON Schema cannot state (:func:`beyond_the_schema`).

Examples are bounded per operation and derandomized, so a run is repeatable.

Not included: the stateful phase. Its scenarios share the server's state, so a replay meets a
different server (the project it created the first time now exists) and Hypothesis stops with
FlakyStrategyDefinition. Instead, half of the well-formed run ids and project names are pointed
at a run that exists, which takes single calls past the 404.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import numpy as np
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, assume, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from cairn.client.http import HttpTracking
from cairn.core import binary_batch, prediction_logs
from cairn.core.entities import Run
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.core.reviews import Review
from cairn.server.app import create_app
from cairn.settings import ServerSettings

if TYPE_CHECKING:
    from tests.helpers import ThreadedServer

EXAMPLES_PER_OPERATION = 25
RESPONSE_TIMEOUT_S = 60


#: Bytes of a request line uvicorn (httptools) reads, and of a query httpx sends.
REQUEST_LINE_LIMIT = 65_000


def _error(response: schemathesis.Response) -> dict[str, Any] | None:
    try:
        body: Any = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    error = body.get("error") if isinstance(body, dict) and set(body) == {"error"} else None
    return error if isinstance(error, dict) else None


def error_envelope(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> bool:
    """A 4xx body is ``{"error": {"code": str, "message": str, "details": {...}}}``, only."""
    if not 400 <= response.status_code < 500:
        return True
    error = _error(response)
    if not (
        error is not None
        and isinstance(error.get("code"), str)
        and isinstance(error.get("message"), str)
        and isinstance(error.get("details"), dict)
    ):
        raise AssertionError(f"{response.status_code} answered with {response.content[:500]!r}")
    return True


def beyond_the_schema(case: schemathesis.Case, response: schemathesis.Response) -> bool:
    """Whether a 400 refuses a schema-valid request for a rule JSON Schema cannot state.

    Each is a relation between values, or a language of its own: the query grammar
    (docs/query.md), page tokens only the server can make, bytes that must hash to the digest
    they are sent under, the packed metric format, columns of equal length, paths unique within
    one request, a prediction log's Parquet file, labels of the ids given and of one kind (all
    numbers or all text) for predictions that were logged, a run's end after its start, an alias
    that reads as a version, a monitor's window of whole hours up to 31 days and its alias or
    version (not both) and its drift settings, thresholds and reference, a webhook URL's
    host (a name, an address, where it resolves) and a ``whsec_`` secret's base64, a password on
    a service account, a common password, a token's expiry against the clock, and a config whose
    nested keys, once joined with dots, or whose lists, once written as JSON text, outgrow their
    limits. And one difference
    of dialect: JSON Schema counts 2.0 as an integer, Cairn does not (docs/limits.md).
    """
    error = _error(response)
    if response.status_code != 400 or error is None:
        return False
    code, message, details = error.get("code"), str(error.get("message")), error.get("details") or {}
    if code in ("invalid_query", "invalid_page_token", "digest_mismatch", "invalid_prediction_log"):
        return True
    if code == "unknown_prediction_ids" or (
        code == "invalid_prediction_labels" and ("differ in length" in message or "not a mix" in message)
    ):
        return True
    if code == "invalid_prediction_labels" and case.media_type == prediction_logs.MEDIA_TYPE:
        return True  # labels as a Parquet file, which arbitrary bytes are not
    if "page_token" in message:
        return True
    if case.media_type == binary_batch.MEDIA_TYPE:
        return True
    if set(details) == {"steps", "timestamps", "values"} or "appears twice" in message:
        return True
    if "cannot end before it started" in message:
        return True
    if case.operation.path == "/api/v1/models/{name}/monitors" and code == "invalid_value":
        return True  # drift settings, thresholds and reference: free-form objects (monitor_schemas.py)
    if "reads as a version" in message or details.get("field") == "window" or "not both" in message:
        return True  # an alias such as v3 or latest; a window's length; a monitor's alias or version
    if "service account" in message or "too common" in message or "expiry" in message or "at most a year" in message:
        return True
    if code == "webhook_url_refused" or details.get("field") in ("url", "secret"):
        return True
    if "integer" in message and _holds_an_integral_float(case.body):
        return True
    if _holds_an_integer_of_65_bits(case.body):
        # Not the document: Schemathesis compares big integers as floats, so it takes
        # 2^63 + 190 for one below the exclusiveMaximum 2^63.
        return True
    key = details.get("key")
    flattened = isinstance(key, str) and ("." in key or "…" in key)
    return flattened and case.operation.path in ("/api/v1/runs", "/api/v1/runs/{run_id}/params")


def _holds_an_integer_of_65_bits(value: object) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return not -(2**63) <= value < 2**63
    if isinstance(value, dict):
        return any(_holds_an_integer_of_65_bits(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_an_integer_of_65_bits(item) for item in value)
    return False


def _holds_an_integral_float(value: object) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(_holds_an_integral_float(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_an_integral_float(item) for item in value)
    return False


def positive_data_within_the_schema(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """``positive_data_acceptance``, but for the refusals of :func:`beyond_the_schema`."""
    if beyond_the_schema(case, response):
        return True
    return positive_data_acceptance(ctx, response, case)


CHECKS = [
    not_a_server_error,
    error_envelope,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_within_the_schema,
]


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
# Prediction logs likewise: arbitrary bytes, which the server must refuse as a Parquet file.
schemathesis.serializer.alias(prediction_logs.MEDIA_TYPE, "application/octet-stream")
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


@pytest.fixture
def existing_review(server: ThreadedServer, existing_run: Run, tmp_path: Path) -> Review:
    """A model registered twice from the run, @champion protected, and an open review of
    version 2 for it (by another user, so the fuzzer, anonymous, may vote on it)."""
    from tests.contract.test_registry import log_model_folder

    tracking = HttpTracking(server.url, user="fuzz-author")
    try:
        log_model_folder(tracking, existing_run.id, tmp_path)
        for _ in range(2):
            tracking.register_model(f"runs:/{existing_run.id}/model", REVIEWED_MODEL)
        tracking.set_model_alias(REVIEWED_MODEL, "champion", 1)
        tracking.protect_alias(REVIEWED_MODEL, "champion", approvals=1, checks=["metrics.loss >= 0"])
        return tracking.open_review(REVIEWED_MODEL, 2, "champion")
    finally:
        tracking.close()


#: The registered model the review routes are aimed at.
REVIEWED_MODEL = "fuzzed"


def _aim_at(case: schemathesis.Case, run: Run, review: Review) -> None:
    """Point half of the well-formed run ids, project names and review ids at ones that exist,
    and half of the model names of the review and protection routes at the reviewed model.

    Random ones are almost never found, and the fuzzer would test little past the 404. Which
    half depends only on the generated value, so the run stays reproducible.
    """
    reviewing = "/reviews" in case.operation.path or "/protections" in case.operation.path
    for parameters, name, value in (
        (case.path_parameters, "run_id", run.id),
        (case.query, "project", run.project),
        *(((case.path_parameters, "name", REVIEWED_MODEL), (case.query, "model", REVIEWED_MODEL)) if reviewing else ()),
    ):
        generated = (parameters or {}).get(name)
        if isinstance(generated, str) and 0 < len(generated) <= 64 and len(generated) % 2 == 0:
            parameters[name] = value
    generated_id = (case.path_parameters or {}).get("review_id")
    if isinstance(generated_id, int) and not isinstance(generated_id, bool) and generated_id % 2 == 0:
        case.path_parameters["review_id"] = review.id


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
def test_answers_are_what_the_document_says(
    case: schemathesis.Case, server: ThreadedServer, existing_run: Run, existing_review: Review
) -> None:
    _aim_at(case, existing_run, existing_review)
    # HTTP's own software reads a request line of at most 64 KiB (uvicorn answers a longer one
    # in plain text before any route runs, and httpx will not send one): a query of 10,000
    # characters that are each 4 UTF-8 bytes, percent-encoded, is past it. Not Cairn's to answer.
    assume(len(urlencode(case.query or {}, doseq=True, quote_via=quote)) < REQUEST_LINE_LIMIT)
    # Schemathesis gives an answer 10 s by default: CI's two cores, busy with the rest of the
    # suite, once took longer to answer one; a slow answer is not what this test is about.
    case.call_and_validate(base_url=server.url, checks=CHECKS, timeout=RESPONSE_TIMEOUT_S)
