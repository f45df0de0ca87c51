"""Reviews and alias protections, prediction logs, the event log and webhooks over REST API
v1: the part of :class:`~cairn.client.http.HttpTracking` that follows a model after it is
registered, kept in its own module so each stays one concept long."""

from __future__ import annotations

from collections.abc import Sequence

from cairn.client.http_paths import (
    API,
    OverHttp,
    delivery_url,
    model_url,
    protection_url,
    review_url,
    segment,
    version_url,
    webhook_url,
)
from cairn.core.entities import Page
from cairn.core.errors import InvalidValue
from cairn.core.events import Event, event_from_wire
from cairn.core.limits import check_int64, check_listing_limit
from cairn.core.models.uri import check_alias, check_model_name, check_version_number
from cairn.core.prediction_logs import (
    DEFAULT_PREDICTION_LOG_PAGE,
    MAX_PREDICTION_LOG_PAGE,
    MEDIA_TYPE,
    PredictionLogFile,
    check_file_id,
    check_hour,
    prediction_log_from_wire,
)
from cairn.core.reviews import (
    AliasProtection,
    Review,
    ReviewComment,
    ReviewDetail,
    check_required_approvals,
    check_review_role,
    parse_checks,
)
from cairn.core.reviews_wire import (
    protection_from_wire,
    review_comment_from_wire,
    review_detail_from_wire,
    review_from_wire,
)
from cairn.core.webhooks import Delivery, Webhook, delivery_from_wire, webhook_from_wire


