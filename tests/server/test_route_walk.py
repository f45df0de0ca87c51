"""The route walk: every route of the app, API and dashboard, against every kind of caller
(docs/access.md, "Who may do what").

The routes come from the app's router, not from a list kept by hand, so a route added later is
walked without anyone remembering it; one that has no row in :data:`RULES` fails
:func:`test_every_route_has_a_permission_rule`. For each route, on a server that requires
sign-in: nobody signed in gets 401 (a dashboard page: 303 to /login); a user who holds no role
on the project or model gets 404, as for one that does not exist; a user whose role is below the
rule's gets 403; a user with exactly the rule's role succeeds (anything but 401, 403 and 404).

HOW TO ADD A ROUTE: add a row to RULES keyed by (METHOD, path template exactly as the router
spells it, e.g. "/api/v1/runs/{run_id}/tags/{key:path}"), saying who may call it:
``Rule(role, on)`` with ``on`` one of "project" (a role on the run's project), "model" (a role
on the registered model), "signed-in" (any signed-in user; what they see is filtered),
"global" (a global admin only, role ignored) or "self" (a user's own account or token, named
by ``{user}`` or ``{token_id}``: anyone else gets 404, as if it did not exist, and the user
themself, then a global admin, succeed; role ignored), and the request the walk sends: ``json=``, ``form=``,
``content=`` a body, ``query=`` parameters, ``params=`` path parameters beyond the ones
:class:`World` fills in (``run_id``, ``name`` …; a value may name those too, e.g.
``{"name": "{team}"}``). Prefer a body that succeeds: a route that creates something takes
``{new}``, a name no call has used; :meth:`World.fresh` makes a user, team, service account
and token for each route, so one that deletes or changes them spoils nothing.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from tests.access_helpers import ADMIN, PASSWORD, Team
from tests.contract.helpers import batch, columns, manifest_json
from tests.contract.test_prediction_logs import HOUR, log_file
from tests.helpers import ThreadedServer, free_port

from cairn.blobs.local import LocalBlobStore
from cairn.core.access import ResourceKind, Role
from cairn.core.artifacts import ArtifactEntry, SnapshotFile
from cairn.server.mlflow.paths import is_mlflow_path
from cairn.service.access import PASSWORDS
from cairn.service.policy import Principal, RolePolicy
from cairn.service.tracking import TrackingService
from cairn.settings import ServerSettings
from cairn.store.sql import SqlStore

#: What ``cairn login --browser`` sends the dashboard (a port no one listens on: nothing follows).
CLI_LOGIN = {"port": "40999", "state": "walk-state-0123456789", "name": "walk cli"}

#: Routes anyone may call, signed in or not: checked to exist, so the list cannot go stale.
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/"),  # only a redirect to /projects, which asks for sign-in
    ("GET", "/api/v1/openapi.json"),
    ("HEAD", "/api/v1/openapi.json"),
    ("GET", "/api/v1/docs"),
    ("MOUNT", "/api/v1/docs-assets"),
    ("MOUNT", "/static"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    # Signing in for a token (cairn login) takes a user name and password: it is how one signs
    # in. A wrong one answers 401 (test_signing_in_for_a_token_refuses_bad_credentials).
    ("POST", "/api/v1/auth/token"),
}
#: Public by prefix: the single sign-on flow (it is how one signs in).
PUBLIC_PREFIXES = ("/auth/oidc/",)

ROLES = [Role.VIEWER, Role.EDITOR, Role.MAINTAINER, Role.ADMIN]
#: The user holding each role on the project "p" and every model the walk makes.
HOLDER = {Role.VIEWER: "vic", Role.EDITOR: "eda", Role.MAINTAINER: "mai", Role.ADMIN: "pad"}
OUTSIDER = "out"
ROOT = "root2"


@dataclass(frozen=True)
class Rule:
    role: Role
    on: str  # project | model | signed-in | global | self
    json: Any = None
    form: dict[str, Any] | None = None
    content: bytes | None = None
    query: dict[str, Any] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    #: Sent as HTMX sends it (HX-Request): the dashboard answers a fragment, not a redirect.
    htmx: bool = False


V, E, M, A = Role.VIEWER, Role.EDITOR, Role.MAINTAINER, Role.ADMIN
P, MO, S, G, SELF = "project", "model", "signed-in", "global", "self"
API = "/api/v1"
DIGEST = hashlib.sha256(b"walk bytes").hexdigest()
#: The project the walk's runs are in, for routes whose {name} is a project's.
PROJECT = {"name": "p"}
#: The password of every user the walk makes (tests.access_helpers.PASSWORD).
WALK_PASSWORD = PASSWORD
NEW_PASSWORD = "another walk passphrase 9"
TEAM = {"name": "{team}"}
USER = {"username": "{user}"}

RULES: dict[tuple[str, str], Rule] = {
    # -- discussion ------------------------------------------------------------------------
    ("GET", f"{API}/runs/{{run_id}}/comments"): Rule(V, P),
    ("POST", f"{API}/runs/{{run_id}}/comments"): Rule(E, P, json={"body": "looks good"}),
    ("PATCH", f"{API}/comments/{{comment_id}}"): Rule(E, P, json={"body": "edited"}),
    ("DELETE", f"{API}/comments/{{comment_id}}"): Rule(E, P),
    ("GET", f"{API}/projects/{{name:path}}/views"): Rule(V, P, params=PROJECT),
    ("POST", f"{API}/projects/{{name:path}}/views"): Rule(E, P, json={"name": "fresh view"}, params=PROJECT),
    ("GET", f"{API}/views/{{view_id}}"): Rule(V, P),
    ("DELETE", f"{API}/views/{{view_id}}"): Rule(E, P),  # one's own; others' need maintainer
    ("GET", f"{API}/projects/{{name:path}}/fields"): Rule(V, P, params=PROJECT),
    # -- projects and runs -----------------------------------------------------------------
    ("GET", f"{API}/projects"): Rule(V, S),
    ("POST", f"{API}/projects"): Rule(V, S, json={"name": "{new}"}),
    ("GET", f"{API}/projects/{{name:path}}"): Rule(V, P, params=PROJECT),
    ("GET", f"{API}/runs/duplicates"): Rule(V, P, query={"project": "p", "fingerprint": "0" * 64}),
    ("GET", f"{API}/runs/{{run_id}}/similar"): Rule(V, P),
    ("GET", f"{API}/runs/{{run_id}}/nearest"): Rule(V, P, query={"key": "loss"}),
    ("GET", f"{API}/runs/{{run_id}}/diff"): Rule(V, P, query={"against": "{other_run}"}),
    ("POST", f"{API}/runs"): Rule(E, P, json={"project": "p"}),
    ("GET", f"{API}/runs"): Rule(V, P, query={"project": "p"}),
    ("GET", f"{API}/runs/groups"): Rule(V, P, query={"project": "p", "group_by": "params.lr"}),
    ("GET", f"{API}/runs/{{run_id}}"): Rule(V, P),
    ("PATCH", f"{API}/runs/{{run_id}}"): Rule(E, P, json={"notes": "better"}),
    ("DELETE", f"{API}/runs/{{run_id}}"): Rule(M, P),
    ("POST", f"{API}/runs/{{run_id}}/restore"): Rule(M, P),
    ("POST", f"{API}/runs/{{run_id}}/params"): Rule(E, P, json={"params": {"epochs": 3}}),
    ("POST", f"{API}/runs/{{run_id}}/tags"): Rule(E, P, json={"tags": {"best": "yes"}}),
    ("DELETE", f"{API}/runs/{{run_id}}/tags/{{key:path}}"): Rule(E, P, params={"key": "t"}),
    (
        "POST",
        f"{API}/runs/{{run_id}}/metrics",
    ): Rule(
        E,
        P,
        json={
            "client_id": "walk",
            "seq": 1,
            "metrics": [{"key": "acc", "steps": [1], "timestamps": [1], "values": [0.5]}],
        },
    ),
    ("GET", f"{API}/runs/{{run_id}}/metrics/history"): Rule(V, P, query={"key": "loss"}),
    # -- artifacts, datasets, blobs, snapshots ---------------------------------------------
    ("POST", f"{API}/runs/{{run_id}}/artifacts"): Rule(
        E, P, json={"artifacts": [{"path": "b.txt", "digest": DIGEST, "size": 10}]}
    ),
    ("GET", f"{API}/runs/{{run_id}}/artifacts"): Rule(V, P),
    ("GET", f"{API}/runs/{{run_id}}/artifacts/archive"): Rule(V, P, query={"path": "model"}),
    ("GET", f"{API}/runs/{{run_id}}/artifacts/files/{{path:path}}"): Rule(V, P, params={"path": "a.txt"}),
    ("POST", f"{API}/runs/{{run_id}}/datasets"): Rule(
        E,
        P,
        json={
            "dataset": {"name": "iris", "digest": DIGEST, "source_uri": "file:///iris.csv", "source_kind": "file"},
            "context": "train",
        },
    ),
    ("GET", f"{API}/runs/{{run_id}}/inputs"): Rule(V, P),
    ("GET", f"{API}/datasets"): Rule(V, P, query={"project": "p"}),
    # Bytes belong to no project until an artifact names them: an editor somewhere may store them.
    ("POST", f"{API}/blobs/missing"): Rule(E, S, json={"digests": [DIGEST]}),
    ("PUT", f"{API}/blobs/{{digest}}"): Rule(E, S, content=b"walk bytes", params={"digest": DIGEST}),
    ("POST", f"{API}/blobs/uploads"): Rule(E, S, json={}),
    ("GET", f"{API}/blobs/uploads/{{upload_id}}"): Rule(E, S),
    ("PUT", f"{API}/blobs/uploads/{{upload_id}}"): Rule(E, S, content=b"walk bytes", query={"offset": 10}),
    ("POST", f"{API}/blobs/uploads/{{upload_id}}/complete"): Rule(E, S, json={"digest": "{upload_digest}"}),
    ("DELETE", f"{API}/blobs/uploads/{{upload_id}}"): Rule(E, S),
    ("POST", f"{API}/runs/{{run_id}}/snapshots"): Rule(
        E, P, json={"kind": "config", "files": [{"path": "a.txt", "digest": DIGEST, "size": 10}]}
    ),
    ("GET", f"{API}/runs/{{run_id}}/snapshots"): Rule(V, P),
    ("GET", f"{API}/snapshots/{{snapshot_id}}"): Rule(V, P),
    ("GET", f"{API}/snapshots/{{snapshot_id}}/files/{{path:path}}"): Rule(V, P, params={"path": "a.txt"}),
    # -- the registry ----------------------------------------------------------------------
    ("GET", f"{API}/models"): Rule(V, S),
    ("POST", f"{API}/models/search"): Rule(V, S, json={}),
    ("POST", f"{API}/models"): Rule(V, S, json={"name": "{new}"}),
    ("GET", f"{API}/models/{{name}}"): Rule(V, MO),
    ("PATCH", f"{API}/models/{{name}}"): Rule(E, MO, json={"description": "digits"}),
    ("DELETE", f"{API}/models/{{name}}"): Rule(M, MO),
    ("POST", f"{API}/models/{{name}}/tags"): Rule(E, MO, json={"key": "team", "value": "vision"}),
    ("DELETE", f"{API}/models/{{name}}/tags/{{key:path}}"): Rule(E, MO, params={"key": "team"}),
    ("POST", f"{API}/models/{{name}}/versions"): Rule(E, MO, json={"source": "runs:/{run_id}/model"}),
    ("GET", f"{API}/models/{{name}}/versions"): Rule(V, MO),
    ("GET", f"{API}/model-versions"): Rule(V, S),
    ("GET", f"{API}/models/{{name}}/versions/{{version}}"): Rule(V, MO),
    ("GET", f"{API}/models/{{name}}/versions/{{version}}/archive"): Rule(V, MO),
    ("PATCH", f"{API}/models/{{name}}/versions/{{version}}"): Rule(E, MO, json={"description": "v"}),
    ("POST", f"{API}/models/{{name}}/versions/{{version}}/stage"): Rule(E, MO, json={"stage": "Staging"}),
    ("POST", f"{API}/models/{{name}}/versions/{{version}}/tags"): Rule(E, MO, json={"key": "ok", "value": "1"}),
    ("DELETE", f"{API}/models/{{name}}/versions/{{version}}/tags/{{key:path}}"): Rule(E, MO, params={"key": "ok"}),
    ("PUT", f"{API}/models/{{name}}/aliases/{{alias}}"): Rule(
        E, MO, json={"version": "{version}"}, params={"alias": "staging"}
    ),
    ("DELETE", f"{API}/models/{{name}}/aliases/{{alias}}"): Rule(E, MO, params={"alias": "staging"}),
    ("GET", f"{API}/models/{{name}}/aliases/{{alias}}"): Rule(V, MO, params={"alias": "staging"}),
    ("GET", f"{API}/models/{{name}}/aliases/{{alias}}/archive"): Rule(V, MO, params={"alias": "staging"}),
    ("GET", f"{API}/models/{{name}}/alias-history"): Rule(V, MO),
    ("GET", f"{API}/runs/{{run_id}}/model-versions"): Rule(V, P),
    # -- prediction logs: written by a serving process with an editor's token -------------------
    ("POST", f"{API}/models/{{name}}/versions/{{version}}/prediction-logs"): Rule(
        E, MO, content=log_file(), query={"hour_ms": HOUR}
    ),
    ("GET", f"{API}/models/{{name}}/prediction-logs"): Rule(V, MO),
    ("GET", f"{API}/models/{{name}}/versions/{{version}}/prediction-logs/{{file_id}}"): Rule(V, MO),
    # -- labels: sent by whoever learns the truth, with an editor's token; read by viewers -------
    ("POST", f"{API}/models/{{name}}/versions/{{version}}/labels"): Rule(E, MO, json={"ids": ["r0"], "labels": [1]}),
    ("GET", f"{API}/models/{{name}}/versions/{{version}}/labels"): Rule(V, MO),
    ("GET", f"{API}/models/{{name}}/versions/{{version}}/labels/{{file_id}}"): Rule(
        V, MO, params={"file_id": "{labels_id}"}
    ),
    ("GET", f"{API}/models/{{name}}/versions/{{version}}/performance"): Rule(
        V, MO, query={"window": "1h", "start_ms": HOUR, "end_ms": HOUR + 3_600_000}
    ),
    ("GET", f"{API}/dataset-versions/{{version_id}}/model-versions"): Rule(V, S, params={"version_id": "0" * 32}),
    # -- monitoring: a maintainer sets monitors up, an editor runs them and answers alerts -----
    ("GET", f"{API}/monitors"): Rule(V, S),
    ("POST", f"{API}/monitors/run"): Rule(V, S),
    ("GET", f"{API}/alerts"): Rule(V, S),
    ("GET", f"{API}/models/{{name}}/monitors"): Rule(V, MO),
    ("POST", f"{API}/models/{{name}}/monitors"): Rule(M, MO, json={"name": "{new}", "alias": "staging"}),
    ("GET", f"{API}/models/{{name}}/monitors/{{monitor}}"): Rule(V, MO),
    ("DELETE", f"{API}/models/{{name}}/monitors/{{monitor}}"): Rule(M, MO),
    ("POST", f"{API}/models/{{name}}/monitors/{{monitor}}/run"): Rule(E, MO),
    ("GET", f"{API}/models/{{name}}/monitors/{{monitor}}/windows"): Rule(V, MO),
    ("GET", f"{API}/models/{{name}}/alerts"): Rule(V, MO),
    ("GET", f"{API}/models/{{name}}/alerts/{{alert_id}}"): Rule(V, MO),
    ("POST", f"{API}/models/{{name}}/alerts/{{alert_id}}/acknowledge"): Rule(E, MO),
    ("POST", f"{API}/models/{{name}}/alerts/{{alert_id}}/resolve"): Rule(E, MO),
    ("GET", f"{API}/models/{{name}}/drift-report"): Rule(V, MO, query={"alias": "staging"}),
    # -- protections and reviews -----------------------------------------------------------
    ("GET", f"{API}/models/{{name}}/protections"): Rule(V, MO),
    ("PUT", f"{API}/models/{{name}}/protections/{{alias}}"): Rule(A, MO, json={"approvals": 1}),
    ("GET", f"{API}/models/{{name}}/protections/{{alias}}"): Rule(V, MO),
    ("DELETE", f"{API}/models/{{name}}/protections/{{alias}}"): Rule(A, MO),
    ("POST", f"{API}/reviews"): Rule(E, MO, json={"model": "{name}", "version": "{version}", "alias": "challenger"}),
    ("GET", f"{API}/reviews"): Rule(V, S),
    ("GET", f"{API}/reviews/{{review_id}}"): Rule(V, MO),
    ("GET", f"{API}/reviews/{{review_id}}/detail"): Rule(V, MO),
    ("POST", f"{API}/reviews/{{review_id}}/approve"): Rule(E, MO, json={}),
    ("POST", f"{API}/reviews/{{review_id}}/request-changes"): Rule(E, MO, json={"body": "more data"}),
    ("POST", f"{API}/reviews/{{review_id}}/comments"): Rule(E, MO, json={"body": "why?"}),
    ("POST", f"{API}/reviews/{{review_id}}/checks"): Rule(E, MO),
    ("POST", f"{API}/reviews/{{review_id}}/merge"): Rule(M, MO),  # the protection's merge_role
    ("POST", f"{API}/reviews/{{review_id}}/close"): Rule(M, MO),  # its author (an editor) too
    # -- the event log and webhooks: server-wide, so a global admin's -----------------------
    ("GET", f"{API}/events"): Rule(A, G),
    ("GET", f"{API}/webhooks"): Rule(A, G),
    ("POST", f"{API}/webhooks"): Rule(A, G, json={"url": "https://hooks.example.invalid/in", "events": ["run.*"]}),
    ("GET", f"{API}/webhooks/{{webhook_id}}"): Rule(A, G),
    ("PATCH", f"{API}/webhooks/{{webhook_id}}"): Rule(A, G, json={"active": False}),
    ("DELETE", f"{API}/webhooks/{{webhook_id}}"): Rule(A, G),
    ("GET", f"{API}/webhooks/{{webhook_id}}/deliveries"): Rule(A, G),
    ("GET", f"{API}/webhooks/{{webhook_id}}/deliveries/{{delivery_id}}"): Rule(A, G),
    ("POST", f"{API}/webhooks/{{webhook_id}}/deliveries/{{delivery_id}}/redeliver"): Rule(A, G),
    # -- users, tokens, teams -----------------------------------------------------------------
    ("GET", f"{API}/me"): Rule(V, S),
    ("GET", f"{API}/users"): Rule(A, G),
    ("POST", f"{API}/users"): Rule(A, G, json={"username": "{new}", "password": WALK_PASSWORD}),
    ("GET", f"{API}/users/{{username}}"): Rule(V, SELF, params=USER),
    ("PATCH", f"{API}/users/{{username}}"): Rule(V, SELF, json={"display_name": "Walker"}, params=USER),
    ("PUT", f"{API}/users/{{username}}/password"): Rule(
        V, SELF, json={"password": NEW_PASSWORD, "current_password": WALK_PASSWORD}, params={"username": "{user}"}
    ),
    ("GET", f"{API}/tokens"): Rule(V, S),
    ("POST", f"{API}/tokens"): Rule(V, S, json={"name": "walk"}),
    ("DELETE", f"{API}/tokens/{{token_id}}"): Rule(V, SELF),
    ("GET", f"{API}/teams"): Rule(V, S),
    ("POST", f"{API}/teams"): Rule(A, G, json={"name": "{new}"}),
    ("DELETE", f"{API}/teams/{{name}}"): Rule(A, G, params=TEAM),
    ("PUT", f"{API}/teams/{{name}}/members/{{username}}"): Rule(A, G, params={**TEAM, "username": "{user}"}),
    ("DELETE", f"{API}/teams/{{name}}/members/{{username}}"): Rule(A, G, params={**TEAM, "username": "{user}"}),
    # -- members of projects and models: anyone who sees it lists them, its admins change them
    ("GET", f"{API}/projects/{{name:path}}/members"): Rule(V, P, params=PROJECT),
    ("PUT", f"{API}/projects/{{name:path}}/members"): Rule(
        A, P, json={"subject": "{user}", "role": "editor"}, params=PROJECT
    ),
    ("DELETE", f"{API}/projects/{{name:path}}/members/{{kind}}/{{subject}}"): Rule(
        A, P, params={**PROJECT, "kind": "user", "subject": "{user}"}
    ),
    ("GET", f"{API}/models/{{name}}/members"): Rule(V, MO),
    ("PUT", f"{API}/models/{{name}}/members"): Rule(A, MO, json={"subject": "{team}", "role": "editor", "team": True}),
    ("DELETE", f"{API}/models/{{name}}/members/{{kind}}/{{subject}}"): Rule(
        A, MO, params={"kind": "user", "subject": "{user}"}
    ),
    # -- dashboard pages -------------------------------------------------------------------
    ("GET", "/"): Rule(V, S),
    ("GET", "/runs/{run_id}/notes"): Rule(V, P),
    ("POST", "/runs/{run_id}/notes"): Rule(E, P, form={"notes": "new notes"}),
    ("GET", "/runs/{run_id}/comments"): Rule(V, P, htmx=True),
    ("POST", "/runs/{run_id}/comments"): Rule(E, P, form={"body": "nice"}),
    ("GET", "/comments/{comment_id}/edit"): Rule(V, P, query={"run": "{run_id}"}, htmx=True),
    ("POST", "/comments/{comment_id}/edit"): Rule(E, P, form={"run": "{run_id}", "body": "edited"}),
    ("POST", "/comments/{comment_id}/delete"): Rule(E, P, form={"run": "{run_id}"}),
    ("POST", "/views"): Rule(E, P, form={"project": "p", "name": "page view"}),
    ("GET", "/views/{view_id}"): Rule(V, P),
    ("POST", "/views/{view_id}/delete"): Rule(E, P),
    ("POST", "/viewer"): Rule(V, S, form={"name": "someone"}),
    ("GET", "/runs/{run_id}"): Rule(V, P),
    ("GET", "/runs/{run_id}/system"): Rule(V, P),
    ("GET", "/runs/{run_id}/artifacts"): Rule(V, P),
    ("GET", "/runs/{run_id}/datasets"): Rule(V, P),
    ("GET", "/runs/{run_id}/code"): Rule(V, P),
    ("GET", "/runs/{run_id}/logs"): Rule(V, P),
    ("GET", "/compare"): Rule(V, P, query={"runs": "{run_id},{other_run}"}),
    ("GET", "/projects"): Rule(V, S),
    ("GET", "/projects/{name:path}"): Rule(V, P, params=PROJECT),
    ("GET", "/mlflow-link/experiments/{experiment_id}"): Rule(V, P, params={"experiment_id": "{project_id}"}),
    ("GET", "/models"): Rule(V, S),
    ("GET", "/models/{name}"): Rule(V, MO),
    ("GET", "/models/{name}/versions"): Rule(V, MO),
    ("GET", "/models/{name}/aliases"): Rule(V, MO),
    ("GET", "/models/{name}/versions/{version}"): Rule(V, MO),
    ("GET", "/models/{name}/reviews"): Rule(V, MO),
    ("GET", "/models/{name}/monitoring"): Rule(V, MO),
    ("GET", "/models/{name}/versions/{version}/monitoring"): Rule(V, MO),
    ("GET", "/models/{name}/monitoring/histogram"): Rule(V, MO, query={"monitor": "{monitor}", "feature": "x"}),
    ("POST", "/models/{name}/monitors"): Rule(M, MO, form={"monitor_name": "{new}", "alias": "staging"}),
    ("POST", "/models/{name}/alerts/{alert_id}/acknowledge"): Rule(E, MO),
    ("POST", "/models/{name}/alerts/{alert_id}/resolve"): Rule(E, MO),
    ("GET", "/reviews/{review_id}"): Rule(V, MO),
    ("POST", "/reviews/{review_id}/comments"): Rule(E, MO, form={"body": "hm"}),
    ("POST", "/reviews/{review_id}/approve"): Rule(E, MO, form={"body": ""}),
    ("POST", "/reviews/{review_id}/request-changes"): Rule(E, MO, form={"body": "more"}),
    ("POST", "/reviews/{review_id}/merge"): Rule(M, MO),
    ("POST", "/reviews/{review_id}/close"): Rule(M, MO),
    ("GET", "/events"): Rule(A, G),
    ("GET", "/webhooks"): Rule(A, G),
    ("POST", "/webhooks"): Rule(A, G, form={"url": "https://hooks.example.invalid/page", "events": "run.*"}),
    ("GET", "/webhooks/{webhook_id}"): Rule(A, G),
    ("POST", "/webhooks/{webhook_id}/enable"): Rule(A, G),
    ("POST", "/webhooks/{webhook_id}/disable"): Rule(A, G),
    ("POST", "/webhooks/{webhook_id}/delete"): Rule(A, G),
    ("POST", "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): Rule(A, G),
    # -- one's account, the admins' users page, members pages -------------------------------
    ("GET", "/account"): Rule(V, S),
    ("POST", "/account/tokens"): Rule(V, S, form={"name": "walk page"}),
    ("POST", "/account/tokens/{token_id}/revoke"): Rule(V, SELF),
    ("GET", "/account/cli-login"): Rule(V, S, query=CLI_LOGIN),
    ("POST", "/account/cli-login"): Rule(V, S, form=CLI_LOGIN),
    # Every walk user has WALK_PASSWORD: setting it again changes nothing the walk relies on.
    ("POST", "/account/password"): Rule(V, S, form={"current_password": WALK_PASSWORD, "new_password": WALK_PASSWORD}),
    ("GET", "/admin/users"): Rule(A, G),
    ("POST", "/admin/users"): Rule(A, G, form={"username": "{new}", "password": WALK_PASSWORD}),
    ("POST", "/admin/users/{username}/password"): Rule(
        A, G, form={"password": NEW_PASSWORD}, params={"username": "{user}"}
    ),
    ("POST", "/admin/users/{username}/tokens"): Rule(A, G, form={"name": "deploy"}, params={"username": "{service}"}),
    ("POST", "/admin/users/{username}/{change}"): Rule(A, G, params={"username": "{user}", "change": "disable"}),
    ("POST", "/admin/teams"): Rule(A, G, form={"name": "{new}"}),
    ("POST", "/admin/teams/{team}/delete"): Rule(A, G),
    ("POST", "/admin/teams/{team}/members"): Rule(A, G, form={"username": "{user}"}),
    ("POST", "/admin/teams/{team}/members/{username}/remove"): Rule(A, G, params={"username": "{user}"}),
    ("GET", "/models/{name}/members"): Rule(V, MO),
    ("POST", "/models/{name}/members"): Rule(A, MO, form={"subject": "{user}", "role": "maintainer"}),
    ("POST", "/models/{name}/members/revoke"): Rule(A, MO, form={"subject": "{team}", "subject_kind": "team"}),
    ("GET", "/projects/{name:path}/members"): Rule(V, P, params=PROJECT),
    ("POST", "/projects/{name:path}/members"): Rule(
        A, P, form={"subject": "{team}", "role": "viewer", "subject_kind": "team"}, params=PROJECT
    ),
    ("POST", "/projects/{name:path}/members/revoke"): Rule(A, P, form={"subject": "{user}"}, params=PROJECT),
}


def app_routes(app: Any) -> Iterator[tuple[str, str]]:
    """Every (method, path template) the app answers, mounts as ("MOUNT", path); not MLflow's
    API, which speaks MLflow's protocol and has its own walk (tests/mlflow_compat/test_access.py)."""
    for route in iter_route_contexts(app.routes):
        if is_mlflow_path(route.path):
            continue
        methods = route.methods or {"MOUNT"}
        for method in sorted(methods):
            yield method, route.path


