"""Monitors, their windows and alerts, and drift reports over REST API v1: the part of
:class:`~cairn.client.http.HttpTracking` for monitoring (docs/monitoring.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cairn.client.http_paths import API, OverHttp, model_url, segment
from cairn.core.monitors import (
    Alert,
    Monitor,
    MonitorRun,
    MonitorWindow,
    alert_from_wire,
    check_monitor_name,
    check_window,
    monitor_from_wire,
    monitor_run_from_wire,
    window_from_wire,
)


class MonitorsOverHttp(OverHttp):
    """Mixed into HttpTracking, which provides ``_request``."""

    def create_monitor(
        self,
        model: str,
        name: str = "default",
        *,
        alias: str | None = None,
        version: int | None = None,
        features: Sequence[str] | None = None,
        predictions: bool = True,
        window: str = "1d",
        schedule: str | int = 3600,
        drift: Mapping[str, Any] | None = None,
        performance: Mapping[str, float] | None = None,
        alert_on: str = "feature",
        reference: Mapping[str, Any] | None = None,
    ) -> Monitor:
        body = {
            "name": check_monitor_name(name),
            "alias": alias,
            "version": version,
            "features": None if features is None else list(features),
            "predictions": predictions,
            "window": window,
            "schedule": schedule,
            "drift": None if drift is None else dict(drift),
            "performance": None if performance is None else dict(performance),
            "alert_on": alert_on,
            "reference": None if reference is None else dict(reference),
        }
        return monitor_from_wire(self._request("POST", f"{model_url(model)}/monitors", body=body))

    def get_monitor(self, model: str, name: str = "default") -> Monitor:
        return monitor_from_wire(self._request("GET", _monitor_url(model, name)))

    def list_monitors(self, model: str | None = None) -> list[Monitor]:
        path = f"{API}/monitors" if model is None else f"{model_url(model)}/monitors"
        return [monitor_from_wire(m) for m in self._request("GET", path)["monitors"]]

    def delete_monitor(self, model: str, name: str = "default") -> None:
        self._request("DELETE", _monitor_url(model, name))

    def run_monitor(self, model: str, name: str = "default") -> MonitorRun:
        return monitor_run_from_wire(self._request("POST", f"{_monitor_url(model, name)}/run"))

    def run_due_monitors(self, *, limit: int = 100) -> list[MonitorRun]:
        return [monitor_run_from_wire(r) for r in self._request("POST", f"{API}/monitors/run")["runs"]][:limit]

    def list_monitor_windows(
        self,
        model: str,
        name: str = "default",
        *,
        version: int | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 1000,
    ) -> list[MonitorWindow]:
        params = {"version": version, "since_ms": since_ms, "until_ms": until_ms, "limit": limit}
        data = self._request("GET", f"{_monitor_url(model, name)}/windows", params=params)
        return [window_from_wire(w) for w in data["windows"]]

    def list_alerts(
        self, model: str | None = None, *, monitor: str | None = None, status: Sequence[str] = (), limit: int = 100
    ) -> list[Alert]:
        params: dict[str, Any] = {"status": list(status), "limit": limit}
        if model is None:
            path = f"{API}/alerts"
        else:
            path = f"{model_url(model)}/alerts"
            params["monitor"] = None if monitor is None else check_monitor_name(monitor)
        return [alert_from_wire(a) for a in self._request("GET", path, params=params)["alerts"]]

    def acknowledge_alert(self, model: str, alert_id: str) -> Alert:
        return alert_from_wire(self._request("POST", f"{_alert_url(model, alert_id)}/acknowledge"))

    def resolve_alert(self, model: str, alert_id: str) -> Alert:
        return alert_from_wire(self._request("POST", f"{_alert_url(model, alert_id)}/resolve"))

    def drift_report(
        self,
        model: str,
        *,
        version: int | None = None,
        alias: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        window: str = "1d",
        monitor: str | None = None,
    ) -> dict[str, Any]:
        params = {
            "version": version,
            "alias": alias,
            "since_ms": since_ms,
            "until_ms": until_ms,
            "window": check_window(window),
            "monitor": None if monitor is None else check_monitor_name(monitor),
        }
        report: dict[str, Any] = self._request("GET", f"{model_url(model)}/drift-report", params=params)
        return report


def _monitor_url(model: str, name: str) -> str:
    return f"{model_url(model)}/monitors/{segment(check_monitor_name(name))}"


def _alert_url(model: str, alert_id: str) -> str:
    return f"{model_url(model)}/alerts/{segment(alert_id)}"
