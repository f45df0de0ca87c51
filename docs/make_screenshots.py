"""Write PNGs of the dashboard's main pages into docs/screenshots/ (``make screenshots``).

Logs the demo project into a scratch CAIRN_HOME, serves it with ``cairn ui`` on a free port,
and photographs the pages with Playwright driving Debian's Chromium, exactly as a user would
see them on a laptop screen. The README shows these files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
MODEL = "digits-sgd"  # registered by examples/sklearn_demo.py
sys.path.insert(0, str(ROOT / "bench"))
from _chromium import CHROMIUM_ARGS, NOT_FOUND, find_chromium  # noqa: E402 - after bench/ is on the path


def main() -> None:
    chromium = find_chromium()
    if chromium is None:
        sys.exit(NOT_FOUND)
    OUT.mkdir(parents=True, exist_ok=True)
    bin_dir = Path(sys.executable).parent
    _photograph_mlflow(chromium)
    if sys.argv[1:] == ["--only", "mlflow"]:
        return
    # A fixed, readable CAIRN_HOME: the demo's environment capture leaves out values that look
    # random (possible secrets), and a temporary folder's name does.
    home = Path(tempfile.gettempdir()) / "cairn-screenshots"
    shutil.rmtree(home, ignore_errors=True)
    try:
        env = {**os.environ, "CAIRN_HOME": str(home)}
        env.pop("CAIRN_URI", None)
        bin_dir = Path(sys.executable).parent
        subprocess.run([str(bin_dir / "cairn"), "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run([sys.executable, str(ROOT / "examples" / "sklearn_demo.py")], env=env, check=True)
        port = _free_port()
        server = subprocess.Popen(
            [str(bin_dir / "cairn"), "ui", "--port", str(port)], env=env, stdout=subprocess.DEVNULL
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_for(url)
            _photograph(url, chromium)
        finally:
            server.terminate()
            server.wait(timeout=10)
        _photograph_members(bin_dir, env, home, chromium)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _photograph(url: str, chromium: str) -> None:
    runs = httpx.get(f"{url}/api/v1/runs", params={"project": "demo", "order_by": "metrics.val/accuracy desc"}).json()
    ids = [run["id"] for run in runs["runs"]]
    best = ids[0]
    champion = _promote(url, best)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 820}, device_scale_factor=1)
        _shot(page, f"{url}/projects", "projects.png")
        _shot(page, f"{url}/projects/demo?order=metrics.val/accuracy+desc", "runs.png")
        page.goto(f"{url}/runs/{best}")
        page.fill(
            "#comment-form textarea",
            "Best validation accuracy so far: the smaller **alpha** helps. @alice, worth a longer run?",
        )
        page.locator("#comment-form").get_by_role("button", name="Comment").click()
        page.locator(".comment").first.wait_for()
        page.set_viewport_size({"width": 1366, "height": 1100})
        _shot(page, f"{url}/runs/{best}", "run.png", wait_for=".metric-chart[data-state=drawn]")
        page.set_viewport_size({"width": 1366, "height": 820})
        compare = "&".join(f"runs={run_id}" for run_id in ids)
        page.set_viewport_size({"width": 1366, "height": 1500})  # the diff table and the charts below it
        _shot(page, f"{url}/compare?{compare}", "compare.png", wait_for=".metric-chart[data-state=drawn]")
        page.set_viewport_size({"width": 1366, "height": 820})
        _shot(
            page,
            f"{url}/runs/{best}/artifacts?path=val/confusion_matrix.json",
            "artifacts.png",
            wait_for=".confusion-matrix[data-state=drawn]",
        )
        _shot(page, f"{url}/models/{MODEL}", "model.png")
        page.set_viewport_size({"width": 1366, "height": 1000})  # the signature and files below the facts
        _shot(page, f"{url}/models/{MODEL}/versions/{champion}", "model_version.png")
        review = _review(url, champion)
        page.set_viewport_size({"width": 1366, "height": 1400})  # checks, votes, the comparison, the thread
        _shot(page, f"{url}/reviews/{review}", "review.png")
        _seed_monitoring(url)
        page.set_viewport_size({"width": 1366, "height": 1500})
        _shot(
            page,
            f"{url}/models/{MONITORED}/monitoring",
            "monitoring.png",
            wait_for="#drift-heatmap[data-state=drawn]",
        )
        page.set_viewport_size({"width": 1366, "height": 820})
        browser.close()


#: The screenshots' team server's admin password: a throwaway server on loopback.
ADMIN_PASSWORD = "screenshots only, never a real one"


def _photograph_members(bin_dir: Path, env: dict[str, str], home: Path, chromium: str) -> None:
    """The same store served as a team would, with sign-in: root, the admin from --init-admin,
    gives colleagues and a team roles on the demo project; the project's Members page."""
    port = _free_port()
    store = f"sqlite:///{home / 'cairn.db'}"
    server = subprocess.Popen(
        [str(bin_dir / "cairn"), "server", "--store", store, "--blobs", str(home / "blobs"), "--port", str(port)]
        + ["--init-admin", "root"],
        env={**env, "CAIRN_ADMIN_PASSWORD": ADMIN_PASSWORD},
        stdout=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for(url)
        signed_in = httpx.post(
            f"{url}/api/v1/auth/token",
            json={"username": "root", "password": ADMIN_PASSWORD, "token_name": "screenshots"},
        )
        signed_in.raise_for_status()
        api = httpx.Client(base_url=f"{url}/api/v1", headers={"authorization": f"Bearer {signed_in.json()['secret']}"})
        for name, display in (("ada", "Ada Lovelace"), ("grace", "Grace Hopper"), ("alan", "Alan Turing")):
            api.post("/users", json={"username": name, "display_name": display, "password": ADMIN_PASSWORD})
        api.post("/teams", json={"name": "vision", "description": "The computer vision group"}).raise_for_status()
        api.put("/teams/vision/members/alan").raise_for_status()
        for subject, role, team in (
            ("ada", "maintainer", False),
            ("grace", "editor", False),
            ("vision", "viewer", True),
        ):
            api.put("/projects/demo/members", json={"subject": subject, "role": role, "team": team}).raise_for_status()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 760}, device_scale_factor=1)
            page.goto(f"{url}/login?next=/projects/demo/members")
            page.fill("#username", "root")
            page.fill("#password", ADMIN_PASSWORD)
            page.locator("#sign-in-button").click()
            page.wait_for_url("**/projects/demo/members")
            _shot(page, f"{url}/projects/demo/members", "members.png")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


