"""Where a served model comes from: a model URI, fetched once into a local cache, verified,
loaded and checked before it answers anything.

``cairn serve`` takes ``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, ``runs:/RUN/NAME`` or
the path of a model folder on disk (what ``cairn models dockerfile`` copies into an image).
An alias is resolved to its version first, so the version that answers is always known. The
folder is written below the cache by the tree digest the registry recorded (each file checked
against its artifact digest as it is written), so a restart, another worker process or a move
of the alias back to a version served before reads the disk, not the store. Loading checks
every file against the manifest again (``load_model_folder``), so a cache edited on disk is
refused (``model_tampered``), never served.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cairn.client.artifacts import write_folder
from cairn.client.models.folder import load_model_folder
from cairn.client.models.loaded import LoadedModel
from cairn.core.errors import InvalidModelUri
from cairn.core.models.manifest import MANIFEST_NAME
from cairn.core.models.uri import RegisteredModelUri, RunModelUri, parse_model_uri
from cairn.service.interface import Tracking


@dataclass(frozen=True, slots=True)
class ModelLocation:
    """A model resolved to one immutable folder: a registered version or a run's folder."""

    uri: str  # what the user asked for
    name: str | None  # the registered model, or None for runs:/ and folders
    version: int | None
    alias: str | None
    run_id: str | None
    #: The registry's tree digest of the folder, when it is a registered version.
    tree_digest: str | None

    @property
    def label(self) -> str:
        """What ``X-Cairn-Model-Version`` says: the version number, else the run and path."""
        if self.version is not None:
            return str(self.version)
        return self.uri


@dataclass(frozen=True, slots=True)
class ServedModel:
    """A loaded, checked model and where it came from."""

    location: ModelLocation
    loaded: LoadedModel
    folder: Path

    @property
    def label(self) -> str:
        return self.location.label


def is_model_folder(uri: str) -> bool:
    return not uri.startswith(("models:/", "runs:/")) and (Path(uri) / MANIFEST_NAME).is_file()


def resolve(tracking: Tracking | None, uri: str) -> ModelLocation:
    """Which immutable folder ``uri`` names now (an alias is read from the registry)."""
    if is_model_folder(uri):
        return ModelLocation(uri, None, None, None, None, None)
    parsed = parse_model_uri(uri)
    if tracking is None:
        raise InvalidModelUri(f"{uri} needs a Cairn store to be read from", details={"uri": uri})
    if isinstance(parsed, RunModelUri):
        return ModelLocation(uri, None, None, None, parsed.run_id, None)
    assert isinstance(parsed, RegisteredModelUri)
    if parsed.alias is not None:
        version = tracking.get_model_version_by_alias(parsed.name, parsed.alias)
    else:
        assert parsed.version is not None
        version = tracking.get_model_version(parsed.name, parsed.version)
    return ModelLocation(uri, version.model, version.version, parsed.alias, version.run_id, version.tree_digest)


def fetch(tracking: Tracking | None, location: ModelLocation, cache: Path) -> Path:
    """The folder of ``location`` on disk: from the cache, else downloaded into it (whole or not
    at all: written beside it and renamed in)."""
    if location.name is None and location.run_id is None:
        return Path(location.uri)  # a folder on disk already
    assert tracking is not None
    key = location.tree_digest or hashlib.sha256(location.uri.encode()).hexdigest()
    target = cache / key
    if (target / MANIFEST_NAME).is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=cache) as temporary:
        if location.version is not None:
            assert location.name is not None
            answer = tracking.read_model_version_folder(location.name, location.version)
            run_id, path, files = answer.run_id, answer.source_path, answer.files
        else:
            parsed = parse_model_uri(location.uri)
            assert isinstance(parsed, RunModelUri)
            run_id, path = parsed.run_id, parsed.path
            files = tracking.read_artifact_folder(run_id, path)
        written = write_folder(files, path, temporary)
        folder = Path(temporary) / path.rsplit("/", 1)[-1]
        if not written or not (folder / MANIFEST_NAME).is_file():
            raise InvalidModelUri(f"{location.uri} is not a model folder", details={"uri": location.uri})
        try:
            os.rename(folder, target)
        except OSError:
            # Another worker fetched the same folder first: theirs is the same bytes.
            if not (target / MANIFEST_NAME).is_file():
                raise
    return target


def load(location: ModelLocation, folder: Path) -> ServedModel:
    """The model in ``folder``, every file checked against the manifest (and the registry's
    tree digest) before it is read, then checked by predicting its input example."""
    loaded = load_model_folder(folder, source=location.uri, stacklevel=3, tree_digest=location.tree_digest)
    if loaded.input_example is not None:
        # A model that cannot answer its own example is not swapped in.
        loaded.predict(loaded.input_example)
    return ServedModel(location, loaded, folder)


def open_model(tracking: Tracking | None, uri: str, cache: Path) -> ServedModel:
    """Resolve, fetch and load ``uri``: what a serving process does before it opens its port."""
    location = resolve(tracking, uri)
    return load(location, fetch(tracking, location, cache))


def discard(folder: Path, cache: Path) -> None:
    """Remove a cached folder (never a folder outside the cache, such as a user's own)."""
    if folder.parent == cache:
        shutil.rmtree(folder, ignore_errors=True)
