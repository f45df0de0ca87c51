"""ONNX: the graph saved as ``model.onnx``, run with onnxruntime on the CPU. An ONNX file is
data (standard operators and their weights): reading it runs no code from the file.

``log_model`` takes an ``onnx.ModelProto``, its serialized bytes (with ``flavor="onnx"``) or
the path of a ``.onnx`` file; the graph must pass onnx's checker before anything is written.
Tensors a graph keeps in external files are read in (``onnx.load`` of a path does that), so
the folder holds one self-contained file.

The loaded model feeds the graph's inputs by name:

- a graph with one input gets the whole input as one tensor (a data frame's values in its
  column order, which the signature has fixed), cast to the input's element type: a frame of
  ``double`` columns feeds a ``float`` graph, as converted scikit-learn models are;
- a graph with several inputs gets each from the column (or dict key) of its name, as a column
  vector when the input has two dimensions (the layout of converted pipelines over tables of
  mixed types).

It predicts the graph's one output as an array, or a dict of output name → value when there
are several (a converted classifier's ``label`` and ``probabilities``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cairn.client.models.flavor import Predictor, SavedModel, class_modules, model_file
from cairn.client.models.requirements import installed_version
from cairn.core.errors import FlavorError, SignatureMismatch
from cairn.core.models.manifest import Framework, ModelManifest

FILE_NAME = "model.onnx"

#: The numpy dtype of each ONNX tensor element type onnxruntime reports (``tensor(float)``).
_NUMPY_DTYPES = {
    "float": "float32",
    "double": "float64",
    "float16": "float16",
    "int8": "int8",
    "int16": "int16",
    "int32": "int32",
    "int64": "int64",
    "uint8": "uint8",
    "uint16": "uint16",
    "uint32": "uint32",
    "uint64": "uint64",
    "bool": "bool",
    "string": "object",
}


class OnnxFlavor:
    name = "onnx"
    package = "onnxruntime"

    def handles(self, model: object) -> bool:
        if "onnx" in class_modules(model):  # onnx.ModelProto
            return True
        return isinstance(model, str | os.PathLike) and os.fspath(model).lower().endswith(".onnx")

    def save(self, model: Any, folder: Path) -> SavedModel:
        import onnx

        proto = _as_proto(onnx, model)
        external = [t.name for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
        if external:
            raise FlavorError(
                f"the ONNX graph keeps tensor {external[0]!r} in an external file: load it with onnx.load(path) "
                "(which reads them in) or pass the path of the .onnx file",
                details={"flavor": self.name, "during": "save"},
            )
        onnx.checker.check_model(proto)
        (folder / FILE_NAME).write_bytes(proto.SerializeToString())
        opsets = {entry.domain or "ai.onnx": int(entry.version) for entry in proto.opset_import}
        loader = {"format": "onnx", "file": FILE_NAME, "opsets": opsets}
        return SavedModel(loader, Framework("onnx", installed_version("onnx")), ("onnx", "onnxruntime", "numpy"))

    def load(self, folder: Path, manifest: ModelManifest) -> Predictor:
        import onnxruntime

        # The CPU provider only: the same results on every machine, and none here has a GPU.
        session = onnxruntime.InferenceSession(
            str(model_file(folder, manifest, FILE_NAME)), providers=["CPUExecutionProvider"]
        )
        return OnnxPredictor(session)


def _as_proto(onnx: Any, model: Any) -> Any:
    if isinstance(model, onnx.ModelProto):
        return model
    if isinstance(model, bytes | bytearray | memoryview):
        return onnx.load_model_from_string(bytes(model))
    if isinstance(model, str | os.PathLike):
        path = Path(model)
        if not path.is_file():
            raise FlavorError(f"no ONNX file at {path}", details={"flavor": "onnx", "during": "save"})
        return onnx.load(str(path))
    raise FlavorError(
        f"the onnx flavor saves an onnx.ModelProto, its bytes or the path of a .onnx file, not {type(model).__name__}",
        details={"flavor": "onnx", "during": "save"},
    )


class OnnxPredictor:
    """An onnxruntime session behind ``predict``."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.inputs = [(node.name, _numpy_dtype(node.type), len(node.shape)) for node in session.get_inputs()]
        self.outputs = [node.name for node in session.get_outputs()]

    def predict(self, data: Any) -> Any:
        results = self.session.run(None, self._feed(data))
        return results[0] if len(results) == 1 else dict(zip(self.outputs, results, strict=True))

    def _feed(self, data: Any) -> dict[str, Any]:
        columns = _columns(data)
        if len(self.inputs) == 1 and (columns is None or self.inputs[0][0] not in columns):
            # One input: the whole table (its columns in order) or array as one tensor.
            name, dtype, _ = self.inputs[0]
            table = data if columns is None else np.column_stack(list(columns.values()))
            return {name: _cast(table, dtype, name)}
        if columns is None:
            names = [name for name, _, _ in self.inputs]
            raise SignatureMismatch(
                f"the ONNX graph takes the inputs {', '.join(names)}: give a data frame or a dict with these names",
                details={"column": None, "expected": names},
            )
        feed = {}
        for name, dtype, rank in self.inputs:
            if name not in columns:
                raise SignatureMismatch(
                    f"input is missing column {name!r}, an input of the ONNX graph", details={"column": name}
                )
            values = _cast(columns[name], dtype, name)
            feed[name] = values.reshape(-1, 1) if rank == 2 and values.ndim == 1 else values
        return feed


def _columns(data: Any) -> Mapping[str, Any] | None:
    """``data``'s columns by name when it has named columns (a data frame, a dict)."""
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):
        return {str(name): data[name].to_numpy() for name in data.columns}
    if isinstance(data, Mapping):
        return {str(name): values for name, values in data.items()}
    return None


def _cast(values: Any, dtype: str, name: str) -> np.ndarray[Any, Any]:
    try:
        return np.asarray(values).astype(dtype, copy=False)
    except (TypeError, ValueError) as exc:
        raise SignatureMismatch(
            f"the ONNX graph's input {name!r} takes {dtype} values: {exc}",
            details={"column": name, "expected": dtype},
        ) from None


def _numpy_dtype(onnx_type: str) -> str:
    element = onnx_type.removeprefix("tensor(").removesuffix(")")
    if element not in _NUMPY_DTYPES:
        raise FlavorError(
            f"the ONNX graph takes an input of type {onnx_type}, which this flavor cannot feed "
            f"(tensors of {', '.join(_NUMPY_DTYPES)})",
            details={"flavor": "onnx", "during": "load"},
        )
    return _NUMPY_DTYPES[element]
