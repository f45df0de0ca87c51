"""MLflow's search filters and ``order_by`` clauses, translated into Cairn's query language.

``mlflow.search_runs(filter_string="metrics.acc > 0.9 and params.lr = '0.1'",
order_by=["metrics.acc DESC"])`` reaches the server as a filter string and a list of clauses;
:func:`translate_run_filter` and :func:`translate_order_by` turn them into query text and
sort text that ``Tracking.list_runs`` takes, so an MLflow search runs as one SQL statement on
Cairn's engine like any other. Experiments are few, so :func:`filter_experiments` and
:func:`sort_experiments` apply MLflow's experiment filters in memory.

MLflow's grammar (clauses joined by ``AND`` only, ``TYPE.KEY`` identifiers, values taken
verbatim between their quotes) is read by :mod:`.search_grammar`, as MLflow's server reads it.

How each MLflow field maps onto Cairn's (docs/query.md, "MLflow's filters"):

- ``metrics.K``: the metric's last value, MLflow's latest (``=``, ``!=``, ``<``…; numbers).
  A NaN last value matches nothing in Cairn; MLflow's server lets it match ``!=``.
- ``params.K``: MLflow params are text. A param an MLflow client logged is stored as that
  text, so ``params.lr = '0.1'`` compares text with text. A param logged through Cairn's SDK
  keeps its type and is shown to MLflow as ``str(value)`` (:func:`mlflow_param_text`), so
  ``=`` and ``!=`` also match a number or boolean whose text is the literal (``'0.1'`` matches
  the float 0.1, ``'True'`` the boolean): numbers compare as 64-bit floats there, so ``'5'``
  also matches a float 5.0. ``LIKE``/``ILIKE`` match params stored as text only.
- ``tags.K``: tags. ``tags.mlflow.runName`` and ``tags.mlflow.user`` are the run's name and
  user (:data:`SYSTEM_TAG_ATTRIBUTES`), as MLflow's server keeps them in step.
- attributes: ``run_id`` → ``id``, ``run_name`` (``run name``) → ``name``, ``user_id`` →
  ``user``, ``status`` → ``status`` (MLflow's upper-case names; ``SCHEDULED`` has no Cairn
  run), ``start_time`` (``created``) → ``created``, ``end_time`` → ``ended``, in milliseconds.
  ``artifact_uri`` is refused: Cairn derives it from the run id.
- ``datasets.name``/``digest``/``context`` → ``dataset.*``: a run matches when one of its
  inputs does, as in MLflow; ``NOT IN`` of more than one value is refused (Cairn's
  ``not in`` means "none of the inputs", MLflow's "one of the inputs is not").
- ``LIKE``: ``%`` and ``_`` as in MLflow, a backslash is an ordinary character; ``ILIKE``
  ignores the case of ASCII letters (as Cairn's does everywhere).

A filter MLflow's server refuses is refused with :class:`MlflowApiError`
(``INVALID_PARAMETER_VALUE``), and the message says where: "at position N".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from cairn.core.entities import ParamValue, RunStatus
from cairn.core.limits import MAX_QUERY_LENGTH
from cairn.core.query.ast import (
    And,
    Compare,
    Expr,
    Field,
    In,
    IsNull,
    Like,
    Not,
    Op,
    Or,
    SortKey,
    Source,
    Value,
)
from cairn.core.query.evaluate import like
from cairn.core.query.text import format_order, format_query
from cairn.server.mlflow.search_grammar import (
    ATTRIBUTE,
    ATTRIBUTE_COMPARATORS,
    DATASET,
    METRIC,
    NUMERIC_COMPARATORS,
    OPS,
    PARAM,
    RUN_TYPES,
    TAG,
    TEXT_COMPARATORS,
    Clause,
    ClauseReader,
    Token,
    check_clause,
    invalid,
    read_order_clause,
    syntax_error,
)

#: MLflow tags that are attributes of a Cairn run.
SYSTEM_TAG_ATTRIBUTES = {"mlflow.runName": "name", "mlflow.user": "user"}
#: MLflow's run statuses, and Cairn's for each (SCHEDULED has none).
MLFLOW_STATUSES = {"RUNNING": RunStatus.RUNNING, "SCHEDULED": None, "FINISHED": RunStatus.FINISHED,
                   "FAILED": RunStatus.FAILED, "KILLED": RunStatus.KILLED}  # fmt: skip

_NUMERIC_ATTRIBUTES = {"start_time": "created", "created": "created", "Created": "created", "end_time": "ended"}
_TEXT_ATTRIBUTES = {"run_id": "id", "run_name": "name", "run name": "name", "Run name": "name",
                    "Run Name": "name", "user_id": "user", "status": "status", "artifact_uri": ""}  # fmt: skip
_DATASET_KEYS = ("name", "digest", "context")


#: Clauses in one filter: each becomes at most two conditions (a param's text, and the number
#: or boolean that reads as it), so a filter stays within the 500 a Cairn query may join.
MAX_CLAUSES = 200

_FALSE: Expr = IsNull(Field(Source.ATTRIBUTE, "id", 0), negated=False)  # every run has an id
_MAX_FLOAT = 1.7976931348623157e308


# -- runs ---------------------------------------------------------------------------------------


def translate_run_filter(filter_string: str | None) -> str:
    """MLflow's run filter as Cairn query text for ``Tracking.list_runs(where=...)``; "" for
    every run. Raises MlflowApiError (INVALID_PARAMETER_VALUE) for a filter MLflow refuses or
    Cairn cannot answer."""
    return compile_filter(filter_string, RUN_TYPES, _run_condition)


def compile_filter(
    filter_string: str | None,
    types: Mapping[str, str],
    condition: Callable[[Clause, ClauseReader], Expr | None],
) -> str:
    """An MLflow filter as Cairn query text: each clause's ``condition``, joined by AND (a
    clause whose condition is None is left out); "" for no filter. Raises MlflowApiError for a
    malformed filter, too many clauses, or a query longer than Cairn takes."""
    if not filter_string or not filter_string.strip():
        return ""
    reader = ClauseReader(filter_string, types, "filter")
    clauses = reader.clauses()
    if len(clauses) > MAX_CLAUSES:
        raise invalid(f"the filter has {len(clauses)} clauses; Cairn takes up to {MAX_CLAUSES}")
    expr: Expr | None = None
    for clause in clauses:
        found = condition(clause, reader)
        if found is not None:
            expr = found if expr is None else And(expr, found)
    query = format_query(expr)
    if len(query) > MAX_QUERY_LENGTH:
        raise invalid(f"the filter is too long: Cairn takes queries of up to {MAX_QUERY_LENGTH} characters")
    return query


def _run_condition(clause: Clause, reader: ClauseReader) -> Expr:
    token = Token("name", "", clause.position)
    if clause.type == METRIC:
        check_clause(clause, reader, NUMERIC_COMPARATORS, text_value=False)
        return _number_compare(Field(Source.METRIC, clause.key, 0), clause.comparator, float(str(clause.value)))
    if clause.type == PARAM:
        check_clause(clause, reader, TEXT_COMPARATORS, text_value=True)
        return _param_condition(clause)
    if clause.type == TAG:
        check_clause(clause, reader, TEXT_COMPARATORS, text_value=True)
        attribute = SYSTEM_TAG_ATTRIBUTES.get(clause.key)
        field = Field(Source.ATTRIBUTE, attribute, 0) if attribute else Field(Source.TAG, clause.key, 0)
        return text_condition(field, clause)
    if clause.type == DATASET:
        if clause.key not in _DATASET_KEYS:
            raise reader.error(token, f"invalid dataset key {clause.key!r}; valid keys are {list(_DATASET_KEYS)}")
        check_clause(clause, reader, ATTRIBUTE_COMPARATORS, text_value=True)
        return _dataset_condition(Field(Source.DATASET, clause.key, 0), clause, reader)
    if clause.key in _NUMERIC_ATTRIBUTES:
        check_clause(clause, reader, NUMERIC_COMPARATORS, text_value=False)
        field = Field(Source.ATTRIBUTE, _NUMERIC_ATTRIBUTES[clause.key], 0)
        return _time_compare(field, clause.comparator, float(str(clause.value)))
    if clause.key not in _TEXT_ATTRIBUTES:
        valid = sorted({*_NUMERIC_ATTRIBUTES, *_TEXT_ATTRIBUTES} - {"created", "Created", "Run name", "Run Name"})
        raise reader.error(token, f"invalid attribute key {clause.key!r}; valid keys are {valid}")
    check_clause(clause, reader, ATTRIBUTE_COMPARATORS, text_value=True)
    if clause.comparator in ("IN", "NOT IN") and clause.key != "run_id":
        raise reader.error(token, "only run_id can be compared with a list of quoted strings")
    if clause.key == "artifact_uri":
        raise reader.error(token, "Cairn does not search runs by artifact_uri; filter on run_id instead")
    if clause.key == "status":
        return _status_condition(clause)
    return text_condition(Field(Source.ATTRIBUTE, _TEXT_ATTRIBUTES[clause.key], 0), clause)


def text_condition(field: Field, clause: Clause) -> Expr:
    value = clause.value
    if clause.comparator in ("IS NULL", "IS NOT NULL"):
        return IsNull(field, negated=clause.comparator == "IS NOT NULL")
    if isinstance(value, tuple):
        return In(field, value, negated=clause.comparator == "NOT IN", position=0)
    assert value is not None
    if clause.comparator in ("LIKE", "ILIKE"):
        return Like(field, cairn_pattern(value), clause.comparator == "ILIKE", negated=False, position=0)
    return Compare(field, OPS[clause.comparator], value, 0)


def cairn_pattern(mlflow_pattern: str) -> str:
    """A LIKE pattern of MLflow's (no escape character) as Cairn's (``\\`` escapes)."""
    return mlflow_pattern.replace("\\", "\\\\")


def mlflow_param_text(value: ParamValue) -> str:
    """How a param Cairn stored is shown to MLflow, which knows params only as text: as
    ``str()`` writes it, the text MLflow's own client logs for the same value."""
    return str(value)


