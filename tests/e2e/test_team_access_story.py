"""Users and access as a team uses them, end to end (issue 13's "Done means"): an admin starts
``cairn server`` on PostgreSQL with ``--init-admin``, creates colleagues and gives them roles on
a project and a model; each logs with a personal token; a viewer looks but cannot touch; only a
model maintainer merges a review into ``@champion``; an outsider sees nothing; and all of it is
in the audit log, with who, when and from where."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from tests.helpers import eventually, free_port

import cairn
from cairn.client.http import HttpTracking
from cairn.core.access import ResourceKind, Role
from cairn.core.errors import PermissionDenied, ProjectNotFound, RunNotFound
from cairn.store.sql import SqlStore

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT_PASSWORD = "the admin's long passphrase 1"
PASSWORD = "a colleague's long passphrase 2"
MODEL = "churn"


@pytest.fixture
def team_server(postgres_store: SqlStore, postgres_url: str, tmp_path: Path) -> Iterator[str]:
    """``cairn server --init-admin root`` on the session's PostgreSQL database (emptied after)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    env.update(CAIRN_HOME=str(tmp_path / "server-home"), CAIRN_ADMIN_PASSWORD=ROOT_PASSWORD)
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "cairn", "server", "--store", postgres_url, "--blobs", str(tmp_path / "blobs")]
        + ["--port", str(port), "--init-admin", "root"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                return httpx.get(f"{url}/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        eventually(healthy, what="the server to start")
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def _token(url: str, username: str, password: str) -> str:
    answer = httpx.post(
        f"{url}/api/v1/auth/token",
        json={"username": username, "password": password, "token_name": "laptop"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    secret: str = answer.json()["secret"]
    return secret


def _train(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    features = np.random.default_rng(7).normal(size=(200, 4))
    labels = (features[:, 0] + features[:, 1] > 0).astype(int)
    model = LogisticRegression(C=c).fit(features, labels)
    with cairn.init("churn-models", config={"C": c}, flush_interval=0.05) as run:
        run.log({"val/accuracy": float(model.score(features, labels))})
        return run.log_model(model, "model", input_example=features[:2]).uri


def test_an_admin_a_team_roles_tokens_a_review_and_the_audit_log(
    team_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = team_server
    root = HttpTracking(url, token=_token(url, "root", ROOT_PASSWORD))
    assert root.whoami().user is not None and root.whoami().is_admin

    # The admin creates colleagues and gives them roles on the project and the model.
    for name in ("ann", "bob", "carl", "dana", "eve"):
        root.create_user(name, password=PASSWORD)
    root.create_project("churn-models")
    root.grant_role(ResourceKind.PROJECT, "churn-models", "ann", Role.EDITOR)
    root.grant_role(ResourceKind.PROJECT, "churn-models", "bob", Role.VIEWER)
    root.grant_role(ResourceKind.PROJECT, "churn-models", "dana", Role.VIEWER)
    root.create_model(MODEL)
    root.grant_role(ResourceKind.MODEL, MODEL, "ann", Role.EDITOR)
    root.grant_role(ResourceKind.MODEL, MODEL, "dana", Role.EDITOR)  # approves
    root.grant_role(ResourceKind.MODEL, MODEL, "carl", Role.MAINTAINER)  # merges
    root.grant_role(ResourceKind.MODEL, MODEL, "bob", Role.VIEWER)

    # Ann logs runs and models with her personal token, through the SDK.
    ann_token = _token(url, "ann", PASSWORD)
    monkeypatch.setenv("CAIRN_URI", url)
    monkeypatch.setenv("CAIRN_TOKEN", ann_token)
    monkeypatch.setenv("CAIRN_USER", "someone-else")  # a claimed name counts for nothing
    first, second = _train(0.01), _train(10.0)
    assert cairn.register_model(first, MODEL).version == 1
    assert cairn.register_model(second, MODEL).version == 2
    ann = HttpTracking(url, token=ann_token)
    [run] = [r for r in ann.list_runs("churn-models").items if r.params.get("C") == 10.0]
    assert run.user == "ann"

    # @champion is protected by the admin; only a model maintainer may merge into it.
    root.set_model_alias(MODEL, "champion", 1)
    root.protect_alias(MODEL, "champion", approvals=1, checks=["metrics.val/accuracy >= 0.5"])
    review = cairn.open_review(MODEL, 2, "champion", description="less regularisation")
    assert review.author == "ann"

    # Bob, a viewer, looks but cannot touch.
    bob = HttpTracking(url, token=_token(url, "bob", PASSWORD))
    assert bob.get_run(run.id).id == run.id
    assert bob.get_review(review.id).id == review.id
    with pytest.raises(PermissionDenied):
        bob.set_tags(run.id, {"hacked": "yes"})
    with pytest.raises(PermissionDenied):
        bob.approve_review(review.id, "sure")
    with pytest.raises(PermissionDenied):
        bob.delete_run(run.id)

    # Eve holds no role: the project and its runs do not exist for her.
    eve = HttpTracking(url, token=_token(url, "eve", PASSWORD))
    with pytest.raises(ProjectNotFound):
        eve.get_project("churn-models")
    with pytest.raises(RunNotFound):
        eve.get_run(run.id)
    assert [p.name for p in eve.list_projects()] == []

    # Dana (model editor) approves; Ann (editor, the author) may not merge; Carl (maintainer) does.
    dana = HttpTracking(url, token=_token(url, "dana", PASSWORD))
    assert dana.approve_review(review.id, "LGTM").approvals == ("dana",)
    with pytest.raises(PermissionDenied, match="maintainer"):
        ann.merge_review(review.id)
    carl = HttpTracking(url, token=_token(url, "carl", PASSWORD))
    merged = carl.merge_review(review.id)
    assert (merged.state.value, merged.merged_by) == ("merged", "carl")
    assert root.get_model_version_by_alias(MODEL, "champion").version == 2

    # Everything is in the audit log: who, when and from where.
    events = root.list_events(limit=1000).items
    by_type: dict[str, list[Any]] = {}
    for event in events:
        by_type.setdefault(event.type.value, []).append(event)
    created = {e.subject.removeprefix("users/"): e.actor for e in by_type["user.created"]}
    assert created == {"root": "cairn-server", **dict.fromkeys(("ann", "bob", "carl", "dana", "eve"), "root")}
    assert {e.data["user"] for e in by_type["role.granted"]} >= {"ann", "bob", "carl", "dana"}
    assert {e.actor for e in by_type["token.created"]} >= {"root", "ann", "bob", "carl", "dana", "eve"}
    assert {e.actor for e in by_type["token.used"]} >= {"ann", "bob", "carl", "dana", "eve"}
    [merge] = by_type["review.merged"]
    assert merge.actor == "carl" and merge.data["address"] == "127.0.0.1"
    assert {e.actor for e in by_type["run.created"]} == {"ann"}
    assert "someone-else" not in {e.actor for e in events}
    assert all(ann_token not in str(e.data) for e in events)
    for client in (root, ann, bob, carl, dana, eve):
        client.close()
