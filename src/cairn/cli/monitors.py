"""``cairn monitors``: watch a registered model for drift and performance (docs/monitoring.md),
and ``cairn monitor report``: drift per window, computed now.

A monitor follows an alias (``@champion`` unless told), so it watches whatever version a review
promotes. The server evaluates monitors on their schedule; ``cairn monitors run`` does the same
from cron, or for one monitor now. Every rule is the service's: a refusal is one ``Error:`` line
and nothing is stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from cairn.cli import output
from cairn.cli.options import json_option, open_tracking, uri_option
from cairn.core.clock import now_ms
from cairn.core.errors import InvalidBatchInput, InvalidValue
from cairn.core.monitors import (
    Alert,
    AlertStatus,
    Monitor,
    MonitorRun,
    MonitorWindow,
    alert_to_wire,
    monitor_to_wire,
    window_to_wire,
)
from cairn.core.prediction_logs import mismatch_to_wire

STATUS_STYLES = {AlertStatus.OPEN: "bold red", AlertStatus.ACKNOWLEDGED: "yellow", AlertStatus.RESOLVED: "green"}


def _pairs(_ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    """``--threshold wasserstein=0.2 --threshold psi=0.2`` as a dict of text values."""
    found: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param=param)
        found[key.strip()] = text.strip()
    return found


def _number(text: str) -> float | str:
    """A threshold's number; the text as given when it is none, for the service to refuse by name."""
    try:
        return float(text)
    except ValueError:
        return text


