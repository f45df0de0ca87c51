"""``cairn.log_prediction_labels``: the ground truth of a served model's predictions, from
Python (docs/monitoring.md, "Labels").

The call opens the store (``uri``, else ``CAIRN_URI``, else the embedded store), acts as the
configured user and closes it again, as ``cairn.register_model`` does: the embedded store is
written in this process, a server (``http(s)://``) through its REST API.

    # the request ids cairn serve answered with (the V2 "id", or the one it made)
    cairn.log_prediction_labels("churn", 3, ids=["a1", "a2"], labels=[1, 0])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cairn.client.connect import connect, resolve_uri
from cairn.core.prediction_labels import PredictionLabelFile


def log_prediction_labels(
    model: str,
    version: int,
    ids: Sequence[str],
    labels: Sequence[Any],
    timestamps: Sequence[int] | None = None,
    *,
    uri: str | None = None,
) -> PredictionLabelFile:
    """Label the version's logged predictions by request id: one label per id (all numbers or
    all text), each known at ``timestamps`` (ms since the epoch; now when not given). A later
    label of an id replaces the earlier one. Raises InvalidPredictionLabels, and
    UnknownPredictionIds when an id was never logged (then nothing is kept)."""
    tracking = connect(resolve_uri(uri))
    try:
        return tracking.log_prediction_labels(model, version, ids, labels, timestamps)
    finally:
        tracking.close()
