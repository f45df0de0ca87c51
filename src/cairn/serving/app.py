"""The HTTP face of ``cairn serve``: MLflow's scoring protocol and the Open Inference
Protocol V2 in front of one model (docs/serving.md).

A request is read (up to the body limit), parsed by ``payloads``, checked against the
signature of the model it was given to (``enforce``: a bad payload is a 400 naming the column,
before it reaches the model or a batch), predicted by the micro-batcher, and answered with
``X-Cairn-Model-Version`` naming the version that predicted it. Every error is Cairn's JSON
envelope with a stable code; nothing a client sends makes a 500.

Starlette rather than FastAPI: these few routes take raw bodies in two protocols, and the
per-request cost of a validation layer would be most of a one-row prediction.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from cairn.client.models.loaded import tensor_to_model, to_frame
from cairn.core.addresses import AllowedHosts, host_name
from cairn.core.errors import CairnError, InvalidHost, InvalidRequest, NotFound, PayloadTooLarge
from cairn.core.models.signature import ColumnSchema, Schema, enforce
from cairn.serving import payloads
from cairn.serving.batching import MicroBatcher
from cairn.serving.follow import AliasFollower, ModelSlot
from cairn.serving.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from cairn.serving.metrics import ServingMetrics
from cairn.serving.model_source import ServedModel

log = logging.getLogger("cairn.serve")

VERSION_HEADER = "x-cairn-model-version"
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class ServeOptions:
    max_batch_size: int = 32
    max_batch_wait_ms: float = 0.0
    max_body_bytes: int = 64 * 1024 * 1024
    #: The address bound to, and the host names answered besides it and loopback names.
    host: str = "127.0.0.1"
    allowed_hosts: tuple[str, ...] = ()


@dataclass(slots=True)
class CheckedInput:
    """One request's input after the signature check: what its batch is made of."""

    columns: dict[str, Any] | None
    tensor: np.ndarray[Any, Any] | None
    rows: int


class PredictionLog(Protocol):
    """What the app hands each answered prediction to (``prediction_log.PredictionLogger``)."""

    def offer(self, served: ServedModel, request: payloads.ParsedRequest, outputs: Any, latency_ms: float) -> None: ...

    def counters(self) -> dict[str, int]: ...

    def close(self) -> None: ...


#: What predicting one request gives: the model that answered, the request, its outputs, ms.
Prediction = tuple[ServedModel, payloads.ParsedRequest, Any, float]


class ServingApp:
    """The state behind the routes: the model slot, the batcher, the metrics."""

    def __init__(
        self,
        slot: ModelSlot,
        options: ServeOptions,
        *,
        follower: AliasFollower | None = None,
        prediction_log: PredictionLog | None = None,
        metrics: ServingMetrics | None = None,
    ) -> None:
        self.slot = slot
        self.options = options
        self.follower = follower
        self.prediction_log = prediction_log
        self.metrics = metrics or ServingMetrics()
        self.batcher = MicroBatcher(
            predict_checked,
            max_size=options.max_batch_size,
            max_wait_seconds=options.max_batch_wait_ms / 1000,
            on_batch=self.metrics.batch_rows.observe,
        )
        model = slot.model
        self.metrics.serving(model_name(model), model.label)

    def swapped(self, old: ServedModel, new: ServedModel) -> None:
        self.metrics.swaps.inc()
        self.metrics.serving(model_name(new), new.label, previous=(model_name(old), old.label))

    # -- predicting --------------------------------------------------------------------

    async def predict(self, parse: Callable[[ServedModel], payloads.ParsedRequest]) -> Prediction:
        """Parse with the model serving now, check, predict: (model, request, outputs, ms)."""
        started = time.perf_counter()
        served = self.slot.model  # this request's model, whatever swaps meanwhile
        request = parse(served)
        checked = check(served, request)
        outputs = await self.batcher.predict(served, checked, checked.rows)
        latency_ms = (time.perf_counter() - started) * 1000
        if self.prediction_log is not None:
            self.prediction_log.offer(served, request, outputs, latency_ms)
        return served, request, outputs, latency_ms

    async def close(self) -> None:
        if self.follower is not None:
            self.follower.stop()
        self.batcher.close()
        if self.prediction_log is not None:
            # Flushing what is queued may take seconds; the loop keeps answering meanwhile.
            await asyncio.to_thread(self.prediction_log.close)


def model_name(served: ServedModel) -> str:
    """The name clients address the model by (V2's ``{name}``): the registered model's name,
    else the folder's."""
    return served.location.name or served.folder.name


def check(served: ServedModel, request: payloads.ParsedRequest) -> CheckedInput:
    """The request's input checked against the model's signature (SignatureMismatch, a 400
    naming the column, otherwise); as given when the model has no signature."""
    signature = served.loaded.signature
    if signature is None:
        return CheckedInput(request.columns, request.tensor, request.rows)
    enforced = enforce(signature.inputs, request.columns if request.columns is not None else request.tensor)
    return CheckedInput(enforced.columns, enforced.tensor, request.rows)


