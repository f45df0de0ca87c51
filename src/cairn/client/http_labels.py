"""Labels of logged predictions and performance reports over REST API v1: the part of
:class:`~cairn.client.http.HttpTracking` for them (docs/monitoring.md, "Labels")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cairn.client.http_paths import OverHttp, segment, version_url
from cairn.core.entities import Page
from cairn.core.limits import check_int64, check_listing_limit
from cairn.core.monitors import check_window, window_ms
from cairn.core.prediction_labels import (
    DEFAULT_LABEL_PAGE,
    MAX_LABEL_PAGE,
    PredictionLabelFile,
    check_labels,
    label_file_from_wire,
)
from cairn.core.prediction_logs import MEDIA_TYPE, check_file_id


class LabelsOverHttp(OverHttp):
    """Mixed into HttpTracking, which provides ``_request``."""

    def log_prediction_labels(
        self,
        name: str,
        version: int,
        ids: Sequence[str],
        labels: Sequence[Any],
        timestamps: Sequence[int] | None = None,
    ) -> PredictionLabelFile:
        # Checked here as the service checks them, so a bad batch is the same error as embedded.
        given = check_labels(ids, labels, timestamps, 0)
        body: dict[str, Any] = {"ids": given.ids, "labels": given.labels}
        if timestamps is not None:
            body["timestamps"] = given.timestamps
        data = self._request("POST", f"{version_url(name, version)}/labels", body=body)
        return label_file_from_wire(data)

    def list_prediction_labels(
        self,
        name: str,
        version: int,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = DEFAULT_LABEL_PAGE,
        page_token: str | None = None,
    ) -> Page[PredictionLabelFile]:
        params = {
            "since_ms": None if since_ms is None else check_int64(since_ms, "since_ms", minimum=0),
            "until_ms": None if until_ms is None else check_int64(until_ms, "until_ms", minimum=0),
            "limit": check_listing_limit(limit, MAX_LABEL_PAGE),
            "page_token": page_token,
        }
        data = self._request("GET", f"{version_url(name, version)}/labels", params=params)
        return Page([label_file_from_wire(f) for f in data["files"]], data["next_page_token"])

    def read_prediction_labels(self, name: str, version: int, file_id: str) -> bytes:
        url = f"{version_url(name, version)}/labels/{segment(check_file_id(file_id))}"
        answer: bytes = self._request("GET", url, accept=MEDIA_TYPE, decode=bytes)
        return answer

    def performance_report(
        self,
        model: str,
        version: int,
        window: str = "1d",
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> dict[str, Any]:
        # The API takes windows in hours or days: 120m is sent as 2h.
        hours = window_ms(check_window(window)) // 3_600_000
        sent = window if not window.endswith("m") else (f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h")
        params = {
            "window": sent,
            "start_ms": None if start_ms is None else check_int64(start_ms, "start_ms", minimum=0),
            "end_ms": None if end_ms is None else check_int64(end_ms, "end_ms", minimum=0),
        }
        report: dict[str, Any] = self._request("GET", f"{version_url(model, version)}/performance", params=params)
        return report
