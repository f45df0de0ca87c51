"""Following ``@champion``: a review merge moves the alias and the running server answers with
the new version without one failed request; a version that cannot load leaves the old one
serving, with the error in ``/health`` and the log."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.serving.conftest import Registered, ServeProcess, register_two_versions, start_serve

import cairn
from cairn.client.connect import connect


class SteadyStream:
    """Clients that keep asking for predictions, counting every answer by status and version."""

    def __init__(self, served: ServeProcess, body: dict[str, Any], clients: int = 4) -> None:
        self.url = f"{served.url}/invocations"
        self.body = body
        self.versions: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]
        self._lock = threading.Lock()

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                try:
                    answer = client.post(self.url, json=self.body)
                except httpx.HTTPError as error:
                    with self._lock:
                        self.failures.append(repr(error))
                    continue
                with self._lock:
                    if answer.status_code == 200:
                        self.versions.append(answer.headers["x-cairn-model-version"])
                    else:
                        self.failures.append(f"{answer.status_code} {answer.text}")

    def __enter__(self) -> SteadyStream:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def wait_for_version(self, version: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.versions and self.versions[-1] == version:
                    return
            time.sleep(0.05)
        raise AssertionError(f"version {version} never answered; saw {Counter(self.versions)}")


def _body(registered: Registered) -> dict[str, Any]:
    rows = registered.features[:2]
    return {"dataframe_split": {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}}


@pytest.fixture
def fresh(tmp_path: Path) -> Registered:
    return register_two_versions(tmp_path / "store")


def _as(registered: Registered, user: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in registered.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CAIRN_USER", user)
    return connect(registered.store_uri)


def test_a_review_merge_moves_champion_without_one_failed_request(
    fresh: Registered, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = _as(fresh, "ada", monkeypatch)
    ada.protect_alias(fresh.name, "champion", approvals=1)
    served = start_serve(f"models:/{fresh.name}@champion", "--poll-seconds", "0.2", env=fresh.env)
    try:
        with SteadyStream(served, _body(fresh)) as stream:
            stream.wait_for_version("1")
            review = ada.open_review(fresh.name, 2, "champion", description="the other class")
            _as(fresh, "bob", monkeypatch).approve_review(review.id, "fine")
            _as(fresh, "ada", monkeypatch).merge_review(review.id)
            stream.wait_for_version("2")
            time.sleep(0.5)  # and it stays there
        assert stream.failures == []
        assert set(stream.versions) == {"1", "2"}
        first_two = stream.versions.index("2")
        assert "1" not in stream.versions[first_two + 8 :]  # requests in flight at the swap end on 1
        health = httpx.get(f"{served.url}/health", timeout=10).json()
        assert health["version"] == "2" and health["status"] == "ok"
        metrics = httpx.get(f"{served.url}/metrics", timeout=10).text
        assert "cairn_serve_model_swaps_total 1.0" in metrics
        assert 'cairn_serve_model_info{model="scorer",version="2"} 1.0' in metrics
        assert 'version="1"' not in metrics.split("cairn_serve_model_info")[-1].split("\n# ")[0]
    finally:
        served.stop()
    assert "now serving version 2" in served.output()


def _corrupt_blobs_of(registered: Registered, version: int) -> None:
    """Overwrite the stored bytes of a version's model file (a store damaged on disk)."""
    tracking = connect(registered.store_uri)
    try:
        source = tracking.get_model_version(registered.name, version)
        artifact = next(
            a for a in tracking.list_artifacts(source.run_id, source.source_path) if a.path.endswith(".skops")
        )
    finally:
        tracking.close()
    (blob,) = [p for p in Path(registered.env["CAIRN_HOME"]).rglob(f"*{artifact.digest}*") if p.is_file()]
    blob.write_bytes(b"not the model")


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(
    fresh: Registered, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracking = _as(fresh, "ada", monkeypatch)
    with cairn.init("serving", flush_interval=0.05) as run:
        uri = run.log_model(fresh.first, "broken", input_example=fresh.features[:3]).uri
    cairn.register_model(uri, fresh.name)  # version 3
    _corrupt_blobs_of(fresh, 3)
    served = start_serve(f"models:/{fresh.name}@champion", "--poll-seconds", "0.2", env=fresh.env)
    try:
        with SteadyStream(served, _body(fresh), clients=2) as stream:
            stream.wait_for_version("1")
            tracking.set_model_alias(fresh.name, "champion", 3)
            deadline = time.monotonic() + 60
            while httpx.get(f"{served.url}/health", timeout=10).json()["status"] == "ok":
                assert time.monotonic() < deadline, "the failed load never showed in /health"
                time.sleep(0.1)
            health = httpx.get(f"{served.url}/health", timeout=10).json()
            assert health["status"] == "degraded" and health["version"] == "1"
            assert health["error"]["version"] == "3" and "digest" in health["error"]["message"]
            # The alias moves on to a good version: that one is swapped in and health is ok again.
            tracking.set_model_alias(fresh.name, "champion", 2)
            stream.wait_for_version("2")
        assert stream.failures == []
        assert "3" not in stream.versions
        assert httpx.get(f"{served.url}/health", timeout=10).json()["status"] == "ok"
        assert "cairn_serve_model_swap_failures_total 1.0" in httpx.get(f"{served.url}/metrics", timeout=10).text
    finally:
        served.stop()
        tracking.close()
    assert "version 3 of models:/scorer@champion failed to load" in served.output(), served.output()