def is_public(method: str, path: str) -> bool:
    return (method, path) in PUBLIC or path.startswith(PUBLIC_PREFIXES)


# -- the world the walk acts on ------------------------------------------------------------------


@dataclass
class World:
    """A project "p" whose members hold each role, and, made afresh for each route (so a
    delete does not spoil the next one), a run with files, a comment, a view, a model holding
    the same roles with a version, aliases, a prediction log, a protection and a review, a
    webhook, an upload,
    and a user (a viewer of "p" and the model) with two tokens, in a team (a viewer of the
    model), and a service account."""

    store: SqlStore
    blobs: LocalBlobStore
    team: Team
    tmp: Path
    counter: Iterator[int] = field(default_factory=itertools.count)
    #: WALK_PASSWORD hashed once: argon2 takes a while, and the walk makes a user per route.
    password_hash: str = field(default_factory=lambda: PASSWORDS.hash(WALK_PASSWORD))

    def acting(self, name: str, *, is_admin: bool = False) -> TrackingService:
        principal = Principal(name, is_admin=is_admin, authenticated=True)
        return TrackingService(self.store, principal, RolePolicy(self.store), self.blobs)

    @property
    def root(self) -> TrackingService:
        return TrackingService(self.store, ADMIN, RolePolicy(self.store), self.blobs)

    def fresh(self) -> dict[str, str]:
        n = next(self.counter)
        root = self.root
        weights, manifest = b"walk bytes", manifest_json({"model.bin": DIGEST})
        manifest_digest = hashlib.sha256(manifest).hexdigest()
        root.write_blob([weights], DIGEST)
        root.write_blob([manifest], manifest_digest)
        run = root.create_run("p", config={"lr": 0.1}, tags={"t": "1"})
        other = root.create_run("p", config={"lr": 0.2})
        root.log_metrics(run.id, batch(columns("loss", [1], [0.5])))
        root.log_artifacts(
            run.id,
            [
                ArtifactEntry("a.txt", DIGEST, len(weights)),
                ArtifactEntry("model/model.bin", DIGEST, len(weights)),
                ArtifactEntry("model/cairn-model.json", manifest_digest, len(manifest)),
            ],
        )
        snapshot = root.save_snapshot(run.id, "code", [SnapshotFile("a.txt", DIGEST, len(weights))])
        editor = self.acting(HOLDER[Role.EDITOR])
        comment = editor.add_comment(run.id, "first")
        view = editor.save_view("p", f"view {n}")
        model = f"m{n}"
        root.create_model(model)
        for role, holder in HOLDER.items():
            self.team.grant(holder, role, model=model)
        version = root.register_model(f"runs:/{run.id}/model", model)
        root.register_model(f"runs:/{run.id}/model", model)
        root.set_model_alias(model, "staging", version.version)
        prediction_log = root.log_predictions(model, version.version, HOUR, log_file(version.version))
        labels = root.log_prediction_labels(model, version.version, ["r0", "r1"], [0, 1])
        root.set_model_tag(model, "team", "vision")
        root.set_model_version_tag(model, version.version, "ok", "1")
        root.protect_alias(model, "champion", approvals=1)
        monitor = root.create_monitor(model, "watch", alias="staging")
        # An alert as an evaluation opens one (the walk's model has no training data to compare with).
        alert_id = self.store.open_alert(monitor.id, version.version, window_ms=HOUR, detail={}, opened_at=HOUR)
        # Opened by the maintainer, so that the editor may vote; approved, so that it may merge.
        review = self.acting(HOLDER[Role.MAINTAINER]).open_review(model, version.version, "champion")
        self.acting(HOLDER[Role.ADMIN]).approve_review(review.id)
        webhook = root.create_webhook("https://hooks.example.invalid/walk", ["run.deleted"])
        root.delete_run(root.create_run("p").id)  # an event, so the webhook has a delivery
        delivery = root.list_webhook_deliveries(webhook.id).items[0]
        upload, _ = root.create_upload()
        self.blobs.stage_append(upload.upload_id, 0, [weights])
        user, team, service = f"walker-{n}", f"team-{n}", f"svc-{n}"
        self.store.create_user(
            username=user,
            display_name=user,
            email="",
            password_hash=self.password_hash,
            is_admin=False,
            is_service=False,
        )
        root.create_user(service, is_service=True)
        self.team.tokens[user] = self.acting(user).create_token("signs in")[1]
        token, _ = self.acting(user).create_token("to revoke")
        root.create_team(team)
        root.set_team_member(team, user, True)
        self.team.grant(user, Role.VIEWER, project="p")
        self.team.grant(user, Role.VIEWER, model=model)
        root.grant_role(ResourceKind.MODEL, model, team, Role.VIEWER, team=True)
        return {
            "run_id": run.id,
            "other_run": other.id,
            "project_id": run.project_id,
            "comment_id": comment.id,
            "view_id": view.id,
            "name": model,
            "version": str(version.version),
            "file_id": prediction_log.id,
            "labels_id": labels.id,
            "monitor": monitor.name,
            "alert_id": alert_id,
            "alias": "champion",
            "review_id": str(review.id),
            "snapshot_id": snapshot.id,
            "webhook_id": webhook.id,
            "delivery_id": delivery.id,
            "upload_id": upload.upload_id,
            "upload_digest": DIGEST,
            "new": f"new-{n}",
            "user": user,
            "team": team,
            "service": service,
            "token_id": token.id,
        }


