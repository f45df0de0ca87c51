"""The server's half of MLflow's UI links (ui/mlflow_links.py): an experiment id, as MLflow's
client prints it in a link, leads to the project's page; the browser's half is
tests/ui/test_mlflow_links.py."""

from __future__ import annotations

import httpx
from mlflow import MlflowClient
from tests.access_helpers import Team
from tests.helpers import ThreadedServer

from cairn.core.access import Role


def test_an_experiment_id_redirects_to_its_project(mlflow_uri: str) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment("links/one two")
    default_run = client.create_run("0")  # makes the project playing the default experiment

    answer = httpx.get(f"{mlflow_uri}/mlflow-link/experiments/{experiment_id}")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/projects/links/one%20two"
    answer = httpx.get(f"{mlflow_uri}/mlflow-link/experiments/0")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/projects/Default"
    assert default_run.info.experiment_id == "0"

    for missing in ("0123456789abcdef0123456789abcdef", "links/one two"):  # a name is not an id
        answer = httpx.get(f"{mlflow_uri}/mlflow-link/experiments/{missing}")
        assert answer.status_code == 404, missing
        assert "text/html" in answer.headers["content-type"]


def test_the_link_asks_for_sign_in_and_hides_others_projects(mlflow_auth_server: ThreadedServer, team: Team) -> None:
    url = mlflow_auth_server.url
    team.user("ann")
    team.user("bob")
    project = team.admin.create_project("ann's")
    team.grant("ann", Role.VIEWER, project="ann's")
    answer = httpx.get(f"{url}/mlflow-link/experiments/{project.id}")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=%2Fmlflow-link%2Fexperiments%2F")

    assert httpx.get(f"{url}/mlflow-link/experiments/{project.id}", headers=team.headers("ann")).status_code == 303
    assert httpx.get(f"{url}/mlflow-link/experiments/{project.id}", headers=team.headers("bob")).status_code == 404
