"""Every error Cairn raises on purpose, each with a stable ``code`` and an HTTP status.

The server turns any of these into one JSON envelope,
``{"error": {"code": ..., "message": ..., "details": ...}}``, and the HTTP client turns the
envelope back into the same class through :func:`error_class_for_code`, so a caller catches
``ParamConflict`` whether it logged in-process or through a server.

    CairnError                      internal_error        500
    ├── InvalidInput                invalid_input         400
    │   ├── InvalidKey              invalid_key           400
    │   ├── InvalidValue            invalid_value         400
    │   │   └── WebhookUrlRefused   webhook_url_refused   400
    │   ├── InvalidRequest          invalid_request       400
    │   │   └── InvalidPageToken    invalid_page_token    400
    │   ├── InvalidHost             invalid_host          400
    │   ├── InvalidQuery            invalid_query         400
    │   ├── InvalidArtifactPath     invalid_artifact_path 400
    │   ├── DigestMismatch          digest_mismatch       400
    │   │   └── ModelTampered       model_tampered        400
    │   ├── PayloadTooLarge         payload_too_large     413
    │   ├── InvalidManifest         invalid_manifest      400
    │   ├── InvalidModelUri         invalid_model_uri     400
    │   ├── SignatureMismatch       signature_mismatch    400
    │   ├── FlavorError             flavor_error          400
    │   │   └── FrameworkNotInstalled framework_not_installed 400
    │   ├── UnsupportedMediaType    unsupported_media_type 415
    │   ├── InvalidBatchInput       invalid_batch_input   400
    │   ├── InvalidPredictionLog    invalid_prediction_log 400
    │   │   └── InvalidPredictionTime invalid_prediction_time 400
    │   ├── InvalidPredictionLabels invalid_prediction_labels 400
    │   ├── UnknownPredictionIds    unknown_prediction_ids 400
    │   └── InvalidEventFile        invalid_event_file    400
    ├── NotFound                    not_found             404
    │   ├── ProjectNotFound         project_not_found     404
    │   ├── RunNotFound             run_not_found         404
    │   ├── ArtifactNotFound        artifact_not_found    404
    │   ├── BlobNotFound            blob_not_found        404
    │   ├── UploadNotFound          upload_not_found      404
    │   ├── DatasetNotFound         dataset_not_found     404
    │   ├── CommentNotFound         comment_not_found     404
    │   ├── ViewNotFound            view_not_found        404
    │   ├── ModelNotFound           model_not_found       404
    │   ├── ModelVersionNotFound    model_version_not_found 404
    │   ├── AliasNotFound           alias_not_found       404
    │   ├── ProtectionNotFound      protection_not_found  404
    │   ├── ReviewNotFound          review_not_found      404
    │   ├── WebhookNotFound         webhook_not_found     404
    │   ├── DeliveryNotFound        delivery_not_found    404
    │   ├── UserNotFound            user_not_found        404
    │   ├── TeamNotFound            team_not_found        404
    │   ├── TokenNotFound           token_not_found       404
    │   ├── GrantNotFound           grant_not_found       404
    │   ├── PredictionLogNotFound   prediction_log_not_found 404
    │   ├── PredictionLabelsNotFound prediction_labels_not_found 404
    │   ├── LoggedModelNotFound     logged_model_not_found 404
    │   ├── MonitorNotFound         monitor_not_found     404
    │   ├── AlertNotFound           alert_not_found       404
    │   └── CommandNotFound         command_not_found     404
    ├── Conflict                    conflict              409
    │   ├── AlreadyExists           already_exists        409
    │   ├── ParamConflict           param_conflict        409
    │   ├── RunNotActive            run_not_active        409
    │   ├── DuplicateRun            duplicate_run         409
    │   ├── UploadOffsetMismatch    upload_offset_mismatch 409
    │   ├── ReviewRequired          review_required       409
    │   ├── ReviewNotOpen           review_not_open       409
    │   ├── ReviewNotMergeable      review_not_mergeable  409
    │   └── ReferenceUnavailable    reference_unavailable 409
    ├── Unauthenticated             unauthenticated       401
    │   ├── SignInFailed            sign_in_failed        401
    │   └── SingleSignOnFailed      sso_failed            401
    ├── TooManyAttempts             too_many_attempts     429
    ├── PermissionDenied            permission_denied     403
    │   └── SelfApproval            self_approval         403
    ├── SchemaOutOfDate             schema_out_of_date    503
    ├── StoreUnreadable             store_unreadable      500
    └── Unavailable                 unavailable           503   (retryable)
        └── BlobStoreUnavailable    blob_store_unavailable 503  (retryable)

Codes are part of the public API: never rename one, only add.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CairnError(Exception):
    """Base of every deliberate Cairn error."""

    code: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500
    #: Whether sending the same request again later may succeed (the writer retries these).
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_envelope(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInput(CairnError):
    code = "invalid_input"
    http_status = 400


class InvalidKey(InvalidInput):
    """A param, metric or tag key is empty, too long or has control characters."""

    code = "invalid_key"


class InvalidValue(InvalidInput):
    """A value is of the wrong type, non-numeric where a number is needed, or too long."""

    code = "invalid_value"


class WebhookUrlRefused(InvalidValue):
    """A webhook URL whose host is, or resolves to, an address a server must not call on a
    user's behalf: loopback, private, link-local, multicast, unspecified or otherwise not
    globally routable (docs/webhooks.md). Allowed only when the server runs with
    ``--allow-private-webhooks``. ``details`` hold ``url``, ``host`` and ``address``."""

    code = "webhook_url_refused"


class InvalidRequest(InvalidInput):
    """The request itself is malformed: bad JSON, missing or unknown fields."""

    code = "invalid_request"


class InvalidPageToken(InvalidRequest):
    """A ``page_token`` this server did not hand out for this search: altered, made up, or
    made for another query, order or project."""

    code = "invalid_page_token"


class InvalidHost(InvalidInput):
    """The request's ``Host`` names a server this one is not (DNS rebinding, or a proxy's name
    missing from ``--allowed-hosts``)."""

    code = "invalid_host"


class InvalidQuery(InvalidInput):
    """A run query that does not parse or does not make sense; ``details`` say where.

    ``details["position"]`` is the 0-based offset in the query, ``details["column"]`` the same
    counted from 1, as the message says it.
    """

    code = "invalid_query"

    @classmethod
    def at(cls, message: str, query: str, position: int) -> InvalidQuery:
        position = max(0, min(position, len(query)))
        return cls(
            f"{message} at column {position + 1}",
            details={"query": query, "position": position, "column": position + 1},
        )


class InvalidArtifactPath(InvalidInput):
    """An artifact path that would leave its run: ``..``, an absolute path, a backslash, NUL,
    or a symlink in a logged folder that points outside it."""

    code = "invalid_artifact_path"


class DigestMismatch(InvalidInput):
    """Uploaded bytes whose SHA-256 is not the digest they were sent under: a truncated or
    corrupted upload, or a file changed after it was logged. Nothing is kept."""

    code = "digest_mismatch"


class ModelTampered(DigestMismatch):
    """A file of a model folder whose SHA-256 is not the one its manifest records, or a file
    the manifest does not list (or lists and the folder lacks): the model is not loaded.
    ``details["path"]`` names the file."""

    code = "model_tampered"


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"
    http_status = 413


class InvalidManifest(InvalidInput):
    """A model folder whose ``cairn-model.json`` is missing, is not JSON, or breaks the format
    (docs/models.md); ``details["field"]`` names the field when there is one."""

    code = "invalid_manifest"


class InvalidModelUri(InvalidInput):
    """A model URI that is none of ``runs:/RUN_ID/PATH``, ``models:/NAME/VERSION`` and
    ``models:/NAME@ALIAS``."""

    code = "invalid_model_uri"


class SignatureMismatch(InvalidInput):
    """Input that does not fit a model's signature: a missing column, values of the wrong type,
    a tensor of the wrong dtype or shape. ``details["column"]`` names the column when there is
    one."""

    code = "signature_mismatch"


class FlavorError(InvalidInput):
    """A model flavor that is unknown, or whose plugin failed to save or load a model;
    ``details["flavor"]`` names it and ``details["during"]`` says what it was doing."""

    code = "flavor_error"


class FrameworkNotInstalled(FlavorError):
    """A flavor needs a framework this Python lacks; ``details["package"]`` is what to install."""

    code = "framework_not_installed"


class UnsupportedMediaType(InvalidInput):
    """A request body of a content type the endpoint does not read (``cairn serve``'s
    ``/invocations`` reads ``application/json`` and ``text/csv``, in UTF-8);
    ``details["content_type"]`` is the one sent."""

    code = "unsupported_media_type"
    http_status = 415


class InvalidBatchInput(InvalidInput):
    """What ``cairn predict`` cannot read or write (docs/batch-scoring.md): an input that is
    not a CSV or Parquet file or a folder of Parquet files, a folder file of another schema,
    an output that exists already or has an unknown suffix, predictions that do not form
    columns. ``details["path"]`` names the file when there is one."""

    code = "invalid_batch_input"


class InvalidPredictionLog(InvalidInput):
    """A prediction log file the store refuses (docs/prediction-logs.md): not Parquet, without
    a required column or with one of the wrong type, no rows, a ``model_version`` other than the
    version it is logged to, or a prediction time outside its hour. ``details["column"]`` names
    the column when there is one. Nothing is kept."""

    code = "invalid_prediction_log"


class InvalidPredictionLabels(InvalidInput):
    """Labels the store refuses (docs/monitoring.md, "Labels"): none, ids and labels (and
    timestamps) of different lengths, an id that is no non-empty text, a NUL byte, a label that
    is neither a number nor text (or a mix of both), a NaN or infinite label, a bad timestamp,
    more rows than one call takes. ``details["field"]`` names the field. Nothing is kept."""

    code = "invalid_prediction_labels"


class UnknownPredictionIds(InvalidInput):
    """Labels for request ids the model version never logged a prediction for;
    ``details["unknown"]`` lists a few of them and ``details["count"]`` says how many. The whole
    batch is refused: nothing is kept."""

    code = "unknown_prediction_ids"


class InvalidEventFile(InvalidInput):
    """``cairn import tensorboard``: an event file that cannot be read to its end (a record cut
    short, a failed checksum, bytes that are no event); ``details.path`` names the file.
    Nothing of its run is written."""

    code = "invalid_event_file"


class InvalidPredictionTime(InvalidPredictionLog):
    """Prediction times that are not times: not numbers (or datetimes), missing, negative, or
    later than the store's clock by more than the allowed skew (five minutes). Out-of-order
    times are fine. ``details["column"]`` is ``timestamp_ms``. Nothing is kept."""

    code = "invalid_prediction_time"


class NotFound(CairnError):
    code = "not_found"
    http_status = 404


class ProjectNotFound(NotFound):
    code = "project_not_found"


class RunNotFound(NotFound):
    code = "run_not_found"


class ArtifactNotFound(NotFound):
    code = "artifact_not_found"


class BlobNotFound(NotFound):
    """No bytes are stored under that digest."""

    code = "blob_not_found"


class UploadNotFound(NotFound):
    """A resumable upload that does not exist, was completed, aborted or collected."""

    code = "upload_not_found"


class DatasetNotFound(NotFound):
    code = "dataset_not_found"


class CommentNotFound(NotFound):
    """No comment with that id (it may have been deleted)."""

    code = "comment_not_found"


class ViewNotFound(NotFound):
    """No saved view with that id (it may have been deleted)."""

    code = "view_not_found"


class ModelNotFound(NotFound):
    """No registered model by that name; ``details["model"]`` names it."""

    code = "model_not_found"


class ModelVersionNotFound(NotFound):
    """The registered model has no version of that number; ``details`` hold ``model`` and ``version``."""

    code = "model_version_not_found"


class AliasNotFound(NotFound):
    """The registered model has no alias of that name; ``details`` hold ``model`` and ``alias``."""

    code = "alias_not_found"


class ProtectionNotFound(NotFound):
    """The alias is not protected; ``details`` hold ``model`` and ``alias``."""

    code = "protection_not_found"


class ReviewNotFound(NotFound):
    """No review with that id (its model may have been deleted); ``details["review_id"]``."""

    code = "review_not_found"


class WebhookNotFound(NotFound):
    """No webhook with that id (it may have been deleted); ``details["webhook_id"]`` names it."""

    code = "webhook_not_found"


class DeliveryNotFound(NotFound):
    """The webhook has no delivery with that id; ``details`` hold ``webhook_id`` and ``delivery_id``."""

    code = "delivery_not_found"


class UserNotFound(NotFound):
    """No user of that name (or one the caller may not see)."""

    code = "user_not_found"


class TeamNotFound(NotFound):
    code = "team_not_found"


class TokenNotFound(NotFound):
    """No API token with that id among those the caller may see."""

    code = "token_not_found"


class GrantNotFound(NotFound):
    """The user or team holds no role on that project or model."""

    code = "grant_not_found"


class PredictionLogNotFound(NotFound):
    """The model version has no prediction log file with that id; ``details`` hold ``model``,
    ``version`` and ``file_id``."""

    code = "prediction_log_not_found"


class PredictionLabelsNotFound(NotFound):
    """The model version has no label file with that id; ``details`` hold ``model``,
    ``version`` and ``file_id``."""

    code = "prediction_labels_not_found"


class LoggedModelNotFound(NotFound):
    """No logged model with that id (or none the caller may see); ``details["model_id"]`` names it."""

    code = "logged_model_not_found"


class MonitorNotFound(NotFound):
    """The model has no monitor of that name; ``details`` hold ``model`` and ``monitor``."""

    code = "monitor_not_found"


class AlertNotFound(NotFound):
    """The model has no alert with that id; ``details`` hold ``model`` and ``alert_id``."""

    code = "alert_not_found"


class CommandNotFound(NotFound):
    """``cairn run -- CMD``: CMD is not a program on PATH, or not a file that can be executed;
    ``details.command`` names it. No run is left behind."""

    code = "command_not_found"


class Conflict(CairnError):
    code = "conflict"
    http_status = 409


class AlreadyExists(Conflict):
    code = "already_exists"


class ParamConflict(Conflict):
    """A param was logged again with a different value: params are immutable."""

    code = "param_conflict"


class RunNotActive(Conflict):
    """Something was logged to a run that is finished, failed, killed or deleted."""

    code = "run_not_active"


class DuplicateRun(Conflict):
    """A run was about to start with the same fingerprint as an earlier finished run, and the
    caller asked for an error then (``cairn.init(..., on_duplicate="error")``).

    ``details["runs"]`` lists the earlier runs' ids, newest first.
    """

    code = "duplicate_run"


class UploadOffsetMismatch(Conflict):
    """A resumable upload's part was sent for another offset than the bytes received so far;
    ``details["offset"]`` says where to go on from."""

    code = "upload_offset_mismatch"


class ReviewRequired(Conflict):
    """An alias that is protected was to be set, moved or removed directly: it moves only by
    merging a review. ``details`` hold ``model``, ``alias``, ``required_approvals`` and
    ``checks``."""

    code = "review_required"


class ReviewNotOpen(Conflict):
    """A vote, merge or close of a review that is already merged or closed;
    ``details["state"]`` says which."""

    code = "review_not_open"


class ReviewNotMergeable(Conflict):
    """A merge refused: a check failed, approvals are missing, or a reviewer asked for
    changes. ``details`` hold ``failed_checks`` (each with the value it saw), ``approvals``,
    ``required_approvals`` and ``changes_requested_by``. Nothing was changed."""

    code = "review_not_mergeable"


class ReferenceUnavailable(Conflict):
    """A monitor has nothing to compare with: the model version's source run logged no dataset
    with context ``train`` (or the named dataset has no data and no profile to compare with);
    ``details`` say which."""

    code = "reference_unavailable"


class PermissionDenied(CairnError):
    code = "permission_denied"
    http_status = 403


class Unauthenticated(CairnError):
    """The request carries no credential, or one that is unknown, expired, revoked or
    tampered with, or belongs to a disabled user; the message never says which."""

    code = "unauthenticated"
    http_status = 401


class SignInFailed(Unauthenticated):
    """A user name and password that do not match an enabled user; the same answer whether the
    user exists or not."""

    code = "sign_in_failed"


class SingleSignOnFailed(Unauthenticated):
    """A single sign-on that did not complete: the identity provider could not be reached or
    answered wrongly, its ID token did not verify, or the sign-in had expired or was replayed.
    The browser is shown a page that says which of these, never which check failed."""

    code = "sso_failed"


class TooManyAttempts(CairnError):
    """Too many sign-in attempts for one user or from one address in the last minute."""

    code = "too_many_attempts"
    http_status = 429


class SelfApproval(PermissionDenied):
    """The author of a review approved it or asked for changes on it: a review needs someone
    else's eyes."""

    code = "self_approval"


class SchemaOutOfDate(CairnError):
    """The database schema is older than this version of Cairn expects."""

    code = "schema_out_of_date"
    http_status = 503


class StoreUnreadable(CairnError):
    """The metadata store exists but is not a database Cairn can read (a damaged file)."""

    code = "store_unreadable"
    http_status = 500


class Unavailable(CairnError):
    """The store or the server cannot be reached right now; the same call may work later."""

    code = "unavailable"
    http_status = 503
    retryable = True


class BlobStoreUnavailable(Unavailable):
    """The blob store (a folder or an S3 bucket) cannot be reached or written."""

    code = "blob_store_unavailable"


def _all_subclasses(cls: type[CairnError]) -> list[type[CairnError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_subclasses(sub))
    return found


def error_class_for_code(code: str) -> type[CairnError]:
    """The error class that owns ``code``; the base class for a code this version lacks."""
    for cls in _all_subclasses(CairnError):
        if cls.code == code:
            return cls
    return CairnError


def all_error_classes() -> list[type[CairnError]]:
    return _all_subclasses(CairnError)