def parse_time(text: str | None, what: str) -> int | None:
    """Milliseconds since the epoch from ISO-8601 (a date, or a date and time; UTC unless it
    says otherwise) or from a number of milliseconds."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a time: give ISO-8601 (2026-12-01 or 2026-12-01T06:00Z) or milliseconds",
            param_hint=what,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")


@click.group("monitors")
def monitors_group() -> None:
    """Watch a model in production: drift against its training data, performance once labels
    arrive, alerts through the event log and webhooks."""


@monitors_group.command("create")
@click.argument("model")
@click.option("--name", default="default", show_default=True, help="The monitor's name (a model may have several).")
@click.option("--alias", default=None, help="The alias to follow [default: champion].")
@click.option("--version", type=int, default=None, help="Watch one version instead of an alias.")
@click.option("-f", "--feature", "features", multiple=True, help="An input to compare (repeat); all by default.")
@click.option("--no-predictions", is_flag=True, help="Do not compare the predictions' distribution.")
@click.option("--window", default="1d", show_default=True, help="The window: Nh or Nd (UTC-aligned).")
@click.option("--schedule", default="1h", show_default=True, help="How often the server evaluates it: Nm, Nh, Nd.")
@click.option(
    "--method",
    "methods",
    multiple=True,
    callback=_pairs,
    metavar="FEATURE=METHOD",
    help="ks, chisquare, wasserstein, jensenshannon or psi for a feature instead of the default.",
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    callback=_pairs,
    metavar="METHOD=VALUE",
    help="A method's threshold instead of the default (docs/monitoring.md).",
)
@click.option("--drift-share", type=float, default=None, help="Share of drifted features for the dataset verdict.")
@click.option(
    "--min",
    "minimums",
    multiple=True,
    callback=_pairs,
    metavar="MEASURE=VALUE",
    help="Alert when accuracy, f1 or roc_auc falls below VALUE.",
)
@click.option(
    "--max",
    "maximums",
    multiple=True,
    callback=_pairs,
    metavar="MEASURE=VALUE",
    help="Alert when rmse or mae rises above VALUE.",
)
@click.option(
    "--alert-on",
    type=click.Choice(["feature", "dataset"]),
    default="feature",
    show_default=True,
    help="Alert when any feature drifts, or only when the dataset verdict does.",
)
@click.option(
    "--reference",
    default=None,
    metavar="PROJECT/DATASET[@DIGEST]",
    help="Compare with this dataset instead of the version's training data.",
)
@uri_option
@json_option
def create_command(
    model: str,
    name: str,
    alias: str | None,
    version: int | None,
    features: tuple[str, ...],
    no_predictions: bool,
    window: str,
    schedule: str,
    methods: dict[str, str],
    thresholds: dict[str, str],
    drift_share: float | None,
    minimums: dict[str, str],
    maximums: dict[str, str],
    alert_on: str,
    reference: str | None,
    uri: str | None,
    as_json: bool,
) -> None:
    """Watch MODEL (the version its alias names) for drift and, with thresholds, performance."""
    drift: dict[str, Any] = {"methods": methods, "thresholds": {k: _number(v) for k, v in thresholds.items()}}
    if drift_share is not None:
        drift["drift_share"] = drift_share
    performance = {k: _number(v) for k, v in {**minimums, **maximums}.items()}
    with open_tracking(uri) as tracking:
        monitor = tracking.create_monitor(
            model,
            name,
            alias=alias,
            version=version,
            features=list(features) or None,
            predictions=not no_predictions,
            window=window,
            schedule=schedule,
            drift=drift,
            performance=performance,  # type: ignore[arg-type]  # the service refuses text by name
            alert_on=alert_on,
            reference=_reference(reference),
        )
    if as_json:
        output.print_json(monitor_to_wire(monitor))
        return
    click.echo(f"Created monitor {monitor.name!r} of {monitor.model} following {monitor.follows}")
    _describe(monitor)


def _reference(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    project, sep, rest = text.rpartition("/")
    if not sep or not project:
        raise click.BadParameter(f"{text!r} is not PROJECT/DATASET[@DIGEST]", param_hint="--reference")
    dataset, _, digest = rest.partition("@")
    return {"kind": "dataset", "project": project, "dataset": dataset, "digest": digest or None}


def _describe(monitor: Monitor) -> None:
    config = monitor.config
    click.echo(f"  features:  {', '.join(config.features) or 'every input the reference has'}")
    click.echo(f"  window:    {config.window}, evaluated every {monitor.schedule_s // 60} min")
    drift = config.drift
    if drift.get("methods") or drift.get("thresholds"):
        click.echo(f"  drift:     methods {drift.get('methods') or {}}, thresholds {drift.get('thresholds') or {}}")
    if config.performance:
        click.echo(f"  performance: {', '.join(f'{k} {v:g}' for k, v in config.performance.items())}")
    reference = config.reference
    where = "the version's training data" if reference.kind == "lineage" else f"{reference.project}/{reference.dataset}"
    click.echo(f"  reference: {where}")


@monitors_group.command("list")
@click.argument("model", required=False)
@uri_option
@json_option
def list_command(model: str | None, uri: str | None, as_json: bool) -> None:
    """List monitors (of MODEL, or of every model)."""
    with open_tracking(uri) as tracking:
        monitors = tracking.list_monitors(model)
    if as_json:
        output.print_json([monitor_to_wire(m) for m in monitors])
        return
    if not monitors:
        click.echo("No monitors yet: cairn monitors create MODEL adds one.")
        return
    now = now_ms()
    table, _ = output.fitted_table(
        [
            output.Column("model", [Text(m.model, style="bold") for m in monitors], squeeze=True),
            output.Column("monitor", [Text(m.name) for m in monitors], squeeze=True),
            output.Column("follows", [Text(m.follows) for m in monitors]),
            output.Column("window", [Text(m.config.window) for m in monitors]),
            output.Column(
                "last run",
                [Text("never" if m.last_run_at is None else output.ago(m.last_run_at, now=now)) for m in monitors],
            ),
            output.Column(
                "error", [Text(m.last_error or "", style="red") for m in monitors], max_width=50, squeeze=True
            ),
        ],
        output.console().width,
    )
    output.show(table)


@monitors_group.command("show")
@click.argument("model")
@click.argument("name", default="default")
@click.option("--windows", "window_count", type=int, default=10, show_default=True, help="Latest windows to show.")
@uri_option
@json_option
def show_command(model: str, name: str, window_count: int, uri: str | None, as_json: bool) -> None:
    """A monitor: its settings, its latest windows and its open alerts."""
    with open_tracking(uri) as tracking:
        monitor = tracking.get_monitor(model, name)
        windows = tracking.list_monitor_windows(model, name, limit=max(1, window_count))
        alerts = tracking.list_alerts(model, monitor=name, status=["open", "acknowledged"])
    if as_json:
        output.print_json(
            {
                "monitor": monitor_to_wire(monitor),
                "windows": [window_to_wire(w) for w in windows],
                "alerts": [alert_to_wire(a) for a in alerts],
            }
        )
        return
    click.echo(f"Monitor {monitor.name!r} of {monitor.model}, following {monitor.follows}")
    _describe(monitor)
    if monitor.last_error:
        click.echo(f"  last error: {monitor.last_error}")
    _windows_table(windows)
    _alerts_table(alerts)


def _windows_table(windows: Sequence[MonitorWindow]) -> None:
    if not windows:
        click.echo("No windows evaluated yet.")
        return
    table, _ = output.fitted_table(
        [
            output.Column("window", [Text(iso(w.start_ms)) for w in windows]),
            output.Column("version", [Text(str(w.version)) for w in windows]),
            output.Column("rows", [Text(f"{w.rows:,}") for w in windows]),
            output.Column("drifted", [Text(", ".join(_drifted(w.result)) or "-") for w in windows], squeeze=True),
            output.Column("share", [Text(f"{w.drifted_share:.2f}") for w in windows]),
            output.Column("breached", [Text("yes", style="bold red") if w.breached else Text("no") for w in windows]),
        ],
        output.console().width,
    )
    output.show(table)


def _drifted(result: Mapping[str, Any]) -> list[str]:
    features = result.get("features") or {}
    return [name for name, f in features.items() if isinstance(f, Mapping) and f.get("drifted")]


def _alerts_table(alerts: Sequence[Alert]) -> None:
    if not alerts:
        click.echo("No open alerts.")
        return
    table, _ = output.fitted_table(
        [
            output.Column("alert", [Text(a.id) for a in alerts]),
            output.Column("model", [Text(a.model, style="bold") for a in alerts], squeeze=True),
            output.Column("version", [Text(str(a.version)) for a in alerts]),
            output.Column("status", [Text(str(a.status), style=STATUS_STYLES[a.status]) for a in alerts]),
            output.Column("since", [Text(iso(a.first_window_ms)) for a in alerts]),
            output.Column("windows", [Text(str(a.breached_windows)) for a in alerts]),
            output.Column("what", [Text(_what(a)) for a in alerts], max_width=60, squeeze=True),
        ],
        output.console().width,
    )
    output.show(table)


def _what(alert: Alert) -> str:
    parts = [
        f"{name} {f.get('method')} {f.get('value', 0):.3g}" for name, f in (alert.detail.get("features") or {}).items()
    ]
    parts += [f"{name} {p.get('value', 0):.3g}" for name, p in (alert.detail.get("performance") or {}).items()]
    return ", ".join(parts)


@monitors_group.command("delete")
@click.argument("model")
@click.argument("name", default="default")
@uri_option
def delete_command(model: str, name: str, uri: str | None) -> None:
    """Delete a monitor with its windows and alerts."""
    with open_tracking(uri) as tracking:
        tracking.delete_monitor(model, name)
    click.echo(f"Deleted monitor {name!r} of {model}")


@monitors_group.command("run")
@click.argument("model", required=False)
@click.argument("name", required=False)
@uri_option
@json_option
def run_command(model: str | None, name: str | None, uri: str | None, as_json: bool) -> None:
    """Evaluate monitors: every due one (for cron), or MODEL's NAME now."""
    with open_tracking(uri) as tracking:
        runs = [tracking.run_monitor(model, name or "default")] if model else tracking.run_due_monitors()
    if as_json:
        output.print_json([r.to_wire() for r in runs])
        return
    if not runs:
        click.echo("No monitor was due.")
    for run in runs:
        click.echo(_run_line(run))
    if any(r.error for r in runs):
        raise SystemExit(1)


