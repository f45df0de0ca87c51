"""The rules of monitoring, mixed into :class:`TrackingService` (docs/monitoring.md).

- a monitor belongs to a registered model and follows an alias (``champion`` unless told) or one
  version; making, changing or deleting one is a maintainer's (as webhooks are), reading one a
  viewer's, running one or acknowledging its alerts an editor's;
- a monitor may only name features the followed version's signature has, and drift settings and
  thresholds of the right type: checked when it is made, so an evaluation never meets them;
- an evaluation runs under the monitor's lease in the store, so of several server processes (or
  a cron job beside them) one evaluates a monitor at a time; a window is evaluated once, after
  it has ended, for the version the alias names at that moment;
- a breached window opens an alert (event ``alert.opened``, so webhooks fire) unless the version
  already has one open or acknowledged: one alert per episode. The first window that passes
  resolves it (``alert.resolved``); a window without rows is no window, so silence neither
  breaches nor resolves.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cairn.core import limits
from cairn.core.clock import now_ms
from cairn.core.errors import CairnError, Conflict, InvalidValue, PermissionDenied
from cairn.core.events import EventType
from cairn.core.models.uri import check_alias, check_model_name, check_version_number
from cairn.core.monitors import (
    DEFAULT_ALIAS,
    DEFAULT_MONITOR_NAME,
    DEFAULT_SCHEDULE_S,
    DEFAULT_WINDOW,
    MAX_ALERT_PAGE,
    MAX_WINDOWS_PER_RUN,
    Alert,
    AlertStatus,
    Monitor,
    MonitorConfig,
    MonitorRun,
    MonitorWindow,
    alert_subject,
    check_config,
    check_monitor_name,
    check_schedule,
    check_window,
    monitor_subject,
    window_ms,
)
from cairn.service import monitor_data
from cairn.service.policy import Action

if TYPE_CHECKING:
    import pyarrow as pa

    from cairn.blobs.base import BlobStore
    from cairn.core.drift import Reference, WindowDrift
    from cairn.core.events import Event
    from cairn.core.registry import ModelVersion
    from cairn.service.policy import Policy, Principal
    from cairn.store.base import MetadataStore

logger = logging.getLogger("cairn.monitors")

#: How long a claimed evaluation may take before another process may take the monitor over.
LEASE_MS = 15 * 60 * 1000
#: Windows one listing answers at most.
MAX_WINDOW_PAGE = limits.MAX_PAGE_SIZE
#: Windows a report covers at most (a year of days; ten weeks of hours).
MAX_REPORT_WINDOWS = 2000


class MonitorRules:
    store: MetadataStore
    principal: Principal
    policy: Policy

    @property
    def blobs(self) -> BlobStore:
        raise NotImplementedError  # provided by ArtifactRules

    def _record(self, type_: EventType, subject: str, data: Mapping[str, Any]) -> Event:
        raise NotImplementedError  # provided by EventRules

    # -- monitors -------------------------------------------------------------------------------

    def create_monitor(
        self,
        model: str,
        name: str = DEFAULT_MONITOR_NAME,
        *,
        alias: str | None = None,
        version: int | None = None,
        features: Sequence[str] | None = None,
        predictions: bool = True,
        window: str = DEFAULT_WINDOW,
        schedule: str | int = DEFAULT_SCHEDULE_S,
        drift: Mapping[str, Any] | None = None,
        performance: Mapping[str, float] | None = None,
        alert_on: str = "feature",
        reference: Mapping[str, Any] | None = None,
    ) -> Monitor:
        """A monitor of ``model`` following ``alias`` (``champion`` when neither it nor
        ``version`` is given) and due at once. Raises InvalidValue (naming the field: a feature
        the version does not take, a threshold that is no number…), ModelNotFound,
        AliasNotFound, ModelVersionNotFound, AlreadyExists."""
        checked_model, checked_name = check_model_name(model), check_monitor_name(name)
        if alias is not None and version is not None:
            raise InvalidValue("a monitor follows an alias or a version, not both", details={"field": "alias"})
        checked_alias = None if version is not None else check_alias(alias or DEFAULT_ALIAS)
        checked_version = None if version is None else check_version_number(version)
        config = check_config(
            features=features,
            predictions=predictions,
            window=window,
            drift=drift,
            performance=performance,
            alert_on=alert_on,
            reference=reference,
        )
        schedule_s = check_schedule(schedule)
        self.policy.check_model(self.principal, Action.MAINTAIN, checked_model)
        followed = (
            self.store.version_by_alias(checked_model, checked_alias)
            if checked_alias is not None
            else self.store.get_version(checked_model, checked_version or 0)
        )
        monitor_data.check_features_known(config.features, followed)
        _check_method_features(config)
        with self.store.atomic():
            monitor = self.store.create_monitor(
                checked_model,
                checked_name,
                alias=checked_alias,
                version=checked_version,
                config=config,
                schedule_s=schedule_s,
                created_by=self.principal.name,
            )
            self._record(EventType.MONITOR_CREATED, monitor_subject(checked_model, checked_name), _event_of(monitor))
        return monitor

    def get_monitor(self, model: str, name: str = DEFAULT_MONITOR_NAME) -> Monitor:
        """Raises ModelNotFound, MonitorNotFound."""
        checked = check_model_name(model)
        self.policy.check_model(self.principal, Action.READ, checked)
        return self.store.get_monitor(checked, check_monitor_name(name))

    def list_monitors(self, model: str | None = None) -> list[Monitor]:
        """The model's monitors, or every monitor of the models the caller may read."""
        if model is not None:
            checked = check_model_name(model)
            self.policy.check_model(self.principal, Action.READ, checked)
            return self.store.list_monitors(checked)
        return [m for m in self.store.list_monitors() if self._may(Action.READ, m.model)]

    def delete_monitor(self, model: str, name: str = DEFAULT_MONITOR_NAME) -> None:
        """The monitor, its windows and its alerts. Raises ModelNotFound, MonitorNotFound."""
        checked_model, checked_name = check_model_name(model), check_monitor_name(name)
        self.policy.check_model(self.principal, Action.MAINTAIN, checked_model)
        with self.store.atomic():
            deleted = self.store.delete_monitor(checked_model, checked_name)
            self._record(EventType.MONITOR_DELETED, monitor_subject(checked_model, checked_name), _event_of(deleted))

    def list_monitor_windows(
        self,
        model: str,
        name: str = DEFAULT_MONITOR_NAME,
        *,
        version: int | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 1000,
    ) -> list[MonitorWindow]:
        """The monitor's evaluated windows (the newest ``limit`` in the range), oldest first."""
        monitor = self.get_monitor(model, name)
        number = None if version is None else check_version_number(version)
        since = None if since_ms is None else limits.check_int64(since_ms, "since_ms", minimum=0)
        until = None if until_ms is None else limits.check_int64(until_ms, "until_ms", minimum=0)
        limits.check_listing_limit(limit, MAX_WINDOW_PAGE)
        return self.store.list_windows(monitor.id, version=number, since_ms=since, until_ms=until, limit=limit)

    # -- alerts ---------------------------------------------------------------------------------

    def list_alerts(
        self,
        model: str | None = None,
        *,
        monitor: str | None = None,
        status: Sequence[str] = (),
        limit: int = 100,
    ) -> list[Alert]:
        """Alerts newest first: of the model (of one of its monitors), or of every model the
        caller may read. ``status`` keeps those in the given states (open, acknowledged, resolved)."""
        statuses = tuple(_status(s) for s in status)
        limits.check_listing_limit(limit, MAX_ALERT_PAGE)
        if model is None:
            if monitor is not None:
                raise InvalidValue("a monitor is named with its model", details={"field": "monitor"})
            found = self.store.list_alerts(statuses=statuses, limit=limit)
            return [a for a in found if self._may(Action.READ, a.model)]
        checked = check_model_name(model)
        self.policy.check_model(self.principal, Action.READ, checked)
        named = None if monitor is None else check_monitor_name(monitor)
        return self.store.list_alerts(checked, monitor=named, statuses=statuses, limit=limit)

    def get_alert(self, model: str, alert_id: str) -> Alert:
        checked = check_model_name(model)
        self.policy.check_model(self.principal, Action.READ, checked)
        return self.store.get_alert(checked, limits.check_text(alert_id, "alert id", 32))

    def acknowledge_alert(self, model: str, alert_id: str) -> Alert:
        """Someone has seen it: it stays part of its episode (no new alert while breaches go
        on). Raises AlertNotFound, Conflict (already resolved)."""
        return self._move_alert(model, alert_id, AlertStatus.ACKNOWLEDGED)

    def resolve_alert(self, model: str, alert_id: str) -> Alert:
        """End the episode by hand: the next breached window opens a new alert."""
        return self._move_alert(model, alert_id, AlertStatus.RESOLVED)

    def _move_alert(self, model: str, alert_id: str, status: AlertStatus) -> Alert:
        checked = check_model_name(model)
        self.policy.check_model(self.principal, Action.WRITE, checked)
        with self.store.atomic():
            alert = self.store.get_alert(checked, limits.check_text(alert_id, "alert id", 32))
            if alert.status is AlertStatus.RESOLVED:
                raise Conflict(f"alert {alert.id} is resolved already", details={"alert_id": alert.id})
            if alert.status is status:
                return alert
            self.store.set_alert_status(alert.id, status, by=self.principal.name, at=now_ms())
            event = EventType.ALERT_ACKNOWLEDGED if status is AlertStatus.ACKNOWLEDGED else EventType.ALERT_RESOLVED
            data = {"monitor": alert.monitor, "version": alert.version, "by": self.principal.name}
            self._record(event, alert_subject(checked, alert.id), data)
            return self.store.get_alert(checked, alert.id)

    # -- evaluation -----------------------------------------------------------------------------

    def run_monitor(self, model: str, name: str = DEFAULT_MONITOR_NAME, *, now: int | None = None) -> MonitorRun:
        """Evaluate the monitor now, due or not: every ended window since the last one
        evaluated. ``busy`` when another process holds its lease."""
        checked_model, checked_name = check_model_name(model), check_monitor_name(name)
        self.policy.check_model(self.principal, Action.WRITE, checked_model)
        at = now_ms() if now is None else now
        claims = self.store.claim_monitors(now=at, lease_ms=LEASE_MS, limit=1, model=checked_model, name=checked_name)
        if not claims:
            self.store.get_monitor(checked_model, checked_name)  # MonitorNotFound before "busy"
            return MonitorRun(checked_name, checked_model, busy=True)
        return self._evaluate_claimed(*claims[0], at)

    def run_due_monitors(self, *, limit: int = 100, now: int | None = None) -> list[MonitorRun]:
        """Evaluate every due monitor of the models the caller may run (the server's background
        worker does this on its own; ``cairn monitors run`` does it from cron)."""
        at = now_ms() if now is None else now
        runs: list[MonitorRun] = []
        for monitor in self.store.list_monitors():
            if len(runs) >= limit:
                break
            if monitor.next_run_at > at or not self._may(Action.WRITE, monitor.model):
                continue
            claims = self.store.claim_monitors(
                now=at, lease_ms=LEASE_MS, limit=1, model=monitor.model, name=monitor.name
            )
            if claims:
                runs.append(self._evaluate_claimed(*claims[0], at))
        return runs

    def _evaluate_claimed(self, monitor: Monitor, token: str, now: int) -> MonitorRun:
        error: str | None = None
        try:
            run = self._evaluate(monitor, token, now)
        except CairnError as exc:  # no reference, the alias removed…: said on the monitor
            run, error = MonitorRun(monitor.name, monitor.model, error=exc.message), exc.message
        except Exception as exc:  # a file that went missing, say: the next run tries again
            logger.exception("evaluating monitor %s of %s failed", monitor.name, monitor.model)
            run, error = MonitorRun(monitor.name, monitor.model, error=f"{type(exc).__name__}: {exc}"), str(exc)
        self.store.finish_monitor_run(monitor.id, token, next_run_at=now + monitor.schedule_s * 1000, error=error)
        return run

    def _evaluate(self, monitor: Monitor, token: str, now: int) -> MonitorRun:
        from cairn.core.drift import DriftSettings

        followed = self._followed_version(monitor)
        config = monitor.config
        settings = DriftSettings.from_wire(dict(config.drift))
        reference = self._reference(followed, config)
        step = window_ms(config.window)
        end = now - now % step
        start = self.store.last_window_end(monitor.id, followed.version)
        run = MonitorRun(monitor.name, monitor.model, followed.version)
        if start is None:
            first = monitor_data.first_logged_ms(self.store, monitor.model, followed.version)
            if first is None:
                return run
            start = first - first % step
        evaluated = 0
        while start < end and evaluated < MAX_WINDOWS_PER_RUN:
            if not self.store.holds_lease(monitor.id, token):
                break  # taken over after the lease ran out: the other process goes on
            table = monitor_data.read_window(
                self.store, self.blobs, monitor.model, followed.version, start, start + step
            )
            if table.num_rows == 0:  # no window: jump to the next logged prediction
                following = monitor_data.first_logged_ms(
                    self.store, monitor.model, followed.version, since_ms=start + step
                )
                if following is None:
                    break
                start = max(start + step, following - following % step)
                continue
            drift = _compare(reference, table, settings, config)
            performance = self._performance(followed, table, start, start + step)
            self._record_window(
                monitor, run, followed.version, start, start + step, table.num_rows, drift, performance, now
            )
            evaluated += 1
            start += step
        return run

    def _record_window(
        self,
        monitor: Monitor,
        run: MonitorRun,
        version: int,
        start: int,
        end: int,
        rows: int,
        drift: WindowDrift,
        performance: Mapping[str, Any],
        now: int,
    ) -> None:
        breaches = _drift_breaches(drift, monitor.config)
        missed = _performance_breaches(performance, monitor.config)
        result = drift.to_wire()
        result["performance"] = dict(performance)
        result["breaches"] = {"features": breaches, "performance": missed}
        window = MonitorWindow(
            monitor_id=monitor.id,
            version=version,
            start_ms=start,
            end_ms=end,
            rows=rows,
            drifted_share=float(drift.drifted_share),
            drifted=bool(drift.drifted),
            breached=bool(breaches) or bool(missed),
            result=result,
            evaluated_at=now,
        )
        with self.store.atomic():
            self.store.add_window(window)
            live = self.store.live_alert(monitor.id, version)
            if window.breached and live is None:
                detail = _alert_detail({}, breaches, missed, start, end)
                alert_id = self.store.open_alert(monitor.id, version, window_ms=start, detail=detail, opened_at=now)
                data = {
                    "alert_id": alert_id,
                    "monitor": monitor.name,
                    "version": version,
                    "window_start_ms": start,
                    "window_end_ms": end,
                    "drifted_share": window.drifted_share,
                    **{k: detail[k] for k in ("features", "performance")},
                }
                self._record(EventType.ALERT_OPENED, alert_subject(monitor.model, alert_id), data)
                run.opened.append(alert_id)
            elif window.breached and live is not None:
                detail = _alert_detail(live.detail, breaches, missed, start, end)
                self.store.extend_alert(live.id, window_ms=start, detail=detail)
            elif live is not None:
                self.store.set_alert_status(live.id, AlertStatus.RESOLVED, by="monitor", at=now)
                data = {"monitor": monitor.name, "version": version, "by": "monitor", "window_start_ms": start}
                self._record(EventType.ALERT_RESOLVED, alert_subject(monitor.model, live.id), data)
                run.resolved.append(live.id)
        run.windows.append(window)

    def _followed_version(self, monitor: Monitor) -> ModelVersion:
        if monitor.alias is not None:
            return self.store.version_by_alias(monitor.model, monitor.alias)
        return self.store.get_version(monitor.model, monitor.version or 0)

    def _reference(self, version: ModelVersion, config: MonitorConfig) -> Reference:
        dataset = monitor_data.reference_dataset(self.store, version, config.reference)
        return monitor_data.build_reference(self.store, self.blobs, dataset, None)

    def _performance(self, version: ModelVersion, table: pa.Table, start: int, end: int) -> dict[str, Any]:
        """``labelled`` (the window's rows with a label) and the measures of the model's kind."""
        labels = monitor_data.read_labels(self.store, self.blobs, version.model, version.version, start, end)
        measured = window_performance(version.signature, table, labels)
        measured.pop("kind", None)
        return measured

    def performance_report(
        self,
        model: str,
        version: int,
        window: str = DEFAULT_WINDOW,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> dict[str, Any]:
        """Performance per window of the version's labelled predictions in [start_ms, end_ms)
        (until now when not given), measured now with the labels known now, in the fixed form
        ``cairn monitor performance --json`` prints (docs/monitoring.md): ``model``,
        ``version``, ``kind`` (classifier or regressor) and ``windows`` in time order, each
        ``start``, ``end``, ``rows``, ``labelled`` and ``metrics`` (measure → value); windows
        without predictions are left out."""
        checked = check_model_name(model), check_version_number(version)
        self.policy.check_model(self.principal, Action.READ, checked[0])
        step = window_ms(check_window(window))
        since = None if start_ms is None else limits.check_int64(start_ms, "start_ms", minimum=0)
        until = now_ms() if end_ms is None else limits.check_int64(end_ms, "end_ms", minimum=0)
        followed = self.store.get_version(*checked)
        report: dict[str, Any] = {"model": checked[0], "version": checked[1], "kind": None, "windows": []}
        first = monitor_data.first_logged_ms(self.store, *checked, since_ms=since)
        if first is None or first >= until:
            return report
        if (until - first) // step > MAX_REPORT_WINDOWS:
            raise InvalidValue(
                f"a report covers at most {MAX_REPORT_WINDOWS} windows: narrow --from/--to or widen --window",
                details={"field": "window"},
            )
        start = first - first % step
        while start < until:
            low, high = max(start, since or start), min(start + step, until)
            table = monitor_data.read_window(self.store, self.blobs, *checked, low, high)
            if table.num_rows:
                labels = monitor_data.read_labels(self.store, self.blobs, *checked, low, high)
                measured = window_performance(followed.signature, table, labels)
                report["kind"] = measured.pop("kind", None) or report["kind"]
                labelled = measured.pop("labelled")
                report["windows"].append(
                    {
                        "start": _iso(low),
                        "end": _iso(high),
                        "rows": table.num_rows,
                        "labelled": labelled,
                        "metrics": measured,
                    }
                )
            start += step
        return report

    # -- reports --------------------------------------------------------------------------------

    def drift_report(
        self,
        model: str,
        *,
        version: int | None = None,
        alias: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        window: str = DEFAULT_WINDOW,
        monitor: str | None = None,
    ) -> dict[str, Any]:
        """Drift per window of the version's logged predictions (the alias's, ``champion``'s
        when neither is given) in [since_ms, until_ms), computed now with the monitor's settings
        (the defaults without one), in the fixed form ``cairn monitor report --json`` prints
        (docs/monitoring.md): windows in time order, empty ones left out."""
        from cairn.core.drift import DriftSettings

        checked = check_model_name(model)
        self.policy.check_model(self.principal, Action.READ, checked)
        config = self.store.get_monitor(checked, check_monitor_name(monitor)).config if monitor else check_config()
        step = window_ms(check_window(window))
        if version is not None:
            followed = self.store.get_version(checked, check_version_number(version))
        else:
            followed = self.store.version_by_alias(checked, check_alias(alias or DEFAULT_ALIAS))
        since = None if since_ms is None else limits.check_int64(since_ms, "since_ms", minimum=0)
        until = now_ms() if until_ms is None else limits.check_int64(until_ms, "until_ms", minimum=0)
        report: dict[str, Any] = {"model": checked, "version": followed.version, "windows": []}
        first = monitor_data.first_logged_ms(self.store, checked, followed.version, since_ms=since)
        if first is None or first >= until:
            return report
        if (until - first) // step > MAX_REPORT_WINDOWS:
            raise InvalidValue(
                f"a report covers at most {MAX_REPORT_WINDOWS} windows: narrow --from/--to or widen --window",
                details={"field": "window"},
            )
        settings = DriftSettings.from_wire(dict(config.drift))
        reference = self._reference(followed, config)
        start = first - first % step
        while start < until:
            low, high = max(start, since or start), min(start + step, until)
            table = monitor_data.read_window(self.store, self.blobs, checked, followed.version, low, high)
            if table.num_rows:
                drift = _compare(reference, table, settings, config)
                report["windows"].append(_report_window(low, high, table.num_rows, drift))
            start += step
        return report

    def _may(self, action: Action, model: str) -> bool:
        try:
            self.policy.check_model(self.principal, action, model)
        except (PermissionDenied, CairnError):
            return False
        return True


# -- helpers ---------------------------------------------------------------------------------------


def _compare(reference: Reference, table: pa.Table, settings: Any, config: MonitorConfig) -> WindowDrift:
    from cairn.core.drift import compare

    inputs, outputs = monitor_data.logged_columns(table)
    if config.features:
        compared = list(config.features)
    else:
        logged = set(inputs) | (set(outputs) if config.predictions else set())
        compared = [f for f in reference.features if f in logged]
    if config.predictions and config.features:
        compared += [o for o in outputs if o in reference.features and o not in compared]
    return compare(reference, table, settings, compared)


def _drift_breaches(drift: WindowDrift, config: MonitorConfig) -> dict[str, Any]:
    """The drifted features that breach: each of them when the monitor alerts on features,
    all of them only when the dataset drifted when it alerts on the dataset."""
    if config.alert_on == "dataset" and not drift.drifted:
        return {}
    return {
        name: {"method": str(f.method), "value": f.value, "threshold": f.threshold}
        for name, f in drift.features.items()
        if f.drifted
    }


def window_performance(signature: Any, table: pa.Table, labels: pa.Table) -> dict[str, Any]:
    """``labelled`` (rows of ``table``, a window of logged predictions, whose request id
    ``labels`` label), ``kind`` and the measures (:mod:`cairn.core.performance`) on those rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from cairn.core.performance import measure, model_kind, prediction_columns
    from cairn.core.prediction_labels import LABEL
    from cairn.core.prediction_logs import REQUEST_ID

    _inputs, outputs = monitor_data.logged_columns(table)
    predicted, score = prediction_columns(outputs)
    if not labels.num_rows or predicted is None or predicted not in table.column_names:
        return {"labelled": 0}
    index = pc.index_in(table.column(REQUEST_ID), value_set=labels.column(REQUEST_ID))
    found = pc.is_valid(index)
    truth = labels.column(LABEL).take(pc.filter(index, found))
    guess = table.column(predicted).filter(found)
    scores = table.column(score).filter(found) if score is not None and score in table.column_names else None
    keep = pc.and_(pc.is_valid(truth), pc.is_valid(guess))
    truth, guess = truth.filter(keep), guess.filter(keep)
    labelled = len(truth)
    if not labelled or not _plain_type(truth.type) or not _plain_type(guess.type):
        return {"labelled": labelled}
    predictions = guess.to_numpy(zero_copy_only=False)
    kind = model_kind(signature, predicted, predictions)
    score_values = None
    if scores is not None:
        kept = scores.filter(keep)
        if pa.types.is_integer(kept.type) or pa.types.is_floating(kept.type):
            score_values = pc.fill_null(pc.cast(kept, pa.float64()), float("nan")).to_numpy(zero_copy_only=False)
    measured = measure(kind, truth.to_numpy(zero_copy_only=False), predictions, score_values)
    return {"labelled": labelled, "kind": str(kind), **measured}


def _plain_type(type_: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_integer(type_)
        or pa.types.is_floating(type_)
        or pa.types.is_boolean(type_)
        or pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
    )


def _performance_breaches(performance: Mapping[str, Any], config: MonitorConfig) -> dict[str, Any]:
    """The measures past their threshold: below a minimum, or above a maximum for RMSE and MAE."""
    from cairn.core.monitors import LOWER_IS_BETTER

    breaches: dict[str, Any] = {}
    for measure, threshold in config.performance.items():
        value = performance.get(str(measure))
        if not isinstance(value, int | float) or not math.isfinite(value):
            continue
        past = value > threshold if measure in LOWER_IS_BETTER else value < threshold
        if past:
            breaches[str(measure)] = {"value": float(value), "threshold": float(threshold)}
    return breaches


def _iso(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat().replace("+00:00", "Z")


def _alert_detail(
    before: Mapping[str, Any],
    features: Mapping[str, Any],
    performance: Mapping[str, Any],
    start: int,
    end: int,
) -> dict[str, Any]:
    """An alert's detail after a breached window: every feature and measure that breached in
    the episode, each with the window it first did and its latest value."""
    detail: dict[str, Any] = {
        "features": dict(before.get("features", {})),
        "performance": dict(before.get("performance", {})),
        "first_window_start_ms": before.get("first_window_start_ms", start),
        "last_window_end_ms": end,
    }
    for key, found in (("features", features), ("performance", performance)):
        for name, value in found.items():
            first = detail[key].get(name, {}).get("first_window_ms", start)
            detail[key][name] = {**value, "first_window_ms": first}
    return detail


def _report_window(start: int, end: int, rows: int, drift: WindowDrift) -> dict[str, Any]:
    import datetime as dt

    def iso(ms: int) -> str:
        return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat().replace("+00:00", "Z")

    features = {
        name: {"method": str(f.method), "value": f.value, "threshold": f.threshold, "drifted": f.drifted}
        for name, f in drift.features.items()
        if f.value is not None and math.isfinite(f.value)
    }
    return {
        "start": iso(start),
        "end": iso(end),
        "rows": rows,
        "features": features,
        "drifted_share": float(drift.drifted_share),
        "drifted": bool(drift.drifted),
    }


def _check_method_features(config: MonitorConfig) -> None:
    methods = config.drift.get("methods") or {}
    if config.features:
        unknown = [f for f in methods if f not in config.features]
        if unknown:
            raise InvalidValue(
                f"a drift method is set for {unknown[0]!r}, which the monitor does not watch",
                details={"field": "drift", "feature": unknown[0]},
            )


def _status(value: str) -> AlertStatus:
    try:
        return AlertStatus(value)
    except ValueError:
        raise InvalidValue(
            f"an alert's status is open, acknowledged or resolved, got {str(value)[:40]!r}",
            details={"field": "status"},
        ) from None


def _event_of(monitor: Monitor) -> dict[str, Any]:
    return {
        "monitor_id": monitor.id,
        "alias": monitor.alias,
        "version": monitor.version,
        "config": monitor.config.to_wire(),
        "schedule_s": monitor.schedule_s,
    }
