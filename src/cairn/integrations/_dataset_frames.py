"""Datasets of the PyTorch kind (a length and items by index, or a Hugging Face
``datasets.Dataset``) as one pandas DataFrame, for ``run.log_dataset``: one column per
feature, and cells that are lists, arrays or tensors (token ids) as their JSON text, since a
frame's digest and profile need values that hash.

A dataset that cannot be read whole, one without a length (an ``IterableDataset``, a streaming
dataset), gives None: it is no error, only a debug line on the ``cairn.integrations`` logger.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

import orjson

log = logging.getLogger("cairn.integrations")


def dataset_frame(dataset: Any) -> Any:
    """``dataset`` as a DataFrame with one column per feature, or None when it cannot be read
    whole (no length: an iterable or streaming dataset; items that are not dicts).

    A Hugging Face ``datasets.Dataset`` comes through its own ``to_pandas()`` (its Arrow table,
    through the indices of a ``shuffle`` or ``select``); a pandas DataFrame as it is; any
    other dataset with a length (a list of tokenized dicts, a torch ``Dataset`` of them) item by
    item. Cells that are lists, arrays or tensors (token ids) become their JSON text, so that
    the frame has a digest and a profile.
    """
    import pandas as pd

    torch = sys.modules.get("torch")  # only ever imported by the caller: a torch dataset implies it
    streamed = torch is not None and isinstance(dataset, torch.utils.data.IterableDataset)
    if streamed or not _has_length(dataset):
        log.debug("dataset %s has no length: not logged", type(dataset).__name__)
        return None
    if len(dataset) == 0:
        return None
    if isinstance(dataset, pd.DataFrame):
        frame = dataset.copy(deep=False)
    elif callable(getattr(dataset, "to_pandas", None)):
        frame = dataset.to_pandas()
    elif hasattr(dataset, "__getitem__"):
        return _items_frame(dataset)
    else:
        log.debug("dataset %s cannot be read by index: not logged", type(dataset).__name__)
        return None
    frame.columns = [str(column) for column in frame.columns]
    for column, dtype in frame.dtypes.items():
        if str(dtype) == "object":  # lists and arrays (pandas 3 keeps text as "str")
            frame[column] = frame[column].map(_plain_cell)
    return frame


def _items_frame(dataset: Any) -> Any:
    """A dataset of dicts, read item by item into columns (not a list of rows first: the
    frame is the one copy)."""
    import pandas as pd

    columns: dict[str, list[Any]] = {}
    for index in range(len(dataset)):
        row = dataset[index]
        if not isinstance(row, Mapping):
            log.debug("dataset %s has items of type %s, not dicts: not logged", type(dataset).__name__, type(row))
            return None
        for key, value in row.items():
            values = columns.get(str(key))
            if values is None:  # a key the items before this one did not have
                values = columns[str(key)] = [None] * index
            values.append(_plain_cell(value))
        for values in columns.values():
            if len(values) == index:  # a key this item does not have
                values.append(None)
    return pd.DataFrame(columns)


def _has_length(dataset: Any) -> bool:
    try:
        len(dataset)
    except TypeError:  # no __len__, or one that refuses (a streaming dataset)
        return False
    return True


def _plain_cell(value: Any) -> Any:
    """A scalar as it is (a 0-d tensor or numpy scalar unwrapped); a list, array, tensor or
    dict as its JSON text."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list | tuple | dict):
        return orjson.dumps(value, default=_listed, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return value


def _listed(value: Any) -> Any:
    if hasattr(value, "tolist"):  # a tensor inside a list
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