def predict_checked(served: ServedModel, inputs: Sequence[CheckedInput]) -> Sequence[Any]:
    """One call of the model for the requests' checked inputs; each request's share of the
    predictions, in order. Runs on the batcher's thread."""
    first = inputs[0]
    if first.tensor is not None:
        tensor = first.tensor if len(inputs) == 1 else np.concatenate([i.tensor for i in inputs])
        signature = served.loaded.signature
        # text as LoadedModel.predict hands it (a list of strings); any other tensor as it is
        data: Any = tensor if signature is None else tensor_to_model(signature.inputs, tensor)
    else:
        assert first.columns is not None
        names = list(first.columns)
        if any(list(i.columns or ()) != names for i in inputs[1:]):
            raise ValueError("requests with other columns cannot share a batch")
        columns = first.columns if len(inputs) == 1 else {n: _concat([i.columns[n] for i in inputs]) for n in names}  # type: ignore[index]
        data = to_frame(columns)  # the frame LoadedModel.predict would hand the flavor
    predictions = served.loaded.model.predict(data)
    if len(inputs) == 1:
        return [predictions]
    return payloads.split_predictions(predictions, [i.rows for i in inputs])


def _concat(parts: list[Any]) -> Any:
    if all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate(parts)
    return [value for part in parts for value in part]


# -- routes -------------------------------------------------------------------------------


def _json(content: Any, served: ServedModel | None = None, status: int = 200) -> Response:
    headers = {VERSION_HEADER: served.label} if served is not None else None
    body = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def error_response(error: CairnError, served: ServedModel | None) -> Response:
    envelope = error.to_envelope()
    # MLflow's scoring clients read these two; Cairn's own read "error".
    envelope["error_code"] = "BAD_REQUEST" if error.http_status < 500 else "INTERNAL_ERROR"
    envelope["message"] = error.message
    return _json(envelope, served, error.http_status)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is known to pass ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than the limit of {limit} bytes", details={"limit": limit})
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than the limit of {limit} bytes", details={"limit": limit})
        parts.append(chunk)
    return b"".join(parts)


Handler = Callable[[ServingApp, Request], Awaitable[Response]]


