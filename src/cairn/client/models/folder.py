"""A model folder on disk: written by :func:`save_model_folder`, read back by
:func:`load_model_folder` only after every file matched the manifest's digest.

Saving: the flavor writes the model's files, Cairn adds the input example
(``input_example.json``), infers the signature from it when none was given (outputs from the
model's own prediction on it, or, for a model without ``predict``, from the flavor's reading of
the files it wrote), pins the requirements, hashes every file and writes
``cairn-model.json`` last. Loading: the manifest is parsed strictly, the folder must hold
exactly the files it lists with exactly their digests (``model_tampered`` otherwise; nothing is
read before that), a format that runs code on load warns once, then the flavor reads it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import platform
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from cairn.client.datasets import file_digest, walk_folder
from cairn.client.models.loaded import LoadedModel, to_model_input
from cairn.client.models.plugins import call_flavor, detect_flavor, get_flavor
from cairn.client.models.requirements import pinned_requirements
from cairn.core.errors import InvalidManifest, InvalidValue, ModelTampered
from cairn.core.models.manifest import (
    MANIFEST_NAME,
    ModelManifest,
    manifest_digest,
    manifest_to_json,
    model_tree_digest,
    parse_manifest,
)
from cairn.core.models.signature import ColumnSchema, Signature, TensorSchema, infer_schema, infer_signature

EXAMPLE_NAME = "input_example.json"


class UnsafeModelFormatWarning(UserWarning):
    """A model is being read from a format that runs code from its file (pickle)."""


def save_model_folder(
    model: Any,
    folder: Path,
    *,
    flavor: str | None = None,
    input_example: Any = None,
    signature: Signature | None = None,
    pip_requirements: list[str] | None = None,
) -> tuple[ModelManifest, bytes]:
    """Write ``model`` into the empty (or new) ``folder``; the manifest and its bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise InvalidValue(f"{folder} is not empty: a model folder holds only its own files")
    chosen = get_flavor(flavor) if flavor is not None else detect_flavor(model)
    saved = call_flavor(chosen, "save", chosen.save, model, folder)
    example_name = None
    if input_example is not None:
        (folder / EXAMPLE_NAME).write_bytes(_example_bytes(input_example))
        example_name = EXAMPLE_NAME
    files = {relative: file_digest(path)[0] for relative, path in walk_folder(folder.resolve())}
    manifest = ModelManifest(
        flavor=chosen.name,
        loader=saved.loader,
        framework=saved.framework,
        python=platform.python_version(),
        requirements=tuple(pip_requirements if pip_requirements is not None else pinned_requirements(saved.modules)),
        signature=signature,
        input_example=example_name,
        files=files,
    )
    if input_example is not None and signature is None:
        inputs = infer_schema(input_example)
        # A model with no predict of its own (a torch module, an ONNX graph) predicts as the
        # flavor reads it back from what it just wrote, which is what load_model will give.
        has_predict = callable(getattr(model, "predict", None))
        predictor = model if has_predict else call_flavor(chosen, "load", chosen.load, folder, manifest)
        output = call_flavor(chosen, "predict with", predictor.predict, to_model_input(inputs, input_example))
        manifest = dataclasses.replace(manifest, signature=infer_signature(input_example, output))
    raw = manifest_to_json(manifest)
    parse_manifest(raw)  # what is written must read back: a flavor's loader entry must be JSON
    (folder / MANIFEST_NAME).write_bytes(raw)
    return manifest, raw


def read_manifest(folder: Path) -> ModelManifest:
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise InvalidManifest(
            f"{folder} is not a Cairn model folder: it has no {MANIFEST_NAME}", details={"field": None}
        )
    return parse_manifest(path.read_bytes())


def verify_folder(folder: Path, manifest: ModelManifest) -> None:
    """ModelTampered unless ``folder`` holds exactly the manifest's files with its digests."""
    present = {relative: path for relative, path in walk_folder(folder.resolve()) if relative != MANIFEST_NAME}
    for relative, expected in sorted(manifest.files.items()):
        if relative not in present:
            raise ModelTampered(
                f"model file {relative!r} is missing from {folder}", details={"path": relative, "expected": expected}
            )
        got = file_digest(present[relative])[0]
        if got != expected:
            raise ModelTampered(
                f"model file {relative!r} has SHA-256 {got}, but the manifest records {expected}: "
                "it was changed after the model was saved; refusing to load it",
                details={"path": relative, "expected": expected, "got": got},
            )
    extra = sorted(set(present) - set(manifest.files))
    if extra:
        raise ModelTampered(
            f"{folder} holds {extra[0]!r}, which the manifest does not list; refusing to load it",
            details={"path": extra[0]},
        )


