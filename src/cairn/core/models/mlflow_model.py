"""A model folder the MLflow client wrote (``MLmodel``, the model file, ``requirements.txt``…)
described by Cairn's manifest, so that it registers, loads and serves as any Cairn model.

The manifest's flavor is ``mlflow``; its loader says which of MLflow's flavors reads the files::

    {"format": "mlflow", "flavor": "sklearn", "serialization_format": "skops",
     "file": "model.skops", "runs_code_on_load": false}

``sklearn`` when the MLmodel has a scikit-learn flavor (read without MLflow installed: skops,
pickle or cloudpickle, as ``mlflow.sklearn`` reads it), else ``python_function``
(``mlflow.pyfunc.load_model``, which may run any code). A skops file runs no code on load as
long as every type it is told to trust is scikit-learn's own, as Cairn's sklearn flavor
decides; pickle and every pyfunc run code.

What is carried over only when it means the same to Cairn: MLflow's signature becomes Cairn's
when each column is named, required and of a type Cairn has (MLflow's 32-bit ``integer`` is
not: Cairn's is 64 bits), or when it is one unnamed tensor; otherwise the manifest has no
signature. MLflow's ``input_example.json`` of a data frame is Cairn's own format
(``{"columns", "data"}``), so it becomes the manifest's input example when the signature
says its JSON values read back as what the model takes: only named columns of boolean,
integer, double and string (a JSON number is a double, not a 32-bit float; dates and bytes
are strings in JSON). ``cairn serve`` predicts the input example before it answers anything,
so a wrong one would refuse a good model: when in doubt there is none.

Pure code: bytes in, a manifest out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from cairn.core.errors import InvalidInput, InvalidManifest
from cairn.core.models.manifest import (
    MANIFEST_NAME,
    Framework,
    ModelManifest,
    manifest_to_json,
    parse_manifest,
)
from cairn.core.models.signature import ColumnSchema, Schema, Signature, schema_from_wire

MLMODEL_NAME = "MLmodel"
#: How mlflow.sklearn writes a model file (mlflow.sklearn.SUPPORTED_SERIALIZATION_FORMATS).
SKLEARN_FORMATS = ("skops", "pickle", "cloudpickle")
#: MLflow's column types and Cairn's for each that means the same; "integer" (32 bits) has none.
_COLUMN_TYPES = {
    "boolean": "boolean",
    "long": "integer",
    "float": "float",
    "double": "double",
    "string": "string",
    "binary": "binary",
    "datetime": "datetime",
}
#: Column types whose values JSON gives back as the type itself.
_JSON_FAITHFUL = frozenset({"boolean", "integer", "double", "string"})


def manifest_for_mlflow_folder(
    mlmodel: bytes, requirements: bytes | None, file_digests: Mapping[str, str]
) -> ModelManifest:
    """The manifest of an MLflow model folder: ``mlmodel`` is its ``MLmodel`` file,
    ``requirements`` its ``requirements.txt`` (None when it has none), ``file_digests`` the
    SHA-256 of every file of the folder (the manifest itself is left out if given).

    InvalidManifest naming what is wrong when the MLmodel is not YAML, lacks a flavor Cairn can
    load (``sklearn`` or ``python_function``), or names a model file the folder does not hold.
    """
    data = _parse_mlmodel(mlmodel)
    files = {path: digest for path, digest in file_digests.items() if path != MANIFEST_NAME}
    flavors = data["flavors"]
    pyfunc = flavors.get("python_function")
    sklearn = flavors.get("sklearn")
    if pyfunc is not None and not isinstance(pyfunc, dict):
        raise _bad("flavors.python_function", "must be a mapping")
    if sklearn is not None and not isinstance(sklearn, dict):
        raise _bad("flavors.sklearn", "must be a mapping")
    if sklearn is None and pyfunc is None:
        raise _bad("flavors", f"has neither 'sklearn' nor 'python_function' (it has {', '.join(sorted(flavors))})")
    if sklearn is not None:
        loader = _sklearn_loader(sklearn, pyfunc or {}, files)
        framework = Framework("scikit-learn", _text(sklearn, "sklearn_version", "flavors.sklearn."))
    else:
        assert pyfunc is not None
        loader = _pyfunc_loader(pyfunc, files)
        framework = Framework("mlflow", _text(data, "mlflow_version"))
    if pyfunc is None or not isinstance(pyfunc.get("python_version"), str):
        raise _bad("flavors.python_function.python_version", "is missing: the Python the model was saved with")
    signature = _signature(data.get("signature"))
    manifest = ModelManifest(
        flavor="mlflow",
        loader=loader,
        framework=framework,
        python=pyfunc["python_version"],
        requirements=_requirements(requirements),
        signature=signature,
        input_example=_input_example(data, signature, files),
        files=files,
    )
    # What is returned must be a manifest Cairn reads back (the digests and paths checked too).
    parse_manifest(manifest_to_json(manifest))
    return manifest


def _parse_mlmodel(raw: bytes) -> dict[str, Any]:
    try:
        data = yaml.safe_load(raw)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidManifest(f"{MLMODEL_NAME} is not valid YAML: {exc}", details={"field": None}) from None
    if not isinstance(data, dict):
        raise InvalidManifest(f"{MLMODEL_NAME} must hold a YAML mapping", details={"field": None})
    if not isinstance(data.get("flavors"), dict) or not data["flavors"]:
        raise _bad("flavors", "is missing: an MLmodel names the flavors that read the model")
    return data


def _sklearn_loader(sklearn: dict[str, Any], pyfunc: dict[str, Any], files: Mapping[str, str]) -> dict[str, Any]:
    # mlflow.sklearn reads a missing serialization_format as pickle (models older than 1.x).
    serialization = sklearn.get("serialization_format", "pickle")
    if serialization not in SKLEARN_FORMATS:
        raise _bad("flavors.sklearn.serialization_format", f"must be one of {', '.join(SKLEARN_FORMATS)}")
    model_file = _model_file(sklearn, "pickled_model", "flavors.sklearn.", files)
    trusted = sklearn.get("skops_trusted_types") or []
    if not isinstance(trusted, list) or not all(isinstance(name, str) for name in trusted):
        raise _bad("flavors.sklearn.skops_trusted_types", "must be a list of type names")
    if sklearn.get("code") or pyfunc.get("code"):
        # Code saved beside the model goes on sys.path before it is read: MLflow's loader does that.
        return {**_pyfunc_loader(pyfunc, files), "serialization_format": serialization}
    loader: dict[str, Any] = {
        "format": "mlflow",
        "flavor": "sklearn",
        "serialization_format": serialization,
        "file": model_file,
        # skops builds only the types it trusts: scikit-learn's own are what the model needs
        # anyway (Cairn's sklearn flavor trusts the same); any other may run code.
        "runs_code_on_load": serialization != "skops" or not all(name.startswith("sklearn.") for name in trusted),
    }
    if trusted:
        loader["skops_trusted_types"] = list(trusted)
    predict_fn = pyfunc.get("predict_fn", "predict")
    if predict_fn != "predict":
        if not isinstance(predict_fn, str) or not predict_fn.isidentifier():
            raise _bad("flavors.python_function.predict_fn", "must be the name of a method")
        loader["predict_fn"] = predict_fn
    return loader


def _pyfunc_loader(pyfunc: dict[str, Any], files: Mapping[str, str]) -> dict[str, Any]:
    loader: dict[str, Any] = {"format": "mlflow", "flavor": "python_function", "runs_code_on_load": True}
    if "python_model" in pyfunc:  # a PythonModel, cloudpickled by mlflow.pyfunc.save_model
        loader["serialization_format"] = "cloudpickle"
        loader["file"] = _model_file(pyfunc, "python_model", "flavors.python_function.", files)
    elif "model_path" in pyfunc:
        loader["file"] = _model_file(pyfunc, "model_path", "flavors.python_function.", files)
    return loader


def _model_file(flavor: dict[str, Any], key: str, prefix: str, files: Mapping[str, str]) -> str:
    name = _text(flavor, key, prefix)
    if name not in files:
        raise _bad(prefix + key, f"names {name!r}, which is not a file of the folder")
    return name


def _signature(data: Any) -> Signature | None:
    """MLflow's signature as Cairn's, or None when its inputs do not map cleanly."""
    if not isinstance(data, dict):
        return None
    inputs = _schema(data.get("inputs"))
    if inputs is None:
        return None
    return Signature(inputs, _schema(data.get("outputs")))


def _schema(raw: Any) -> Schema | None:
    """An MLflow schema (JSON text of colspecs or of one tensor spec) as Cairn's, or None."""
    if not isinstance(raw, str):
        return None
    try:
        specs = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(specs, list) or not specs or not all(isinstance(spec, dict) for spec in specs):
        return None
    if specs[0].get("type") == "tensor":
        if len(specs) != 1 or "name" in specs[0] or not isinstance(specs[0].get("tensor-spec"), dict):
            return None  # named tensors: Cairn's tensor schema is one unnamed array
        tensor = specs[0]["tensor-spec"]
        wire: Any = {"type": "tensor", "dtype": tensor.get("dtype"), "shape": tensor.get("shape")}
    else:
        if not all(spec.get("required", True) is True and isinstance(spec.get("name"), str) for spec in specs):
            return None  # an optional or unnamed column: Cairn's columns are named and required
        types = [_COLUMN_TYPES.get(spec.get("type")) if isinstance(spec.get("type"), str) else None for spec in specs]
        if None in types:
            return None
        wire = [{"name": spec["name"], "type": kind} for spec, kind in zip(specs, types, strict=True)]
    try:
        return schema_from_wire(wire, "signature")
    except InvalidInput:
        return None


