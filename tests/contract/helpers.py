"""Small builders shared by the contract tests."""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterator, Sequence

import numpy as np
from tests.access_helpers import SIGNED_IN, TESTER

from cairn.client.http import HttpTracking
from cairn.core.entities import ParamValue
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.core.models.manifest import Framework, ModelManifest, manifest_to_json
from cairn.core.models.signature import signature_from_wire
from cairn.service.interface import Tracking
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService

_seq = itertools.count()


def columns(key: str, steps: Sequence[int], values: Sequence[float | str]) -> MetricColumns:
    """Validated columns, as the SDK builds them; timestamps are derived from the steps."""
    return MetricColumns.from_lists(key, list(steps), [1_000 + abs(s) for s in steps], list(values))


def raw_columns(key: str, steps: np.ndarray, values: np.ndarray) -> MetricColumns:
    """Columns built without validation, to see what a backend itself refuses."""
    return MetricColumns(
        key=key,
        steps=steps,
        timestamps=np.full(steps.shape, 1_000, dtype=np.int64),
        values=values,
    )


def batch(*cols: MetricColumns, client_id: str = "test-client", seq: int | None = None) -> MetricBatch:
    """A batch with a fresh sequence number unless one is given."""
    return MetricBatch(client_id=client_id, seq=next(_seq) if seq is None else seq, columns=list(cols))


def same_param(got: ParamValue, expected: ParamValue) -> bool:
    """Exactly the same typed value: same type, and floats bit for bit (NaN equals NaN)."""
    if type(got) is not type(expected):
        return False
    if isinstance(got, float) and isinstance(expected, float):
        if math.isnan(got) or math.isnan(expected):
            return math.isnan(got) and math.isnan(expected)
        return np.float64(got).view(np.uint64) == np.float64(expected).view(np.uint64)
    return got == expected


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Float64 arrays equal bit for bit, except that any NaN matches any NaN."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    if not np.array_equal(nan_a, nan_b):
        return False
    return bool(np.array_equal(a[~nan_a].view(np.uint64), b[~nan_b].view(np.uint64)))


SIGNATURE = {"inputs": [{"name": "x", "type": "double"}], "outputs": [{"name": "y", "type": "integer"}]}


def manifest_json(files: dict[str, str], *, flavor: str = "python_function", signature: object = SIGNATURE) -> bytes:
    """A cairn-model.json as the packaging writes it (docs/models.md)."""
    manifest = ModelManifest(
        flavor=flavor,
        loader={"format": "cloudpickle", "runs_code_on_load": True},
        framework=Framework("cloudpickle", "3.0.0"),
        python="3.11.7",
        signature=None if signature is None else signature_from_wire(signature),
        files=files,
    )
    return manifest_to_json(manifest)


def signed_in(tracking: Tracking) -> bool:
    """Whether the backend talks to a server that requires sign-in (``http-auth``)."""
    return isinstance(tracking, HttpTracking) and tracking.base_url in SIGNED_IN


def author_of(tracking: Tracking) -> str:
    """Who the backend acts as: the fixture's principal, the admin whose token it sends to a
    server with authentication, or "anonymous" for one without."""
    if isinstance(tracking, TrackingService):
        return tracking.principal.name
    assert isinstance(tracking, HttpTracking)
    return TESTER if tracking.base_url in SIGNED_IN else "anonymous"


@contextlib.contextmanager
def acting_as(tracking: Tracking, name: str) -> Iterator[Tracking]:
    """The same backend acting as the user ``name``: the service for another principal, or an
    HTTP client that names them in ``X-Cairn-User`` (or, where the server requires
    authentication, sends the token of a global admin of that name, made on first use)."""
    if isinstance(tracking, HttpTracking):
        team = SIGNED_IN.get(tracking.base_url)
        if team is None:
            other = HttpTracking(tracking.base_url, user=name)
        else:
            if name not in team.tokens:
                team.user(name, is_admin=True, password=None)
            other = HttpTracking(tracking.base_url, token=team.token(name))
        try:
            yield other
        finally:
            other.close()
    else:
        assert isinstance(tracking, TrackingService)
        yield tracking.acting_as(Principal(name))
