"""Monitors, the windows they evaluate and the alerts they open (docs/monitoring.md).

A monitor watches one registered model: whatever version an alias names (``@champion``, so it
follows promotions) or one fixed version. On its schedule it compares each ended time window of
that version's prediction logs with a reference (by default the dataset the version's source
run trained on) and, once labels arrive, measures performance. A window whose drift or
performance breaches the monitor's thresholds opens an alert, unless one is already open for
the version: one alert per episode of breaches, which ends when a window passes again or when
someone resolves it.

Everything a monitor is told is checked here, before anything is stored: its name, what it
follows, its features, window, schedule, drift settings (:mod:`cairn.core.drift`), performance
thresholds and reference.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cairn.core import limits
from cairn.core.errors import InvalidValue

#: A monitor's name when none is given: most models have one.
DEFAULT_MONITOR_NAME = "default"
DEFAULT_ALIAS = "champion"
DEFAULT_WINDOW = "1d"
DEFAULT_SCHEDULE_S = 3600
#: The schedule's bounds: a minute to a week.
MIN_SCHEDULE_S = 60
MAX_SCHEDULE_S = 7 * 24 * 3600
#: Features one monitor watches at most.
MAX_MONITOR_FEATURES = 1000
#: Windows one evaluation covers at most, so a monitor of a long-idle model catches up in steps.
MAX_WINDOWS_PER_RUN = 1000

#: A duration as the OpenAPI document states it (a window's or a schedule's); the length rules
#: (whole hours, at most 31 days) are beyond a pattern and checked by :func:`check_window`.
DURATION_PATTERN = "^[1-9][0-9]{0,4}[mhd]$"
_DURATION = re.compile(r"^([1-9][0-9]{0,4})([mhd])$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}
#: Time windows a monitor evaluates: whole hours up to 31 days.
MIN_WINDOW_MS = 3_600_000
#: Alerts one listing returns at most.
MAX_ALERT_PAGE = 1000
MAX_WINDOW_MS = 31 * 86_400_000


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Performance(enum.StrEnum):
    """The performance measures a threshold may name (computed per window once labels exist)."""

    ACCURACY = "accuracy"
    F1 = "f1"
    ROC_AUC = "roc_auc"
    RMSE = "rmse"
    MAE = "mae"


#: Measures where lower is better: their threshold is a maximum, the others' a minimum.
LOWER_IS_BETTER = frozenset({Performance.RMSE, Performance.MAE})


@dataclass(frozen=True, slots=True)
class ReferenceChoice:
    """Where a monitor's reference comes from: the version's lineage (the dataset its source run
    logged with context ``train``), or a named dataset of a project (its newest version, or the
    one with ``digest``)."""

    kind: str = "lineage"
    project: str | None = None
    dataset: str | None = None
    digest: str | None = None

    def to_wire(self) -> dict[str, Any]:
        if self.kind == "lineage":
            return {"kind": "lineage"}
        return {"kind": "dataset", "project": self.project, "dataset": self.dataset, "digest": self.digest}


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """What a monitor checks: everything but whom it follows and when it runs."""

    #: The input columns compared; empty: every column the reference and the logs share.
    features: tuple[str, ...] = ()
    #: Whether the prediction columns are compared too (prediction drift).
    predictions: bool = True
    #: The window: ``Nh`` or ``Nd`` (UTC-aligned).
    window: str = DEFAULT_WINDOW
    #: Drift settings in :class:`cairn.core.drift.DriftSettings`'s wire form.
    drift: Mapping[str, Any] = field(default_factory=dict)
    #: Performance thresholds: a minimum for accuracy, F1, ROC AUC; a maximum for RMSE, MAE.
    performance: Mapping[Performance, float] = field(default_factory=dict)
    #: ``feature``: any compared column drifting breaches; ``dataset``: only the dataset verdict.
    alert_on: str = "feature"
    reference: ReferenceChoice = field(default_factory=ReferenceChoice)

    def to_wire(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "predictions": self.predictions,
            "window": self.window,
            "drift": dict(self.drift),
            "performance": {str(k): v for k, v in self.performance.items()},
            "alert_on": self.alert_on,
            "reference": self.reference.to_wire(),
        }


@dataclass(frozen=True, slots=True)
class Monitor:
    id: str
    model: str
    name: str
    #: Exactly one of alias and version is set.
    alias: str | None
    version: int | None
    config: MonitorConfig
    schedule_s: int
    next_run_at: int
    last_run_at: int | None
    #: Why the last evaluation failed (no reference, say), until one succeeds.
    last_error: str | None
    created_by: str
    created_at: int
    updated_at: int

    @property
    def follows(self) -> str:
        return f"@{self.alias}" if self.alias is not None else f"version {self.version}"


@dataclass(frozen=True, slots=True)
class MonitorWindow:
    """One evaluated window of one version: the drift result's wire form in ``result``, with
    ``performance`` and the ``breaches`` that made the window breached."""

    monitor_id: str
    version: int
    start_ms: int
    end_ms: int
    rows: int
    drifted_share: float
    drifted: bool
    breached: bool
    result: Mapping[str, Any]
    evaluated_at: int


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    monitor_id: str
    monitor: str
    model: str
    version: int
    status: AlertStatus
    #: The start of the first and of the latest breached window of the episode.
    first_window_ms: int
    last_window_ms: int
    breached_windows: int
    #: What breached: ``features`` (name → method, value, threshold, first_window_ms) and
    #: ``performance`` (measure → value, threshold).
    detail: Mapping[str, Any]
    opened_at: int
    acknowledged_by: str | None = None
    acknowledged_at: int | None = None
    resolved_by: str | None = None
    resolved_at: int | None = None


def monitor_subject(model: str, name: str) -> str:
    return f"models/{model}/monitors/{name}"


def alert_subject(model: str, alert_id: str) -> str:
    return f"models/{model}/alerts/{alert_id}"


@dataclass(frozen=True)
class MonitorRun:
    """What one evaluation of a monitor did."""

    monitor: str
    model: str
    #: The version evaluated (None when the alias named none, or the lease was held elsewhere).
    version: int | None = None
    windows: list[MonitorWindow] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    #: Why nothing could be evaluated (no reference, say); kept on the monitor as ``last_error``.
    error: str | None = None
    #: Another process holds the monitor's lease: nothing was done here.
    busy: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "model": self.model,
            "version": self.version,
            "windows": [window_to_wire(w) for w in self.windows],
            "opened": list(self.opened),
            "resolved": list(self.resolved),
            "error": self.error,
            "busy": self.busy,
        }


def monitor_run_from_wire(data: Mapping[str, Any]) -> MonitorRun:
    return MonitorRun(
        monitor=data["monitor"],
        model=data["model"],
        version=data["version"],
        windows=[window_from_wire(w) for w in data["windows"]],
        opened=list(data["opened"]),
        resolved=list(data["resolved"]),
        error=data["error"],
        busy=data["busy"],
    )


# -- checks ---------------------------------------------------------------------------------------


def check_monitor_name(name: object) -> str:
    checked = limits.check_name(name, "monitor name")
    if "/" in checked:
        raise InvalidValue(f"a monitor name has no '/', got {checked[:80]!r}", details={"field": "name"})
    return checked


def duration_ms(text: object, what: str) -> int:
    """Milliseconds of ``Nm``, ``Nh`` or ``Nd`` (``30m``, ``6h``, ``1d``). Raises InvalidValue."""
    found = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        raise InvalidValue(
            f"{what} is a number and a unit (m, h or d), such as 1h or 1d; got {str(text)[:40]!r}",
            details={"field": what},
        )
    return int(found.group(1)) * _UNIT_MS[found.group(2)]


def check_window(window: object) -> str:
    """A monitor's window: whole hours, from 1h to 31d. Raises InvalidValue."""
    length = duration_ms(window, "window")
    if length % MIN_WINDOW_MS or not MIN_WINDOW_MS <= length <= MAX_WINDOW_MS:
        raise InvalidValue(
            f"a monitor's window is whole hours from 1h to 31d, got {window!r}", details={"field": "window"}
        )
    assert isinstance(window, str)
    return window


