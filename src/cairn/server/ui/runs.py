"""The projects list and a project's runs table: query, columns, sort, group, select, views.

The whole state of a runs table lives in its URL (``q``, ``order``, ``cols``, ``group``,
``agg``), so any table can be shared by copying the address bar; a saved view is a name for
such a state. Columns a user picks are also remembered per project in a cookie, for the next
visit without parameters. Rows come a page at a time (``after`` is the store's page token), so
a project of 100,000 runs opens as fast as one of 100.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from cairn.core.entities import Project, Run, RunGroup
from cairn.core.errors import InvalidInput, InvalidQuery
from cairn.core.headline import headline_metric, lower_is_better
from cairn.core.query.text import field_text
from cairn.server.ui.charts import ChartGroup
from cairn.server.ui.columns import ATTRIBUTE_COLUMNS, default_columns, parse_columns
from cairn.server.ui.context import is_fragment, now_ms, service
from cairn.server.ui.templating import render
from cairn.service.tracking import TrackingService

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
#: How many of the table's first runs its charts overlay.
TABLE_CHART_RUNS = 10
_COOKIE_DAYS = 365


@router.get("/projects", response_class=HTMLResponse)
def projects_page(request: Request, metric: str = "", goal: str = "max") -> HTMLResponse:
    tracking = service(request)
    projects = tracking.list_projects()
    metric_keys = sorted({key for p in projects for key in tracking.project_fields(p.name).metrics})
    if not metric:
        metric = headline_metric(metric_keys) or ""
    goal = "min" if goal == "min" else "max"
    best = {p.name: _best_run(tracking, p, metric, goal) for p in projects} if metric else {}
    return render(
        request,
        "projects.html",
        projects=projects,
        metric=metric,
        goal=goal,
        metric_keys=metric_keys,
        best=best,
        now=now_ms(),
    )


def _best_run(tracking: TrackingService, project: Project, metric: str, goal: str) -> Run | None:
    field_name = field_text("metrics", metric)
    direction = "desc" if goal == "max" else "asc"
    try:
        page = tracking.list_runs(
            project.name, where=f"{field_name} is not null", order_by=f"{field_name} {direction}", limit=1
        )
    except InvalidInput:
        return None
    return page.items[0] if page.items else None


@dataclass
class TableState:
    """A runs table as its URL describes it."""

    q: str = ""
    order: str = ""
    cols: list[str] = field(default_factory=list)
    group: str = ""
    agg: str = ""
    #: Metric keys charted above the table, for its first runs (one ``chart`` parameter each:
    #: a key may hold any character, commas included).
    charts: list[str] = field(default_factory=list)
    view_id: str = ""
    view_name: str = ""

    def params(self) -> list[tuple[str, str]]:
        """The URL query of this state (what a link to it carries)."""
        values = [
            ("q", self.q),
            ("order", self.order),
            ("cols", join_fields(self.cols)),
            ("group", self.group),
            ("agg", self.agg),
            *(("chart", key) for key in self.charts),
        ]
        return [(k, v) for k, v in values if v]


@router.get("/projects/{name:path}", response_class=HTMLResponse)
def runs_page(request: Request, name: str) -> Response:
    tracking = service(request)
    project = tracking.get_project(name)
    # The project's keys are read once, and only when needed: more rows as the table scrolls
    # need them only for the default columns.
    fields = functools.cache(lambda: tracking.project_fields(project.name))
    state, cookie_cols = _state_from_request(
        request, tracking, project.name, lambda: default_columns(fields().params, fields().metrics)
    )
    columns, column_problems = parse_columns(state.cols)
    after = request.query_params.get("after")

    error: InvalidQuery | InvalidInput | None = None
    runs: list[Run] = []
    next_token: str | None = None
    groups: list[RunGroup] = []
    matching: int | None = None
    try:
        if state.group:
            groups = tracking.group_runs(project.name, group_by=state.group, metric=state.agg or None, where=state.q)
            matching = sum(g.count for g in groups)
        else:
            page = tracking.list_runs(
                project.name, where=state.q, order_by=state.order, limit=PAGE_SIZE, page_token=after
            )
            runs, next_token = page.items, page.next_page_token
            if after is None:
                matching = count_runs(tracking, project.name, state.q)
    except InvalidInput as exc:  # InvalidQuery, or a page token of another query
        error = exc

    if after is not None and is_fragment(request):
        rows = render(request, "_runs_rows.html", columns=columns, runs=runs, next_token=next_token, now=now_ms())
        return _remember_columns(rows, project.name, state) if cookie_cols else rows
    keys = fields()
    context: dict[str, Any] = dict(
        project=project,
        state=state,
        columns=columns,
        column_problems=column_problems,
        runs=runs,
        groups=groups,
        matching=matching,
        next_token=next_token,
        error=error,
        fields=keys,
        attribute_columns=ATTRIBUTE_COLUMNS,
        query_fields=_query_fields(keys.params, keys.metrics, keys.tags),
        views=tracking.list_views(project.name),
        sort=_sort_state(state.order),
        column_choices=column_choices(keys),
        example_query=example_query(keys.metrics),
        chart_runs=[{"id": r.id, "name": r.name} for r in runs[:TABLE_CHART_RUNS]],
        table_chart_runs=TABLE_CHART_RUNS,
        chart_groups=[ChartGroup("", state.charts)] if state.charts and runs else [],
        group_choices=group_choices(keys),
        now=now_ms(),
    )
    if is_fragment(request) and request.headers.get("HX-Target") == "results":
        response = render(request, "_runs_results.html", **context)
    else:
        response = render(request, "runs.html", **context)
    return _remember_columns(response, project.name, state) if cookie_cols else response


def _remember_columns(response: Response, project: str, state: TableState) -> Response:
    """Keep the columns just chosen for the project's next visit without parameters."""
    response.set_cookie(_columns_cookie(project), join_fields(state.cols), max_age=_COOKIE_DAYS * 86400, samesite="lax")
    return response


