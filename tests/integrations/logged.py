"""What the integration tests read back: a project's runs and a metric's points, through
``cairn.Api`` as a user would read them."""

from __future__ import annotations

import cairn
from cairn.core.entities import Run as RunRecord


def runs(project: str) -> list[RunRecord]:
    """The project's runs, or none when nothing has created the project yet."""
    with cairn.Api() as api:
        if project not in {p.name for p in api.projects()}:
            return []
        return api.runs(project)


def only_run(project: str) -> RunRecord:
    found = runs(project)
    assert len(found) == 1, [run.name for run in found]
    return found[0]


def datasets(run_id: str) -> set[tuple[str, str, str, int | None]]:
    """The run's dataset inputs as (name, context, source kind, rows)."""
    with cairn.Api() as api:
        return {(i.dataset.name, i.context, i.dataset.source_kind, i.dataset.rows) for i in api.inputs(run_id)}


def steps(run_id: str, key: str) -> list[int]:
    with cairn.Api() as api:
        return [int(step) for step in api.history(run_id, key).steps]


def history(run_id: str, key: str) -> tuple[list[int], list[float]]:
    """The metric's steps and values, in step order."""
    with cairn.Api() as api:
        points = api.history(run_id, key)
    return [int(step) for step in points.steps], [float(value) for value in points.values]