MLFLOW_SCRIPT = """
import mlflow, mlflow.sklearn
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
mlflow.set_experiment("churn-mlflow")
mlflow.sklearn.autolog(log_models=False)
with mlflow.start_run(run_name="logreg-c0.5"):
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=500)).fit(X, y)
    mlflow.sklearn.log_model(model, name="model", input_example=X.head(3), registered_model_name="churn",
                             pip_requirements=["scikit-learn"])
mlflow.MlflowClient().set_registered_model_alias("churn", "champion", 1)
"""


@contextlib.contextmanager
def throwaway_server(work: Path, env: dict[str, str] | None = None) -> Iterator[tuple[str, dict[str, str]]]:
    """A ``cairn server`` without sign-in on loopback, its store and blobs in ``work``, stopped
    at the end: yields its URL and the environment (no CAIRN_* of the caller's, a CAIRN_HOME
    in ``work`` and whatever ``env`` adds) to run clients with."""
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}, **(env or {})}
    env["CAIRN_HOME"] = str(work / "home")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "cairn"), "server", "--store", str(work / "cairn.db")]
        + ["--blobs", str(work / "blobs"), "--port", str(port), "--insecure-no-auth"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for(url)
        yield url, env
    finally:
        server.terminate()
        server.wait(timeout=10)


def _photograph_mlflow(chromium: str) -> None:
    """A model logged and registered by MLflow's own client against ``cairn server``, as Cairn's
    registry shows it (README, "Coming from MLflow")."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        with throwaway_server(work) as (url, env):
            script = work / "train.py"
            script.write_text(MLFLOW_SCRIPT)
            mlflow_env = {**env, "MLFLOW_TRACKING_URI": url, "MLFLOW_DISABLE_TELEMETRY": "true"}
            subprocess.run([sys.executable, "-W", "ignore", str(script)], env=mlflow_env, check=True, cwd=work)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1366, "height": 760}, device_scale_factor=1)
                _shot(page, f"{url}/models/churn/versions/1", "mlflow_model_version.png")
                browser.close()


MONITORED = "churn-scorer"
#: A churn classifier trained on a synthetic customer table, registered @champion in the
#: running ``cairn ui`` (CAIRN_URI); then two weeks of its predictions are logged, one file per
#: hour, and ``monthly_charges`` moves up from day ten: the monitor finds it.
MONITORING_SCRIPT = """
import io, os, sys, time
import httpx, numpy as np, pandas as pd, pyarrow as pa, pyarrow.parquet as pq
from sklearn.linear_model import LogisticRegression
import cairn

URL, MODEL, HOUR, DAY = os.environ["CAIRN_URI"], sys.argv[1], 3_600_000, 86_400_000
PLANS = np.array(["basic", "plus", "family"])

def customers(rng, n, shift=0.0):
    return pd.DataFrame({
        "tenure_months": rng.gamma(2.0, 12.0, n),
        "monthly_charges": rng.normal(65.0, 15.0, n) + shift,
        "support_calls": rng.poisson(1.5, n).astype("float64"),
        "plan": PLANS[rng.integers(0, 3, n)],
    })

rng = np.random.default_rng(3)
train = customers(rng, 5000)
churned = (train.monthly_charges / 100 - train.tenure_months / 60 + rng.normal(0, 0.3, 5000)) > 0.2
features = ["tenure_months", "monthly_charges", "support_calls"]
with cairn.init("churn", name="logreg") as run:
    model = LogisticRegression(max_iter=500).fit(train[features], churned)
    run.log({"val/accuracy": float(model.score(train[features], churned))})
    run.log_dataset(train, "customers", context="train", store=True)
    uri = run.log_model(model, name="model", input_example=train[features].head(3)).uri
version = cairn.register_model(uri, MODEL).version
api = httpx.Client(base_url=URL + "/api/v1", timeout=60)
api.put(f"/models/{MODEL}/aliases/champion", json={"version": version}).raise_for_status()
today = int(time.time() * 1000) // DAY * DAY
first = today - 14 * DAY
meta = {b"cairn.inputs": b'["tenure_months","monthly_charges","support_calls","plan"]',
        b"cairn.outputs": b'["prediction"]', b"cairn.model": MODEL.encode()}
for hour in range(14 * 24):
    start = first + hour * HOUR
    rows = int(80 + 60 * np.sin((hour % 24) / 24 * 2 * np.pi - 1.5) + 60)
    frame = customers(rng, rows, shift=18.0 if hour >= 10 * 24 else 0.0)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.append_column("prediction", pa.array(model.predict_proba(frame[features])[:, 1]))
    table = table.append_column("request_id", pa.array([f"{hour}-{i}" for i in range(rows)]))
    table = table.append_column("timestamp_ms", pa.array(start + np.sort(rng.integers(0, HOUR, rows)), pa.int64()))
    table = table.append_column("latency_ms", pa.array(rng.gamma(3.0, 1.2, rows) + (4.0 if hour >= 12 * 24 else 0.0)))
    table = table.append_column("model_version", pa.array(np.full(rows, version), pa.int64()))
    buffer = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), buffer)
    api.post(f"/models/{MODEL}/versions/{version}/prediction-logs", params={"hour_ms": start},
             content=buffer.getvalue(), headers={"content-type": "application/vnd.apache.parquet"}).raise_for_status()
