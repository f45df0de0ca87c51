"""Compare 2 to 20 runs: overlaid charts, a diff table, parallel coordinates and a scatter.

The page embeds each run's params and metric summaries as JSON; ``charts.js`` draws the
parallel-coordinates and scatter charts from it and the metric charts from the history API.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from cairn.core.entities import Run
from cairn.core.errors import InvalidValue
from cairn.core.headline import headline_metric, is_system_metric
from cairn.core.limits import wire_float
from cairn.core.params import same_param_value
from cairn.core.wire import params_to_wire
from cairn.server.ui.charts import chart_groups
from cairn.server.ui.context import now_ms, service
from cairn.server.ui.templating import render

router = APIRouter(include_in_schema=False)

MIN_RUNS, MAX_RUNS = 2, 20
#: Params the parallel-coordinates chart starts with (the ones that differ, first by name).
DEFAULT_AXES = 6


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, runs: Annotated[list[str], Query()] = []) -> HTMLResponse:  # noqa: B006
    ids = list(dict.fromkeys(r for part in runs for r in part.split(",") if r.strip()))
    if not MIN_RUNS <= len(ids) <= MAX_RUNS:
        raise InvalidValue(f"compare takes {MIN_RUNS} to {MAX_RUNS} runs; {len(ids)} were given")
    tracking = service(request)
    chosen = [tracking.get_run(run_id) for run_id in ids]
    param_keys = sorted({k for r in chosen for k in r.params})
    metric_keys = sorted({k for r in chosen for k in r.metrics})
    tag_keys = sorted({k for r in chosen for k in r.tags})
    differing_params = [k for k in param_keys if _differs([r.params.get(k) for r in chosen])]
    user_metrics = [k for k in metric_keys if not is_system_metric(k)]
    return render(
        request,
        "compare.html",
        runs=chosen,
        params=[(k, [r.params.get(k) for r in chosen], k in differing_params) for k in param_keys],
        metrics=[(k, [_last(r, k) for r in chosen], _differs([_last(r, k) for r in chosen])) for k in metric_keys],
        tags=[(k, [r.tags.get(k) for r in chosen], _differs([r.tags.get(k) for r in chosen])) for k in tag_keys],
        chart_groups=chart_groups(user_metrics),
        chart_runs=[{"id": r.id, "name": r.name} for r in chosen],
        table=_table_json(chosen),
        param_keys=param_keys,
        metric_keys=metric_keys,
        default_axes=(differing_params or param_keys)[:DEFAULT_AXES],
        default_x=_default_x(chosen, differing_params or param_keys),
        default_metric=headline_metric(metric_keys) or "",
        now=now_ms(),
    )


def _last(run: Run, key: str) -> float | None:
    summary = run.metrics.get(key)
    return None if summary is None else summary.last


def _differs(values: list[Any]) -> bool:
    first = values[0]
    return any(not same_param_value(first, v) for v in values[1:])


def _default_x(runs: list[Run], keys: list[str]) -> str:
    """The param the scatter starts with: the one most runs have, numbers before text."""

    def score(key: str) -> tuple[int, int]:
        values = [r.params[key] for r in runs if r.params.get(key) is not None]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        return (len(values), int(numeric))

    return max(keys, key=score) if keys else ""


def _table_json(runs: list[Run]) -> list[dict[str, Any]]:
    """What the parallel-coordinates and scatter charts plot, per run, in the wire format: JSON
    has no NaN or infinity (``tojson`` would write a bare ``NaN`` that ``JSON.parse`` refuses), so
    non-finite values travel as the API sends them and charts.js reads them back."""
    return [
        {
            "id": r.id,
            "name": r.name,
            "params": params_to_wire(r.params),
            "metrics": {k: wire_float(m.last) for k, m in r.metrics.items()},
        }
        for r in runs
    ]