def _typed_twins(text: str) -> list[Value]:
    """The typed params whose MLflow text (:func:`mlflow_param_text`) is ``text``."""
    if text in ("True", "False"):
        return [text == "True"]
    twins: list[Value] = []
    # An int64 has at most 19 digits (and Python refuses to read past 4,300).
    if re.fullmatch(r"-?\d{1,19}", text) and str(int(text)) == text and -(2**63) <= int(text) < 2**63:
        twins.append(int(text))
    try:
        number = float(text)
    except ValueError:
        return twins
    if math.isfinite(number) and str(number) == text:
        twins.append(number)
    return twins


def _param_condition(clause: Clause) -> Expr:
    field = Field(Source.PARAM, clause.key, 0)
    if clause.comparator not in ("=", "!="):
        return text_condition(field, clause)
    assert isinstance(clause.value, str)
    equal: Expr = Compare(field, Op.EQ, clause.value, 0)
    for twin in _typed_twins(clause.value):
        equal = Or(equal, Compare(field, Op.EQ, twin, 0))
    # A run without the param is unknown either way, so "not equal" leaves it out, as MLflow does.
    return equal if clause.comparator == "=" else Not(equal)


def _status_condition(clause: Clause) -> Expr:
    """A status clause as the set of statuses it selects: MLflow's names are not Cairn's, so
    the comparison (a pattern too) is made here, over the few there are."""
    field = Field(Source.ATTRIBUTE, "status", 0)
    value = clause.value
    assert isinstance(value, str)
    holds: Callable[[str], bool] = {
        "=": lambda name: name == value,
        "!=": lambda name: name != value,
        "LIKE": lambda name: like(name, cairn_pattern(value), case_insensitive=False),
        "ILIKE": lambda name: like(name, cairn_pattern(value), case_insensitive=True),
    }[clause.comparator]
    chosen = tuple(status.value for name, status in MLFLOW_STATUSES.items() if status and holds(name))
    if not chosen:
        return _FALSE
    if len(chosen) == len(RunStatus):
        return IsNull(field, negated=True)
    return In(field, chosen, negated=False, position=0)


