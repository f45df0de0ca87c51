"""Model folders to and from a run's artifacts: what ``run.log_model`` uploads and what
``cairn.load_model`` downloads.

``log_model`` saves the folder under ``CAIRN_HOME/staging``, hashes its files and moves them to
the staging area the background writer uploads from (by digest, so a model logged twice is
stored once), then waits for the writer: when it returns, the model is in the store (or spooled
to disk if the store is away, and sent by ``cairn sync``).

``load_model`` takes ``runs:/RUN_ID/PATH``, ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``
(core/models/uri.py). Registered models are found by :func:`resolve_registered`, which asks
the registry for the version's source run and path; then the folder is downloaded in one
request (an archive, over HTTP), each file checked against its artifact digest, and loaded only
once every file matches the manifest and, for a registered version, the folder's tree matches
the digest the version recorded (folder.py). Two round trips for a ``models:/`` URI, one for
``runs:/``, whatever the number of files.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.client.artifacts import LocalArtifact, collect, download_folder, stage_moved
from cairn.client.models.folder import save_model_folder
from cairn.client.models.loaded import LoadedModel
from cairn.core.artifacts import check_artifact_path
from cairn.core.errors import InvalidModelUri
from cairn.core.models.manifest import manifest_digest
from cairn.core.models.signature import Signature
from cairn.core.models.uri import RegisteredModelUri, RunModelUri, parse_model_uri
from cairn.service.interface import Tracking
from cairn.settings import cairn_home


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What ``run.log_model`` returns: where the model is and what it is."""

    uri: str  # runs:/RUN_ID/NAME
    run_id: str
    name: str
    flavor: str
    signature: Signature | None
    #: SHA-256 of ``cairn-model.json``, which lists every other file's digest: the folder's digest.
    manifest_digest: str


def package_for_run(run_id: str, name: str, model: Any, **options: Any) -> tuple[ModelInfo, list[LocalArtifact]]:
    """Save ``model`` as a folder and stage its files to be logged below ``name``."""
    name = check_artifact_path(name)
    staging = cairn_home() / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    folder = staging / f".model-{uuid.uuid4().hex}"
    try:
        manifest, raw = save_model_folder(model, folder, **options)
        files = [stage_moved(file) for file in collect(folder, name)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    info = ModelInfo(
        uri=str(RunModelUri(run_id, name)),
        run_id=run_id,
        name=name,
        flavor=manifest.flavor,
        signature=manifest.signature,
        manifest_digest=manifest_digest(raw),
    )
    return info, files


def resolve_registered(tracking: Tracking, uri: RegisteredModelUri) -> tuple[RunModelUri, str]:
    """Where the registered version ``uri`` names was logged (its source run and path), and
    the tree digest the version recorded for that folder.

    The registry answers through the tracking interface, so this is the same embedded and over
    HTTP: ModelNotFound, ModelVersionNotFound or AliasNotFound when it has no such version.
    """
    if uri.alias is not None:
        version = tracking.get_model_version_by_alias(uri.name, uri.alias)
    else:
        assert uri.version is not None  # a RegisteredModelUri holds a version or an alias
        version = tracking.get_model_version(uri.name, uri.version)
    return RunModelUri(version.run_id, version.source_path), version.tree_digest


def load_model_from(tracking: Tracking, uri: str, *, stacklevel: int = 2) -> LoadedModel:
    parsed = parse_model_uri(uri)
    location, tree_digest = (parsed, None) if isinstance(parsed, RunModelUri) else resolve_registered(tracking, parsed)
    with tempfile.TemporaryDirectory(prefix="cairn-model-") as temporary:
        written = download_folder(tracking, location.run_id, location.path, temporary)
        if len(written) == 1 and written[0].parent == Path(temporary):
            raise InvalidModelUri(
                f"{uri} names a file, not a model folder", details={"uri": uri, "path": location.path}
            )
        from cairn.client.models.folder import load_model_folder

        folder = Path(temporary) / location.path.rsplit("/", 1)[-1]
        return load_model_folder(folder, source=uri, stacklevel=stacklevel + 1, tree_digest=tree_digest)