class LifecycleOverHttp(OverHttp):
    """Mixed into HttpTracking, which provides ``_request``."""

    # -- reviews --------------------------------------------------------------------------

    def protect_alias(
        self,
        name: str,
        alias: str,
        *,
        approvals: int = 1,
        checks: Sequence[str] = (),
        approve_role: str = "editor",
        merge_role: str = "maintainer",
    ) -> AliasProtection:
        # Checked here as the service checks them, so a bad value is the same error as embedded.
        body = {
            "approvals": check_required_approvals(approvals),
            "checks": [c.text for c in parse_checks(checks)],
            "approve_role": check_review_role(approve_role, "approve_role").value,
            "merge_role": check_review_role(merge_role, "merge_role").value,
        }
        return protection_from_wire(self._request("PUT", protection_url(name, alias), body=body))

    def unprotect_alias(self, name: str, alias: str) -> None:
        self._request("DELETE", protection_url(name, alias))

    def get_alias_protection(self, name: str, alias: str) -> AliasProtection:
        return protection_from_wire(self._request("GET", protection_url(name, alias)))

    def list_alias_protections(self, name: str) -> list[AliasProtection]:
        data = self._request("GET", f"{model_url(name)}/protections")
        return [protection_from_wire(p) for p in data["protections"]]

    def open_review(self, name: str, version: int, alias: str, *, description: str = "") -> Review:
        body = {"model": name, "version": check_version_number(version), "alias": alias, "description": description}
        return review_from_wire(self._request("POST", f"{API}/reviews", body=body))

    def get_review(self, review_id: int) -> Review:
        return review_from_wire(self._request("GET", review_url(review_id)))

    def list_reviews(
        self,
        *,
        model: str | None = None,
        alias: str | None = None,
        state: str | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Review]:
        params = {
            "model": None if model is None else check_model_name(model),
            "alias": None if alias is None else check_alias(alias),
            "state": state,
            "limit": limit,
            "page_token": page_token,
        }
        data = self._request("GET", f"{API}/reviews", params=params)
        return Page([review_from_wire(r) for r in data["reviews"]], data["next_page_token"])

    def review_detail(self, review_id: int) -> ReviewDetail:
        return review_detail_from_wire(self._request("GET", f"{review_url(review_id)}/detail"))

    def approve_review(self, review_id: int, body: str = "") -> Review:
        return review_from_wire(self._request("POST", f"{review_url(review_id)}/approve", body={"body": body}))

    def request_changes(self, review_id: int, body: str) -> Review:
        url = f"{review_url(review_id)}/request-changes"
        return review_from_wire(self._request("POST", url, body={"body": body}))

    def comment_review(self, review_id: int, body: str, *, reply_to: int | None = None) -> ReviewComment:
        parent = None if reply_to is None else check_int64(reply_to, "reply_to", minimum=1)
        data = self._request("POST", f"{review_url(review_id)}/comments", body={"body": body, "reply_to": parent})
        return review_comment_from_wire(data)

    def run_review_checks(self, review_id: int) -> Review:
        return review_from_wire(self._request("POST", f"{review_url(review_id)}/checks"))

    def merge_review(self, review_id: int) -> Review:
        return review_from_wire(self._request("POST", f"{review_url(review_id)}/merge"))

    def close_review(self, review_id: int) -> Review:
        return review_from_wire(self._request("POST", f"{review_url(review_id)}/close"))

    # -- prediction logs ------------------------------------------------------------------

    def log_predictions(self, name: str, version: int, hour_ms: int, parquet_bytes: bytes) -> PredictionLogFile:
        url = f"{version_url(name, version)}/prediction-logs"
        params = {"hour_ms": check_hour(hour_ms)}
        if not isinstance(parquet_bytes, bytes | bytearray | memoryview):
            raise InvalidValue(f"a prediction log is bytes, got {type(parquet_bytes).__name__}")
        data = bytes(parquet_bytes)
        return prediction_log_from_wire(self._request("POST", url, params=params, packed=(MEDIA_TYPE, data)))

    def list_prediction_logs(
        self,
        name: str,
        version: int | None = None,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = DEFAULT_PREDICTION_LOG_PAGE,
        page_token: str | None = None,
    ) -> Page[PredictionLogFile]:
        # Checked here as the service checks them, so a bad value is the same error as embedded.
        params = {
            "version": None if version is None else check_version_number(version),
            "since_ms": None if since_ms is None else check_int64(since_ms, "since_ms", minimum=0),
            "until_ms": None if until_ms is None else check_int64(until_ms, "until_ms", minimum=0),
            "limit": check_listing_limit(limit, MAX_PREDICTION_LOG_PAGE),
            "page_token": page_token,
        }
        data = self._request("GET", f"{model_url(name)}/prediction-logs", params=params)
        return Page([prediction_log_from_wire(f) for f in data["files"]], data["next_page_token"])

    def read_prediction_log(self, name: str, version: int, file_id: str) -> bytes:
        url = f"{version_url(name, version)}/prediction-logs/{segment(check_file_id(file_id))}"
        answer: bytes = self._request("GET", url, accept=MEDIA_TYPE, decode=bytes)
        return answer

    def list_events(
        self,
        *,
        types: Sequence[str] = (),
        subject: str | None = None,
        actor: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Event]:
        params = {
            "type": list(types),
            "subject": subject,
            "actor": actor,
            "since": since,
            "until": until,
            "limit": limit,
            "page_token": page_token,
        }
        data = self._request("GET", f"{API}/events", params=params)
        return Page([event_from_wire(e) for e in data["events"]], data["next_page_token"])

    # -- webhooks ---------------------------------------------------------------------------

    def create_webhook(
        self,
        url: str,
        events: Sequence[str],
        *,
        secret: str | None = None,
        description: str = "",
        active: bool = True,
    ) -> Webhook:
        body = {"url": url, "events": list(events), "description": description, "active": active}
        if secret is not None:
            body["secret"] = secret
        return webhook_from_wire(self._request("POST", f"{API}/webhooks", body=body))

    def get_webhook(self, webhook_id: str) -> Webhook:
        return webhook_from_wire(self._request("GET", webhook_url(webhook_id)))

    def list_webhooks(self) -> list[Webhook]:
        return [webhook_from_wire(w) for w in self._request("GET", f"{API}/webhooks")["webhooks"]]

    def update_webhook(
        self,
        webhook_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        description: str | None = None,
        active: bool | None = None,
        secret: str | None = None,
    ) -> Webhook:
        fields = {
            "url": url,
            "events": None if events is None else list(events),
            "description": description,
            "active": active,
            "secret": secret,
        }
        body = {name: value for name, value in fields.items() if value is not None}
        return webhook_from_wire(self._request("PATCH", webhook_url(webhook_id), body=body))

    def delete_webhook(self, webhook_id: str) -> None:
        self._request("DELETE", webhook_url(webhook_id))

    def list_webhook_deliveries(
        self, webhook_id: str, *, status: str | None = None, limit: int = 50, page_token: str | None = None
    ) -> Page[Delivery]:
        params = {"status": status, "limit": limit, "page_token": page_token}
        data = self._request("GET", f"{webhook_url(webhook_id)}/deliveries", params=params)
        return Page([delivery_from_wire(d) for d in data["deliveries"]], data["next_page_token"])

    def get_webhook_delivery(self, webhook_id: str, delivery_id: str) -> Delivery:
        return delivery_from_wire(self._request("GET", delivery_url(webhook_id, delivery_id)))

    def redeliver_webhook_delivery(self, webhook_id: str, delivery_id: str) -> Delivery:
        return delivery_from_wire(self._request("POST", f"{delivery_url(webhook_id, delivery_id)}/redeliver"))
