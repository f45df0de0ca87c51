"""``cairn models dockerfile``: the build context of a real scikit-learn model logged to the
embedded store, read back as Docker would (no Docker here): its base image, pins, model files
and their digests, entry point; the build's own digest check run for real."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import cairn
from cairn.core.version import __version__

from .helpers import Invoke

pd = pytest.importorskip("pandas")
datasets = pytest.importorskip("sklearn.datasets")
from sklearn.linear_model import LogisticRegression  # noqa: E402


@pytest.fixture
def registered(invoke: Invoke) -> str:
    """The runs:/ URI of an iris classifier, registered as iris-clf version 1 (@champion)."""
    features, labels = datasets.load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=200).fit(features, labels)
    with cairn.init("iris", flush_interval=0.05) as run:
        source = run.log_model(model, "classifier", input_example=features[:3]).uri
    invoke("models", "register", source, "iris-clf")
    invoke("models", "alias", "iris-clf", "champion", "1")
    return source


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """The Dockerfile's instructions (keyword, arguments), continuation lines joined, comments
    dropped, as Docker's parser reads them."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def only(found: list[tuple[str, str]], keyword: str) -> str:
    values = [rest for key, rest in found if key == keyword]
    assert len(values) == 1, (keyword, values)
    return values[0]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_context_serves_the_exact_version_with_pinned_requirements(
    invoke: Invoke, registered: str, tmp_path: Path
) -> None:
    out = tmp_path / "image"
    printed = invoke("models", "dockerfile", "models:/iris-clf@champion", "-o", str(out)).stdout
    assert "models:/iris-clf/1" in printed and f"docker build -t my-model {out}" in printed

    assert sorted(p.name for p in out.iterdir()) == [
        ".dockerignore",
        "Dockerfile",
        "model",
        "requirements.txt",
        "verify_model.py",
    ]
    manifest = json.loads((out / "model" / "cairn-model.json").read_bytes())
    found = instructions((out / "Dockerfile").read_text())

    # The Python the model was saved with, major.minor, slim.
    major, minor = manifest["python"].split(".")[:2]
    assert only(found, "FROM") == f"python:{major}.{minor}-slim"
    assert found[0][0] == "FROM"

    # Pins: exactly the manifest's, then Cairn itself.
    lines = [line for line in (out / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert lines == [*manifest["requirements"], f"cairn=={__version__}"]
    assert any(line.startswith("scikit-learn==") for line in lines)

    # The model files are the logged ones: each has the digest its manifest records, and nothing else.
    files = {p.relative_to(out / "model").as_posix(): sha256(p) for p in (out / "model").rglob("*") if p.is_file()}
    manifest_sha = files.pop("cairn-model.json")
    assert files == manifest["files"]

    # The build checks them against this very manifest.
    runs = [rest for key, rest in found if key == "RUN"]
    assert runs[1] == "pip install --requirement requirements.txt"
    assert runs[2].split()[:4] == ["python", "verify_model.py", "/model", manifest_sha]
    assert found.index(("COPY", "model/ /model/")) < found.index(("RUN", runs[2]))
    labels = " ".join(rest for key, rest in found if key == "LABEL")
    assert f'io.cairn.model.manifest-sha256="{manifest_sha}"' in labels
    assert 'io.cairn.model.version="1"' in labels and 'io.cairn.model.uri="models:/iris-clf/1"' in labels

    # Served from the folder in the image, as a non-root user, with a health check.
    assert json.loads(only(found, "ENTRYPOINT")) == ["cairn", "serve", "/model", "--host", "0.0.0.0", "--port", "8080"]
    assert only(found, "EXPOSE") == "8080"
    assert only(found, "USER") == "cairn"
    assert [key for key, _ in found].index("USER") > max(i for i, (key, _) in enumerate(found) if key == "RUN")
    health = only(found, "HEALTHCHECK")
    assert "http://127.0.0.1:8080/health" in health
    health_command = json.loads(health.split("CMD", 1)[1])
    assert health_command[:2] == ["python", "-c"]
    copies = [rest for key, rest in found if key == "COPY"]
    assert "model/ /model/" in copies and "requirements.txt verify_model.py ./" in copies
    # Only what is copied goes to the builder.
    assert (out / ".dockerignore").read_text().splitlines()[1:] == [
        "*",
        "!requirements.txt",
        "!verify_model.py",
        "!model/",
        "!wheels/",
    ]


def run_verify(context: Path, manifest_sha: str) -> subprocess.CompletedProcess[str]:
    """verify_model.py as the build runs it (the standard library only, in a fresh Python)."""
    return subprocess.run(
        [sys.executable, "-I", str(context / "verify_model.py"), str(context / "model"), manifest_sha],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_builds_digest_check_passes_then_fails_on_any_change(
    invoke: Invoke, registered: str, tmp_path: Path
) -> None:
    out = tmp_path / "image"
    invoke("models", "dockerfile", registered, "-o", str(out))
    labels = (out / "Dockerfile").read_text()
    manifest_sha = sha256(out / "model" / "cairn-model.json")
    assert 'io.cairn.model.version=""' in labels and f'io.cairn.model.uri="{registered}"' in labels

    passed = run_verify(out, manifest_sha)
    assert passed.returncode == 0, passed.stderr
    assert "model verified" in passed.stdout

    other = run_verify(out, "0" * 64)
    assert other.returncode == 1 and "not the manifest this Dockerfile was written for" in other.stderr
    # an extra file, then a changed one
    (out / "model" / "extra.txt").write_text("x")
    failed = run_verify(out, manifest_sha)
    assert failed.returncode == 1 and "extra.txt" in failed.stderr
    (out / "model" / "extra.txt").unlink()
    manifest: dict[str, Any] = json.loads((out / "model" / "cairn-model.json").read_bytes())
    victim = out / "model" / sorted(manifest["files"])[0]
    victim.write_bytes(victim.read_bytes() + b"\n")
    failed = run_verify(out, manifest_sha)
    assert failed.returncode == 1 and "SHA-256" in failed.stderr


def test_a_cairn_wheel_goes_into_the_context(invoke: Invoke, registered: str, tmp_path: Path) -> None:
    wheel = tmp_path / "cairn-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty zip: copied, never opened here
    out = tmp_path / "image"
    invoke(
        "models", "dockerfile", "models:/iris-clf/1", "-o", str(out), "--cairn-wheel", str(wheel),
        "--base-image", "python:3.11-slim-bookworm",
    )  # fmt: skip
    assert (out / "wheels" / wheel.name).read_bytes() == wheel.read_bytes()
    assert (out / "requirements.txt").read_text().splitlines()[-1] == f"./wheels/{wheel.name}"
    found = instructions((out / "Dockerfile").read_text())
    assert only(found, "FROM") == "python:3.11-slim-bookworm"
    copies = [rest for key, rest in found if key == "COPY"]
    assert copies.index("wheels/ ./wheels/") < len(copies) - 1  # before pip install and the model


def test_refusals_are_one_error_line_and_write_nothing(invoke: Invoke, registered: str, tmp_path: Path) -> None:
    out = tmp_path / "image"
    for uri, code in (
        ("models:/nope@champion", "model_not_found"),
        ("models:/iris-clf/9", "model_version_not_found"),
        ("models:/iris-clf@nope", "alias_not_found"),
        ("bogus", "invalid_model_uri"),
    ):
        result = invoke("models", "dockerfile", uri, "-o", str(out), code=1)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and lines[0].endswith(f"[{code}]"), lines
        assert not out.exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".cairn-context")] == []

    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = invoke("models", "dockerfile", "models:/iris-clf/1", "-o", str(out), code=1)
    assert "not an empty folder" in result.stderr and result.stderr.strip().endswith("[invalid_value]")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]

    # An empty folder is fine.
    (out / "keep.txt").unlink()
    invoke("models", "dockerfile", "models:/iris-clf/1", "-o", str(out))
    assert (out / "Dockerfile").is_file()