def window_ms(window: str) -> int:
    return duration_ms(window, "window")


def check_schedule(schedule: object) -> int:
    """Seconds between evaluations, from ``Nm``/``Nh``/``Nd`` or a number of seconds."""
    seconds = duration_ms(schedule, "schedule") // 1000 if isinstance(schedule, str) else schedule
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not MIN_SCHEDULE_S <= seconds <= MAX_SCHEDULE_S:
        raise InvalidValue(
            f"a monitor's schedule is from 1m to 7d ({MIN_SCHEDULE_S} to {MAX_SCHEDULE_S} seconds), got {schedule!r}",
            details={"field": "schedule"},
        )
    return seconds


def check_features(features: object) -> tuple[str, ...]:
    if features is None:
        return ()
    if isinstance(features, str) or not isinstance(features, Sequence):
        raise InvalidValue("features are a list of column names", details={"field": "features"})
    if len(features) > MAX_MONITOR_FEATURES:
        raise InvalidValue(f"a monitor watches at most {MAX_MONITOR_FEATURES} features", details={"field": "features"})
    checked = [limits.check_text(f, "feature name", limits.MAX_NAME_LENGTH) for f in features]
    if len(set(checked)) != len(checked):
        raise InvalidValue("a feature is named twice", details={"field": "features"})
    return tuple(checked)


def check_performance(thresholds: object) -> dict[Performance, float]:
    if thresholds is None:
        return {}
    if not isinstance(thresholds, Mapping):
        raise InvalidValue("performance thresholds are an object of measure → number", details={"field": "performance"})
    checked: dict[Performance, float] = {}
    for key, value in thresholds.items():
        try:
            measure = Performance(key)
        except ValueError:
            known = ", ".join(p.value for p in Performance)
            raise InvalidValue(
                f"{str(key)[:40]!r} is not a performance measure; the measures are {known}",
                details={"field": "performance"},
            ) from None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidValue(
                f"the threshold of {measure} is a finite number, got {str(value)[:40]!r}",
                details={"field": "performance", "measure": str(measure)},
            )
        checked[measure] = float(value)
    return checked