api.post(f"/models/{MODEL}/monitors", json={"name": "default", "window": "1d"}).raise_for_status()
api.post(f"/models/{MODEL}/monitors/default/run").raise_for_status()
"""


def _seed_monitoring(url: str) -> None:
    """A monitored model with two weeks of traffic and a drifted input (MONITORING_SCRIPT)."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "monitored.py"
        script.write_text(MONITORING_SCRIPT)
        env = {**os.environ, "CAIRN_URI": url, "CAIRN_CAPTURE": "0"}
        subprocess.run([sys.executable, "-W", "ignore", str(script), MONITORED], env=env, check=True, cwd=folder)


def _promote(url: str, run_id: str) -> int:
    """Describe the demo's model and make the best run's version its @champion, in Production,
    as a team would after looking at the runs; that version's number."""
    versions = httpx.get(f"{url}/api/v1/runs/{run_id}/model-versions").json()["versions"]
    number = int(versions[0]["version"])
    other = 2 if number == 1 else 1  # the demo registers four versions
    # The champion was another version first, so the alias history has a move to show.
    for alias, version in (("champion", other), ("champion", number), ("challenger", other)):
        httpx.put(f"{url}/api/v1/models/{MODEL}/aliases/{alias}", json={"version": version}).raise_for_status()
    model_url = f"{url}/api/v1/models/{MODEL}"
    description = "Classifies 8×8 **digits**: the demo project's SGD classifiers, one version per run."
    httpx.patch(model_url, json={"description": description}).raise_for_status()
    httpx.post(f"{model_url}/tags", json={"key": "task", "value": "classification"}).raise_for_status()
    httpx.post(
        f"{url}/api/v1/models/{MODEL}/versions/{number}/stage", json={"stage": "Production", "archive_existing": True}
    ).raise_for_status()
    return number