def endpoint(name: str, handler: Handler, state: ServingApp) -> Callable[[Request], Awaitable[Response]]:
    """``handler`` with metrics, and Cairn's errors turned into the envelope."""
    metrics = state.metrics
    latency = metrics.latency.labels(name)

    async def route(request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = await handler(state, request)
        except CairnError as error:
            response = error_response(error, state.slot.model)
        except Exception:
            log.exception("%s failed", name)
            response = error_response(CairnError("the model failed to predict; see the server's log"), state.slot.model)
        metrics.requests.labels(name, str(response.status_code)).inc()
        latency.observe(time.perf_counter() - started)
        return response

    return route


async def invocations(state: ServingApp, request: Request) -> Response:
    body = await read_body(request, state.options.max_body_bytes)
    content_type = request.headers.get("content-type")
    served, _, outputs, _ = await state.predict(
        lambda model: payloads.parse_invocations(body, content_type, model.loaded.signature)
    )
    return _json({"predictions": payloads.predictions_to_json(outputs)}, served)


async def v2_infer(state: ServingApp, request: Request) -> Response:
    served = _addressed(state, request)
    body = await read_body(request, state.options.max_body_bytes)
    served, parsed, outputs, _ = await state.predict(
        lambda model: payloads.parse_v2_infer(body, model.loaded.signature)
    )
    answer = {
        "model_name": model_name(served),
        "model_version": served.label,
        "id": parsed.request_id or str(uuid.uuid4()),
        "parameters": {},
        "outputs": payloads.v2_outputs(outputs),
    }
    return _json(answer, served)


def _addressed(state: ServingApp, request: Request) -> ServedModel:
    """The served model, if the path names it (and its version, when it names one)."""
    served = state.slot.model
    name = request.path_params["name"]
    version = request.path_params.get("version")
    if name != model_name(served) or (version is not None and version != served.label):
        wanted = name + (f" version {version}" if version is not None else "")
        raise NotFound(
            f"this server serves {model_name(served)} version {served.label}, not {wanted}",
            details={"model": name, "served": model_name(served)},
        )
    return served


async def v2_model_metadata(state: ServingApp, request: Request) -> Response:
    served = _addressed(state, request)
    signature = served.loaded.signature
    return _json(
        {
            "name": model_name(served),
            "versions": [served.label],
            "platform": f"cairn-{served.loaded.flavor}",
            "inputs": v2_tensors(signature.inputs) if signature else [],
            "outputs": v2_tensors(signature.outputs) if signature and signature.outputs else [],
        },
        served,
    )


async def v2_model_ready(state: ServingApp, request: Request) -> Response:
    return _json({"name": model_name(_addressed(state, request)), "ready": True}, state.slot.model)


async def v2_server_metadata(state: ServingApp, request: Request) -> Response:
    from cairn.core.version import __version__

    return _json({"name": "cairn", "version": __version__, "extensions": []}, state.slot.model)


async def live(state: ServingApp, request: Request) -> Response:
    return _json({"live": True}, state.slot.model)


async def ready(state: ServingApp, request: Request) -> Response:
    # The port opens only once the model is loaded, so a process that answers is ready.
    return _json({"ready": True}, state.slot.model)


async def health(state: ServingApp, request: Request) -> Response:
    served = state.slot.model
    failure = state.slot.failure
    answer: dict[str, Any] = {
        "status": "ok" if failure is None else "degraded",
        "model": model_name(served),
        "version": served.label,
        "alias": served.location.alias,
    }
    if failure is not None:
        answer["error"] = {"version": failure.version, "message": failure.error, "at": failure.at_ms}
    return _json(answer, served)


async def ping(state: ServingApp, request: Request) -> Response:
    """MLflow's health check: an empty 200 once the model is loaded."""
    return Response(b"\n", media_type=JSON, headers={VERSION_HEADER: state.slot.model.label})


async def metadata(state: ServingApp, request: Request) -> Response:
    served = state.slot.model
    manifest = served.loaded.manifest
    signature = manifest.signature
    from cairn.core.models.signature import signature_to_wire

    return _json(
        {
            "model": model_name(served),
            "version": served.location.version,
            "alias": served.location.alias,
            "uri": served.location.uri,
            "run_id": served.location.run_id,
            "flavor": manifest.flavor,
            "framework": {"name": manifest.framework.name, "version": manifest.framework.version},
            "signature": signature_to_wire(signature) if signature is not None else None,
            "requirements": list(manifest.requirements),
        },
        served,
    )


async def metrics(state: ServingApp, request: Request) -> Response:
    if state.prediction_log is not None:
        state.metrics.count_prediction_log(state.prediction_log.counters())
    return Response(state.metrics.exposition(), media_type=METRICS_CONTENT_TYPE)


_V2_TYPES = {
    "boolean": "BOOL",
    "integer": "INT64",
    "float": "FP32",
    "double": "FP64",
    "string": "BYTES",
    "binary": "BYTES",
    "datetime": "BYTES",
}


def v2_tensors(schema: Schema) -> list[dict[str, Any]]:
    """A schema as V2 metadata tensors: a column each, or the one tensor."""
    if isinstance(schema, ColumnSchema):
        return [{"name": c.name, "datatype": _V2_TYPES[c.type], "shape": [-1, 1]} for c in schema.columns]
    return [{"name": "input", "datatype": payloads.v2_datatype(np.dtype(schema.dtype)), "shape": list(schema.shape)}]


# -- the application ---------------------------------------------------------------------


class HostCheck:
    """Answers only the hosts the server is (the same rule as ``cairn server``'s, against DNS
    rebinding: core/addresses.py), so a web page cannot reach the model through a name of its
    own. ``/health`` and ``/ping`` are exempt: load balancers probe them with any host."""

    EXEMPT = frozenset({"/health", "/ping", "/v2/health/live", "/v2/health/ready"})

    def __init__(self, app: ASGIApp, hosts: AllowedHosts) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.hosts.any and scope["path"] not in self.EXEMPT:
            header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
            if not self.hosts.allows(host_name(header)):
                error = InvalidHost(
                    f"this server does not answer to the host {header[:200]!r}; start it with "
                    "--allowed-hosts naming that host",
                    details={"host": header[:200]},
                )
                await error_response(error, None)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_app(state: ServingApp) -> ASGIApp:
    def route(path: str, name: str, handler: Handler, methods: list[str]) -> Route:
        return Route(path, endpoint(name, handler, state), methods=methods)

    routes = [
        route("/invocations", "invocations", invocations, ["POST"]),
        route("/ping", "ping", ping, ["GET"]),
        route("/health", "health", health, ["GET"]),
        route("/metadata", "metadata", metadata, ["GET"]),
        route("/metrics", "metrics", metrics, ["GET"]),
        route("/v2", "v2_server", v2_server_metadata, ["GET"]),
        route("/v2/health/live", "v2_live", live, ["GET"]),
        route("/v2/health/ready", "v2_ready", ready, ["GET"]),
        route("/v2/models/{name}", "v2_model", v2_model_metadata, ["GET"]),
        route("/v2/models/{name}/ready", "v2_model_ready", v2_model_ready, ["GET"]),
        route("/v2/models/{name}/infer", "v2_infer", v2_infer, ["POST"]),
        route("/v2/models/{name}/versions/{version}", "v2_model", v2_model_metadata, ["GET"]),
        route("/v2/models/{name}/versions/{version}/infer", "v2_infer", v2_infer, ["POST"]),
    ]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> Any:
        if state.follower is not None:
            state.follower.start()
        try:
            yield
        finally:
            await state.close()

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: _not_found, 405: _not_allowed})
    return HostCheck(app, AllowedHosts(state.options.host, state.options.allowed_hosts))


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(NotFound(f"no such endpoint: {request.url.path[:200]}"), None)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    error = InvalidRequest(f"{request.method} is not allowed on {request.url.path[:200]}")
    response = error_response(error, None)
    response.status_code = 405
    return response
