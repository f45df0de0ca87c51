"""Signatures: inferred from examples, round-tripped through the manifest's JSON, and enforced
before a model predicts (missing column named, wrong type named, extra columns dropped, safe
widening allowed)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.core.errors import InvalidInput, SignatureMismatch
from cairn.core.models.signature import (
    COLUMN_TYPES,
    ColumnSchema,
    ColumnSpec,
    Signature,
    TensorSchema,
    enforce,
    infer_schema,
    signature_from_wire,
    signature_to_wire,
)

pd = pytest.importorskip("pandas")

names = st.text(
    st.characters(min_codepoint=33, max_codepoint=0x2FFF, blacklist_categories=("Cs",)), min_size=1, max_size=12
)
column_schemas = st.lists(
    st.builds(ColumnSpec, names, st.sampled_from(COLUMN_TYPES)), min_size=1, max_size=6, unique_by=lambda c: c.name
).map(lambda columns: ColumnSchema(tuple(columns)))
tensor_schemas = st.builds(
    TensorSchema,
    st.sampled_from(["float32", "float64", "int64", "uint8", "bool"]),
    st.lists(st.sampled_from([-1, 1, 3, 28]), max_size=4).map(tuple),
)
signatures = st.builds(Signature, column_schemas | tensor_schemas, st.none() | column_schemas | tensor_schemas)


@given(signatures)
def test_a_signature_survives_the_manifest_json(signature: Signature) -> None:
    wire = json.loads(json.dumps(signature_to_wire(signature)))
    assert signature_from_wire(wire) == signature


#: Values of each type that need no widening, as Python values (one per row).
SAMPLES: dict[str, st.SearchStrategy[Any]] = {
    "boolean": st.booleans(),
    "integer": st.integers(-(2**62), 2**62),
    "double": st.floats(allow_nan=False, allow_infinity=False),
    "string": st.text(max_size=5),
    "binary": st.binary(max_size=5),
}


@st.composite
def schema_and_rows(draw: st.DrawFn) -> tuple[ColumnSchema, list[dict[str, Any]]]:
    specs = draw(
        st.lists(
            st.builds(ColumnSpec, names, st.sampled_from(sorted(SAMPLES))),
            min_size=1,
            max_size=4,
            unique_by=lambda c: c.name,
        )
    )
    count = draw(st.integers(1, 4))
    rows = [{spec.name: draw(SAMPLES[spec.type]) for spec in specs} for _ in range(count)]
    return ColumnSchema(tuple(specs)), rows


# The machine is shared: a slow draw now and then is load, not a strategy that is too big.
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@relaxed
@given(schema_and_rows())
def test_rows_inferred_from_an_example_fit_the_schema_they_gave(
    case: tuple[ColumnSchema, list[dict[str, Any]]],
) -> None:
    schema, rows = case
    assert infer_schema(rows) == schema
    enforced = enforce(schema, list(reversed(rows)))
    assert enforced.columns is not None and list(enforced.columns) == schema.names
    assert enforced.dropped == ()


@relaxed
@given(schema_and_rows(), st.data())
def test_a_missing_column_is_refused_by_name(
    case: tuple[ColumnSchema, list[dict[str, Any]]], data: st.DataObject
) -> None:
    schema, rows = case
    gone = data.draw(st.sampled_from(schema.names))
    with pytest.raises(SignatureMismatch) as caught:
        enforce(schema, [{k: v for k, v in row.items() if k != gone} for row in rows])
    assert caught.value.details["column"] == gone
    assert repr(gone) in caught.value.message


@relaxed
@given(schema_and_rows(), st.data())
def test_a_value_of_another_type_is_refused_by_name(
    case: tuple[ColumnSchema, list[dict[str, Any]]], data: st.DataObject
) -> None:
    schema, rows = case
    spec = data.draw(st.sampled_from(schema.columns))
    # A type the column does not take, even by widening.
    other = {"boolean": "x", "integer": "x", "double": "x", "string": 3, "binary": 2.5}[spec.type]
    rows[0][spec.name] = other
    with pytest.raises(SignatureMismatch) as caught:
        enforce(schema, rows)
    assert caught.value.details["column"] == spec.name


def test_extra_columns_are_dropped_and_reported() -> None:
    schema = ColumnSchema((ColumnSpec("a", "double"), ColumnSpec("b", "string")))
    enforced = enforce(schema, pd.DataFrame({"zz": [1], "b": ["x"], "a": [1.5]}))
    assert enforced.columns is not None and list(enforced.columns) == ["a", "b"]
    assert enforced.dropped == ("zz",)


def test_integers_widen_to_floats_but_floats_do_not_narrow() -> None:
    schema = ColumnSchema((ColumnSpec("x", "double"), ColumnSpec("n", "integer")))
    enforced = enforce(schema, [{"x": 1, "n": 2}])
    assert enforced.columns is not None and enforced.columns["x"].dtype == np.float64
    with pytest.raises(SignatureMismatch, match="'n' must hold integer values, got double") as caught:
        enforce(schema, [{"x": 1.0, "n": 2.5}])
    assert caught.value.code == "signature_mismatch" and isinstance(caught.value, InvalidInput)
    assert enforce(ColumnSchema((ColumnSpec("f", "float"),)), {"f": np.ones(2, "float32")}).columns is not None
    with pytest.raises(SignatureMismatch):
        enforce(ColumnSchema((ColumnSpec("f", "float"),)), {"f": np.ones(2, "float64")})


def test_a_data_frame_example_gives_typed_columns() -> None:
    frame = pd.DataFrame(
        {
            "n": [1, 2],
            "x": [0.5, 1.0],
            "f": np.array([0.5, 1.0], dtype="float32"),
            "flag": [True, False],
            "name": ["a", "b"],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    )
    assert infer_schema(frame) == ColumnSchema(
        (
            ColumnSpec("n", "integer"),
            ColumnSpec("x", "double"),
            ColumnSpec("f", "float"),
            ColumnSpec("flag", "boolean"),
            ColumnSpec("name", "string"),
            ColumnSpec("when", "datetime"),
        )
    )
    enforced = enforce(infer_schema(frame), frame)
    assert enforced.columns is not None and enforced.columns["when"].dtype.kind == "M"


def test_tensors_check_dtype_and_shape() -> None:
    schema = infer_schema(np.zeros((3, 4), dtype="float64"))
    assert schema == TensorSchema("float64", (-1, 4))
    assert enforce(schema, np.ones((7, 4), dtype="int32")).tensor.dtype == np.float64  # type: ignore[union-attr]
    with pytest.raises(SignatureMismatch, match=r"shape \(any, 4\), got \(2, 3\)"):
        enforce(schema, np.ones((2, 3)))
    with pytest.raises(SignatureMismatch, match="must hold float64, got str"):
        enforce(schema, np.array([["a"] * 4]))


def test_a_2d_array_as_wide_as_a_column_schema_is_read_in_its_order() -> None:
    schema = ColumnSchema((ColumnSpec("a", "double"), ColumnSpec("b", "double")))
    enforced = enforce(schema, np.array([[1.0, 2.0]]))
    assert enforced.columns is not None and enforced.columns["b"].tolist() == [2.0]
    with pytest.raises(SignatureMismatch, match="2-D array 2 wide"):
        enforce(schema, np.array([[1.0, 2.0, 3.0]]))


@pytest.mark.parametrize(
    "wire",
    [
        {"inputs": [{"name": "a", "type": "decimal"}], "outputs": None},
        {"inputs": [{"name": "a", "type": "double"}, {"name": "a", "type": "double"}], "outputs": None},
        {"inputs": {"type": "tensor", "dtype": "nope", "shape": [-1]}, "outputs": None},
        {"inputs": {"type": "tensor", "dtype": "float64", "shape": [-2]}, "outputs": None},
        {"inputs": []},
        [],
    ],
)
def test_a_bad_signature_is_invalid_input(wire: Any) -> None:
    with pytest.raises(InvalidInput):
        signature_from_wire(wire)


def test_columns_become_the_same_frame_whether_or_not_they_share_a_dtype() -> None:
    """to_frame lays same-typed numeric columns out as one block (scikit-learn checks it
    faster); the frame a model sees is the same: names, order, dtypes and values."""
    import pandas as pd

    from cairn.client.models.loaded import to_frame

    floats = {"b": np.array([1.5, 2.5]), "a": np.array([3.0, 4.0])}
    mixed = {"b": np.array([1.5, 2.5]), "a": np.array([3, 4]), "s": np.array(["x", "y"], dtype=object)}
    for columns in (floats, mixed):
        frame = to_frame(columns)
        pd.testing.assert_frame_equal(frame, pd.DataFrame(columns))
        assert list(frame.columns) == list(columns)
    assert to_frame(floats)._mgr.nblocks == 1


@pytest.mark.parametrize(
    ("example", "shape"),
    [
        (["a review", "another, longer review"], (-1,)),
        ("a single review", (-1,)),
        (("a", "tuple"), (-1,)),
        (np.array(["a", "bb", "ccc"]), (-1,)),  # dtype <U3, whose own name is "str96"
        (np.array(["a", "bb"], dtype=object), (-1,)),
        (pd.Series(["a", "bb"]), (-1,)),
        ([["a", "b"], ["c", "d"]], (-1, 2)),
        (np.array([["ab"], ["c"]]), (-1, 1)),
    ],
)
def test_text_examples_give_a_str_tensor_that_survives_the_manifest(example: Any, shape: tuple[int, ...]) -> None:
    schema = infer_schema(example)
    assert schema == TensorSchema("str", shape)
    signature = Signature(schema)
    assert signature_from_wire(json.loads(json.dumps(signature_to_wire(signature)))) == signature
    enforced = enforce(schema, example).tensor
    assert enforced is not None and enforced.dtype.kind == "U"
    expected = [example] if isinstance(example, str) else np.asarray(example, dtype=object).tolist()
    assert enforced.tolist() == expected


def test_text_columns_are_string_columns() -> None:
    expected = ColumnSchema((ColumnSpec("text", "string"),))
    assert infer_schema({"text": ["a", "bb"]}) == expected
    assert infer_schema(pd.DataFrame({"text": ["a", "bb"]})) == expected
    assert infer_schema(pd.DataFrame({"text": pd.array(["a", "bb"], dtype="string")})) == expected
    enforced = enforce(expected, pd.DataFrame({"text": ["c"]})).columns
    assert enforced is not None and enforced["text"].tolist() == ["c"]


def test_a_str_tensor_takes_text_of_any_width_and_only_text() -> None:
    schema = infer_schema(["short"])
    longer = enforce(schema, np.array(["a much longer text than the example"])).tensor
    assert longer is not None and longer.tolist() == ["a much longer text than the example"]
    assert enforce(schema, np.array(["x", "y"], dtype=object)).tensor.tolist() == ["x", "y"]  # type: ignore[union-attr]
    one_column = enforce(schema, pd.DataFrame({"text": ["x", "y"]})).tensor  # a batch file of texts
    assert one_column is not None and one_column.tolist() == ["x", "y"]
    refused: list[Any] = [["x", 3], np.array(["x", None], dtype=object), [b"x"], np.array([1.5]), [["x"]]]
    for data in refused:
        with pytest.raises(SignatureMismatch) as caught:
            enforce(schema, data)
        assert caught.value.code == "signature_mismatch" and "dtype" not in caught.value.message
    with pytest.raises(SignatureMismatch, match=r"must hold str values, got integer, string"):
        enforce(schema, ["x", 3])  # numpy alone would read it as ["x", "3"]
    with pytest.raises(SignatureMismatch, match=r"shape \(any\), got \(1, 1\)"):
        enforce(schema, [["x"]])


def test_bytes_give_a_bytes_tensor_and_mixed_lists_a_clear_error() -> None:
    schema = infer_schema([b"\x00\xff", b"ab\x00"])
    assert schema == TensorSchema("bytes", (-1,))
    assert signature_from_wire(signature_to_wire(Signature(schema))) == Signature(schema)
    enforced = enforce(schema, [b"\x00\xff", b"ab\x00"]).tensor
    assert enforced is not None and enforced.tolist() == [b"\x00\xff", b"ab\x00"]  # trailing NUL kept
    assert infer_schema(np.array([b"ab", b"c"])) == schema
    assert infer_schema(np.array([b"ab", b"c"], dtype=object)) == schema
    with pytest.raises(SignatureMismatch, match="must hold bytes values, got string"):
        enforce(schema, ["ab"])
    for mixed in (["a", 1], ["a", b"b"], [["a", 2.5]]):
        with pytest.raises(SignatureMismatch, match="mixes values of different types") as caught:
            infer_schema(mixed)
        assert caught.value.code == "signature_mismatch" and caught.value.details["reason"] == "mixed types"
    # An object array the caller built stays an object tensor, passed as given (as before).
    assert infer_schema(np.array(["a", 1], dtype=object)) == TensorSchema("object", (-1,))
