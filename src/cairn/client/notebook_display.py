"""How Cairn's objects show in a notebook: a run as a small summary with a link to its page in
the dashboard, and what ``cairn.Api`` returns as tables (:mod:`cairn.client.results`).

Jupyter puts whatever ``_repr_html_`` returns into the page as HTML, so every value a person or
a store wrote (names, params, tags, metric keys) goes through :func:`cell` here and nowhere
else: a run named ``<script>`` shows as typed and runs nothing. Beyond escaping, a value is
made safe to show: control characters (a NUL) show as ``\\x00``, text that cannot be encoded
(a lone surrogate) as its escape, text is cut at :data:`CELL_CHARS`, and an integer too long
for ``str()`` shows its size, so no value can break the page, the notebook's JSON, or the
cell that displays it.

Where the dashboard is (:func:`dashboard_base`): ``CAIRN_UI_URL`` when set (a server behind a
proxy, or ``cairn ui`` on another port); else, for a server (``http(s)://``), the server
itself, which serves the dashboard at the address the SDK talks to; else, for the embedded
store, http://127.0.0.1:5055, where ``cairn ui`` serves it, and the summary says to start it.
A run's page is ``BASE/runs/RUN_ID``, as the dashboard's routes have it.
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from cairn.client.capture.notebook import ipython_shell
from cairn.client.connect import is_remote
from cairn.core import display
from cairn.core.addresses import redact
from cairn.core.entities import MetricSummary, ParamValue
from cairn.core.entities import Run as RunRecord
from cairn.core.headline import by_headline, is_system_metric
from cairn.settings import DEFAULT_PORT, default_store_uri

#: Where ``cairn ui`` serves an embedded store unless told otherwise.
LOCAL_DASHBOARD = f"http://127.0.0.1:{DEFAULT_PORT}"
#: The variable that says where the dashboard is, when it is not where the SDK writes.
UI_URL_VARIABLE = "CAIRN_UI_URL"
#: Characters of one value shown in a cell; the rest is cut (``to_pandas()`` has all of it).
CELL_CHARS = 200
#: Params and metrics a run's summary lists; it says how many more there are.
SUMMARY_ITEMS = 8
#: Seconds a run's summary waits for what the run queued to reach the store, so that the
#: metrics just logged show (the writer sends every half second anyway).
SUMMARY_WAIT_S = 2.0

# C0 controls but tab and newline, DEL, and the C1 controls: browsers drop or replace them, and
# a NUL in a notebook's JSON breaks some readers of the file.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Jupyter right-aligns table cells; text columns read better from the left.
_LEFT = ' style="text-align:left"'
# Long enough for any address; a link is never cut short.
_URL_CHARS = 100_000
_ON_ITS_PAGE = "the run's page shows all of them"
_STATUS_COLOURS = {"running": "#1f6feb", "finished": "#1a7f37", "failed": "#cf222e", "killed": "#8250df"}


class Html(str):
    """Markup this module made (a link, a table): put into a page as it is, never escaped again."""

    __slots__ = ()


def dashboard_base(uri: str) -> str:
    """The dashboard's address for the store at ``uri`` (see the module's docstring)."""
    configured = os.environ.get(UI_URL_VARIABLE, "").strip()
    if configured:
        return configured.rstrip("/")
    if is_remote(uri):
        return _without_credentials(uri).rstrip("/")
    return LOCAL_DASHBOARD


def _start_command(uri: str) -> str:
    """For an embedded store, the command that serves its dashboard at :data:`LOCAL_DASHBOARD`;
    "" when the dashboard is a server's or ``CAIRN_UI_URL`` names it."""
    if is_remote(uri) or os.environ.get(UI_URL_VARIABLE, "").strip():
        return ""
    # `cairn ui` serves the store under CAIRN_HOME; another one needs a server of its own.
    return "cairn ui" if uri == default_store_uri() else f"cairn server --store {redact(uri)}"