def _input_example(data: dict[str, Any], signature: Signature | None, files: Mapping[str, str]) -> str | None:
    info = data.get("saved_input_example_info")
    if not isinstance(info, dict) or signature is None or not isinstance(signature.inputs, ColumnSchema):
        return None
    params = data["signature"].get("params")
    if info.get("type") != "dataframe" or info.get("pandas_orient") != "split" or params is not None:
        return None  # with params the file holds {"inputs", "params"}, not a table
    if not all(column.type in _JSON_FAITHFUL for column in signature.inputs.columns):
        return None
    path = info.get("artifact_path")
    return path if isinstance(path, str) and path in files else None


def _requirements(raw: bytes | None) -> tuple[str, ...]:
    """The requirement lines of a requirements.txt: no comments, blanks, ``-r`` or options."""
    if raw is None:
        return ()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidManifest("requirements.txt is not UTF-8 text", details={"field": "requirements"}) from None
    found = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith(("#", "-")):
            found.append(line)
    return tuple(found)


def _text(data: Mapping[str, Any], key: str, prefix: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise _bad(prefix + key, "must be a non-empty string")
    return value


def _bad(field_name: str, reason: str) -> InvalidManifest:
    return InvalidManifest(f"{MLMODEL_NAME}: {field_name!r} {reason}", details={"field": field_name})