def _review(url: str, champion: int) -> int:
    """Protect @champion and open a review to move it to another version, as ada; grace, a
    colleague, approves it with a comment. The review's id (left open: the page shows it
    ready to merge)."""
    model_url = f"{url}/api/v1/models/{MODEL}"
    protection = {"approvals": 1, "checks": ["metrics.val/accuracy >= 0.5", "signature-unchanged"]}
    httpx.put(f"{model_url}/protections/champion", json=protection).raise_for_status()
    candidate = 4 if champion != 4 else 3
    as_ada, as_grace = {"X-Cairn-User": "ada"}, {"X-Cairn-User": "grace"}
    opened = httpx.post(
        f"{url}/api/v1/reviews",
        json={
            "model": MODEL,
            "version": candidate,
            "alias": "champion",
            "description": "Retrained with a smaller **alpha**.",
        },
        headers=as_ada,
    )
    opened.raise_for_status()
    review = int(opened.json()["id"])
    httpx.post(
        f"{url}/api/v1/reviews/{review}/comments",
        json={"body": "@grace the confusion matrix looks better on 8 and 9 — could you check?"},
        headers=as_ada,
    ).raise_for_status()
    httpx.post(
        f"{url}/api/v1/reviews/{review}/approve", json={"body": "Checked the diff: LGTM."}, headers=as_grace
    ).raise_for_status()
    return review


def _shot(page: Page, url: str, name: str, wait_for: str | None = None) -> None:
    page.goto(url)
    if wait_for:
        page.wait_for_selector(wait_for)
    page.wait_for_timeout(400)  # let the charts finish their first frame
    page.screenshot(path=str(OUT / name))
    print(f"wrote docs/screenshots/{name}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"the server at {url} did not start")


if __name__ == "__main__":
    main()
