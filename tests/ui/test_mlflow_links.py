"""MLflow's links to its web UI (``http://host/#/experiments/ID/runs/RUN`` …), opened on a Cairn
server, land on Cairn's page for the same thing (static/mlflow_links.js, ui/mlflow_links.py)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest
from playwright.sync_api import expect
from tests.access_helpers import PASSWORD, Team
from tests.contract.helpers import manifest_json
from tests.helpers import ThreadedServer, free_port

from cairn.core.access import Role
from cairn.core.artifacts import ArtifactEntry
from cairn.settings import ServerSettings

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from tests.ui.conftest import UiServer

PROJECT = "mlflow links/é"
MODEL = "link model ✓"


@dataclass(frozen=True)
class Seeded:
    url: str
    project_id: str
    run_id: str
    version: int


@pytest.fixture(scope="module")
def seeded(ui_server: UiServer) -> Seeded:
    tracking = ui_server.tracking
    run = tracking.create_run(PROJECT, name="linked")
    weights = b"weights"
    manifest = manifest_json({"model.bin": hashlib.sha256(weights).hexdigest()})
    entries = []
    for path, data in (("model/model.bin", weights), ("model/cairn-model.json", manifest)):
        digest = hashlib.sha256(data).hexdigest()
        tracking.write_blob([data], digest)
        entries.append(ArtifactEntry(path, digest, len(data)))
    tracking.log_artifacts(run.id, entries)
    tracking.create_model(MODEL)
    version = tracking.register_model(f"runs:/{run.id}/model", MODEL)
    return Seeded(ui_server.url, run.project_id, run.id, version.version)


def test_an_mlflow_run_link_opens_the_run(page: Page, seeded: Seeded) -> None:
    # As MLflow's client prints it after a run: the root, then the fragment.
    page.goto(f"{seeded.url}/#/experiments/{seeded.project_id}/runs/{seeded.run_id}")
    page.wait_for_url(f"{seeded.url}/runs/{seeded.run_id}")
    assert "linked" in page.locator("h1").first.inner_text()
    page.go_back()  # the link was replaced, not stacked: back leaves the dashboard altogether
    assert not page.url.startswith(f"{seeded.url}/runs/")


def test_an_mlflow_experiment_link_opens_the_project(page: Page, seeded: Seeded) -> None:
    page.goto(f"{seeded.url}/#/experiments/{seeded.project_id}")
    page.wait_for_url(f"{seeded.url}/projects/{quote(PROJECT, safe='/')}")


def test_mlflow_model_links_open_the_model_and_the_version(page: Page, seeded: Seeded) -> None:
    name = quote(MODEL, safe="")  # MLflow's UI percent-encodes a model's name in its links
    page.goto(f"{seeded.url}/#/models/{name}")
    page.wait_for_url(f"{seeded.url}/models/{name}")
    page.goto(f"{seeded.url}/#/models/{name}/versions/{seeded.version}")
    page.wait_for_url(f"{seeded.url}/models/{name}/versions/{seeded.version}")


def test_other_fragments_stay_where_they_are(page: Page, seeded: Seeded) -> None:
    page.goto(f"{seeded.url}/runs/{seeded.run_id}#/somewhere/else")
    page.wait_for_load_state("load")
    assert page.url == f"{seeded.url}/runs/{seeded.run_id}#/somewhere/else"


@pytest.fixture(scope="module")
def signing_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server that requires sign-in, with a run "ann" may read: (url, run id)."""
    root = tmp_path_factory.mktemp("mlflow-links-auth")
    settings = ServerSettings(
        store_uri=str(root / "cairn.db"), blobs_uri=str(root / "blobs"), port=free_port(), require_auth=True
    )
    with ThreadedServer(settings) as server:
        team = Team(server.app.state.tracking.store)
        team.user("ann")
        run = team.admin.create_run("signed", name="behind sign-in")
        team.grant("ann", Role.VIEWER, project="signed")
        yield server.url, run.id


def test_a_link_opened_signed_out_goes_through_sign_in(page: Page, signing_in: tuple[str, str]) -> None:
    url, run_id = signing_in
    page.goto(f"{url}/#/experiments/0123/runs/{run_id}")
    expect(page).to_have_url(re.compile(rf"/login\?next=%2Fruns%2F{run_id}$"))
    page.fill("#username", "ann")
    page.fill("#password", PASSWORD)
    page.click("#sign-in-button")
    expect(page).to_have_url(f"{url}/runs/{run_id}")
