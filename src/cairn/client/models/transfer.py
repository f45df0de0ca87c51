"""Model folders to and from a run's artifacts: what ``run.log_model`` uploads and what
``cairn.load_model`` downloads.

``log_model`` saves the folder under ``CAIRN_HOME/staging``, hashes its files and moves them to
the staging area the background writer uploads from (by digest, so a model logged twice is
stored once), then waits for the writer: when it returns, the model is in the store (or spooled
to disk if the store is away, and sent by ``cairn sync``).

``load_model`` takes ``runs:/RUN_ID/PATH``, ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``
(core/models/uri.py). A registered version is resolved by the registry, which sends its source
run and path, the tree digest it recorded and the folder's files in one answer
(``read_model_version_folder``); a ``runs:/`` folder comes in one answer too. Over HTTP that is
one request, an archive, whatever the number of files. Each file is checked against its artifact
digest as it is written, and the folder is loaded only once every file matches the manifest
and, for a registered version, the folder's tree matches the digest the version recorded
(folder.py).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.client.artifacts import LocalArtifact, collect, stage_moved, write_folder
from cairn.client.models.folder import save_model_folder
from cairn.client.models.loaded import LoadedModel
from cairn.core.artifacts import check_artifact_path
from cairn.core.errors import InvalidModelUri
from cairn.core.models.manifest import manifest_digest
from cairn.core.models.signature import Signature
from cairn.core.models.uri import RunModelUri, parse_model_uri
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


def load_model_from(tracking: Tracking, uri: str, *, stacklevel: int = 2) -> LoadedModel:
    parsed = parse_model_uri(uri)
    if isinstance(parsed, RunModelUri):
        location, tree_digest = parsed, None
        files = tracking.read_artifact_folder(parsed.run_id, parsed.path)
    else:
        # The registry resolves the version and sends its folder in one answer (over HTTP, one
        # request): ModelNotFound, ModelVersionNotFound or AliasNotFound when it has no such version.
        folder = tracking.read_model_version_folder(parsed.name, parsed.version, alias=parsed.alias)
        location, tree_digest, files = RunModelUri(folder.run_id, folder.source_path), folder.tree_digest, folder.files
    with tempfile.TemporaryDirectory(prefix="cairn-model-") as temporary:
        written = write_folder(files, location.path, temporary)
        if len(written) == 1 and written[0].parent == Path(temporary):
            raise InvalidModelUri(
                f"{uri} names a file, not a model folder", details={"uri": uri, "path": location.path}
            )
        from cairn.client.models.folder import load_model_folder

        return load_model_folder(
            Path(temporary) / location.path.rsplit("/", 1)[-1],
            source=uri,
            stacklevel=stacklevel + 1,
            tree_digest=tree_digest,
        )
