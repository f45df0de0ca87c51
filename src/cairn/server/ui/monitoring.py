"""Monitoring on the dashboard (docs/dashboard.md, "Monitoring"): a tab of a model's page
(``/models/NAME/monitoring``) and of a version's (``/models/NAME/versions/N/monitoring``).

What it shows comes from what monitors stored (service/monitors.py), never recomputed on a page
view: a monitor's evaluated windows give drift per feature over time (a heatmap, each cell the
statistic measured against its threshold) and, on request, one feature's reference and current
histograms in one window (:func:`histogram`, a JSON answer ``static/monitoring.js`` draws); the
windows' ``performance`` gives the measures once labels exist. Serving's numbers per window
(volume, latency, error rate) come from the prediction logs (service/serving_stats.py). Open and
acknowledged alerts are listed with buttons to acknowledge and resolve them (an editor's), and a
form sets a monitor up (a maintainer's); both are form posts from the dashboard's own origin
(context.same_origin), and what the service refuses (a feature the model does not take, a
threshold that is no number) is shown beside the form, never as an error page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from cairn.core.drift.settings import P_VALUE_METHODS, Method
from cairn.core.errors import CairnError, ModelNotFound, PermissionDenied, Unauthenticated
from cairn.core.monitors import DEFAULT_ALIAS, DEFAULT_MONITOR_NAME, DEFAULT_WINDOW, Alert, Monitor, MonitorWindow
from cairn.core.registry import ModelVersion, RegisteredModel
from cairn.server.ui.context import now_ms, same_origin, service
from cairn.server.ui.models import MODEL_TABS
from cairn.server.ui.templating import path_quote, render
from cairn.service.serving_stats import ServingWindow, serving_windows
from cairn.service.tracking import TrackingService

router = APIRouter(include_in_schema=False)
_WRITES = [Depends(same_origin)]

#: The newest windows of a monitor the page draws.
WINDOWS_SHOWN = 60
#: Open and acknowledged alerts listed.
ALERTS_SHOWN = 100
#: A heatmap cell's score at most: beyond three times past the threshold, all is "far".
MAX_SCORE = 3.0
#: The performance measures a window's result may hold, in the order the table shows them.
PERFORMANCE_MEASURES = ("accuracy", "f1", "roc_auc", "rmse", "mae")


@dataclass
class MonitorForm:
    """What the set-up form was sent, kept to fill it again beside a refusal."""

    name: str = DEFAULT_MONITOR_NAME
    alias: str = DEFAULT_ALIAS
    version: str = ""
    features: str = ""
    window: str = DEFAULT_WINDOW
    schedule: str = "3600"
    alert_on: str = "feature"
    drift_thresholds: str = ""
    performance_thresholds: str = ""
    error_code: str = ""
    error: str = ""
    error_field: str = ""


@dataclass
class Page:
    """Everything the monitoring tab shows of one model (of one version, on a version's page)."""

    monitors: list[Monitor]
    monitor: Monitor | None
    windows: list[MonitorWindow]
    heatmap: dict[str, Any]
    features: list[str]
    histogram_start: dict[str, Any]
    serving: list[ServingWindow]
    serving_error: str
    performance: list[tuple[MonitorWindow, dict[str, Any]]]
    performance_measures: list[str]
    alerts: list[Alert]
    form: MonitorForm = field(default_factory=MonitorForm)
    alert_error: str = ""


# -- pages ----------------------------------------------------------------------------------------


@router.get("/models/{name}/monitoring", response_class=HTMLResponse)
def model_monitoring(request: Request, name: str, monitor: str | None = None) -> HTMLResponse:
    tracking = service(request)
    model = tracking.get_model(name)
    return _render(request, tracking, model, None, monitor)


@router.get("/models/{name}/versions/{version}/monitoring", response_class=HTMLResponse)
def version_monitoring(request: Request, name: str, version: int, monitor: str | None = None) -> HTMLResponse:
    tracking = service(request)
    found = tracking.get_model_version(name, version)
    return _render(request, tracking, tracking.get_model(found.model), found, monitor)


def _render(
    request: Request,
    tracking: TrackingService,
    model: RegisteredModel,
    version: ModelVersion | None,
    monitor_name: str | None,
    *,
    form: MonitorForm | None = None,
    alert_error: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    page = _page(tracking, model, version, monitor_name)
    if form is not None:
        page.form = form
    elif version is not None:
        page.form = MonitorForm(alias="", version=str(version.version))
    page.alert_error = alert_error
    base = f"/models/{path_quote(model.name)}"
    return render(
        request,
        "model_monitoring.html" if version is None else "version_monitoring.html",
        status_code=status_code,
        model=model,
        version=version,
        tab="monitoring",
        tabs=MODEL_TABS,
        page=page,
        here=base + ("" if version is None else f"/versions/{version.version}") + "/monitoring",
        histogram_url=base + "/monitoring/histogram",
        performance_chart={
            "measures": page.performance_measures,
            "windows": [
                {"start": w.start_ms, "end": w.end_ms, "version": w.version}
                | {m: _number(p.get(m)) for m in page.performance_measures}
                for w, p in page.performance
            ],
            "thresholds": {str(k): v for k, v in (page.monitor.config.performance.items() if page.monitor else ())},
        },
        serving_chart=[
            {
                "start": s.start_ms,
                "predictions": s.predictions,
                "p50": s.latency_p50_ms,
                "p95": s.latency_p95_ms,
                "error_rate": s.error_rate,
            }
            for s in page.serving
        ],
        now=now_ms(),
    )


def _page(
    tracking: TrackingService, model: RegisteredModel, version: ModelVersion | None, monitor_name: str | None
) -> Page:
    number = None if version is None else version.version
    monitors = tracking.list_monitors(model.name)
    chosen = next((m for m in monitors if m.name == monitor_name), monitors[0] if monitors else None)
    windows: list[MonitorWindow] = []
    if chosen is not None:
        windows = tracking.list_monitor_windows(model.name, chosen.name, version=number, limit=WINDOWS_SHOWN)
    heatmap, features = drift_heatmap(windows, chosen.config.features if chosen else ())
    step = _window_ms(chosen.config.window if chosen else DEFAULT_WINDOW)
    serving: list[ServingWindow] = []
    serving_error = ""
    try:
        since = windows[0].start_ms if windows else None
        serving = serving_windows(tracking, model.name, number, step, since_ms=since, max_windows=WINDOWS_SHOWN)
    except (ModelNotFound, PermissionDenied, Unauthenticated):
        raise
    except CairnError as exc:  # a log file whose bytes went missing: said on the page
        serving_error = exc.message
    performance = [(w, dict(w.result.get("performance") or {})) for w in windows]
    performance = [(w, p) for w, p in performance if _has_values(p)]
    measures = [m for m in PERFORMANCE_MEASURES if any(_number(p.get(m)) is not None for _, p in performance)]
    alerts = tracking.list_alerts(model.name, status=("open", "acknowledged"), limit=ALERTS_SHOWN)
    if number is not None:
        alerts = [a for a in alerts if a.version == number]
    return Page(
        monitors=monitors,
        monitor=chosen,
        windows=windows,
        heatmap=heatmap,
        features=features,
        histogram_start=_histogram_start(windows, features),
        serving=serving,
        serving_error=serving_error,
        performance=performance,
        performance_measures=measures,
        alerts=alerts,
    )


def _window_ms(window: str) -> int:
    from cairn.core.monitors import window_ms

    return window_ms(window)


def _has_values(performance: Mapping[str, Any]) -> bool:
    return any(_number(v) is not None for k, v in performance.items() if k != "labelled") or bool(
        _number(performance.get("labelled"))
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


# -- drift ----------------------------------------------------------------------------------------


def drift_score(method: str, value: float | None, threshold: float | None) -> float | None:
    """A feature's statistic against its threshold, on one scale for every method: 0 is no
    difference, 1 the threshold (drifted from there on), at most :data:`MAX_SCORE`.

    A distance counts as ``value / threshold``; a p-value (KS, chi-square: drifted *below* the
    threshold) as ``log(value) / log(threshold)``, so p = 1 is 0, p = threshold is 1 and
    p = threshold² is 2."""
    if value is None or threshold is None or not math.isfinite(value) or threshold <= 0:
        return None
    try:
        p_value = Method(method) in P_VALUE_METHODS
    except ValueError:
        return None
    if p_value:
        if threshold >= 1:
            return None
        score = MAX_SCORE if value <= 0 else math.log(min(value, 1.0)) / math.log(threshold)
    else:
        score = max(value, 0.0) / threshold
    return min(score, MAX_SCORE)


def drift_heatmap(windows: Sequence[MonitorWindow], watched: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """The heatmap's data (features × windows) for ``static/monitoring.js``, and the features
    in the order shown: those the monitor watches, then the rest by name."""
    seen: dict[str, None] = dict.fromkeys(watched)
    for window in windows:
        seen.update(dict.fromkeys(sorted(window.result.get("features", {}))))
    features = [f for f in seen if any(f in w.result.get("features", {}) for w in windows)]
    versions = {w.version for w in windows}
    columns = [
        {"start": w.start_ms, "end": w.end_ms, "version": w.version, "rows": w.rows, "breached": w.breached}
        for w in windows
    ]
    cells: list[dict[str, Any]] = []
    for x, window in enumerate(windows):
        found = window.result.get("features", {})
        for y, name in enumerate(features):
            feature = found.get(name)
            if feature is None:
                continue
            value, threshold = _number(feature.get("value")), _number(feature.get("threshold"))
            method = str(feature.get("method", ""))
            cells.append(
                {
                    "x": x,
                    "y": y,
                    "score": None if feature.get("no_data") else drift_score(method, value, threshold),
                    "value": value,
                    "threshold": threshold,
                    "method": method,
                    "drifted": bool(feature.get("drifted")),
                    "no_data": bool(feature.get("no_data")),
                    "missing_rate": _number(feature.get("missing_rate")),
                }
            )
    data = {
        "features": features,
        "windows": columns,
        "cells": cells,
        "max_score": MAX_SCORE,
        "several_versions": len(versions) > 1,
    }
    return data, features


def _histogram_start(windows: Sequence[MonitorWindow], features: Sequence[str]) -> dict[str, Any]:
    """The feature and window the histogram opens on: the newest drifted cell, else the first
    feature of the newest window."""
    for window in reversed(windows):
        drifted = [f for f in features if window.result.get("features", {}).get(f, {}).get("drifted")]
        if drifted:
            return {"feature": drifted[0], "start": window.start_ms, "version": window.version}
    if windows and features:
        return {"feature": features[0], "start": windows[-1].start_ms, "version": windows[-1].version}
    return {}


@router.get("/models/{name}/monitoring/histogram")
def histogram(
    request: Request,
    name: str,
    monitor: str = DEFAULT_MONITOR_NAME,
    feature: str = "",
    start: int = 0,
    version: int | None = None,
) -> JSONResponse:
    """One feature's reference and current histograms in the monitor's window starting at
    ``start`` (of ``version``, when several versions have one there), as JSON:
    ``{"no_data": true, "reason": …}`` when there is nothing to draw."""
    tracking = service(request)
    found = tracking.list_monitor_windows(name, monitor, version=version, since_ms=start, until_ms=start + 1, limit=10)
    window = next((w for w in reversed(found) if w.start_ms == start), None)
    if window is None:
        return JSONResponse({"no_data": True, "reason": "no evaluated window starts then"})
    drift = window.result.get("features", {}).get(feature)
    if drift is None:
        return JSONResponse({"no_data": True, "reason": "the window did not compare this feature"})
    answer = {
        "feature": feature,
        "start": window.start_ms,
        "end": window.end_ms,
        "version": window.version,
        "rows": drift.get("rows"),
        "method": drift.get("method"),
        "value": _number(drift.get("value")),
        "threshold": _number(drift.get("threshold")),
        "drifted": bool(drift.get("drifted")),
        "no_data": bool(drift.get("no_data")),
        "missing_rate": _number(drift.get("missing_rate")),
        "out_of_range_rate": _number(drift.get("out_of_range_rate")),
        "new_categories": list(drift.get("new_categories") or []),
        "histogram": drift.get("histogram") or {},
    }
    if answer["no_data"]:
        answer["reason"] = "no value of this feature was logged in the window"
    return JSONResponse(answer)


# -- writes ---------------------------------------------------------------------------------------


def _page_of(name: str, version: str) -> str:
    base = f"/models/{path_quote(name)}"
    text = version.strip()
    return base + (f"/versions/{int(text)}" if text.isascii() and text.isdigit() else "") + "/monitoring"


def _refused(exc: CairnError) -> bool:
    """Whether a refusal belongs beside the form (the viewer's input), not on an error page."""
    return not (isinstance(exc, ModelNotFound | PermissionDenied | Unauthenticated) or exc.http_status >= 500)


def _again(
    request: Request,
    tracking: TrackingService,
    name: str,
    version: str,
    exc: CairnError,
    *,
    form: MonitorForm | None = None,
    alert_error: str = "",
) -> HTMLResponse:
    model = tracking.get_model(name)
    text = version.strip()
    found = tracking.get_model_version(model.name, int(text)) if text.isascii() and text.isdigit() else None
    return _render(
        request, tracking, model, found, None, form=form, alert_error=alert_error, status_code=exc.http_status
    )


def _answer(request: Request, name: str, alert_id: str, back: str, resolve: bool) -> Response:
    """Acknowledge or resolve an alert, then back to the page the button was on."""
    tracking = service(request)
    try:
        if resolve:
            tracking.resolve_alert(name, alert_id)
        else:
            tracking.acknowledge_alert(name, alert_id)
    except CairnError as exc:
        if not _refused(exc):
            raise
        return _again(request, tracking, name, back, exc, alert_error=f"{exc.message} ({exc.code})")
    return RedirectResponse(_page_of(name, back) + "#alerts", status_code=303)


@router.post("/models/{name}/alerts/{alert_id}/acknowledge", response_class=HTMLResponse, dependencies=_WRITES)
def acknowledge_alert(request: Request, name: str, alert_id: str, back: Annotated[str, Form()] = "") -> Response:
    return _answer(request, name, alert_id, back, resolve=False)


@router.post("/models/{name}/alerts/{alert_id}/resolve", response_class=HTMLResponse, dependencies=_WRITES)
def resolve_alert(request: Request, name: str, alert_id: str, back: Annotated[str, Form()] = "") -> Response:
    return _answer(request, name, alert_id, back, resolve=True)


@router.post("/models/{name}/monitors", response_class=HTMLResponse, dependencies=_WRITES)
def create_monitor(
    request: Request,
    name: str,
    monitor_name: Annotated[str, Form()] = DEFAULT_MONITOR_NAME,
    alias: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    features: Annotated[str, Form()] = "",
    window: Annotated[str, Form()] = DEFAULT_WINDOW,
    schedule: Annotated[str, Form()] = "3600",
    alert_on: Annotated[str, Form()] = "feature",
    drift_thresholds: Annotated[str, Form()] = "",
    performance_thresholds: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Set a monitor up from the form; a refusal is shown beside it, with what was typed."""
    form = MonitorForm(
        monitor_name, alias, version, features, window, schedule, alert_on, drift_thresholds, performance_thresholds
    )
    tracking = service(request)
    try:
        followed = _version_number(version)
        drift = _pairs(drift_thresholds, "drift thresholds")
        created = tracking.create_monitor(
            name,
            monitor_name.strip(),
            alias=alias.strip() or None,
            version=followed,
            features=[f.strip() for f in features.split(",") if f.strip()],
            window=window.strip(),
            schedule=_schedule(schedule),
            drift={"thresholds": drift} if drift else None,
            performance=_pairs(performance_thresholds, "performance thresholds") or None,
            alert_on=alert_on,
        )
    except CairnError as exc:
        if not _refused(exc):
            raise
        form.error_code, form.error = exc.code, exc.message
        form.error_field = str((exc.details or {}).get("field", ""))
        return _again(request, tracking, name, back, exc, form=form)
    target = _page_of(name, back)
    return RedirectResponse(f"{target}?monitor={path_quote(created.name)}", status_code=303)


def _version_number(text: str) -> int | None:
    from cairn.core.errors import InvalidValue

    stripped = text.strip().lstrip("vV")
    if not stripped:
        return None
    if not (stripped.isascii() and stripped.isdigit()):
        raise InvalidValue(f"a version is a number, got {text[:40]!r}", details={"field": "version"})
    return int(stripped)


def _schedule(text: str) -> str | int:
    stripped = text.strip()
    return int(stripped) if stripped.isascii() and stripped.isdigit() else stripped


def _pairs(text: str, what: str) -> dict[str, Any]:
    """``key=value, key=value`` as a mapping; a value that reads as a number is one, any other
    is passed on as text for the service to refuse by name (a threshold of the wrong type)."""
    from cairn.core.errors import InvalidValue

    pairs: dict[str, Any] = {}
    for part in text.replace("\n", ",").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise InvalidValue(f"{what} are written key=value, got {part.strip()[:40]!r}", details={"field": what})
        try:
            pairs[key.strip()] = float(value.strip())
        except ValueError:
            pairs[key.strip()] = value.strip()
    return pairs