def load_model_folder(
    folder: Path, *, source: str | None = None, stacklevel: int = 2, tree_digest: str | None = None
) -> LoadedModel:
    """The model in ``folder``, checked file by file before anything is read. ``stacklevel``
    is how many calls up the caller to point the pickle warning at is. ``tree_digest``, the
    one a registered version recorded, must be the folder's too (the manifest included)."""
    manifest = read_manifest(folder)
    verify_folder(folder, manifest)
    if tree_digest is not None:
        check_tree_digest(folder, manifest, tree_digest, source)
    flavor = get_flavor(manifest.flavor)
    if manifest.runs_code_on_load:
        warnings.warn(
            f"the model {source or folder} was saved with {manifest.loader['format']}: loading it runs code "
            "from its file; load it only if you trust where it came from",
            UnsafeModelFormatWarning,
            stacklevel=stacklevel + 1,
        )
    predictor = call_flavor(flavor, "load", flavor.load, folder, manifest)
    example = None
    if manifest.input_example is not None:
        example = _read_example((folder / manifest.input_example).read_bytes())
    return LoadedModel(predictor, manifest, source=source or str(folder), input_example=example)


def check_tree_digest(folder: Path, manifest: ModelManifest, expected: str, source: str | None) -> None:
    """ModelTampered unless the folder's tree digest (its manifest included) is ``expected``,
    the one a registered version recorded; call after :func:`verify_folder`."""
    # verify_folder has just proved every file's digest is the manifest's: hash only the manifest.
    raw = (folder / MANIFEST_NAME).read_bytes()
    files = [(path, digest, (folder / path).stat().st_size) for path, digest in manifest.files.items()]
    got = model_tree_digest([*files, (MANIFEST_NAME, manifest_digest(raw), len(raw))])
    if got != expected:
        raise ModelTampered(
            f"the model folder of {source or folder} is not the one that was registered (its tree digest is "
            f"{got}, the version records {expected}): its manifest was replaced; refusing to load it",
            details={"path": MANIFEST_NAME, "expected": expected, "got": got},
        )


def _example_bytes(example: Any) -> bytes:
    """The input example as JSON: ``{"columns": [...], "data": [[...]]}`` for a table (as
    pandas' "split" orientation), ``{"text": ...}`` for a string or a (nested) list of strings,
    kept as they are, and ``{"dtype", "shape", "data"}`` for an array, bytes as base64 (with
    ``"encoding": "base64"``)."""
    schema = infer_schema(example)
    if isinstance(example, str) or (isinstance(example, list | tuple) and _holds_text(schema)):
        return json.dumps({"text": example}).encode("utf-8")
    if isinstance(schema, ColumnSchema):
        columns = list(schema.names)
        if hasattr(example, "to_dict") and hasattr(example, "columns"):
            rows = example.to_numpy(dtype=object).tolist()
        elif isinstance(example, dict):
            rows = [list(row) for row in zip(*example.values(), strict=True)]
        else:
            rows = [[row[name] for name in columns] for row in example]
        data: dict[str, Any] = {"columns": columns, "data": rows}
    else:
        array = np.asarray([example] if isinstance(example, bytes) else example)
        if schema.dtype == "object" or array.dtype.kind == "O":
            array = np.asarray(array, dtype=object)
        # "<U8", not "str256": the name of a sized text dtype is not one np.dtype reads back
        dtype = array.dtype.str if array.dtype.kind in "US" else array.dtype.name
        data = {"dtype": dtype, "shape": list(array.shape), "data": array.tolist()}
        if isinstance(schema, TensorSchema) and schema.dtype == "bytes":
            data.update(data=_map_leaves(array.tolist(), _to_base64), encoding="base64")
    return json.dumps(data, default=_json_default).encode("utf-8")


def _holds_text(schema: Any) -> bool:
    return isinstance(schema, TensorSchema) and schema.dtype == "str"


def _map_leaves(values: Any, function: Any) -> Any:
    if isinstance(values, list):
        return [_map_leaves(value, function) for value in values]
    return function(values)


def _to_base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _from_base64(value: str) -> bytes:
    return base64.b64decode(value.encode("ascii"), validate=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def _read_example(raw: bytes) -> Any:
    data = json.loads(raw)
    if "columns" in data:
        return [dict(zip(data["columns"], row, strict=True)) for row in data["data"]]
    if "text" in data:
        return data["text"]
    values = data["data"]
    if data.get("encoding") == "base64":
        values = _map_leaves(values, _from_base64)
    return np.asarray(values, dtype=data["dtype"]).reshape(data["shape"])