def _dataset_condition(field: Field, clause: Clause, reader: ClauseReader) -> Expr:
    # Cairn's dataset fields hold when one input matches; MLflow's too, for every comparator:
    # ``!=`` is "an input named otherwise", which Cairn says as "< or >" (each one "some input").
    value = clause.value
    if clause.comparator == "!=":
        assert isinstance(value, str)
        return Or(Compare(field, Op.LT, value, 0), Compare(field, Op.GT, value, 0))
    if clause.comparator == "NOT IN":
        assert isinstance(value, tuple)
        if len(set(value)) > 1:
            token = Token("name", "", clause.position)
            raise reader.error(token, "Cairn cannot search datasets with NOT IN of several values; use != for one")
        return Or(Compare(field, Op.LT, value[0], 0), Compare(field, Op.GT, value[0], 0))
    return text_condition(field, clause)


def _number_compare(field: Field, comparator: str, number: float) -> Expr:
    """``field op number``; the query language has no literal for ±inf, so those are said with
    the largest float (x > MAX is x = inf), which is the same on every value but NaN."""
    op = OPS[comparator]
    if math.isfinite(number):
        return Compare(field, op, number, 0)
    # Mirrored for -inf: "x < -inf" is never true, "x <= -inf" is "x < -MAX"…
    sign = 1.0 if number > 0 else -1.0
    beyond = Compare(field, Op.GT if sign > 0 else Op.LT, sign * _MAX_FLOAT, 0)  # x is inf (-inf)
    within = Compare(field, Op.LE if sign > 0 else Op.GE, sign * _MAX_FLOAT, 0)  # x is anything else
    toward, toward_or_equal = (Op.GT, Op.GE) if sign > 0 else (Op.LT, Op.LE)
    away, away_or_equal = (Op.LT, Op.LE) if sign > 0 else (Op.GT, Op.GE)
    table: dict[Op, Expr] = {toward: _FALSE, toward_or_equal: beyond, Op.EQ: beyond, away: within, Op.NE: within,
                             away_or_equal: Or(within, beyond)}  # fmt: skip
    return table[op]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_MS = int((datetime(1, 1, 2, tzinfo=UTC) - _EPOCH).total_seconds()) * 1000
