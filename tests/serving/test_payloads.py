"""The serving protocols' codecs: MLflow's /invocations and the Open Inference Protocol V2,
parsed into what ``enforce`` checks, and predictions written back."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.core.errors import CairnError, InvalidRequest, SignatureMismatch, UnsupportedMediaType
from cairn.core.models.signature import (
    ColumnSchema,
    ColumnSpec,
    Signature,
    TensorSchema,
    enforce,
    infer_signature,
)
from cairn.serving.payloads import (
    ParsedRequest,
    parse_invocations,
    parse_v2_infer,
    predictions_to_json,
    split_predictions,
    v2_outputs,
)

# A signature as scikit-learn models get it from a frame example.
TABLE = infer_signature(
    pd.DataFrame(
        {"age": np.array([30.0]), "score": np.array([0.5], dtype=np.float32), "city": ["x"], "n": np.array([1])}
    )
)
TENSOR = Signature(TensorSchema("float32", (-1, 2)))
ONE_COLUMN = Signature(ColumnSchema((ColumnSpec("text", "string"),)))


def body(value: Any) -> bytes:
    return orjson.dumps(value)


def invocations(value: Any, signature: Signature | None = TABLE, content_type: str | None = None) -> ParsedRequest:
    return parse_invocations(body(value), content_type, signature)


def refused(call: Any, *args: Any) -> CairnError:
    with pytest.raises(CairnError) as caught:
        call(*args)
    return caught.value


def enforced_columns(parsed: ParsedRequest, signature: Signature = TABLE) -> dict[str, list[Any]]:
    assert parsed.columns is not None
    result = enforce(signature.inputs, parsed.columns)
    assert result.columns is not None
    return {name: values.tolist() for name, values in result.columns.items()}


def test_the_signature_is_the_one_a_frame_gives() -> None:
    assert isinstance(TABLE.inputs, ColumnSchema)
    assert [(c.name, c.type) for c in TABLE.inputs.columns] == [
        ("age", "double"),
        ("score", "float"),
        ("city", "string"),
        ("n", "integer"),
    ]


# -- MLflow JSON shapes -------------------------------------------------------------------------


ROW = {"age": 41, "score": 0.25, "city": "Oslo", "n": 3}
EXPECTED = {"age": [41.0], "score": [0.25], "city": ["Oslo"], "n": [3]}


@pytest.mark.parametrize(
    "payload",
    [
        {"dataframe_split": {"columns": list(ROW), "data": [list(ROW.values())]}},
        {"dataframe_split": {"columns": list(ROW), "data": [list(ROW.values())], "index": [7]}},
        {"dataframe_records": [ROW]},
        {"instances": [ROW]},
        {"inputs": [ROW]},
        {"inputs": {name: [value] for name, value in ROW.items()}},
        {"instances": {name: [value] for name, value in ROW.items()}},
        {"inputs": ROW},  # one row as an object of scalars
        {"inputs": [list(ROW.values())]},  # unnamed rows in the signature's order
        {"dataframe_split": {"data": [list(ROW.values())]}},
    ],
    ids=lambda payload: next(iter(payload)) + "-" + type(next(iter(payload.values()))).__name__,
)
def test_every_mlflow_shape_gives_the_same_table(payload: dict[str, Any]) -> None:
    parsed = invocations(payload)
    assert parsed.rows == 1 and parsed.tensor is None and parsed.params == {}
    assert enforced_columns(parsed) == EXPECTED


def test_a_json_number_for_a_32_bit_float_column_becomes_float32() -> None:
    # JSON has one kind of number: without this, every float32 model would refuse JSON input.
    parsed = invocations({"dataframe_records": [ROW, {**ROW, "score": 1}]})
    assert parsed.columns is not None
    assert parsed.columns["score"].dtype == np.float32
    assert parsed.columns["age"].dtype == np.float64
    assert parsed.columns["n"].dtype == np.int64


def test_null_in_a_number_column_is_nan_and_in_an_integer_column_is_refused_by_enforce() -> None:
    parsed = invocations({"dataframe_records": [ROW, {**ROW, "age": None}]})
    assert enforced_columns(parsed)["age"][0] == 41.0 and np.isnan(enforced_columns(parsed)["age"][1])
    parsed = invocations({"dataframe_records": [ROW, {**ROW, "n": None}]})
    with pytest.raises(SignatureMismatch) as caught:
        enforce(TABLE.inputs, parsed.columns)
    assert caught.value.details["column"] == "n"


def test_a_string_for_a_number_is_left_for_enforce_to_refuse_by_name() -> None:
    parsed = invocations({"dataframe_records": [{**ROW, "age": "old"}]})
    with pytest.raises(SignatureMismatch) as caught:
        enforce(TABLE.inputs, parsed.columns)
    assert caught.value.details["column"] == "age"


def test_a_missing_column_is_refused_by_enforce_naming_it() -> None:
    parsed = invocations({"dataframe_split": {"columns": ["age", "score", "n"], "data": [[1, 2, 3]]}})
    with pytest.raises(SignatureMismatch) as caught:
        enforce(TABLE.inputs, parsed.columns)
    assert caught.value.details["column"] == "city"


def test_params_are_passed_through() -> None:
    parsed = invocations({"inputs": [ROW], "params": {"threshold": 0.3, "top": [1, 2]}})
    assert parsed.params == {"threshold": 0.3, "top": [1, 2]}


def test_content_types_json_with_a_charset_and_none_at_all() -> None:
    for content_type in (
        None,
        "",
        "application/json",
        "Application/JSON; charset=UTF-8",
        "application/json;charset=utf-8",
    ):
        assert invocations({"inputs": [ROW]}, content_type=content_type).rows == 1


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin-1",
        "application/json; format=pandas-split",
    ],
)
def test_other_content_types_are_415(content_type: str) -> None:
    error = refused(invocations, {"inputs": [ROW]}, TABLE, content_type)
    assert isinstance(error, UnsupportedMediaType)
    assert error.code == "unsupported_media_type" and error.http_status == 415
    assert error.details["content_type"] == content_type


def test_a_model_without_a_signature_gets_columns_when_named_else_a_tensor() -> None:
    named = invocations({"dataframe_records": [ROW]}, None)
    assert named.columns is not None and named.columns["city"] == ["Oslo"]
    assert named.columns["age"] == [41]  # no signature: values as they came
    rows = invocations({"inputs": [[1, 2.5], [3, 4]]}, None)
    assert rows.columns is None and rows.tensor is not None
    assert rows.tensor.dtype == np.float64 and rows.tensor.shape == (2, 2) and rows.rows == 2


def test_a_tensor_signature_gets_one_array_of_its_dtype() -> None:
    for payload in (
        {"inputs": [[1, 2], [3, 4.5]]},
        {"instances": [[1, 2], [3, 4.5]]},
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3, 4.5]]}},
        {"dataframe_records": [{"a": 1, "b": 2}, {"a": 3, "b": 4.5}]},
        {"inputs": {"x": [[1, 2], [3, 4.5]]}},
    ):
        parsed = invocations(payload, TENSOR)
        assert parsed.tensor is not None and parsed.columns is None
        assert parsed.tensor.dtype == np.float32
        assert parsed.tensor.tolist() == [[1, 2], [3, 4.5]]
        assert enforce(TENSOR.inputs, parsed.tensor).tensor is not None


def test_a_tensor_of_strings_for_a_number_model_is_refused_by_enforce() -> None:
    parsed = invocations({"inputs": [["a", "b"]]}, TENSOR)
    with pytest.raises(SignatureMismatch):
        enforce(TENSOR.inputs, parsed.tensor)


def test_an_integer_tensor_keeps_to_its_range() -> None:
    small = Signature(TensorSchema("uint8", (-1,)))
    assert invocations({"inputs": [1, 255]}, small).tensor.dtype == np.uint8  # type: ignore[union-attr]
    parsed = invocations({"inputs": [1, 256]}, small)
    assert parsed.tensor is not None and parsed.tensor.dtype == np.int64  # left as is: enforce refuses it
    with pytest.raises(SignatureMismatch):
        enforce(small.inputs, parsed.tensor)


def test_a_one_column_model_takes_a_list_of_scalars() -> None:
    parsed = invocations({"inputs": ["a b", "c"]}, ONE_COLUMN)
    assert parsed.columns == {"text": ["a b", "c"]} and parsed.rows == 2


def test_datetime_and_binary_columns_are_read_from_their_json_form() -> None:
    signature = Signature(ColumnSchema((ColumnSpec("at", "datetime"), ColumnSpec("blob", "binary"))))
    parsed = invocations(
        {
            "dataframe_records": [
                {"at": "2024-05-01T10:00:00Z", "blob": base64.b64encode(b"\x00\xff").decode()},
                {"at": "2024-05-01", "blob": None},
            ]
        },
        signature,
    )
    result = enforce(signature.inputs, parsed.columns)
    assert result.columns is not None
    assert result.columns["at"].astype("datetime64[s]").tolist() == [
        dt.datetime(2024, 5, 1, 10),
        dt.datetime(2024, 5, 1),
    ]
    assert result.columns["blob"].tolist() == [b"\x00\xff", None]
    error = refused(invocations, {"dataframe_records": [{"at": "yesterday", "blob": None}]}, signature)
    assert error.code == "invalid_request" and error.details["field"] == "at"
    error = refused(invocations, {"dataframe_records": [{"at": None, "blob": "not base64!"}]}, signature)
    assert error.code == "invalid_request" and error.details["field"] == "blob"


def test_nul_characters_inside_json_strings_are_values_like_any_other() -> None:
    parsed = invocations({"dataframe_records": [{**ROW, "city": "a\x00b"}]})
    assert enforced_columns(parsed)["city"] == ["a\x00b"]


# -- MLflow JSON: what is refused, and where ----------------------------------------------------


def expect_invalid(payload: bytes | Any, field: str | None, signature: Signature | None = TABLE) -> CairnError:
    raw = payload if isinstance(payload, bytes) else body(payload)
    error = refused(parse_invocations, raw, "application/json", signature)
    assert isinstance(error, InvalidRequest), error
    assert error.code == "invalid_request" and error.http_status == 400
    assert error.details["field"] == field, error.details
    return error


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"", "body"),
        (b"{", "body"),
        (b'{"inputs": [1]} trailing', "body"),
        (b'{"inputs": ["\xff\xfe"]}', "body"),  # not UTF-8
        (b'{"inputs": [NaN]}', "body"),
        (b'{"inputs": [1e999]}', "body"),
        (b"[" * 2000 + b"]" * 2000, "body"),  # deeper than orjson goes
        (b"[1, 2]", "body"),
        (b'"text"', "body"),
        (b"null", "body"),
    ],
)
def test_bodies_that_are_not_a_json_object(raw: bytes, field: str) -> None:
    expect_invalid(raw, field)


def test_two_mlflow_keys_or_none() -> None:
    error = expect_invalid({"inputs": [ROW], "instances": [ROW]}, "instances,inputs")
    assert "both 'instances' and 'inputs'" in error.message
    error = expect_invalid({"data": [ROW]}, "body")
    assert error.details["keys"] == ["data"]
    expect_invalid({}, "body")


def test_unknown_keys_and_bad_params() -> None:
    expect_invalid({"inputs": [ROW], "param": {"x": 1}}, "param")
    expect_invalid({"inputs": [ROW], "params": [1]}, "params")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"dataframe_split": [[1]]}, "dataframe_split"),
        ({"dataframe_split": {"columns": ["a"], "data": 1}}, "dataframe_split.data"),
        ({"dataframe_split": {"columns": ["a"], "data": []}}, "dataframe_split.data"),
        ({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3]]}}, "dataframe_split.data"),
        ({"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}, "dataframe_split.columns"),
        ({"dataframe_split": {"columns": [1], "data": [[1]]}}, "dataframe_split.columns"),
        ({"dataframe_split": {"columns": ["a"], "data": [[1]], "index": [1, 2]}}, "dataframe_split.index"),
        ({"dataframe_split": {"columns": ["a"], "data": [[1]], "dtype": {}}}, "dataframe_split.dtype"),
        ({"dataframe_records": {"a": [1]}}, "dataframe_records"),
        ({"dataframe_records": []}, "dataframe_records"),
        ({"dataframe_records": [1, 2]}, "dataframe_records"),
        ({"dataframe_records": [ROW, {"age": 1, "score": 1, "city": "x"}]}, "n"),  # a row lacks n
        ({"dataframe_records": [ROW, {**ROW, "extra": 1}]}, "extra"),
        ({"inputs": []}, "inputs"),
        ({"inputs": 3}, "inputs"),
        ({"inputs": {}}, "inputs"),
        ({"inputs": {"age": [1, 2], "n": [1]}}, "n"),  # ragged columns
        ({"inputs": {"age": [1, 2], "n": 1}}, "n"),
        ({"inputs": [[1, 2, "x"]]}, "inputs"),  # 3 values for 4 columns
        ({"instances": [[1, 2, "x", 4], [1]]}, "instances"),
    ],
)
def test_malformed_mlflow_payloads_name_their_field(payload: Any, field: str) -> None:
    expect_invalid(payload, field)


def test_ragged_rows_for_a_tensor_or_no_signature() -> None:
    for signature in (TENSOR, None, Signature(TensorSchema("object", (-1, -1)))):
        expect_invalid({"inputs": [[1, 2], [3]]}, "inputs", signature)
    expect_invalid({"inputs": 5}, "inputs", None)
    expect_invalid({"inputs": {"a": [[1, 2]], "b": [[3, 4]]}}, "inputs", TENSOR)
    # 70 levels of nesting: valid JSON, more dimensions than numpy has
    expect_invalid(b'{"inputs": ' + b"[" * 70 + b"1" + b"]" * 70 + b"}", "inputs", None)


def test_integers_past_64_bits() -> None:
    # orjson reads an integer past 64 bits as a float: refused as not an integer.
    parsed = invocations({"dataframe_records": [ROW]})
    raw = body({"dataframe_records": [ROW]}).replace(b'"n":3', b'"n":' + str(2**70).encode())
    parsed = parse_invocations(raw, None, TABLE)
    with pytest.raises(SignatureMismatch) as caught:
        enforce(TABLE.inputs, parsed.columns)
    assert caught.value.details["column"] == "n"
    # past int64 but within uint64: numpy cannot make it an int64 column
    raw = body({"dataframe_records": [ROW]}).replace(b'"n":3', b'"n":' + str(2**63).encode())
    expect_invalid(raw, "n")


# -- MLflow CSV -------------------------------------------------------------------------------------


def csv(text: str | bytes, signature: Signature | None = TABLE, content_type: str = "text/csv") -> ParsedRequest:
    raw = text.encode() if isinstance(text, str) else text
    return parse_invocations(raw, content_type, signature)


def test_csv_with_a_signature_is_typed_by_it() -> None:
    parsed = csv('age,score,city,n\r\n41,0.25,Oslo,3\r\n7,,"Rome, IT",4\r\n', content_type="text/csv; charset=utf-8")
    assert parsed.rows == 2
    columns = enforced_columns(parsed)
    assert columns["age"] == [41.0, 7.0] and columns["n"] == [3, 4]
    assert columns["score"][0] == 0.25 and np.isnan(columns["score"][1])
    assert columns["city"] == ["Oslo", "Rome, IT"]


def test_csv_without_a_signature_guesses_like_pandas() -> None:
    parsed = csv("\ufeffi,f,b,s,gap\n1,1.5,true,x,1\n2,2,False,y,\n", None)
    assert parsed.columns is not None
    assert parsed.columns["i"].tolist() == [1, 2] and parsed.columns["i"].dtype == np.int64
    assert parsed.columns["f"].tolist() == [1.5, 2.0]
    assert parsed.columns["b"] == [True, False]
    assert parsed.columns["s"] == ["x", "y"]
    assert parsed.columns["gap"][0] == 1.0 and np.isnan(parsed.columns["gap"][1])


def test_csv_for_a_tensor_model() -> None:
    parsed = csv("a,b\n1,2\n3,4.5\n", TENSOR)
    assert parsed.tensor is not None and parsed.tensor.dtype == np.float32 and parsed.tensor.shape == (2, 2)
    error = refused(csv, "a,b\n1,x\n", TENSOR)
    assert error.code == "invalid_request" and error.details["field"] == "body"


def test_csv_with_a_missing_column_is_refused_by_enforce() -> None:
    parsed = csv("age,score,city\n1,2,x\n")
    with pytest.raises(SignatureMismatch) as caught:
        enforce(TABLE.inputs, parsed.columns)
    assert caught.value.details["column"] == "n"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (b"", "body"),
        (b"age,score,city,n\n", "body"),  # no rows
        (b"age,score,city,n\n1,2,x\n", "body"),  # ragged
        (b"age,age\n1,2\n", "header"),
        (b"age,score,city,n\n1,2,\xff,3\n", "body"),  # not UTF-8
        (b"age,score,city,n\n1,2,a\x00b,3\n", "body"),
        (b"age,score,city,n\nold,2,x,3\n", "age"),
        (b"age,score,city,n\n1,2,x,3.5\n", "n"),
        (b"age,score,city,n\n1,2,x,99999999999999999999\n", "n"),
    ],
)
def test_malformed_csv_names_its_field(text: bytes, field: str) -> None:
    error = refused(csv, text)
    assert error.code == "invalid_request" and error.details["field"] == field, error.details


# -- V2 -----------------------------------------------------------------------------------------------


def v2(inputs: list[dict[str, Any]], signature: Signature | None = TABLE, **extra: Any) -> ParsedRequest:
    return parse_v2_infer(body({"inputs": inputs, **extra}), signature)


def v2_input(name: str, shape: list[int], datatype: str, data: Any) -> dict[str, Any]:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def test_v2_inputs_named_after_the_columns_form_a_table() -> None:
    parsed = v2(
        [
            v2_input("age", [2], "INT64", [41, 7]),
            v2_input("score", [2, 1], "FP64", [[0.25], [1]]),
            v2_input("city", [2], "BYTES", ["Oslo", "Rome"]),
            v2_input("n", [2], "INT32", [3, 4]),
        ],
        id="req-1",
        parameters={"content_type": "pd"},
    )
    assert parsed.rows == 2 and parsed.request_id == "req-1" and parsed.params == {"content_type": "pd"}
    assert enforced_columns(parsed) == {
        "age": [41.0, 7.0],
        "score": [0.25, 1.0],
        "city": ["Oslo", "Rome"],
        "n": [3, 4],
    }


def test_one_2d_v2_input_is_rows_in_the_signatures_column_order() -> None:
    numbers = Signature(ColumnSchema((ColumnSpec("a", "double"), ColumnSpec("b", "float"))))
    for data in ([1, 2, 3, 4], [[1, 2], [3, 4]]):
        parsed = v2([v2_input("input-0", [2, 2], "FP32", data)], numbers)
        assert enforced_columns(parsed, numbers) == {"a": [1.0, 3.0], "b": [2.0, 4.0]}
    error = refused(v2, [v2_input("input-0", [1, 3], "FP32", [1, 2, 3])], numbers)
    assert error.code == "invalid_request" and error.details["field"] == "input-0"
    assert error.details["expected"] == 2 and error.details["got"] == 3


def test_v2_for_a_tensor_model_and_for_none() -> None:
    parsed = v2([v2_input("x", [2, 2], "FP64", [1, 2, 3, 4.5])], TENSOR)
    assert parsed.tensor is not None and parsed.tensor.dtype == np.float32 and parsed.rows == 2
    parsed = v2([v2_input("x", [3], "UINT8", [1, 2, 255])], None)
    assert parsed.tensor is not None and parsed.tensor.dtype == np.uint8 and parsed.tensor.tolist() == [1, 2, 255]
    parsed = v2([v2_input("a", [2], "BOOL", [True, False]), v2_input("b", [2, 1], "FP16", [1, 2])], None)
    assert parsed.columns is not None and parsed.columns["a"].tolist() == [True, False]
    assert parsed.columns["b"].dtype == np.float16 and parsed.columns["b"].shape == (2,)


def test_texts_for_a_model_logged_with_a_list_of_strings() -> None:
    texts = infer_signature(["a review", "another"])  # a str tensor of any number of rows
    assert texts == Signature(TensorSchema("str", (-1,)))
    sent = ["good film", "a much longer review than the example's"]
    payloads = [
        {"inputs": sent},
        {"instances": sent},
        {"inputs": {"text": sent}},
        {"dataframe_split": {"columns": ["text"], "data": [[text] for text in sent]}},
    ]
    one = enforce(texts.inputs, invocations({"inputs": "good film"}, texts).tensor).tensor
    assert one is not None and one.tolist() == ["good film"]
    expect_invalid({"inputs": "good film"}, "inputs", TENSOR)  # a string is one text only for a model of texts
    for payload in payloads:
        parsed = invocations(payload, texts)
        tensor = enforce(texts.inputs, parsed.tensor).tensor
        assert tensor is not None and tensor.tolist() == sent
    by_v2 = v2([v2_input("text", [2], "BYTES", ["good film", "bad"])], texts)
    tensor = enforce(texts.inputs, by_v2.tensor).tensor
    assert tensor is not None and tensor.tolist() == ["good film", "bad"]
    for wrong in ({"inputs": ["good film", 3]}, {"inputs": [1.5, 2.5]}, {"inputs": [["good film"]]}):
        with pytest.raises(SignatureMismatch) as caught:
            enforce(texts.inputs, invocations(wrong, texts).tensor)
        assert caught.value.code == "signature_mismatch" and "dtype" not in caught.value.message


@pytest.mark.parametrize(
    ("datatype", "dtype"),
    [
        ("BOOL", "bool"),
        ("UINT8", "uint8"),
        ("UINT16", "uint16"),
        ("UINT32", "uint32"),
        ("UINT64", "uint64"),
        ("INT8", "int8"),
        ("INT16", "int16"),
        ("INT32", "int32"),
        ("INT64", "int64"),
        ("FP16", "float16"),
        ("FP32", "float32"),
        ("FP64", "float64"),
        ("BYTES", "object"),
    ],
)
def test_every_v2_datatype(datatype: str, dtype: str) -> None:
    data = {"BOOL": [True, False], "BYTES": ["a", "b"]}.get(datatype, [1, 2])
    parsed = v2([v2_input("x", [2], datatype, data)], None)
    assert parsed.tensor is not None and parsed.tensor.dtype == np.dtype(dtype)
    assert parsed.tensor.tolist() == data
    # and back: the output's datatype is the input's
    assert v2_outputs(parsed.tensor) == [{"name": "predict", "shape": [2], "datatype": datatype, "data": data}]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (v2_input("x", [2, 2], "FP32", [1, 2, 3]), "x"),  # shape holds 4, data 3
        (v2_input("x", [3], "FP32", [[1, 2], [3, 4]]), "x"),
        (v2_input("x", [2], "FLOAT", [1, 2]), "x"),
        (v2_input("x", [2], "INT32", [1, 2.5]), "x"),
        (v2_input("x", [2], "INT8", [1, 200]), "x"),
        (v2_input("x", [1], "UINT64", [-1]), "x"),
        (v2_input("x", [1], "INT64", [2**63]), "x"),
        (v2_input("x", [1], "FP16", [1e6]), "x"),
        (v2_input("x", [2], "FP64", [1, "2"]), "x"),
        (v2_input("x", [2], "FP64", [1, None]), "x"),
        (v2_input("x", [2], "BOOL", [1, 0]), "x"),
        (v2_input("x", [2], "BYTES", ["a", 1]), "x"),
        (v2_input("x", [-1], "FP32", [1]), "x"),
        (v2_input("x", "2", "FP32", [1, 2]), "x"),
        ({"name": "x", "shape": [1], "datatype": "FP32"}, "x"),
        ({"name": "x", "shape": [1], "datatype": "FP32", "data": [1], "extra": 1}, "x"),
        ({"shape": [1], "datatype": "FP32", "data": [1]}, "inputs[0]"),
        ("x", "inputs[0]"),
    ],
)
def test_malformed_v2_inputs_name_the_input(item: Any, field: str) -> None:
    error = refused(v2, [item], None)
    assert error.code == "invalid_request" and error.details["field"] == field, error.details


def test_malformed_v2_requests() -> None:
    def bad(raw: bytes, field: str, signature: Signature | None = TABLE) -> None:
        error = refused(parse_v2_infer, raw, signature)
        assert error.code == "invalid_request" and error.details["field"] == field, error.details

    bad(b"\xff", "body")
    bad(b"[]", "body")
    bad(body({"inputs": []}), "inputs")
    bad(body({"inputs": [v2_input("x", [1], "FP32", [1])], "id": 5}), "id")
    bad(body({"inputs": [v2_input("x", [1], "FP32", [1])], "parameters": [1]}), "parameters")
    bad(body({"inputs": [v2_input("x", [1], "FP32", [1])], "model": "m"}), "model")
    bad(body({"inputs": [v2_input("x", [1], "FP32", [1]), v2_input("x", [1], "FP32", [1])]}), "x")
    # two tensors for a model that takes one
    bad(
        body({"inputs": [v2_input("x", [1, 2], "FP32", [1, 2]), v2_input("y", [1, 2], "FP32", [1, 2])]}),
        "inputs",
        TENSOR,
    )
    # a 0-d tensor has no rows
    bad(body({"inputs": [v2_input("x", [], "FP32", [1])]}), "x", TENSOR)
    # a table column that is not [n] or [n, 1]; columns of different lengths
    bad(body({"inputs": [v2_input("age", [1, 2], "FP32", [1, 2]), v2_input("n", [1], "INT64", [1])]}), "age")
    bad(body({"inputs": [v2_input("age", [2], "FP32", [1, 2]), v2_input("n", [1], "INT64", [1])]}), "n")


def test_a_v2_table_missing_a_column_is_refused_by_enforce_naming_it() -> None:
    parsed = v2([v2_input("age", [1], "FP64", [1]), v2_input("n", [1], "INT64", [1])])
    with pytest.raises(SignatureMismatch) as caught:
        enforce(TABLE.inputs, parsed.columns)
    assert caught.value.details["column"] == "score"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 4), min_size=1, max_size=3),
    st.sampled_from(["INT8", "INT64", "UINT16", "FP32", "FP64", "BOOL"]),
    st.data(),
)
def test_v2_round_trip_of_any_shape(shape: list[int], datatype: str, data: st.DataObject) -> None:
    """What a V2 client sends comes back as the same output: shape, datatype and flat data."""
    count = int(np.prod(shape))
    values: st.SearchStrategy[Any]
    if datatype == "BOOL":
        values = st.booleans()
    elif datatype.startswith("FP"):
        values = st.floats(-1e6, 1e6, width=32)
    else:
        info = np.iinfo(datatype.lower())
        values = st.integers(int(info.min), int(info.max))
    flat = data.draw(st.lists(values, min_size=count, max_size=count))
    parsed = v2([v2_input("x", shape, datatype, flat)], None)
    assert parsed.tensor is not None and parsed.rows == shape[0]
    (output,) = v2_outputs(parsed.tensor)
    assert output["shape"] == shape and output["datatype"] == datatype
    assert output["data"] == pytest.approx(flat) if datatype.startswith("FP") else output["data"] == flat


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "age": st.floats(allow_nan=False, allow_infinity=False),
                "score": st.floats(-1e6, 1e6, width=32),
                "city": st.text(max_size=10),
                "n": st.integers(-(2**63), 2**63 - 1),
            }
        ),
        min_size=1,
        max_size=5,
    )
)
def test_mlflow_records_and_split_agree(rows: list[dict[str, Any]]) -> None:
    records = invocations({"dataframe_records": rows})
    names = ["age", "score", "city", "n"]
    split = invocations(
        {"dataframe_split": {"columns": names, "data": [[row[name] for name in names] for row in rows]}}
    )
    assert enforced_columns(records) == enforced_columns(split)
    assert enforced_columns(records)["n"] == [row["n"] for row in rows]
    assert enforced_columns(records)["city"] == [row["city"] for row in rows]


# -- answers ---------------------------------------------------------------------------------------


def test_predictions_of_every_kind_as_json() -> None:
    assert predictions_to_json(np.array([1, 0])) == [1, 0]
    assert predictions_to_json(np.array([[0.5, np.nan], [np.inf, 1]])) == [[0.5, None], [None, 1.0]]
    assert predictions_to_json(np.array(["a", "b"])) == ["a", "b"]
    assert predictions_to_json(np.array(["a", None, b"\x00"], dtype=object)) == ["a", None, "AA=="]
    assert predictions_to_json(np.array(["2024-01-01T10:00", "NaT"], dtype="datetime64[s]")) == [
        "2024-01-01T10:00:00",
        None,
    ]
    assert predictions_to_json(np.float32(0.5)) == 0.5
    assert predictions_to_json(np.int64(3)) == 3
    assert predictions_to_json(7) == 7
    assert predictions_to_json((np.array([1]), np.array([0.5]))) == [[1], [0.5]]
    assert predictions_to_json({"label": np.array([1, 0]), "probabilities": np.array([[0.1, 0.9], [0.8, 0.2]])}) == {
        "label": [1, 0],
        "probabilities": [[0.1, 0.9], [0.8, 0.2]],
    }
    frame = pd.DataFrame(
        {"label": [1, 2], "p": [0.5, np.nan], "name": ["x", None], "k": pd.array([1, None], dtype="Int64")}
    )
    # as MLflow's scoring server: a frame is a list of records
    assert predictions_to_json(frame) == [
        {"label": 1, "p": 0.5, "name": "x", "k": 1},
        {"label": 2, "p": None, "name": None, "k": None},
    ]
    assert predictions_to_json(pd.Series([1, 2], name="y")) == [{"y": 1}, {"y": 2}]
    assert predictions_to_json(pd.Series([1, 2])) == [{"0": 1}, {"0": 2}]
    # the result is JSON all through
    assert orjson.loads(orjson.dumps(predictions_to_json(frame))) == predictions_to_json(frame)


def test_v2_outputs_of_every_kind() -> None:
    assert v2_outputs(np.array([[0.1, 0.9], [0.8, 0.2]])) == [
        {"name": "predict", "shape": [2, 2], "datatype": "FP64", "data": [0.1, 0.9, 0.8, 0.2]}
    ]
    assert v2_outputs(
        {"label": np.array([1, 0], dtype=np.int32), "probabilities": np.array([[0.5, 0.5]] * 2, dtype=np.float32)}
    ) == [
        {"name": "label", "shape": [2], "datatype": "INT32", "data": [1, 0]},
        {"name": "probabilities", "shape": [2, 2], "datatype": "FP32", "data": [0.5, 0.5, 0.5, 0.5]},
    ]
    assert v2_outputs(np.array(["cat", "dog"])) == [
        {"name": "predict", "shape": [2], "datatype": "BYTES", "data": ["cat", "dog"]}
    ]
    assert v2_outputs(pd.DataFrame({"a": [1, 2], "b": ["x", None]})) == [
        {"name": "a", "shape": [2], "datatype": "INT64", "data": [1, 2]},
        {"name": "b", "shape": [2], "datatype": "BYTES", "data": ["x", None]},
    ]
    assert v2_outputs(pd.Series([True, False], name="ok")) == [
        {"name": "ok", "shape": [2], "datatype": "BOOL", "data": [True, False]}
    ]
    assert v2_outputs((np.array([1]), [0.5])) == [
        {"name": "output_0", "shape": [1], "datatype": "INT64", "data": [1]},
        {"name": "output_1", "shape": [1], "datatype": "FP64", "data": [0.5]},
    ]
    assert v2_outputs(3.5) == [{"name": "predict", "shape": [], "datatype": "FP64", "data": [3.5]}]
    assert v2_outputs(np.array(["2024-01-01"], dtype="datetime64[D]")) == [
        {"name": "predict", "shape": [1], "datatype": "BYTES", "data": ["2024-01-01"]}
    ]


# -- splitting a batch ---------------------------------------------------------------------------


def test_split_predictions_of_every_kind() -> None:
    counts = [1, 3, 2]
    array = np.arange(12).reshape(6, 2)
    parts = split_predictions(array, counts)
    assert [p.tolist() for p in parts] == [[[0, 1]], [[2, 3], [4, 5], [6, 7]], [[8, 9], [10, 11]]]
    assert [len(p) for p in split_predictions(list(range(6)), counts)] == counts
    frame = pd.DataFrame({"a": range(6)}, index=list("uvwxyz"))
    frame_parts = split_predictions(frame, counts)
    assert [list(p.index) for p in frame_parts] == [["u"], ["v", "w", "x"], ["y", "z"]]
    series_parts = split_predictions(frame["a"], counts)
    assert [p.tolist() for p in series_parts] == [[0], [1, 2, 3], [4, 5]]
    dict_parts = split_predictions({"label": np.arange(6), "p": array}, counts)
    assert dict_parts[2]["label"].tolist() == [4, 5] and dict_parts[2]["p"].tolist() == [[8, 9], [10, 11]]
    tuple_parts = split_predictions((np.arange(6), array), counts)
    assert isinstance(tuple_parts[1], tuple) and tuple_parts[1][0].tolist() == [1, 2, 3]
    # each part answers as that request alone would have
    assert predictions_to_json(split_predictions(array, counts)[0]) == predictions_to_json(array[:1])


def test_split_predictions_refuses_what_is_not_one_row_per_input_row() -> None:
    with pytest.raises(ValueError, match="5 rows for a batch of 6"):
        split_predictions(np.arange(5), [3, 3])
    with pytest.raises(ValueError, match="cannot be batched"):
        split_predictions(np.array(1.0), [1, 1])
    with pytest.raises(ValueError, match="cannot be split"):
        split_predictions(np.float64(1.0), [1, 1])
    with pytest.raises(ValueError, match="cannot be split"):
        split_predictions("text", [1, 1])
    with pytest.raises(ValueError):
        split_predictions({"a": np.arange(6), "b": np.arange(5)}, [3, 3])
