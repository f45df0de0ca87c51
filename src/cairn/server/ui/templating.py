"""Jinja2 for the dashboard: one environment, with the filters every page formats values with.

Autoescape is on for every template, so names, params, tags and notes that hold HTML are shown
as text. Markdown (notes, comments) goes through markdown-it with raw HTML disabled: a
``<script>`` in a comment is rendered as the characters ``<script>``, and link targets such as
``javascript:`` are refused by markdown-it's own link check.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from cairn.core import display
from cairn.core.headline import lower_is_better
from cairn.core.query.text import field_text, narrowed
from cairn.core.version import __version__
from cairn.server.ui.context import signed_in_user, signing_in

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
    """A time on the dashboard: in UTC, and saying so (its readers sit in many zones)."""
    return display.timestamp(ms, dt.UTC, show_zone=True)


def format_ago(ms: int | None, now_ms: int) -> str:
    return display.ago(ms, now=now_ms, zone=dt.UTC)


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
        iso=display.iso_timestamp,
        duration=display.duration,
        value=display.value,
        signed=display.signed,
        bytes=display.size,
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
    html = template.render(
        request=request,
        viewer=getattr(request.state, "viewer", ""),
        # With authentication: the header shows who is signed in and the access pages' links.
        signing_in=signing_in(request),
        signed_in_user=lambda: signed_in_user(request),
        **context,
    )
    return HTMLResponse(html, status_code=status_code)