_LAST_MS = int((datetime(9999, 12, 30, tzinfo=UTC) - _EPOCH).total_seconds()) * 1000


def _time_compare(field: Field, comparator: str, number: float) -> Expr:
    """``created``/``ended`` against milliseconds: Cairn compares times with dates, so the
    number is written as one (to the millisecond, UTC). Times are whole milliseconds, so a
    fraction or a time outside the years 1 to 9999 turns into the comparison it amounts to."""
    op = OPS[comparator]
    present = IsNull(field, negated=True)
    if not math.isfinite(number) or number > _LAST_MS or number < _FIRST_MS:
        above = number > 0  # the literal lies beyond every time
        holds = {Op.LT: above, Op.LE: above, Op.GT: not above, Op.GE: not above, Op.EQ: False, Op.NE: True}[op]
        return present if holds else _FALSE
    if number != math.floor(number):
        if op is Op.EQ:
            return _FALSE
        if op is Op.NE:
            return present
        # x > 1.5 is x > 1; x >= 1.5 is x > 1; x < 1.5 is x <= 1; x <= 1.5 is x <= 1
        op = {Op.GT: Op.GT, Op.GE: Op.GT, Op.LT: Op.LE, Op.LE: Op.LE}[op]
    return Compare(field, op, time_literal(math.floor(number)), 0)


def time_literal(millis: int) -> str:
    """Milliseconds since the epoch as a date Cairn's query language reads back exactly."""
    return (_EPOCH + timedelta(milliseconds=millis)).isoformat(timespec="milliseconds")


# -- order_by -----------------------------------------------------------------------------------

_ORDER_ATTRIBUTES = {"start_time": "created", "created": "created", "Created": "created", "end_time": "ended",
                     "run_id": "id", "run_name": "name", "user_id": "user", "status": "status"}  # fmt: skip


