"""``cairn serve`` as a real process, and models for it to serve.

A model is trained and logged once per module into an embedded store of its own; a serve
process is started with ``--port 0`` and its address read from the line it prints, and its
whole output is kept for tests that look at its log.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

import cairn

_START_TIMEOUT_S = 60.0
_ADDRESS = re.compile(r" at (http://[^\s]+)")
FEATURES = [f"f{i}" for i in range(5)]


@dataclass
class ServeProcess:
    process: subprocess.Popen[str]
    reader: threading.Thread = field(init=False)
    url: str = ""
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.reader.join(5)
        assert self.process.stdout is not None
        self.process.stdout.close()


def start_serve(model_uri: str, *args: str, env: dict[str, str], expect_failure: bool = False) -> ServeProcess:
    """``python -m cairn serve MODEL_URI --port 0 ARGS``, once it answers ``/health`` (or, with
    ``expect_failure``, once it has exited)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cairn", "serve", model_uri, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env},
    )
    served = ServeProcess(process)
    found = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            served.lines.append(line)
            match = _ADDRESS.search(line)
            if match and not served.url:
                served.url = match.group(1)
                found.set()
        found.set()

    served.reader = threading.Thread(target=read, daemon=True)
    served.reader.start()
    if expect_failure:
        process.wait(_START_TIMEOUT_S)
        served.stop()
        return served
    found.wait(_START_TIMEOUT_S)
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline and served.url:
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"{served.url}/health", timeout=1.0).status_code == 200:
                return served
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    served.stop()
    raise RuntimeError(f"cairn serve did not start:\n{served.output()}")


@dataclass(frozen=True)
class Registered:
    """An embedded store holding model ``name`` with two versions and ``@champion`` on 1."""

    env: dict[str, str]
    store_uri: str
    name: str
    first: Any  # the fitted estimators
    second: Any
    features: pd.DataFrame


def classification_data(rows: int = 200, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    labels = (features["f0"] + 0.5 * features["f1"] > 0).astype("int64").to_numpy()
    return features, labels


def register_two_versions(home: Path, name: str = "scorer") -> Registered:
    """Two scikit-learn pipelines of one model, the second predicting the opposite class, so
    an answer shows which version gave it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    store_uri = str(home / "cairn.db")
    env = {"CAIRN_HOME": str(home), "CAIRN_URI": store_uri, "CAIRN_CAPTURE": "0"}
    features, labels = classification_data()
    first = make_pipeline(StandardScaler(), LogisticRegression()).fit(features, labels)
    second = make_pipeline(StandardScaler(), LogisticRegression()).fit(features, 1 - labels)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        for model in (first, second):
            with cairn.init("serving", flush_interval=0.05) as run:
                uri = run.log_model(model, "model", input_example=features[:3]).uri
            cairn.register_model(uri, name)
        tracking = cairn.client.connect.connect(store_uri)
        try:
            tracking.set_model_alias(name, "champion", 1)
        finally:
            tracking.close()
    return Registered(env, store_uri, name, first, second, features)


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Registered:
    return register_two_versions(tmp_path_factory.mktemp("serving-store"))


@pytest.fixture(scope="module")
def champion(registered: Registered) -> Iterator[ServeProcess]:
    """``cairn serve models:/scorer@champion`` for the whole module (not following the alias)."""
    served = start_serve(f"models:/{registered.name}@champion", "--poll-seconds", "0", env=registered.env)
    yield served
    served.stop()