@dataclass
class Walk:
    client: httpx.Client
    app: Any
    world: World


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    """A real server on a loopback port that requires sign-in, and the world it serves, made
    through a second store on the same SQLite file."""
    tmp = tmp_path_factory.mktemp("walk")
    settings = ServerSettings(
        store_uri=str(tmp / "walk.db"),
        blobs_uri=str(tmp / "blobs"),
        port=free_port(),
        require_auth=True,
        deliver_webhooks=False,
    )
    store = SqlStore(str(tmp / "walk.db"))
    blobs = LocalBlobStore(tmp / "blobs")
    team = Team(store)
    for holder in [*HOLDER.values(), OUTSIDER]:
        team.user(holder)
    team.user(ROOT, is_admin=True)
    world = World(store, blobs, team, tmp)
    world.root.create_project("p")
    for role, holder in HOLDER.items():
        team.grant(holder, role, project="p")
    with (
        ThreadedServer(settings) as server,
        httpx.Client(base_url=server.url, follow_redirects=False, timeout=60) as client,
    ):
        yield Walk(client, server.app, world)
    store.close()


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        filled = value.format(**names) if "{" in value else value
        return int(filled) if value == "{version}" else filled
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


def send(client: httpx.Client, method: str, template: str, rule: Rule, names: dict[str, str], who: str | None) -> Any:
    params = {**names, **_fill(rule.params, names)}
    path = template.replace(":path}", "}").format(**params)
    headers = {} if who is None else {"authorization": f"Bearer {WALK_TOKENS[who]}"}
    if rule.htmx:
        headers["hx-request"] = "true"
    return client.request(
        method,
        path,
        json=None if rule.json is None else _fill(rule.json, names),
        data=None if rule.form is None else _fill(rule.form, names),
        content=rule.content,
        params=_fill(rule.query, names),
        headers=headers,
    )