def check_reference(reference: object) -> ReferenceChoice:
    if reference is None:
        return ReferenceChoice()
    if isinstance(reference, ReferenceChoice):
        reference = reference.to_wire()
    if not isinstance(reference, Mapping):
        raise InvalidValue("a reference is an object with a kind", details={"field": "reference"})
    kind = reference.get("kind", "lineage")
    if kind == "lineage":
        return ReferenceChoice()
    if kind != "dataset":
        raise InvalidValue(
            f"a reference's kind is lineage or dataset, got {str(kind)[:40]!r}", details={"field": "reference"}
        )
    project = limits.check_name(reference.get("project"), "reference project")
    dataset = limits.check_name(reference.get("dataset"), "reference dataset")
    digest = reference.get("digest")
    if digest is not None:
        digest = limits.check_text(digest, "reference digest", 64)
    return ReferenceChoice("dataset", project, dataset, digest)


def check_config(
    *,
    features: object = None,
    predictions: object = True,
    window: object = DEFAULT_WINDOW,
    drift: object = None,
    performance: object = None,
    alert_on: object = "feature",
    reference: object = None,
) -> MonitorConfig:
    """A monitor's configuration from what a caller sent. Raises InvalidValue naming the field."""
    from cairn.core.drift import DriftSettings

    if not isinstance(predictions, bool):
        raise InvalidValue("predictions is true or false", details={"field": "predictions"})
    if alert_on not in ("feature", "dataset"):
        raise InvalidValue(f"alert_on is feature or dataset, got {str(alert_on)[:40]!r}", details={"field": "alert_on"})
    if drift is not None and not isinstance(drift, Mapping):
        raise InvalidValue("drift settings are an object", details={"field": "drift"})
    settings = DriftSettings.from_wire(dict(drift or {}))
    return MonitorConfig(
        features=check_features(features),
        predictions=predictions,
        window=check_window(window),
        drift=settings.to_wire(),
        performance=check_performance(performance),
        alert_on=str(alert_on),
        reference=check_reference(reference),
    )


def config_from_wire(data: Mapping[str, Any]) -> MonitorConfig:
    return check_config(
        features=data.get("features"),
        predictions=data.get("predictions", True),
        window=data.get("window", DEFAULT_WINDOW),
        drift=data.get("drift"),
        performance=data.get("performance"),
        alert_on=data.get("alert_on", "feature"),
        reference=data.get("reference"),
    )


# -- wire forms -----------------------------------------------------------------------------------


def monitor_to_wire(monitor: Monitor) -> dict[str, Any]:
    return {
        "id": monitor.id,
        "model": monitor.model,
        "name": monitor.name,
        "alias": monitor.alias,
        "version": monitor.version,
        "config": monitor.config.to_wire(),
        "schedule_s": monitor.schedule_s,
        "next_run_at": monitor.next_run_at,
        "last_run_at": monitor.last_run_at,
        "last_error": monitor.last_error,
        "created_by": monitor.created_by,
        "created_at": monitor.created_at,
        "updated_at": monitor.updated_at,
    }


def monitor_from_wire(data: Mapping[str, Any]) -> Monitor:
    return Monitor(
        id=data["id"],
        model=data["model"],
        name=data["name"],
        alias=data["alias"],
        version=data["version"],
        config=config_from_wire(data["config"]),
        schedule_s=data["schedule_s"],
        next_run_at=data["next_run_at"],
        last_run_at=data["last_run_at"],
        last_error=data["last_error"],
        created_by=data["created_by"],
        created_at=data["created_at"],
        updated_at=data["updated_at"],
    )


def window_to_wire(window: MonitorWindow) -> dict[str, Any]:
    return {
        "monitor_id": window.monitor_id,
        "version": window.version,
        "start_ms": window.start_ms,
        "end_ms": window.end_ms,
        "rows": window.rows,
        "drifted_share": window.drifted_share,
        "drifted": window.drifted,
        "breached": window.breached,
        "result": dict(window.result),
        "evaluated_at": window.evaluated_at,
    }


def window_from_wire(data: Mapping[str, Any]) -> MonitorWindow:
    return MonitorWindow(**{k: data[k] for k in MonitorWindow.__slots__})


def alert_to_wire(alert: Alert) -> dict[str, Any]:
    wire = {k: getattr(alert, k) for k in Alert.__slots__}
    wire["status"] = str(alert.status)
    wire["detail"] = dict(alert.detail)
    return wire


def alert_from_wire(data: Mapping[str, Any]) -> Alert:
    values = {k: data[k] for k in Alert.__slots__}
    values["status"] = AlertStatus(values["status"])
    return Alert(**values)