def _run_line(run: MonitorRun) -> str:
    head = f"{run.model}/{run.monitor}"
    if run.busy:
        return f"{head}: being evaluated by another process"
    if run.error:
        return f"{head}: Failed: {run.error}"
    breached = sum(w.breached for w in run.windows)
    line = f"{head} (version {run.version}): {len(run.windows)} window(s) evaluated, {breached} breached"
    if run.opened:
        line += f"; alert opened: {', '.join(run.opened)}"
    if run.resolved:
        line += f"; resolved: {', '.join(run.resolved)}"
    return line


@monitors_group.command("alerts")
@click.argument("model", required=False)
@click.option("--monitor", default=None, help="Only this monitor's (with MODEL).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in AlertStatus]),
    help="Only alerts in this state (repeat) [default: open and acknowledged].",
)
@click.option("--all", "show_all", is_flag=True, help="Resolved alerts too.")
@uri_option
@json_option
def alerts_command(
    model: str | None, monitor: str | None, statuses: tuple[str, ...], show_all: bool, uri: str | None, as_json: bool
) -> None:
    """List alerts, newest first."""
    wanted = () if show_all else (statuses or ("open", "acknowledged"))
    with open_tracking(uri) as tracking:
        alerts = tracking.list_alerts(model, monitor=monitor, status=wanted)
    if as_json:
        output.print_json([alert_to_wire(a) for a in alerts])
        return
    _alerts_table(alerts)