WALK_TOKENS: dict[str, str] = {}


def _expect(failures: list[str], what: str, answer: Any, expected: Callable[[int], bool], wanted: str) -> None:
    if not expected(answer.status_code):
        failures.append(f"{what}: wanted {wanted}, got {answer.status_code} {answer.text[:200]!r}")


# -- the tests -------------------------------------------------------------------------------------


def test_every_route_has_a_permission_rule(walk: Walk) -> None:
    missing = [
        f"{method} {path}"
        for method, path in app_routes(walk.app)
        if not is_public(method, path) and (method, path) not in RULES
    ]
    assert not missing, "a route with no permission rule (add it to RULES in this file): " + ", ".join(missing)


def test_rules_name_only_routes_that_exist(walk: Walk) -> None:
    routes = set(app_routes(walk.app))
    stale = sorted(f"{m} {p}" for m, p in RULES if (m, p) not in routes)
    assert not stale, f"rules for routes the app no longer has: {stale}"
    absent = sorted(f"{m} {p}" for m, p in PUBLIC if (m, p) not in routes)
    assert not absent, f"public routes the app does not have: {absent}"


def test_the_walk(walk: Walk) -> None:
    client, world = walk.client, walk.world
    WALK_TOKENS.update(world.team.tokens)
    failures: list[str] = []
    for method, template in sorted(app_routes(walk.app), key=lambda r: (r[1], r[0])):
        if is_public(method, template) or (method, template) not in RULES:
            continue
        rule = RULES[(method, template)]
        names = world.fresh()
        WALK_TOKENS.update(world.team.tokens)
        what = f"{method} {template}"
        page = not template.startswith(API)
        # Nobody signed in.
        answer = send(client, method, template, rule, names, None)
        if page and method == "GET" and rule.htmx:
            if not answer.headers.get("hx-redirect", "").startswith("/login"):
                failures.append(f"{what} anonymous: wanted HX-Redirect to /login, got {answer.status_code}")
        elif page and method == "GET":
            _expect(failures, f"{what} anonymous", answer, lambda s: s == 303, "303 to /login")
            if answer.status_code == 303 and not answer.headers["location"].startswith("/login"):
                failures.append(f"{what} anonymous: redirected to {answer.headers['location']}, not /login")
        else:
            _expect(failures, f"{what} anonymous", answer, lambda s: s == 401, "401")
        # Signed in, holding no role on the project or model (someone else, for "self").
        answer = send(client, method, template, rule, names, OUTSIDER)
        if rule.on in (P, MO, SELF):
            _expect(failures, f"{what} non-member", answer, lambda s: s == 404, "404")
        elif rule.on == G or rule.role is not Role.VIEWER:
            _expect(failures, f"{what} non-member", answer, lambda s: s == 403, "403")
        else:  # any signed-in user, who sees what they may
            _expect(failures, f"{what} non-member", answer, lambda s: s not in (401, 403, 404) and s < 500, "success")
        # Each role below the one needed (every project role for a global admin's route).
        for role in ROLES:
            if rule.on == G or role.rank < rule.role.rank:
                answer = send(client, method, template, rule, names, HOLDER[role])
                _expect(failures, f"{what} as {role.value}", answer, lambda s: s == 403, "403")
        # The role needed (a global admin for global rules, the user themself for "self").
        who = ROOT if rule.on == G else names["user"] if rule.on == SELF else HOLDER[rule.role]
        answer = send(client, method, template, rule, names, who)
        _expect(failures, f"{what} as {who}", answer, lambda s: s not in (401, 403, 404) and s < 500, "success")
        if rule.on == SELF:  # and a global admin, on anyone's
            answer = send(client, method, template, rule, names, ROOT)
            _expect(failures, f"{what} as {ROOT}", answer, lambda s: s not in (401, 403, 404) and s < 500, "success")
    assert not failures, "\n".join(failures)


