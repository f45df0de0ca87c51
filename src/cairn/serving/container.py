"""A container image's build context for one model version: ``cairn models dockerfile``.

The image is self-contained: the model folder is downloaded now (every file checked against
its digest, and a registered version's folder against the tree digest the registry recorded)
and copied into the image, so the container serves exactly that version with no access to the
Cairn store, and a registry that is down or an alias that moves later cannot change what a
built image answers. The build checks the folder again (``verify_model.py``, the standard
library only) against the manifest digest written into the Dockerfile, so a context edited
between writing and building fails the build rather than shipping.

The context::

    Dockerfile          FROM python:X.Y-slim (the Python the model was saved with), non-root
    requirements.txt    the manifest's pinned requirements, then Cairn itself
    verify_model.py     the build-time digest check
    model/              the model folder, as logged
    wheels/             only with a Cairn wheel given (``--cairn-wheel``)
    .dockerignore

The entry point is ``cairn serve /model --host 0.0.0.0 --port 8080``: a local model folder.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cairn.client.artifacts import write_folder
from cairn.client.models.folder import check_tree_digest, read_manifest, verify_folder
from cairn.core.errors import InvalidModelUri, InvalidValue
from cairn.core.models.manifest import MANIFEST_NAME, ModelManifest, manifest_digest
from cairn.core.models.uri import RunModelUri, parse_model_uri
from cairn.core.version import __version__
from cairn.service.interface import Tracking

#: Where the image holds the model, and the port it serves on.
MODEL_DIR = "/model"
PORT = 8080
_PYTHON = re.compile(r"(\d+)\.(\d+)(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What :func:`write_build_context` wrote: where, for which model, on which base image."""

    directory: Path
    uri: str  # as given: models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN/PATH
    resolved: str  # the exact model: models:/NAME/VERSION, or the runs:/ URI
    version: int | None
    manifest: ModelManifest
    manifest_sha256: str
    base_image: str


def write_build_context(
    tracking: Tracking,
    uri: str,
    directory: Path,
    *,
    cairn_wheel: Path | None = None,
    base_image: str | None = None,
) -> BuildContext:
    """Write the build context for the model ``uri`` into ``directory``, which must not exist
    or be empty (InvalidValue otherwise). Everything is written beside it first and moved into
    place at the end: a failure leaves no half-written context."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InvalidValue(
            f"{directory} exists and is not an empty folder: choose a new one", details={"field": "output"}
        )
    if cairn_wheel is not None and (not cairn_wheel.is_file() or not cairn_wheel.name.endswith(".whl")):
        raise InvalidValue(f"{cairn_wheel} is not a wheel file (.whl)", details={"field": "cairn_wheel"})
    directory.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".cairn-context-", dir=directory.parent) as temporary:
        staging = Path(temporary) / "context"
        staging.mkdir()
        resolved, version, manifest = _fetch_model(tracking, uri, staging / "model")
        raw = (staging / "model" / MANIFEST_NAME).read_bytes()
        context = BuildContext(
            directory=directory,
            uri=uri,
            resolved=resolved,
            version=version,
            manifest=manifest,
            manifest_sha256=manifest_digest(raw),
            base_image=base_image or python_base_image(manifest.python),
        )
        wheel_line = None
        if cairn_wheel is not None:
            (staging / "wheels").mkdir()
            shutil.copyfile(cairn_wheel, staging / "wheels" / cairn_wheel.name)
            wheel_line = f"./wheels/{cairn_wheel.name}"
        (staging / "requirements.txt").write_text(requirements_text(manifest, wheel_line))
        (staging / "verify_model.py").write_text(VERIFY_SCRIPT)
        (staging / ".dockerignore").write_text(DOCKERIGNORE)
        (staging / "Dockerfile").write_text(dockerfile_text(context, with_wheels=cairn_wheel is not None))
        if directory.exists():
            directory.rmdir()  # empty, checked above
        staging.rename(directory)
    return context


def _fetch_model(tracking: Tracking, uri: str, destination: Path) -> tuple[str, int | None, ModelManifest]:
    """Download the model folder into ``destination``, checked as ``cairn.load_model`` checks
    it, without loading it (the framework need not be installed here)."""
    parsed = parse_model_uri(uri)
    if isinstance(parsed, RunModelUri):
        location, tree_digest, version, resolved = parsed, None, None, str(parsed)
        files = tracking.read_artifact_folder(parsed.run_id, parsed.path)
    else:
        folder = tracking.read_model_version_folder(parsed.name, parsed.version, alias=parsed.alias)
        location, tree_digest = RunModelUri(folder.run_id, folder.source_path), folder.tree_digest
        version, resolved, files = folder.version, f"models:/{folder.model}/{folder.version}", folder.files
    download = destination.parent / ".download"
    written = write_folder(files, location.path, download)
    root = download / location.path.rsplit("/", 1)[-1]
    if len(written) == 1 and written[0].parent == download:
        raise InvalidModelUri(f"{uri} names a file, not a model folder", details={"uri": uri, "path": location.path})
    manifest = read_manifest(root)
    verify_folder(root, manifest)
    if tree_digest is not None:
        check_tree_digest(root, manifest, tree_digest, uri)
    root.rename(destination)
    shutil.rmtree(download)
    return resolved, version, manifest


def python_base_image(python: str) -> str:
    """``python:X.Y-slim`` for the Python a model was saved with (``3.11.7`` → 3.11): the same
    minor version reads the same pickles and wheels."""
    match = _PYTHON.fullmatch(python.strip())
    if match is None:
        raise InvalidValue(
            f"the model's manifest records Python {python!r}, which names no version: give --base-image",
            details={"field": "python"},
        )
    return f"python:{match.group(1)}.{match.group(2)}-slim"


def requirements_text(manifest: ModelManifest, wheel: str | None = None) -> str:
    """The manifest's pinned requirements, then Cairn: the wheel given, or the version that
    wrote the context from the package index pip is configured with."""
    cairn = wheel or f"cairn=={__version__}"
    lines = [
        "# The model's requirements, pinned as its manifest records them, then Cairn, which serves it.",
        *manifest.requirements,
        cairn,
    ]
    return "\n".join(lines) + "\n"


def dockerfile_text(context: BuildContext, *, with_wheels: bool) -> str:
    version = "" if context.version is None else str(context.version)
    wheels = "COPY wheels/ ./wheels/\n" if with_wheels else ""
    return f"""\
