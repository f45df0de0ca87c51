"""Where MLflow's client looks for its API (no imports: server/errors.py reads these too)."""

from __future__ import annotations

#: MLflow's REST API, and the same under the prefix its web UI calls.
API_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow", "/api/3.0/mlflow", "/ajax-api/3.0/mlflow")
#: The artifact proxy that ``mlflow-artifacts:`` URIs resolve to.
ARTIFACTS_PREFIX = "/api/2.0/mlflow-artifacts"

_ALL = (*API_PREFIXES, ARTIFACTS_PREFIX)


def is_mlflow_path(path: str) -> bool:
    """Whether a request is the MLflow client's, to be answered in MLflow's error envelope."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in _ALL)