def test_what_is_written_over_http_records_the_tokens_user(walk: Walk) -> None:
    """Comments, notes' events, reviews and votes name whoever the token belongs to; a header
    naming someone else (X-Cairn-User, honoured only without sign-in) changes nothing."""
    client, world = walk.client, walk.world
    WALK_TOKENS.update(world.team.tokens)
    names = world.fresh()
    headers = {"authorization": f"Bearer {WALK_TOKENS[HOLDER[Role.EDITOR]]}", "x-cairn-user": "mallory"}
    comment = client.post(f"{API}/runs/{names['run_id']}/comments", json={"body": "by token"}, headers=headers)
    assert comment.status_code == 201 and comment.json()["author"] == HOLDER[Role.EDITOR]
    vote = client.post(f"{API}/reviews/{names['review_id']}/approve", json={"body": "ok"}, headers=headers)
    assert vote.status_code == 200, vote.text
    assert HOLDER[Role.EDITOR] in vote.json()["approvals"]
    events = client.get(
        f"{API}/events",
        params={"subject": f"models/{names['name']}/*", "type": "review.approved"},
        headers={"authorization": f"Bearer {WALK_TOKENS[HOLDER[Role.VIEWER]]}"},
    )
    assert events.status_code == 200, events.text
    actors = [e["actor"] for e in events.json()["events"]]
    assert actors[0] == HOLDER[Role.EDITOR] and "mallory" not in actors


