"""Jinja2 for the dashboard: one environment, with the filters every page formats values with.

Autoescape is on for every template, so names, params, tags and notes that hold HTML are shown
as text. Markdown (notes, comments) goes through markdown-it with raw HTML disabled: a
``<script>`` in a comment is rendered as the characters ``<script>``, and link targets such as
``javascript:`` are refused by markdown-it's own link check.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from cairn.core.query.text import field_text, narrowed
from cairn.core.version import __version__
from cairn.server.ui.columns import lower_is_better

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# Images are off: a comment must not make every reader's browser fetch from another server.
_markdown = (
    MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table").disable("image")
)
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_.-]*[A-Za-z0-9_-])")


def render_markdown(text: str) -> Markup:
    """Markdown to HTML that is safe to embed: no raw HTML, mentions wrapped in a span."""
    html = _markdown.render(text or "")
    # Mentions are marked after rendering, in text only: markdown-it has escaped every "<", so
    # the pattern cannot meet a tag; it may meet an attribute value (a link's href) or code,
    # which is why quoted values and code elements are passed over unchanged.
    html = re.sub(r'("[^"]*"|<code>.*?</code>)|' + _MENTION.pattern, _mention_span, html, flags=re.S)
    return Markup(html)


def _mention_span(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return match.group(1)
    return f'<span class="mention">@{match.group(2)}</span>'


def format_time(ms: int | None) -> str:
    if ms is None:
        return "—"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def format_ago(ms: int | None, now_ms: int) -> str:
    if ms is None:
        return "—"
    seconds = max(0, (now_ms - ms) // 1000)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def format_duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_value(value: Any) -> str:
    """Numbers short enough for a table cell but never rounded into a lie (NaN and ±inf by name)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}"
    return str(value)


def format_bytes(size: int | None) -> str:
    if size is None:
        return ""
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TiB"


def url_with(request: Request, **changes: Any) -> str:
    """The current page's URL with some query parameters changed (None removes one).

    Repeated parameters (``chart=a&chart=b``) are kept, unless changed."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    params += [(k, str(v)) for k, v in changes.items() if v is not None and v != ""]
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


def path_quote(text: str) -> str:
    """A project name or artifact path as a URL path segment (slashes kept)."""
    return quote(text, safe="/")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        markdown=render_markdown,
        time=format_time,
        iso=format_iso,
        duration=format_duration,
        value=format_value,
        bytes=format_bytes,
        q=path_quote,
    )
    env.globals.update(
        version=__version__,
        url_with=url_with,
        ago=format_ago,
        narrowed=narrowed,  # query text is written by core/query/text.py alone
        field_text=field_text,
        lower_is_better=lower_is_better,
    )
    return env


templates = _environment()


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    template = templates.get_template(name)
    html = template.render(request=request, viewer=getattr(request.state, "viewer", ""), **context)
    return HTMLResponse(html, status_code=status_code)
