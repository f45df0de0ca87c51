"""MLflow's error envelope, ``{"error_code": ..., "message": ...}``, with its codes and statuses.

MLflow's client turns the envelope into an ``MlflowException`` carrying ``error_code``, and
user code branches on it (``RESOURCE_DOES_NOT_EXIST`` is how ``mlflow.set_experiment`` learns it
must create one). Cairn's errors keep their stable codes inside; this module only says which
MLflow code and status each one is on these routes.
"""

from __future__ import annotations

from cairn.core import errors as cairn_errors
from cairn.core.errors import CairnError
from cairn.server.jsonresponse import JsonResponse

INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
PERMISSION_DENIED = "PERMISSION_DENIED"
UNAUTHENTICATED = "UNAUTHENTICATED"
INVALID_STATE = "INVALID_STATE"
BAD_REQUEST = "BAD_REQUEST"
INTERNAL_ERROR = "INTERNAL_ERROR"
TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"
REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
NOT_IMPLEMENTED = "NOT_IMPLEMENTED"

#: The HTTP status MLflow's server answers each code with (mlflow.protos.databricks).
STATUS = {
    INVALID_PARAMETER_VALUE: 400,
    BAD_REQUEST: 400,
    INVALID_STATE: 400,
    RESOURCE_ALREADY_EXISTS: 400,
    RESOURCE_DOES_NOT_EXIST: 404,
    ENDPOINT_NOT_FOUND: 404,
    UNAUTHENTICATED: 401,
    PERMISSION_DENIED: 403,
    REQUEST_LIMIT_EXCEEDED: 429,
    INTERNAL_ERROR: 500,
    TEMPORARILY_UNAVAILABLE: 503,
    NOT_IMPLEMENTED: 501,
}


class MlflowApiError(Exception):
    """An error only the MLflow API has, raised with the MLflow code to answer (Cairn's own
    errors are translated by :func:`mlflow_code`; this is not one of them)."""

    def __init__(self, message: str, mlflow_code: str = INVALID_PARAMETER_VALUE) -> None:
        super().__init__(message)
        self.message = message
        self.mlflow_code = mlflow_code


def mlflow_code(error: CairnError) -> str:
    """The MLflow code of a Cairn error, by what kind of error it is."""
    if isinstance(error, cairn_errors.Unauthenticated):
        return UNAUTHENTICATED
    if isinstance(error, cairn_errors.PermissionDenied):
        return PERMISSION_DENIED
    if isinstance(error, cairn_errors.NotFound):
        return RESOURCE_DOES_NOT_EXIST
    if isinstance(error, cairn_errors.AlreadyExists):
        return RESOURCE_ALREADY_EXISTS
    if error.http_status == 409:
        return INVALID_STATE
    if error.http_status == 429:
        return REQUEST_LIMIT_EXCEEDED
    if error.http_status == 503:
        return TEMPORARILY_UNAVAILABLE
    if error.http_status < 500:
        return INVALID_PARAMETER_VALUE
    return INTERNAL_ERROR


def mlflow_error_response(error: CairnError | MlflowApiError) -> JsonResponse:
    code = error.mlflow_code if isinstance(error, MlflowApiError) else mlflow_code(error)
    return mlflow_envelope_response(code, error.message)


def mlflow_envelope_response(code: str, message: str) -> JsonResponse:
    return JsonResponse({"error_code": code, "message": message}, status_code=STATUS[code])