def test_signing_in_for_a_token_refuses_bad_credentials(walk: Walk) -> None:
    """POST /auth/token is public (it is how one signs in): a wrong password, an unknown user
    and a malformed body are refused with 401 and 400, never a server error; the right
    password gets a token that signs its user in."""
    client, world = walk.client, walk.world
    user = world.fresh()["user"]
    url = f"{API}/auth/token"
    wrong = client.post(url, json={"username": user, "password": "not the password at all", "token_name": "t"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "sign_in_failed", wrong.text
    unknown = client.post(url, json={"username": "nobody-at-all", "password": WALK_PASSWORD, "token_name": "t"})
    assert unknown.status_code == 401 and unknown.json()["error"] == wrong.json()["error"], unknown.text
    for body in (
        {"username": user},
        {"username": 7, "password": ["x"], "token_name": "t"},
        {"username": "", "password": "", "token_name": "t"},
        {"username": user * 1000, "password": "p" * 5000, "token_name": "t"},
    ):
        refused = client.post(url, json=body)
        assert refused.status_code in (400, 401), f"{body}: {refused.status_code} {refused.text}"
    created = client.post(url, json={"username": user, "password": WALK_PASSWORD, "token_name": "laptop"})
    assert created.status_code == 201, created.text
    me = client.get(f"{API}/me", headers={"authorization": f"Bearer {created.json()['secret']}"})
    assert me.status_code == 200 and me.json()["username"] == user
