"""Request and response models of the monitoring routes (routes/monitors.py), beside
:mod:`cairn.server.schemas`, whose conventions they follow: the service checks every rule, so a
bad value is the same error over HTTP as embedded; drift settings, performance thresholds and
the reference are free-form objects here for that reason (a threshold of the wrong type is the
service's ``invalid_value`` naming the field, not a validation error of the framework)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import Field

from cairn.core import limits
from cairn.core.monitors import DURATION_PATTERN
from cairn.server.schemas import ALIAS_RULE, Out, Strict

#: A monitor's name: a name (:data:`limits.NAME_PATTERN`) without '/'.
MONITOR_NAME_RULE: dict[str, Any] = {
    "pattern": limits.NAME_PATTERN.replace("[^", "[^/"),
    "maxLength": limits.MAX_NAME_LENGTH,
}
DURATION_RULE: dict[str, Any] = {"pattern": DURATION_PATTERN}
MonitorName = Annotated[str, Path(min_length=1, max_length=limits.MAX_NAME_LENGTH, json_schema_extra=MONITOR_NAME_RULE)]
AliasField = Annotated[str, Field(min_length=1, max_length=ALIAS_RULE["maxLength"], json_schema_extra=ALIAS_RULE)]
AlertId = Annotated[str, Path(min_length=1, max_length=32)]


class MonitorCreate(Strict):
    name: Annotated[str, Field(min_length=1, json_schema_extra=MONITOR_NAME_RULE)] = "default"
    alias: AliasField | None = Field(None, description="the alias followed (champion when neither alias nor version)")
    version: Annotated[int, Field(ge=1, lt=limits.MAX_INT64 + 1, strict=True)] | None = None
    features: list[Annotated[str, Field(max_length=limits.MAX_NAME_LENGTH)]] | None = Field(None, max_length=1000)
    predictions: bool = True
    window: Annotated[str, Field(max_length=16, json_schema_extra=DURATION_RULE)] = "1d"
    schedule: Annotated[str, Field(max_length=16)] | Annotated[int, Field(strict=True)] = 3600
    drift: dict[str, Any] | None = None
    performance: dict[str, Any] | None = None
    alert_on: Annotated[str, Field(max_length=16, json_schema_extra={"enum": ["feature", "dataset"]})] = "feature"
    reference: dict[str, Any] | None = None


class MonitorOut(Out):
    id: str
    model: str
    name: str
    alias: str | None
    version: int | None
    config: dict[str, Any]
    schedule_s: int
    next_run_at: int
    last_run_at: int | None
    last_error: str | None
    created_by: str
    created_at: int
    updated_at: int


class MonitorList(Out):
    monitors: list[MonitorOut]


class MonitorWindowOut(Out):
    monitor_id: str
    version: int
    start_ms: int
    end_ms: int
    rows: int
    drifted_share: float
    drifted: bool
    breached: bool
    result: dict[str, Any]
    evaluated_at: int


class MonitorWindowList(Out):
    windows: list[MonitorWindowOut]


class MonitorRunOut(Out):
    monitor: str
    model: str
    version: int | None
    windows: list[MonitorWindowOut]
    opened: list[str]
    resolved: list[str]
    error: str | None
    busy: bool


class MonitorRunList(Out):
    runs: list[MonitorRunOut]


class AlertOut(Out):
    id: str
    monitor_id: str
    monitor: str
    model: str
    version: int
    status: str
    first_window_ms: int
    last_window_ms: int
    breached_windows: int
    detail: dict[str, Any]
    opened_at: int
    acknowledged_by: str | None
    acknowledged_at: int | None
    resolved_by: str | None
    resolved_at: int | None


class AlertList(Out):
    alerts: list[AlertOut]


class ReportFeature(Out):
    method: str
    value: float
    threshold: float
    drifted: bool


class ReportWindow(Out):
    start: str = Field(description="ISO-8601, UTC")
    end: str
    rows: int
    features: dict[str, ReportFeature]
    drifted_share: float
    drifted: bool


class DriftReport(Out):
    model: str
    version: int
    windows: list[ReportWindow]
