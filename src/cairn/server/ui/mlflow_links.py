"""MLflow's links to its web UI, opened on a Cairn server.

MLflow's client prints links such as ``http://host/#/experiments/ID/runs/RUN`` (and MLflow's
UI shares ``#/experiments/ID`` and ``#/models/NAME[/versions/V]``). Everything after ``#`` stays
in the browser, so ``static/mlflow_links.js`` reads it on whatever page the link lands on (``/``
redirects to ``/projects``, keeping the fragment) and goes to Cairn's page for it. A run, a
model and a version have the same ids and names in Cairn's URLs; only an experiment id needs
the server, to find the project (by id, as ``experiment_id`` is the project's id) and its name.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from cairn.core.errors import ProjectNotFound
from cairn.server.mlflow.entities import DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME
from cairn.server.ui.context import service
from cairn.server.ui.templating import path_quote

router = APIRouter(include_in_schema=False)


@router.get("/mlflow-link/experiments/{experiment_id}")
def experiment_link(request: Request, experiment_id: str) -> RedirectResponse:
    """To the project page of an MLflow experiment id; ProjectNotFound (a 404 page) for an id
    that is no project's or one hidden from the viewer."""
    tracking = service(request)
    if experiment_id == DEFAULT_EXPERIMENT_ID:
        project = tracking.get_project(DEFAULT_EXPERIMENT_NAME)
    else:
        project = tracking.get_project(experiment_id)
        # The store finds a project by name or id; an experiment id is only ever the id.
        if project.id != experiment_id:
            raise ProjectNotFound(f"no experiment with id {experiment_id!r}", details={"experiment_id": experiment_id})
    return RedirectResponse(f"/projects/{path_quote(project.name)}", status_code=303)
