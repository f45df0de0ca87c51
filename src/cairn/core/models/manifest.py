"""The model manifest: ``cairn-model.json`` at the root of a model folder.

A model folder is the serialized model, an optional input example, and this manifest, which
says how to read the rest (docs/models.md)::

    {
      "format": 1,
      "flavor": "sklearn",
      "loader": {"format": "skops"},                   # or {"format": "pickle", "runs_code_on_load": true}
      "framework": {"name": "scikit-learn", "version": "1.5.2"},
      "python": "3.11.7",
      "requirements": ["scikit-learn==1.5.2", "skops==0.10.0"],
      "signature": {"inputs": [{"name": "x", "type": "double"}], "outputs": null},   # or null
      "input_example": "input_example.json",           # or null
      "files": {"model.skops": "<sha256 hex>", "input_example.json": "<sha256 hex>"}
    }

``files`` lists every other file of the folder with its SHA-256, so the manifest's own digest
stands for the whole folder: a loader checks each file against it before reading any, and a
file that differs, is missing or is not listed refuses the model (``model_tampered``). A
registered version also records the folder's tree digest (:func:`model_tree_digest`), which a
load of ``models:/…`` checks too.

Parsing is strict: an unknown or missing key, a value of the wrong type, a path that leaves the
folder, is InvalidManifest naming the field. Pure code: bytes in, bytes out.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cairn.core.artifacts import SnapshotFile, check_artifact_path, snapshot_id
from cairn.core.errors import InvalidArtifactPath, InvalidInput, InvalidManifest
from cairn.core.models.signature import Signature, signature_from_wire, signature_to_wire

#: The manifest's file name, at the root of every model folder.
MANIFEST_NAME = "cairn-model.json"
#: The version of the format this code writes and reads.
MANIFEST_FORMAT = 1

_KEYS = ("format", "flavor", "loader", "framework", "python", "requirements", "signature", "input_example", "files")
_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Framework:
    name: str  # the distribution, as pip names it: "scikit-learn"
    version: str


@dataclass(frozen=True, slots=True)
class ModelManifest:
    flavor: str
    loader: Mapping[str, Any]
    framework: Framework
    python: str
    requirements: tuple[str, ...] = ()
    signature: Signature | None = None
    input_example: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)

    @property
    def runs_code_on_load(self) -> bool:
        """True when reading the model file may run code from it (pickle): load it only from
        a source you trust."""
        return bool(self.loader.get("runs_code_on_load", False))


def manifest_to_json(manifest: ModelManifest) -> bytes:
    """The manifest as its file holds it: UTF-8 JSON, keys in a fixed order, files sorted."""
    data = {
        "format": MANIFEST_FORMAT,
        "flavor": manifest.flavor,
        "loader": dict(manifest.loader),
        "framework": {"name": manifest.framework.name, "version": manifest.framework.version},
        "python": manifest.python,
        "requirements": list(manifest.requirements),
        "signature": None if manifest.signature is None else signature_to_wire(manifest.signature),
        "input_example": manifest.input_example,
        "files": dict(sorted(manifest.files.items())),
    }
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def manifest_digest(raw: bytes) -> str:
    """The SHA-256 of the manifest file's bytes: it stands for the whole folder."""
    return hashlib.sha256(raw).hexdigest()


def model_tree_digest(files: Iterable[tuple[str, str, int]]) -> str:
    """The digest a registered version records for its folder: the folder's tree of
    (relative path, sha256, size) of every file, the manifest too, as a snapshot of kind
    "model" has it (:func:`cairn.core.artifacts.snapshot_id`). The manifest's own digest covers
    the other files through ``files``; the tree covers the manifest, so a folder whose files and
    manifest were both replaced is still told apart from the one that was registered."""
    return snapshot_id("model", [SnapshotFile(path, digest, size) for path, digest, size in files])


def parse_manifest(raw: bytes | str) -> ModelManifest:
    """The manifest in ``raw``; InvalidManifest naming the field when anything is off."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidManifest(f"{MANIFEST_NAME} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidManifest(f"{MANIFEST_NAME} must hold a JSON object")
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise _bad(unknown[0], "is not a field of the model manifest")
    missing = [key for key in _KEYS if key not in data]
    if missing:
        raise _bad(missing[0], "is missing")
    if data["format"] != MANIFEST_FORMAT or type(data["format"]) is not int:
        raise _bad("format", f"must be {MANIFEST_FORMAT} (this version of Cairn reads format {MANIFEST_FORMAT})")
    flavor = _string(data, "flavor")
    loader = data["loader"]
    if not isinstance(loader, dict) or not isinstance(loader.get("format"), str) or not loader["format"]:
        raise _bad("loader", "must be an object with a 'format' string")
    if "runs_code_on_load" in loader and not isinstance(loader["runs_code_on_load"], bool):
        raise _bad("loader.runs_code_on_load", "must be true or false")
    framework = data["framework"]
    if not isinstance(framework, dict) or set(framework) != {"name", "version"}:
        raise _bad("framework", "must be an object with exactly 'name' and 'version'")
    requirements = data["requirements"]
    if not isinstance(requirements, list) or not all(isinstance(r, str) and r for r in requirements):
        raise _bad("requirements", "must be a list of requirement strings")
    signature = None
    if data["signature"] is not None:
        try:
            signature = signature_from_wire(data["signature"])
        except InvalidInput as exc:
            raise _bad("signature", exc.message.removeprefix("signature")) from None
    files = _files(data["files"])
    example = data["input_example"]
    if example is not None and (not isinstance(example, str) or example not in files):
        raise _bad("input_example", "must be null or the name of a file listed in 'files'")
    return ModelManifest(
        flavor=flavor,
        loader=loader,
        framework=Framework(_string(framework, "name", "framework."), _string(framework, "version", "framework.")),
        python=_string(data, "python"),
        requirements=tuple(requirements),
        signature=signature,
        input_example=example,
        files=files,
    )


def _files(files: Any) -> dict[str, str]:
    if not isinstance(files, dict):
        raise _bad("files", "must be an object of {relative path: sha256 hex}")
    checked = {}
    for path, digest in files.items():
        try:
            clean = check_artifact_path(path)
        except InvalidArtifactPath as exc:
            raise _bad("files", exc.message) from None
        if clean != path or path == MANIFEST_NAME:
            raise _bad("files", f"lists {path!r}, which is not a file of the folder it may describe")
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise _bad("files", f"gives {path!r} a digest that is not 64 lowercase hex characters")
        checked[path] = digest
    return checked


def _string(data: Mapping[str, Any], key: str, prefix: str = "") -> str:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise _bad(prefix + key, "must be a non-empty string")
    return value


def _bad(field_name: str, reason: str) -> InvalidManifest:
    return InvalidManifest(f"{MANIFEST_NAME}: {field_name!r} {reason.strip()}", details={"field": field_name})