# syntax=docker/dockerfile:1
# Serves {context.resolved} (asked for as {context.uri}): written by `cairn models dockerfile`.
# The model folder is in this context (model/); the build checks every file's digest against
# the manifest, and the manifest against the digest below. The image needs no Cairn store.
#   docker build -t my-model .
#   docker run -p 8080:8080 my-model
FROM {context.base_image}

LABEL org.opencontainers.image.title="{context.resolved}" \\
      io.cairn.model.uri="{context.resolved}" \\
      io.cairn.model.requested-uri="{context.uri}" \\
      io.cairn.model.version="{version}" \\
      io.cairn.model.flavor="{context.manifest.flavor}" \\
      io.cairn.model.manifest-sha256="{context.manifest_sha256}"

ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PIP_NO_CACHE_DIR=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    CAIRN_HOME=/home/cairn/.cairn

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin cairn

# A private package index, if Cairn or a pin comes from one: docker build --build-arg PIP_INDEX_URL=…
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
WORKDIR /build
COPY requirements.txt verify_model.py ./
{wheels}RUN pip install --requirement requirements.txt

COPY model/ {MODEL_DIR}/
RUN python verify_model.py {MODEL_DIR} {context.manifest_sha256} \\
    && chmod -R a-w {MODEL_DIR}

USER cairn
WORKDIR /home/cairn
EXPOSE {PORT}
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \\
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/health', timeout=2)"]
ENTRYPOINT ["cairn", "serve", "{MODEL_DIR}", "--host", "0.0.0.0", "--port", "{PORT}"]
CMD []
"""


DOCKERIGNORE = """\
# Only what the Dockerfile copies goes to the builder.
*
!requirements.txt
!verify_model.py
!model/
!wheels/
"""

VERIFY_SCRIPT = '''\
"""Build-time check of the model folder: its manifest is the one this image was written for
(SHA-256 given), and the folder holds exactly the files the manifest lists, each with its
SHA-256. Written by `cairn models dockerfile`; the standard library only."""

import hashlib
import json
import pathlib
import sys


def sha256(path):
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main(root, expected_manifest):
    manifest_path = root / "cairn-model.json"
    raw = manifest_path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != expected_manifest:
        return f"{manifest_path} is not the manifest this Dockerfile was written for"
    files = json.loads(raw)["files"]
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    present.discard("cairn-model.json")
    for relative, expected in sorted(files.items()):
        if relative not in present:
            return f"model file {relative} is missing"
        if sha256(root / relative) != expected:
            return f"model file {relative} does not have the SHA-256 its manifest records"
    extra = sorted(present - set(files))
    if extra:
        return f"{extra[0]} is not a file of the model (its manifest does not list it)"
    print(f"model verified: {len(files)} files match cairn-model.json ({expected_manifest})")
    return None


if __name__ == "__main__":
    problem = main(pathlib.Path(sys.argv[1]), sys.argv[2])
    if problem:
        sys.exit("cairn: " + problem)
'''
