"""MLflow's logged-model search: its filter (``name = 'model' AND tags.k = 'v'``) and its
``order_by`` (``[{"field_name": "creation_timestamp", "ascending": false}]``), applied to the
logged models of the experiments asked for. A project holds one logged model per
``log_model`` call (at most about one per run, with autologging), read whole in one query and
filtered here with the grammar every other MLflow search uses (:mod:`.search_grammar`); only
the page answered reads its models' source runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from cairn.core.logged_models import LoggedModel
from cairn.server.mlflow.filters import key_value_test, text_test_of
from cairn.server.mlflow.search_grammar import (
    ATTRIBUTE,
    ATTRIBUTE_COMPARATORS,
    NUMERIC_COMPARATORS,
    OPS,
    PARAM,
    TAG,
    TEXT_COMPARATORS,
    Clause,
    ClauseReader,
    Token,
    check_clause,
    invalid,
)

_TYPES = {"attribute": ATTRIBUTE, "attributes": ATTRIBUTE, "tag": TAG, "tags": TAG, "param": PARAM, "params": PARAM}
_TEXT: dict[str, Callable[[LoggedModel], str]] = {
    "name": lambda m: m.name,
    "model_id": lambda m: m.id,
    "model_type": lambda m: m.model_type,
    "source_run_id": lambda m: m.source_run_id or "",
    "status": lambda m: m.status.value.upper(),
}
_NUMBERS: dict[str, Callable[[LoggedModel], int]] = {
    "creation_timestamp": lambda m: m.created_at,
    "creation_time": lambda m: m.created_at,
    "last_updated_timestamp": lambda m: m.updated_at,
}

Test = Callable[[LoggedModel], bool]


def logged_model_filter(filter_string: str | None) -> Test:
    """The filter as a test of one logged model, checked whole before any model is read.
    Raises MlflowApiError (INVALID_PARAMETER_VALUE) naming the position of a mistake."""
    if not filter_string or not filter_string.strip():
        return lambda _model: True
    reader = ClauseReader(filter_string, _TYPES, "filter")
    tests = [_test(clause, reader) for clause in reader.clauses()]
    return lambda model: all(test(model) for test in tests)


def _test(clause: Clause, reader: ClauseReader) -> Test:
    if clause.type == TAG:
        check_clause(clause, reader, TEXT_COMPARATORS, text_value=True)
        tags_test = key_value_test(clause)
        return lambda model: tags_test(model.tags)
    if clause.type == PARAM:
        check_clause(clause, reader, TEXT_COMPARATORS, text_value=True)
        params_test = key_value_test(clause)
        return lambda model: params_test(model.params)
    if clause.key in _NUMBERS:
        check_clause(clause, reader, NUMERIC_COMPARATORS, text_value=False)
        read, number, op = _NUMBERS[clause.key], float(str(clause.value)), OPS[clause.comparator]
        return lambda model: bool(op.apply(read(model), number))
    if clause.key not in _TEXT:
        valid = sorted({*_TEXT, *_NUMBERS})
        raise reader.error(
            Token("name", "", clause.position), f"invalid attribute key {clause.key!r}; valid keys are {valid}"
        )
    check_clause(clause, reader, ATTRIBUTE_COMPARATORS, text_value=True)
    read_text = _TEXT[clause.key]
    if clause.key == "status" and isinstance(clause.value, str):
        # MLflow's status names (LOGGED_MODEL_READY) and the short ones (READY) both match.
        clause = dataclasses.replace(clause, value=clause.value.upper().removeprefix("LOGGED_MODEL_"))
    text_test = text_test_of(clause)
    return lambda model: text_test(read_text(model))


def sort_logged_models(models: list[LoggedModel], order_by: Sequence[Any]) -> list[LoggedModel]:
    """In the order asked for (missing values last), then newest first and by id."""
    ordered = sorted(models, key=lambda m: (-m.created_at, m.id))
    for item in reversed(list(order_by)):
        if not isinstance(item, dict) or not isinstance(item.get("field_name"), str):
            raise invalid(f"an order_by item is an object with a field_name, not {item!r}")
        name, descending = item["field_name"], item.get("ascending", True) is False
        if name in _NUMBERS:
            read_number = _NUMBERS[name]
            ordered.sort(key=read_number, reverse=descending)
        elif name in _TEXT:
            read_text = _TEXT[name]
            ordered.sort(key=read_text, reverse=descending)
        else:
            raise invalid(f"Cairn orders logged models by {sorted({*_TEXT, *_NUMBERS})}, not {name!r}")
    return ordered
