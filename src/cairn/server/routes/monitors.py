"""Monitoring: a model's monitors, their evaluated windows, their alerts, and drift reports
(docs/monitoring.md). Evaluations run in the server's background worker on each monitor's
schedule; ``POST …/run`` runs one now (or every due one), as ``cairn monitors run`` does."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from cairn.core import limits
from cairn.core.monitors import MAX_ALERT_PAGE, AlertStatus, alert_to_wire, monitor_to_wire, window_to_wire
from cairn.server.deps import TrackingDep
from cairn.server.errors import error_responses
from cairn.server.jsonresponse import JsonResponse, JsonRoute
from cairn.server.monitor_schemas import (
    DURATION_RULE,
    MONITOR_NAME_RULE,
    AlertId,
    AlertList,
    AlertOut,
    DriftReport,
    MonitorCreate,
    MonitorList,
    MonitorName,
    MonitorOut,
    MonitorRunList,
    MonitorRunOut,
    MonitorWindowList,
)
from cairn.server.schemas import ALIAS_RULE, ModelName

router = APIRouter(tags=["monitoring"], route_class=JsonRoute)

Millis = Annotated[int | None, Query(ge=0, lt=limits.MAX_INT64 + 1)]
Version = Annotated[int | None, Query(ge=1, lt=limits.MAX_INT64 + 1)]
Limit = Annotated[int, Query(ge=1, le=limits.MAX_PAGE_SIZE)]
AlertLimit = Annotated[int, Query(ge=1, le=MAX_ALERT_PAGE)]
MonitorQuery = Annotated[
    str | None, Query(min_length=1, max_length=limits.MAX_NAME_LENGTH, json_schema_extra=MONITOR_NAME_RULE)
]
AliasQuery = Annotated[
    str | None, Query(min_length=1, max_length=ALIAS_RULE["maxLength"], json_schema_extra=ALIAS_RULE)
]
Window = Annotated[str, Query(min_length=2, max_length=16, json_schema_extra=DURATION_RULE)]
Statuses = Annotated[
    list[Annotated[str, Query(max_length=16, json_schema_extra={"enum": [s.value for s in AlertStatus]})]] | None,
    Query(max_length=3),
]


@router.get("/monitors", responses=error_responses(400, 503), response_model=MonitorList, summary="Every monitor")
def list_all_monitors(service: TrackingDep) -> JsonResponse:
    return JsonResponse({"monitors": [monitor_to_wire(m) for m in service.list_monitors()]})


@router.post(
    "/monitors/run",
    responses=error_responses(400, 503),
    response_model=MonitorRunList,
    summary="Evaluate every due monitor the caller may run",
)
async def run_due_monitors(service: TrackingDep) -> JsonResponse:
    runs = await run_in_threadpool(service.run_due_monitors)
    return JsonResponse({"runs": [r.to_wire() for r in runs]})


@router.get("/alerts", responses=error_responses(400, 503), response_model=AlertList, summary="Alerts of every model")
def list_all_alerts(service: TrackingDep, status: Statuses = None, limit: AlertLimit = 100) -> JsonResponse:
    alerts = service.list_alerts(status=status or (), limit=limit)
    return JsonResponse({"alerts": [alert_to_wire(a) for a in alerts]})


@router.get(
    "/models/{name}/monitors",
    responses=error_responses(400, 404, 503),
    response_model=MonitorList,
    summary="A model's monitors",
)
def list_monitors(name: ModelName, service: TrackingDep) -> JsonResponse:
    return JsonResponse({"monitors": [monitor_to_wire(m) for m in service.list_monitors(name)]})


@router.post(
    "/models/{name}/monitors",
    responses=error_responses(400, 404, 409, 413, 503),
    response_model=MonitorOut,
    status_code=201,
    summary="Watch a model (the version an alias names) for drift and performance",
)
def create_monitor(name: ModelName, body: MonitorCreate, service: TrackingDep) -> JsonResponse:
    monitor = service.create_monitor(
        name,
        body.name,
        alias=body.alias,
        version=body.version,
        features=body.features,
        predictions=body.predictions,
        window=body.window,
        schedule=body.schedule,
        drift=body.drift,
        performance=body.performance,
        alert_on=body.alert_on,
        reference=body.reference,
    )
    return JsonResponse(monitor_to_wire(monitor), status_code=201)


@router.get(
    "/models/{name}/monitors/{monitor}",
    responses=error_responses(400, 404, 503),
    response_model=MonitorOut,
    summary="A monitor",
)
def get_monitor(name: ModelName, monitor: MonitorName, service: TrackingDep) -> JsonResponse:
    return JsonResponse(monitor_to_wire(service.get_monitor(name, monitor)))


@router.delete(
    "/models/{name}/monitors/{monitor}",
    responses=error_responses(400, 404, 503),
    status_code=204,
    summary="Delete a monitor with its windows and alerts",
)
def delete_monitor(name: ModelName, monitor: MonitorName, service: TrackingDep) -> Response:
    service.delete_monitor(name, monitor)
    return Response(status_code=204)


@router.post(
    "/models/{name}/monitors/{monitor}/run",
    responses=error_responses(400, 404, 503),
    response_model=MonitorRunOut,
    summary="Evaluate a monitor now",
)
async def run_monitor(name: ModelName, monitor: MonitorName, service: TrackingDep) -> JsonResponse:
    run = await run_in_threadpool(service.run_monitor, name, monitor)
    return JsonResponse(run.to_wire())


@router.get(
    "/models/{name}/monitors/{monitor}/windows",
    responses=error_responses(400, 404, 503),
    response_model=MonitorWindowList,
    summary="A monitor's evaluated windows, oldest first",
)
def list_windows(
    name: ModelName,
    monitor: MonitorName,
    service: TrackingDep,
    version: Version = None,
    since_ms: Millis = None,
    until_ms: Millis = None,
    limit: Limit = 1000,
) -> JsonResponse:
    windows = service.list_monitor_windows(
        name, monitor, version=version, since_ms=since_ms, until_ms=until_ms, limit=limit
    )
    return JsonResponse({"windows": [window_to_wire(w) for w in windows]})


@router.get(
    "/models/{name}/alerts",
    responses=error_responses(400, 404, 503),
    response_model=AlertList,
    summary="A model's alerts, newest first",
)
def list_alerts(
    name: ModelName,
    service: TrackingDep,
    monitor: MonitorQuery = None,
    status: Statuses = None,
    limit: AlertLimit = 100,
) -> JsonResponse:
    alerts = service.list_alerts(name, monitor=monitor, status=status or (), limit=limit)
    return JsonResponse({"alerts": [alert_to_wire(a) for a in alerts]})


@router.get(
    "/models/{name}/alerts/{alert_id}",
    responses=error_responses(400, 404, 503),
    response_model=AlertOut,
    summary="An alert",
)
def get_alert(name: ModelName, alert_id: AlertId, service: TrackingDep) -> JsonResponse:
    return JsonResponse(alert_to_wire(service.get_alert(name, alert_id)))


@router.post(
    "/models/{name}/alerts/{alert_id}/acknowledge",
    responses=error_responses(400, 404, 409, 503),
    response_model=AlertOut,
    summary="Mark an alert seen (it stays open for its episode)",
)
def acknowledge_alert(name: ModelName, alert_id: AlertId, service: TrackingDep) -> JsonResponse:
    return JsonResponse(alert_to_wire(service.acknowledge_alert(name, alert_id)))


@router.post(
    "/models/{name}/alerts/{alert_id}/resolve",
    responses=error_responses(400, 404, 409, 503),
    response_model=AlertOut,
    summary="End an alert's episode",
)
def resolve_alert(name: ModelName, alert_id: AlertId, service: TrackingDep) -> JsonResponse:
    return JsonResponse(alert_to_wire(service.resolve_alert(name, alert_id)))


@router.get(
    "/models/{name}/drift-report",
    responses=error_responses(400, 404, 409, 503),
    response_model=DriftReport,
    summary="Drift per window of a version's logged predictions, computed now",
)
async def drift_report(
    name: ModelName,
    service: TrackingDep,
    version: Version = None,
    alias: AliasQuery = None,
    since_ms: Millis = None,
    until_ms: Millis = None,
    window: Window = "1d",
    monitor: MonitorQuery = None,
) -> JsonResponse:
    report = await run_in_threadpool(
        service.drift_report,
        name,
        version=version,
        alias=alias,
        since_ms=since_ms,
        until_ms=until_ms,
        window=window,
        monitor=monitor,
    )
    return JsonResponse(report)