def translate_order_by(order_by: Sequence[str] | None) -> str:
    """MLflow's ``order_by`` clauses as Cairn's sort text for ``Tracking.list_runs(order_by=...)``.

    MLflow orders ties by start time, newest first (unless ``start_time`` was named), then by
    run id ascending; both are added here, so the order is MLflow's to the last run. Missing
    values sort last either way, as in MLflow; a NaN metric sorts with them (MLflow puts NaN
    just before the missing ones)."""
    keys: list[SortKey] = []
    seen: set[tuple[str, str]] = set()
    named_before: set[tuple[str, str]] = set()
    for clause in order_by or ():
        kind, key, descending, position = read_order_clause(clause)
        if kind == ATTRIBUTE:
            if key not in _ORDER_ATTRIBUTES:
                valid = sorted({*_ORDER_ATTRIBUTES, "artifact_uri"} - {"Created"})
                raise syntax_error(
                    "order_by clause", clause, position, f"invalid attribute key {key!r}; valid keys are {valid}"
                )
            field = Field(Source.ATTRIBUTE, _ORDER_ATTRIBUTES[key], 0)
        elif kind == METRIC:
            field = Field(Source.METRIC, key, 0)
        elif kind == PARAM:
            field = Field(Source.PARAM, key, 0)
        elif kind == TAG:
            attribute = SYSTEM_TAG_ATTRIBUTES.get(key)
            field = Field(Source.ATTRIBUTE, attribute, 0) if attribute else Field(Source.TAG, key, 0)
        else:
            raise syntax_error("order_by clause", clause, position, "runs cannot be ordered by a dataset field")
        named = (kind, field.key if kind == ATTRIBUTE else key)  # as MLflow tells fields apart
        if named in named_before:
            raise invalid(f"`order_by` contains duplicate fields: {list(order_by or ())}")
        named_before.add(named)
        if (field.source, field.key) not in seen:  # tags.mlflow.user after user_id orders nothing more
            seen.add((field.source, field.key))
            keys.append(SortKey(field, descending))
    if (Source.ATTRIBUTE, "created") not in seen:
        keys.append(SortKey(Field(Source.ATTRIBUTE, "created", 0), descending=True))
    if (Source.ATTRIBUTE, "id") not in seen:
        keys.append(SortKey(Field(Source.ATTRIBUTE, "id", 0), descending=False))
    return format_order(keys)


# -- experiments --------------------------------------------------------------------------------


class ExperimentView(Protocol):
    """What an experiment search reads of an experiment (the route builds one per project)."""

    @property
    def experiment_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def creation_time(self) -> int | None: ...
    @property
    def last_update_time(self) -> int | None: ...
    @property
    def tags(self) -> Mapping[str, str]: ...


E = TypeVar("E", bound=ExperimentView)

_EXPERIMENT_TYPES = {"attribute": ATTRIBUTE, "tag": TAG, "tags": TAG}
_EXPERIMENT_NUMERIC = ("creation_time", "last_update_time")
_EXPERIMENT_KEYS = ("name", "experiment_id", *_EXPERIMENT_NUMERIC)


def experiment_filter(filter_string: str | None) -> Callable[[ExperimentView], bool]:
    """MLflow's experiment filter as a predicate over experiments (checked when made, so a bad
    filter fails before any experiment is read). Raises MlflowApiError."""
    if not filter_string or not filter_string.strip():
        return lambda _experiment: True
    reader = ClauseReader(filter_string, _EXPERIMENT_TYPES, "filter")
    tests = [_experiment_test(clause, reader) for clause in reader.clauses()]
    return lambda experiment: all(test(experiment) for test in tests)


def filter_experiments(experiments: Iterable[E], filter_string: str | None) -> list[E]:
    matches = experiment_filter(filter_string)
    return [experiment for experiment in experiments if matches(experiment)]


