"""One chunk of rows through a model, and its predictions as output columns.

Both engines of ``cairn predict`` score through :func:`score_frame`, so a file scored on one
machine and on a Dask cluster has the same columns, names and values.

Output columns (docs/batch-scoring.md, "Output"): the input's columns (all of them, or those
``keep`` names, in the input's order), then the predictions:

- a 1-D array, a Series, or a one-column table: one column ``prediction``;
- a 2-D array of k columns (class probabilities): ``prediction_0`` … ``prediction_{k-1}``;
- a table of several columns, or a dict of arrays: ``prediction_<name>`` for each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cairn.client.models.loaded import LoadedModel
from cairn.core.errors import InvalidBatchInput, SignatureMismatch
from cairn.core.models.signature import ColumnSchema

#: The name of a single prediction column, and the prefix of several.
PREDICTION = "prediction"


def model_input(model: LoadedModel, frame: Any) -> Any:
    """``frame`` narrowed to the signature's columns when it holds them all: batch inputs carry
    ids and other columns beside the features, which are not worth a warning per chunk. A
    missing column is left for the signature check, which names it."""
    signature = model.signature
    if signature is None or not isinstance(signature.inputs, ColumnSchema):
        return frame
    names = signature.inputs.names
    if all(name in frame.columns for name in names):
        return frame[names]
    return frame


def prediction_columns(predictions: Any, rows: int) -> dict[str, Any]:
    """A model's predictions for ``rows`` rows as named 1-D columns (see the module docstring).
    Raises InvalidBatchInput when they are not one value (or one row of values) per row."""
    import pandas as pd

    columns: dict[str, Any]
    if isinstance(predictions, pd.DataFrame):
        names = [str(name) for name in predictions.columns]
        if len(names) == 1:
            columns = {PREDICTION: predictions.iloc[:, 0].to_numpy()}
        else:
            columns = {f"{PREDICTION}_{name}": predictions.iloc[:, i].to_numpy() for i, name in enumerate(names)}
    elif isinstance(predictions, pd.Series):
        columns = {PREDICTION: predictions.to_numpy()}
    elif isinstance(predictions, dict):
        columns = {f"{PREDICTION}_{key}": np.asarray(value) for key, value in predictions.items()}
    else:
        array = np.asarray(predictions)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim == 1:
            columns = {PREDICTION: array}
        elif array.ndim == 2:
            columns = {f"{PREDICTION}_{i}": array[:, i] for i in range(array.shape[1])}
        else:
            raise InvalidBatchInput(
                f"the model returned an array of shape {array.shape} for {rows} rows: "
                "only one value, or one row of values, per input row can be written as columns",
                details={"shape": list(array.shape)},
            )
    for name, values in columns.items():
        if getattr(values, "ndim", 1) != 1 or len(values) != rows:
            raise InvalidBatchInput(
                f"the model returned {len(values)} values in {name} for {rows} rows",
                details={"column": name, "rows": rows},
            )
    return columns


def score_frame(model: LoadedModel, frame: Any, keep: Sequence[str] | None, batch_rows: int) -> Any:
    """``frame`` (a pandas DataFrame) scored ``batch_rows`` rows at a time: the kept input
    columns and the prediction columns, in the input's row order and index."""
    import pandas as pd

    kept = kept_columns(list(frame.columns), keep)
    parts = []
    for start in range(0, len(frame), batch_rows):
        chunk = frame.iloc[start : start + batch_rows]
        predictions = model.predict(model_input(model, chunk))
        columns = prediction_columns(predictions, len(chunk))
        check_no_clash(kept, columns)
        part = chunk[kept].copy()
        for name, values in columns.items():
            part[name] = values
        parts.append(part)
    if not parts:
        return frame[kept].copy()
    return pd.concat(parts) if len(parts) > 1 else parts[0]


def kept_columns(names: list[str], keep: Sequence[str] | None) -> list[str]:
    """The input columns the output repeats: all when ``keep`` is None, else those it names
    (each must exist: SignatureMismatch otherwise, naming it)."""
    if keep is None:
        return [str(name) for name in names]
    missing = [name for name in keep if name not in names]
    if missing:
        raise SignatureMismatch(
            f"the input has no column {missing[0]!r} to keep (it has {', '.join(map(str, names[:20]))})",
            details={"column": missing[0]},
        )
    wanted = set(keep)
    return [str(name) for name in names if name in wanted]


def check_no_clash(kept: Sequence[str], columns: dict[str, Any]) -> None:
    clash = [name for name in columns if name in kept]
    if clash:
        raise InvalidBatchInput(
            f"the input already has a column {clash[0]!r}, which the predictions are written to: "
            "keep only the other input columns (--keep ID …, or --predictions-only)",
            details={"column": clash[0]},
        )