def _state_from_request(
    request: Request, tracking: TrackingService, project: str, default_cols: Callable[[], list[str]]
) -> tuple[TableState, bool]:
    """The table state, and whether its columns were chosen now (and so are to be remembered)."""
    query = request.query_params
    view_id = query.get("view", "")
    if view_id:
        view = tracking.get_view(view_id)
        state = TableState(
            view.query, view.order_by, list(view.columns), view.group_by, "", list(view.charts), view.id, view.name
        )
        if not state.cols:
            state.cols = default_cols()
        return state, False
    state = TableState(
        q=query.get("q", "").strip(),
        order=query.get("order", "").strip(),
        group=query.get("group", "").strip(),
        agg=query.get("agg", "").strip(),
        charts=list(dict.fromkeys(key for key in query.getlist("chart") if key)),
    )
    if "cols" in query:
        state.cols = split_fields(query["cols"])
        return state, True
    if "col" in query:  # the column picker without JavaScript: one "col" per ticked box
        state.cols = [text for text in query.getlist("col") if text.strip()]
        return state, True
    remembered = request.cookies.get(_columns_cookie(project))
    state.cols = split_fields(remembered) if remembered else default_cols()
    return state, False


def example_query(metrics: Sequence[str]) -> str:
    """The search box's placeholder: a query on this project's own headline metric."""
    metric = headline_metric(metrics)
    if metric is None:
        return "Query runs, e.g. name like 'baseline%' and status = 'finished'"
    bound = "< 0.5" if lower_is_better(metric) else "> 0.9"
    return f"Query runs, e.g. {field_text('metrics', metric)} {bound} and status = 'finished'"


def count_runs(tracking: TrackingService, project: str, where: str) -> int:
    """How many runs match: one grouped count over a field every run has."""
    return sum(g.count for g in tracking.group_runs(project, group_by="project", where=where))


def _sort_state(order: str) -> dict[str, str]:
    """field → "asc"/"desc" for the first sort key, which the header marks."""
    first = order.split(",", 1)[0].strip()
    if not first:
        return {"created": "desc"}
    words = first.rsplit(" ", 1)
    if len(words) == 2 and words[1].lower() in ("asc", "desc"):
        return {words[0].strip(): words[1].lower()}
    return {first: "asc"}


def _query_fields(params: Sequence[str], metrics: Sequence[str], tags: Sequence[str]) -> list[str]:
    """Every field the search box completes: attributes, then the project's keys."""
    attributes = ["name", "status", "user", "created", "ended", "duration", "id", "parent", "notes", "project"]
    datasets = ["dataset.name", "dataset.digest", "dataset.context"]
    return [
        *attributes,
        *(field_text("metrics", k) for k in metrics),
        *(field_text("params", k) for k in params),
        *(field_text("tags", k) for k in tags),
        *datasets,
    ]


def _columns_cookie(project: str) -> str:
    return "cairn_cols_" + hashlib.sha256(project.encode()).hexdigest()[:12]


def join_fields(fields: Sequence[str]) -> str:
    return ",".join(fields)


def split_fields(text: str) -> list[str]:
    """Comma-separated field texts; a comma inside a quoted key does not split."""
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == ",":
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def column_choices(fields: Any) -> dict[str, list[str]]:
    """The picker's lists of field texts, by source."""
    return {
        "attributes": list(ATTRIBUTE_COLUMNS),
        "metrics": [field_text("metrics", k) for k in fields.metrics],
        "params": [field_text("params", k) for k in fields.params],
        "tags": [field_text("tags", k) for k in fields.tags],
    }


def group_choices(fields: Any) -> list[str]:
    return [
        *(field_text("params", k) for k in fields.params),
        *(field_text("tags", k) for k in fields.tags),
        "user",
        "status",
    ]