def run_url(base: str, run_id: str) -> str:
    return f"{base}/runs/{quote(run_id, safe='')}"


def project_url(base: str, project: str) -> str:
    return f"{base}/projects/{quote(project, safe='')}"


def model_url(base: str, name: str, version: int | None = None) -> str:
    url = f"{base}/models/{quote(name, safe='')}"
    return url if version is None else f"{url}/versions/{version}"


def text(value: object, *, limit: int = CELL_CHARS) -> str:
    """``value`` as plain text a person reads, safe to escape and to encode: numbers as
    :mod:`cairn.core.display` shows them, control characters as escapes, at most ``limit``
    characters. Never raises."""
    try:
        shown = _plain(value)
    except Exception:  # an object whose __str__ raises still gets a cell
        shown = f"<{type(value).__name__}>"
    shown = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", shown)
    # A lone surrogate cannot be written as UTF-8: the kernel could not send the output.
    shown = shown.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return shown


def cell(value: object, *, limit: int = CELL_CHARS) -> Html:
    """``value`` as HTML: markup from this module as it is, anything else as escaped text."""
    if isinstance(value, Html):
        return value
    return Html(html.escape(text(value, limit=limit), quote=True))


def link(url: str, label: object, *, title: str = "") -> Html:
    """A link that opens in a new tab. Only http(s) addresses become links (``CAIRN_UI_URL``
    could say ``javascript:``); anything else shows the label alone."""
    if not url.lower().startswith(("http://", "https://")):
        return cell(label)
    titled = f' title="{cell(title, limit=_URL_CHARS)}"' if title else ""
    href = cell(url, limit=_URL_CHARS)
    return Html(f'<a href="{href}" target="_blank" rel="noopener noreferrer"{titled}>{cell(label)}</a>')


def table(
    headers: Sequence[object],
    rows: Iterable[Sequence[object]],
    *,
    caption: object = "",
    more: int = 0,
    more_note: str = "",
) -> Html:
    """The one HTML table every notebook view uses: ``headers`` and ``rows`` of values (escaped
    by :func:`cell`), a caption, and a last line saying ``more`` rows were left out (and
    ``more_note``, where to find them)."""
    parts = ['<table class="cairn-table">']
    if caption:
        parts.append(f"<caption{_LEFT}>{cell(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th{_LEFT}>{cell(h)}</th>" for h in headers) + "</tr></thead>")
    parts.append("<tbody>")
    for row in rows:
        parts.append("<tr>" + "".join(f"<td{_LEFT}>{cell(v)}</td>" for v in row) + "</tr>")
    if more > 0:
        note = f" ({cell(more_note)})" if more_note else ""
        parts.append(
            f'<tr><td colspan="{max(len(headers), 1)}"{_LEFT}><i>'
            f"… {cell(display.plural(more, 'more row'))}{note}</i></td></tr>"
        )
    parts.append("</tbody></table>")
    return Html("".join(parts))