@monitors_group.command("ack")
@click.argument("model")
@click.argument("alert_id", metavar="ALERT")
@uri_option
def ack_command(model: str, alert_id: str, uri: str | None) -> None:
    """Acknowledge an alert: seen, and kept open until its episode ends."""
    with open_tracking(uri) as tracking:
        alert = tracking.acknowledge_alert(model, alert_id)
    click.echo(f"Alert {alert.id} of {alert.model} is {alert.status}")


@monitors_group.command("resolve")
@click.argument("model")
@click.argument("alert_id", metavar="ALERT")
@uri_option
def resolve_command(model: str, alert_id: str, uri: str | None) -> None:
    """Resolve an alert by hand: the next breached window opens a new one."""
    with open_tracking(uri) as tracking:
        alert = tracking.resolve_alert(model, alert_id)
    click.echo(f"Alert {alert.id} of {alert.model} is {alert.status}")


@click.group("monitor")
def monitor_group() -> None:
    """What a served model sees: drift and performance reports of its logged predictions, and
    uploads of predictions made elsewhere."""


@monitor_group.command("report")
@click.argument("model")
@click.option("--version", type=int, default=None, help="The version [default: the one @champion names].")
@click.option("--alias", default=None, help="The version an alias names.")
@click.option("--from", "since", default=None, metavar="TIME", help="From (ISO-8601 or ms) [default: the first log].")
@click.option("--to", "until", default=None, metavar="TIME", help="Until, exclusive [default: now].")
@click.option("--window", default="1d", show_default=True, help="The window: Nh or Nd.")
@click.option("--monitor", default=None, help="Use this monitor's features, methods and thresholds.")
@uri_option
@json_option
def report_command(
    model: str,
    version: int | None,
    alias: str | None,
    since: str | None,
    until: str | None,
    window: str,
    monitor: str | None,
    uri: str | None,
    as_json: bool,
) -> None:
    """Drift per window of MODEL's logged predictions against its training data: each feature's
    statistic, its threshold, whether it drifted, and the dataset verdict."""
    with open_tracking(uri) as tracking:
        report = tracking.drift_report(
            model,
            version=version,
            alias=alias,
            since_ms=parse_time(since, "--from"),
            until_ms=parse_time(until, "--to"),
            window=window,
            monitor=monitor,
        )
    if as_json:
        output.print_json(report)
        return
    click.echo(f"Drift of {report['model']} version {report['version']}, per {window} window")
    if not report["windows"]:
        click.echo("No predictions logged in that time.")
        return
    for window_ in report["windows"]:
        verdict = Text("DRIFTED", style="bold red") if window_["drifted"] else Text("ok", style="green")
        output.show(
            Text.assemble(
                f"{window_['start'][:16]}  {window_['rows']:,} rows  drifted share {window_['drifted_share']:.2f}  ",
                verdict,
            )
        )
        for feature, found in window_["features"].items():
            mark = Text("drifted", style="red") if found["drifted"] else Text("")
            measured = f"{found['method']:<14} {found['value']:>10.4g}  (threshold {found['threshold']:g})"
            output.show(Text.assemble(f"    {feature:<24} {measured}  ", mark))


@monitor_group.command("performance")
@click.argument("model")
@click.argument("version", type=int)
@click.option("--from", "since", default=None, metavar="TIME", help="From (ISO-8601 or ms) [default: the first log].")
@click.option("--to", "until", default=None, metavar="TIME", help="Until, exclusive [default: now].")
@click.option("--window", default="1d", show_default=True, help="The window: Nh or Nd.")
@uri_option
@json_option
def performance_command(
    model: str, version: int, since: str | None, until: str | None, window: str, uri: str | None, as_json: bool
) -> None:
    """Performance per window of VERSION of MODEL on its labelled predictions, measured now
    with the labels known now: accuracy, F1 and ROC AUC of a classifier, RMSE and MAE of a
    regressor (docs/monitoring.md)."""
    with open_tracking(uri) as tracking:
        report = tracking.performance_report(
            model, version, window, parse_time(since, "--from"), parse_time(until, "--to")
        )
    if as_json:
        output.print_json(report)
        return
    kind = f" ({report['kind']})" if report.get("kind") else ""
    click.echo(f"Performance of {report['model']} version {report['version']}{kind}, per {window} window")
    if not report["windows"]:
        click.echo("No predictions logged in that time.")
        return
    for window_ in report["windows"]:
        measured = "  ".join(f"{k} {v:.4g}" for k, v in window_["metrics"].items()) or "-"
        click.echo(f"{window_['start'][:16]}  {window_['rows']:,} rows  {window_['labelled']:,} labelled  {measured}")


