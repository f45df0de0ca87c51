"""Request and response shapes of the two serving protocols, to and from model input.

- MLflow's scoring protocol (``POST /invocations``): a JSON object with exactly one of
  ``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs`` (and optional
  ``params``), or a ``text/csv`` body; the answer is ``{"predictions": [...]}``.
- The Open Inference Protocol V2 (KServe, MLServer): ``{"inputs": [{"name", "shape",
  "datatype", "data"}], "parameters"?, "id"?}``; inputs named after the signature's columns
  form a table (MLServer's pandas codec); one 2-D input is rows in the signature's column
  order; the answer is ``{"model_name", "model_version", "id", "outputs": [...]}``.

Parsing only reshapes: the signature check itself is ``cairn.core.models.signature.enforce``,
which the server runs on each request before batching, so one bad request never fails the
others of its batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cairn.core.models.signature import Signature


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    """One request's input, not yet checked against the signature.

    Exactly one of ``columns`` (a table: column name → values, every column ``rows`` long)
    and ``tensor`` (an array whose first dimension is ``rows``) is set.
    """

    columns: dict[str, Any] | None
    tensor: np.ndarray[Any, Any] | None
    rows: int
    params: dict[str, Any] = field(default_factory=dict)
    #: V2 only: the request's ``id``, echoed in the answer.
    request_id: str | None = None


def parse_invocations(body: bytes, content_type: str | None, signature: Signature | None) -> ParsedRequest:
    """An MLflow ``/invocations`` body (JSON or CSV, by ``content_type``).

    Raises InvalidRequest (400) naming the field for a malformed body, two MLflow keys or
    none, ragged columns; UnsupportedMediaType (415) for another content type; InvalidRequest
    for a body that is not UTF-8."""
    raise NotImplementedError


def parse_v2_infer(body: bytes, signature: Signature | None) -> ParsedRequest:
    """An Open Inference Protocol V2 ``infer`` body. Raises InvalidRequest naming the input
    (``details.field``) when a shape does not match its data, a datatype is unknown, or the
    inputs neither name the signature's columns nor form one 2-D table."""
    raise NotImplementedError


def predictions_to_json(predictions: Any) -> Any:
    """A model's output as JSON values (numpy arrays, pandas frames and series, dicts of
    arrays, scalars), as MLflow's ``{"predictions": ...}`` holds it."""
    raise NotImplementedError


def v2_outputs(predictions: Any) -> list[dict[str, Any]]:
    """A model's output as V2 ``outputs``: ``[{"name", "shape", "datatype", "data"}]`` (one
    output named ``predict`` for an array; one per key for a dict of arrays)."""
    raise NotImplementedError