def run_summary(
    *,
    project: str,
    name: str,
    run_id: str,
    status: str,
    params: Mapping[str, ParamValue],
    metrics: Mapping[str, MetricSummary] | None,
    uri: str,
    note: str = "",
) -> Html:
    """A run's summary: project, name, id and status, its first params and latest metric
    values, and a link to its page in the dashboard. ``metrics`` is None when they could not be
    read (``note`` says why)."""
    base = dashboard_base(uri)
    colour = _STATUS_COLOURS.get(status, "#57606a")
    sections = [
        f"<div><b>{cell(project)}</b> / <b>{cell(name)}</b> "
        f'<span style="color:{colour};font-weight:bold">{cell(status)}</span></div>'
    ]
    if run_id:
        sections.append(f"<div><small>run <code>{cell(run_id)}</code></small></div>")
    keys = _param_keys(params)
    if keys:
        rows: list[tuple[object, ...]] = [(key, _full(params[key])) for key in keys[:SUMMARY_ITEMS]]
        sections.append(table(("param", "value"), rows, more=len(keys) - SUMMARY_ITEMS, more_note=_ON_ITS_PAGE))
    if metrics:
        ordered = _metric_keys(metrics)
        rows = [(key, display.number(metrics[key].last), metrics[key].last_step) for key in ordered[:SUMMARY_ITEMS]]
        sections.append(
            table(("metric", "latest", "step"), rows, more=len(ordered) - SUMMARY_ITEMS, more_note=_ON_ITS_PAGE)
        )
    if note:
        sections.append(f"<div><small><i>{cell(note, limit=500)}</i></small></div>")
    if run_id:
        footer = link(run_url(base, run_id), "Open in the Cairn dashboard", title=run_url(base, run_id))
        start = _start_command(uri)
        if start:
            footer = Html(f"{footer} <small>(start it with <code>{cell(start, limit=500)}</code>)</small>")
        sections.append(f"<div>{footer}</div>")
    return Html('<div class="cairn-run">' + "".join(sections) + "</div>")


def record_summary(record: RunRecord, uri: str, *, note: str = "") -> Html:
    """:func:`run_summary` of a run read from a store."""
    return run_summary(
        project=record.project,
        name=record.name,
        run_id=record.id,
        status=record.status.value + (" (deleted)" if record.deleted else ""),
        params=record.params,
        metrics=record.metrics,
        uri=uri,
        note=note,
    )


def _param_keys(params: Mapping[str, ParamValue]) -> list[str]:
    return sorted(params)


def _metric_keys(metrics: Mapping[str, MetricSummary]) -> list[str]:
    """Headline metrics first; the machine's own (``system/``) last."""
    user = [key for key in metrics if not is_system_metric(key)]
    system = sorted(key for key in metrics if is_system_metric(key))
    return by_headline(user) + system


def _full(value: ParamValue) -> object:
    """A param as the run page shows it: a float in full (``0.00012345678``), not rounded."""
    return display.value(value, compact=False) if isinstance(value, float) else value


def _plain(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return display.value(value)
    if isinstance(value, int):
        return _integer(value)
    if isinstance(value, float):
        return display.number(value)
    return str(value)


def _integer(value: int) -> str:
    try:
        return str(value)
    except ValueError:  # beyond sys.get_int_max_str_digits(): say how large instead
        digits = int(value.bit_length() * math.log10(2)) + 1
        return f"{'-' if value < 0 else ''}<an integer of about {digits:,} digits>"


def _without_credentials(uri: str) -> str:
    # A link in a notebook is shared with the notebook: no password in it, nor a user name.
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def show_records_from(uri: str) -> None:
    """Inside IPython, show what is read from the store at ``uri`` one at a time (``api.run(ID)``,
    an item of a list) as a notebook shows a list of them. Those are core's records, which know
    nothing of dashboards, so the shell's HTML formatter learns them here; the last store read
    from is the one their links point at. Outside IPython this does nothing, and it never raises."""
    shell = ipython_shell()
    formatters = getattr(getattr(shell, "display_formatter", None), "formatters", None)
    if not isinstance(formatters, Mapping) or "text/html" not in formatters:
        return
    from cairn.client import results
    from cairn.core.entities import Project
    from cairn.core.registry import ModelVersion, RegisteredModel

    one_row: dict[type, type[results.Results[Any]]] = {
        Project: results.Projects,
        RegisteredModel: results.RegisteredModels,
        ModelVersion: results.ModelVersions,
    }
    try:
        html_formatter = formatters["text/html"]
        html_formatter.for_type(RunRecord, lambda record: record_summary(record, uri))
        for kind, listing in one_row.items():
            html_formatter.for_type(kind, lambda item, listing=listing: listing([item], uri=uri)._repr_html_())
    except Exception:  # a shell unlike IPython's: the records show as text, as before
        return