@monitor_group.command("upload")
@click.argument("model")
@click.argument("version", type=int)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--output",
    "outputs",
    multiple=True,
    metavar="COLUMN",
    help="A column of the model's outputs; repeat for several [default: prediction].",
)
@click.option(
    "--timestamp",
    "timestamp_column",
    default="timestamp_ms",
    show_default=True,
    metavar="COLUMN",
    help="The column of prediction times (ms since the epoch, or datetimes); without it, now.",
)
@click.option(
    "--id",
    "id_column",
    default="request_id",
    show_default=True,
    metavar="COLUMN",
    help="The column of request ids; without it, new ones.",
)
@uri_option
@json_option
def upload_command(
    model: str,
    version: int,
    file: Path,
    outputs: tuple[str, ...],
    timestamp_column: str,
    id_column: str,
    uri: str | None,
    as_json: bool,
) -> None:
    """Log FILE (Parquet, or CSV when its name ends in .csv) as predictions of MODEL's VERSION:
    its columns are the inputs, the outputs (--output) and optionally the prediction times and
    request ids. Files are kept per UTC hour; input columns that do not match the version's
    signature are kept and counted as mismatches."""
    from cairn.client.monitor import prediction_batch, upload_batch

    table = _read_table(file)
    names = table.column_names
    chosen = list(outputs) or ["prediction"]
    for name in chosen:
        if name not in names:
            raise InvalidValue(f"{file.name} has no output column {name!r}", details={"column": name})
    times = table.column(timestamp_column) if timestamp_column in names else None
    ids = table.column(id_column) if id_column in names else None
    inputs = table.drop_columns([n for n in names if n in {*chosen, timestamp_column, id_column}])
    predicted = table.select(chosen)
    batch = prediction_batch(inputs, predicted, times, ids, version)
    with open_tracking(uri) as tracking:
        files = upload_batch(tracking, model, batch, version)
    mismatches = {(m.column, m.problem): m for f in files for m in f.mismatches}
    rows, mismatched, hours = (
        sum(f.rows for f in files),
        sum(f.mismatched_rows for f in files),
        sorted({f.hour_ms for f in files}),
    )
    summary = {
        "model": model,
        "version": version,
        "rows": rows,
        "files": len(files),
        "partitions": hours,
        "mismatched_rows": mismatched,
        "mismatches": [mismatch_to_wire(m) for m in mismatches.values()],
    }
    if as_json:
        output.print_json(summary)
        return
    click.echo(
        f"Uploaded {output.plural(rows, 'row')} of {model} version {version} "
        f"in {output.plural(len(files), 'file')}, {output.plural(len(hours), 'hour partition')}"
        + (f" ({_hour_text(hours[0])} to {_hour_text(hours[-1])})." if hours else ".")
    )
    if not mismatches:
        click.echo("Every input column matches the version's signature.")
        return
    click.echo(f"Mismatches with the signature ({output.plural(mismatched, 'row')} kept):")
    for m in mismatches.values():
        how = {
            "missing": f"missing (the signature takes {m.expected})",
            "extra": f"extra ({m.found}, not in the signature)",
        }.get(m.problem, f"{m.found} where the signature takes {m.expected}")
        click.echo(f"  {m.column}: {how}")


def _hour_text(hour_ms: int) -> str:
    return dt.datetime.fromtimestamp(hour_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:00Z")


def _read_table(file: Path) -> Any:
    """FILE as a pyarrow Table: CSV when its name ends in .csv (or .csv.gz), else Parquet."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    is_csv = file.name.lower().endswith((".csv", ".csv.gz"))
    try:
        if is_csv:
            return pacsv.read_csv(file)
        return pq.read_table(file).replace_schema_metadata(None)
    except (pa.ArrowException, OSError) as exc:
        kind = "a CSV" if is_csv else "a Parquet"
        raise InvalidBatchInput(
            f"{file.name} cannot be read as {kind} file: {exc}"[:500], details={"path": str(file)}
        ) from None
