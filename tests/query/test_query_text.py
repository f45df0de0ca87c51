"""Query text written by cairn.core.query.text is the parser's inverse: every tree survives
``format`` then ``parse``, normal-form text survives ``parse`` then ``format``, and no value
(a quote, a backquote, a newline, ``or``) written into a query changes what it means."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.query.test_query_matches_reference import orders, queries

from cairn.core.query.ast import (
    ATTRIBUTES,
    DATASET_FIELDS,
    Aggregate,
    And,
    Compare,
    Duration,
    Expr,
    Field,
    In,
    IsNull,
    Like,
    Not,
    Op,
    Or,
    Source,
    Value,
)
from cairn.core.query.lexer import DURATION_UNITS
from cairn.core.query.parser import parse_field, parse_order, parse_query
from cairn.core.query.text import (
    NoLiteral,
    comparison,
    field_text,
    format_order,
    format_query,
    has_literal,
    literal,
    narrowed,
)

HOSTILE = [
    "x' or name = 'y",
    "it's",
    'say "hi"',
    "a`b`c",
    "line\nbreak\r\ttab",
    "or",
    "') or (name like '%",
    "\\",
    "50\\%",
    "'; drop table runs; --",
    "é ✓ 日本",
    "",
]

# -- fields and literals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "key", "text"),
    [
        ("params", "lr", "params.lr"),
        ("params", "optimizer.name", "params.optimizer.name"),  # nested config: dots are fine
        ("metrics", "val/acc", "metrics.val/acc"),
        ("metrics", "loss.min", 'metrics."loss.min"'),  # else read as the min of "loss"
        ("metrics", "val loss", 'metrics."val loss"'),
        ("params", "é", 'params."é"'),  # the lexer reads only ASCII bare
        ("params", "a..b", 'params."a..b"'),
        ("tags", "it's", 'tags."it\'s"'),
        ("tags", 'say "hi"', "tags.'say \"hi\"'"),
        ("tags", "a\"b'c", "tags.'a\"b''c'"),  # both quotes: the enclosing one doubled
    ],
)
def test_field_text_quotes_only_what_needs_it(source: str, key: str, text: str) -> None:
    assert field_text(source, key) == text
    parsed = parse_field(text)
    assert (parsed.source.value, parsed.key, parsed.aggregate) == (source, key, Aggregate.LAST)


def test_fields_with_aggregates_attributes_and_datasets() -> None:
    assert field_text(Source.METRIC, "loss.min", Aggregate.MAX) == 'metrics."loss.min".max'
    assert field_text(Source.METRIC, "acc", Aggregate.COUNT) == "metrics.acc.count"
    assert field_text(Source.ATTRIBUTE, "created") == "created"
    assert field_text(Source.DATASET, "digest") == "dataset.digest"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("it's", "'it''s'"),
        ("plain", "'plain'"),
        (0.1, "0.1"),
        (-3, "-3"),
        (1e300, "1e+300"),
        (-0.0, "-0.0"),
        (10**30, str(10**30)),
        (True, "true"),
        (False, "false"),
        (Duration(-604_800_000, "-7d"), "-7d"),
    ],
)
def test_literal(value: object, text: str) -> None:
    assert literal(value) == text


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "a\x00b", None, [1], {"a": 1}])
def test_values_without_a_literal(value: object) -> None:
    with pytest.raises(NoLiteral):
        literal(value)
    assert not has_literal(value)


def test_comparison() -> None:
    assert comparison("params.opt", "=", "it's") == "params.opt = 'it''s'"
    assert comparison("tags.team", "=", None) == "tags.team is null"
    assert comparison("tags.team", "!=", None) == "tags.team is not null"
    assert comparison("metrics.acc", ">", 0.5) == "metrics.acc > 0.5"
    with pytest.raises(ValueError):
        comparison("metrics.acc", "=>", 0.5)


# -- no value changes a query's meaning ---------------------------------------------------------

_TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=30)


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_text_is_one_literal(value: str) -> None:
    expected = Compare(Field(Source.TAG, "k", 0), Op.EQ, value, 0)
    assert parse_query(comparison("tags.k", "=", value)) == expected
    assert parse_query(comparison(field_text("tags", value or "k"), "=", value)) == Compare(
        Field(Source.TAG, value or "k", 0), Op.EQ, value, 0
    )


@settings(max_examples=300, deadline=None)
@given(key=_TEXT, value=_TEXT)
def test_any_key_and_text_stay_one_field_and_one_literal(key: str, value: str) -> None:
    for source in (Source.PARAM, Source.TAG):
        where = f"{comparison(field_text(source, key), '=', value)} and name = 'x'"
        assert parse_query(where) == And(
            Compare(Field(source, key, 0), Op.EQ, value, 0), Compare(Field(Source.ATTRIBUTE, "name", 0), Op.EQ, "x", 0)
        )


def test_narrowed_adds_one_condition() -> None:
    hostile = "x' or name = 'y"
    assert narrowed("", "params.opt", hostile) == "params.opt = 'x'' or name = ''y'"
    assert narrowed("params.lr = 1 or name = 'a'", "param.opt", "adam") == (
        "(params.lr = 1 or name = 'a') and params.opt = 'adam'"
    )
    assert narrowed("name = 'a'", "tags.team", None) == "name = 'a' and tags.team is null"
    assert narrowed("", "params.flag", True) == "params.flag = true"
    for value in (math.nan, math.inf, "a\x00"):
        assert narrowed("", "params.x", value) is None
    assert narrowed("", "created", 1_700_000_000_000) is None  # grouped in ms; no literal says that
    assert narrowed("", "duration", 60_000) is None
    assert narrowed("", "tags.team", 5) is None  # a tag is text


# -- round trips --------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(text=queries)
def test_normal_form_is_a_fixed_point(text: str) -> None:
    tree = parse_query(text)
    normal = format_query(tree)
    assert parse_query(normal) == tree
    assert format_query(parse_query(normal)) == normal


@settings(max_examples=100, deadline=None)
@given(text=orders)
def test_sort_orders_round_trip(text: str) -> None:
    keys = parse_order(text)
    assert parse_order(format_order(keys)) == keys
    assert format_order(parse_order(format_order(keys))) == format_order(keys)


def test_normal_form() -> None:
    written = "PARAM.lr == 1 OR ((name <> \"a\") AND NOT metrics.acc.LAST >= .5) or tags.t NOT ILIKE 'x%'"
    normal = "params.lr = 1 or name != 'a' and not metrics.acc >= 0.5 or tags.t not ilike 'x%'"
    assert format_query(parse_query(written)) == normal
    # Parentheses stay where the tree needs them, and only there.
    for text in ("params.a = 1 or (params.b = 2 or params.c = 3)", "not (params.a = 1 and params.b = 2)"):
        assert format_query(parse_query(text)) == text
    assert format_query(parse_query("((params.a = 1) or params.b = 2) or params.c = 3")) == (
        "params.a = 1 or params.b = 2 or params.c = 3"
    )
    assert format_query(None) == ""


def _numbers() -> st.SearchStrategy[Value]:
    return st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False))


@st.composite
def _durations(draw: st.DrawFn, sign: int) -> Duration:
    amount = draw(st.one_of(st.integers(0, 10**6).map(str), st.decimals(0, 1000, places=2).map(str)))
    unit = draw(st.sampled_from(sorted(DURATION_UNITS)))
    millis = round(float(amount) * DURATION_UNITS[unit])
    return Duration(millis, f"{amount}{unit}") if sign > 0 else Duration(-millis, f"-{amount}{unit}")


_DATES = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)).map(
    lambda moment: moment.replace(tzinfo=UTC).isoformat(timespec="minutes")
)
#: Keys: any text, and the ones that look like a field's own syntax.
_KEYS = st.one_of(_TEXT, st.sampled_from(["loss.min", "a.b", "min", "x.max.count", "val/acc", "and", "a.", ".a"]))
_FIELDS = st.one_of(
    st.builds(Field, st.just(Source.PARAM), _KEYS, st.just(0)),
    st.builds(Field, st.just(Source.TAG), _KEYS, st.just(0)),
    st.builds(Field, st.just(Source.METRIC), _KEYS, st.just(0), st.sampled_from(list(Aggregate))),
    st.builds(Field, st.just(Source.ATTRIBUTE), st.sampled_from(sorted(ATTRIBUTES)), st.just(0)),
    st.builds(Field, st.just(Source.DATASET), st.sampled_from(DATASET_FIELDS), st.just(0)),
)


def _values_for(field: Field, op: Op) -> st.SearchStrategy[Value]:
    """What the parser lets ``field op value`` compare with."""
    if field.source is Source.METRIC:
        return _numbers()
    if field.source is Source.PARAM:
        kinds = [_numbers(), _TEXT]
        return st.one_of(*kinds, st.booleans()) if op in (Op.EQ, Op.NE) else st.one_of(*kinds)
    kind = ATTRIBUTES.get(field.key, "text") if field.source is Source.ATTRIBUTE else "text"
    if kind == "time":
        return st.one_of(_DATES, _durations(-1))
    if kind == "duration":
        return st.one_of(st.integers(0), st.floats(0, 1e12), _durations(1))
    return _TEXT


def _is_text_field(field: Field) -> bool:
    return field.source in (Source.PARAM, Source.TAG, Source.DATASET) or (
        field.source is Source.ATTRIBUTE and ATTRIBUTES[field.key] == "text"
    )


@st.composite
def _predicates(draw: st.DrawFn) -> Expr:
    field = draw(_FIELDS)
    kind = draw(st.sampled_from(["compare", "in", "like", "null"]))
    if kind == "compare":
        op = draw(st.sampled_from(list(Op)))
        return Compare(field, op, draw(_values_for(field, op)), 0)
    if kind == "in":
        values = draw(st.lists(_values_for(field, Op.EQ), min_size=1, max_size=3))
        return In(field, tuple(values), draw(st.booleans()), 0)
    if kind == "like" and _is_text_field(field):
        pattern = draw(_TEXT.filter(lambda p: (len(p) - len(p.rstrip("\\"))) % 2 == 0))
        return Like(field, pattern, draw(st.booleans()), draw(st.booleans()), 0)
    return IsNull(field, draw(st.booleans()))


_TREES = st.recursive(
    _predicates(),
    lambda inner: st.one_of(st.builds(And, inner, inner), st.builds(Or, inner, inner), st.builds(Not, inner)),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(tree=_TREES)
def test_every_tree_survives_format_then_parse(tree: Expr) -> None:
    text = format_query(tree)
    assert parse_query(text) == tree, text
    assert format_query(parse_query(text)) == text


def test_narrowed_gives_no_link_for_text_that_does_not_parse() -> None:
    assert narrowed("name = ", "params.x", 1) is None
    assert narrowed("", "nonsense", 1) is None