def _experiment_test(clause: Clause, reader: ClauseReader) -> Callable[[ExperimentView], bool]:
    token = Token("name", "", clause.position)
    if clause.type == TAG:
        check_clause(clause, reader, TEXT_COMPARATORS, text_value=True)
        tags_test = key_value_test(clause)
        return lambda experiment: tags_test(experiment.tags)
    if clause.key not in _EXPERIMENT_KEYS:
        raise reader.error(token, f"invalid attribute key {clause.key!r}; valid keys are {sorted(_EXPERIMENT_KEYS)}")
    key = clause.key
    if key in _EXPERIMENT_NUMERIC:
        check_clause(clause, reader, NUMERIC_COMPARATORS, text_value=False)
        number, op = float(str(clause.value)), OPS[clause.comparator]

        def numeric(experiment: ExperimentView) -> bool:
            value = getattr(experiment, key)
            return value is not None and bool(op.apply(value, number))

        return numeric
    comparators = ("=", "!=", "IN", "NOT IN") if key == "experiment_id" else ("=", "!=", "LIKE", "ILIKE")
    check_clause(clause, reader, comparators, text_value=True)
    text_test = text_test_of(clause)
    return lambda experiment: text_test(str(getattr(experiment, key)))


def key_value_test(clause: Clause) -> Callable[[Mapping[str, str]], bool]:
    """A ``tags.KEY`` or ``params.KEY`` clause (already checked) as a test of the mapping of
    those: IS [NOT] NULL asks whether the key is there, anything else compares its value (a
    missing key matches nothing)."""
    key = clause.key
    if clause.comparator in ("IS NULL", "IS NOT NULL"):
        wanted = clause.comparator == "IS NOT NULL"
        return lambda values: (key in values) == wanted
    value_test = text_test_of(clause)
    return lambda values: key in values and value_test(values[key])


def text_test_of(clause: Clause) -> Callable[[str], bool]:
    value = clause.value
    if isinstance(value, tuple):
        negated = clause.comparator == "NOT IN"
        return lambda text: (text in value) != negated
    assert isinstance(value, str)
    if clause.comparator in ("LIKE", "ILIKE"):
        pattern, folded = cairn_pattern(value), clause.comparator == "ILIKE"
        return lambda text: like(text, pattern, folded)
    op = OPS[clause.comparator]
    return lambda text: bool(op.apply(text, value))


def sort_experiments(experiments: Iterable[E], order_by: Sequence[str] | None) -> list[E]:
    """Experiments in MLflow's order: by each clause (missing values last), then by id, highest
    first; with no clauses, newest first, then by id. Raises MlflowApiError."""
    keys: list[tuple[str, bool]] = []
    for clause in order_by or ("creation_time DESC", "experiment_id ASC"):
        kind, key, descending, position = read_order_clause(clause, _EXPERIMENT_TYPES)
        if kind != ATTRIBUTE:
            raise syntax_error("order_by clause", clause, position, "experiments are ordered by attributes only")
        if key not in _EXPERIMENT_KEYS:
            raise syntax_error(
                "order_by clause",
                clause,
                position,
                f"invalid attribute key {key!r}; valid keys are {sorted(_EXPERIMENT_KEYS)}",
            )
        keys.append((key, descending))
    if not any(key == "experiment_id" for key, _ in keys):
        keys.append(("experiment_id", True))
    ordered = list(experiments)
    for key, descending in reversed(keys):  # a stable sort, least significant key first
        present = [e for e in ordered if getattr(e, key) is not None]
        missing = [e for e in ordered if getattr(e, key) is None]
        present.sort(key=_experiment_sort_key(key), reverse=descending)
        ordered = present + missing
    return ordered


def _experiment_sort_key(key: str) -> Callable[[ExperimentView], tuple[int, int | str]]:
    return lambda experiment: _experiment_sort_value(key, getattr(experiment, key))


def _experiment_sort_value(key: str, value: object) -> tuple[int, int | str]:
    # MLflow's experiment ids are numbers; ids that are digits sort as numbers, before others.
    if key == "experiment_id" and isinstance(value, str) and value.isdigit():
        return (0, int(value))
    return (1, value) if isinstance(value, str) else (0, value)  # type: ignore[return-value]
