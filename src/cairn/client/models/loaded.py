"""A loaded model: the flavor's object behind ``predict``, with the signature enforced.

Input may be a pandas DataFrame, a numpy array, or a list of dicts. With a column signature the
model gets a DataFrame (a 2-D array when pandas is not installed) of exactly the signature's
columns in its order; extra columns are dropped with one warning. With a tensor signature it
gets an array of the signature's dtype, except text (a ``str`` tensor: a string, a list of
strings, a ``<U…`` or object array of strings), which it gets as a list of strings. Without a
signature, a list of dicts becomes a DataFrame and anything else passes as given.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from cairn.client.models.flavor import Predictor
from cairn.core.models.manifest import ModelManifest
from cairn.core.models.signature import ColumnSchema, Schema, Signature, TensorSchema, enforce


class ExtraColumnsWarning(UserWarning):
    """Input columns the model's signature does not name were dropped before predicting."""


class LoadedModel:
    """What ``cairn.load_model`` returns."""

    def __init__(self, model: Predictor, manifest: ModelManifest, *, source: str, input_example: Any = None) -> None:
        self.model = model
        self.manifest = manifest
        self.source = source
        #: The input example saved with the model (rows as dicts, or an array), or None.
        self.input_example = input_example

    @property
    def flavor(self) -> str:
        return self.manifest.flavor

    @property
    def signature(self) -> Signature | None:
        return self.manifest.signature

    def predict(self, data: Any) -> Any:
        """The model's prediction for ``data``, checked against the signature first
        (SignatureMismatch naming the column when it does not fit)."""
        signature = self.manifest.signature
        if signature is None:
            if isinstance(data, list) and data and all(isinstance(row, dict) for row in data):
                data = to_frame(data)
            return self.model.predict(data)
        return self.model.predict(to_model_input(signature.inputs, data, warn=True))

    def __repr__(self) -> str:
        return f"<cairn.LoadedModel {self.flavor} from {self.source}>"


def to_model_input(schema: Schema, data: Any, *, warn: bool = False) -> Any:
    """``data`` enforced against ``schema``, in the form the model was given at training."""
    enforced = enforce(schema, data)
    if enforced.tensor is not None:
        return tensor_to_model(schema, enforced.tensor)
    assert enforced.columns is not None and isinstance(schema, ColumnSchema)
    if enforced.dropped and warn:
        warnings.warn(
            f"columns the model's signature does not name were dropped: {', '.join(enforced.dropped)}",
            ExtraColumnsWarning,
            stacklevel=3,
        )
    return to_frame(enforced.columns)


def tensor_to_model(schema: Schema | None, tensor: np.ndarray[Any, Any]) -> Any:
    """A checked tensor as the model is handed it: text (a ``str`` tensor) as a list of
    strings (lists of lists for more dimensions), which is what tokenizers and Transformers
    pipelines take (they refuse a numpy array) and what ``np.asarray`` turns back into one;
    any other tensor as it is."""
    if isinstance(schema, TensorSchema) and schema.dtype == "str":
        return tensor.tolist()
    return tensor


def to_frame(columns: Any) -> Any:
    """Columns (or rows as dicts) as a pandas DataFrame, or a 2-D array without pandas."""
    try:
        import pandas as pd
    except ModuleNotFoundError:
        if isinstance(columns, dict):
            return np.column_stack(list(columns.values()))
        return np.asarray([list(row.values()) for row in columns])
    if isinstance(columns, dict) and _one_numeric_dtype(columns.values()):
        # One 2-D block rather than a block per column: the same frame to the model, but
        # scikit-learn's input check and to_numpy cost a third as much (a 30-column row
        # predicts in ~0.9 ms rather than ~1.6 ms), which is most of a one-row request.
        names = list(columns)
        return pd.DataFrame(np.column_stack([columns[name] for name in names]), columns=names, copy=False)
    return pd.DataFrame(columns)


def _one_numeric_dtype(values: Any) -> bool:
    dtypes = {v.dtype if isinstance(v, np.ndarray) and v.ndim == 1 else None for v in values}
    if len(dtypes) != 1:
        return False
    dtype = dtypes.pop()
    return dtype is not None and dtype.kind in "biuf"
