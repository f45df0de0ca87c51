"""Python objects to artifact bytes: each encoder's output, its meta, its determinism, its refusals."""

from __future__ import annotations

import datetime as dt
import io
import struct
import sys
from typing import Any

import matplotlib
import numpy as np
import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from matplotlib.figure import Figure

from cairn.client.artifact_formats import (
    EncodedArtifact,
    encode_confusion_matrix,
    encode_dict,
    encode_figure,
    encode_table,
    encode_text,
)
from cairn.core.errors import InvalidValue

matplotlib.use("Agg")


def _read_parquet(artifact: EncodedArtifact) -> Any:
    return pq.read_table(io.BytesIO(artifact.data))


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": [1, 2, 3],
            "x": [0.5, np.nan, 2.0],
            "s": ["a", None, "c"],
            "when": pd.to_datetime(["2024-01-01 00:00", None, "2024-03-01 12:00"]),
            "cat": pd.Categorical(["lo", "hi", "lo"]),
            "ok": [True, False, True],
        },
        index=[10, 20, 30],
    )


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make optional libraries unimportable, as for a user who has not installed them."""

    def hide(*names: str) -> None:
        for name in list(sys.modules):
            if name.split(".")[0] in names:
                monkeypatch.delitem(sys.modules, name)
        for name in names:
            monkeypatch.setitem(sys.modules, name, None)

    return hide


# -- text and dicts ---------------------------------------------------------------------------


def test_text_is_utf8_with_its_length() -> None:
    artifact = encode_text("héllo\n")
    assert artifact == EncodedArtifact("héllo\n".encode(), ".txt", "text/plain; charset=utf-8", "text", {"chars": 6})


@pytest.mark.parametrize("bad", [b"bytes", 3, None])
def test_text_refuses_what_is_not_a_str(bad: Any) -> None:
    with pytest.raises(InvalidValue, match="takes a str"):
        encode_text(bad)


def test_text_refuses_lone_surrogates() -> None:
    with pytest.raises(InvalidValue, match="UTF-8"):
        encode_text("a\ud800b")


def test_dict_as_json_keeps_insertion_order_and_converts_numpy() -> None:
    data = {"z": np.int64(3), "a": {"arr": np.arange(3), "f": np.float32(0.5)}, "t": (1, 2), "b": np.bool_(True)}
    artifact = encode_dict(data)
    assert (artifact.suffix, artifact.media_type, artifact.kind) == (".json", "application/json", "dict")
    assert artifact.meta == {"format": "json", "keys": 4}
    assert artifact.data.startswith(b'{\n  "z": 3,\n  "a": {')
    assert orjson.loads(artifact.data) == {"z": 3, "a": {"arr": [0, 1, 2], "f": 0.5}, "t": [1, 2], "b": True}
    assert encode_dict(data).data == artifact.data


def test_dict_takes_any_mapping_and_object_arrays() -> None:
    from types import MappingProxyType

    artifact = encode_dict(MappingProxyType({"m": MappingProxyType({"k": np.array([1, "x"], dtype=object)})}))
    assert orjson.loads(artifact.data) == {"m": {"k": [1, "x"]}}


def test_dict_as_yaml() -> None:
    artifact = encode_dict({"b": 1, "a": [np.float64(0.5), "x"], "c": {"d": None}}, fmt="yaml")
    assert (artifact.suffix, artifact.media_type, artifact.meta) == (
        ".yaml",
        "application/yaml",
        {"format": "yaml", "keys": 3},
    )
    assert artifact.data.decode().splitlines()[0] == "b: 1"  # not sorted
    assert yaml.safe_load(artifact.data) == {"b": 1, "a": [0.5, "x"], "c": {"d": None}}


@pytest.mark.parametrize("fmt", ["json", "yaml"])
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({1: "a"}, "str"),
        ({"a": {2: "b"}}, "str"),
        ({"a": {1, 2}}, "set"),
        ({"a": object()}, "object"),
    ],
)
def test_dict_refuses_non_str_keys_and_unknown_values(data: Any, message: str, fmt: Any) -> None:
    with pytest.raises(InvalidValue, match=message):
        encode_dict(data, fmt=fmt)


def test_dict_refuses_a_non_mapping_or_an_unknown_format() -> None:
    with pytest.raises(InvalidValue, match="mapping"):
        encode_dict([("a", 1)])  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="fmt"):
        encode_dict({"a": 1}, fmt="toml")  # type: ignore[arg-type]


# -- figures ----------------------------------------------------------------------------------


def _png_header_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_figure_is_a_png_with_its_pixel_size() -> None:
    figure = Figure(figsize=(4, 3))
    axes = figure.add_subplot()
    axes.plot([0, 1, 2], [1, 0, 1])
    artifact = encode_figure(figure, dpi=50)
    assert (artifact.suffix, artifact.media_type, artifact.kind) == (".png", "image/png", "figure")
    width, height = _png_header_size(artifact.data)
    assert artifact.meta == {"width_px": width, "height_px": height}
    assert 100 <= width <= 220 and 75 <= height <= 170  # about 4x3 inches at 50 dpi, trimmed
    # An Axes stands for its figure; a higher dpi gives more pixels; the figure stays usable.
    assert encode_figure(axes, dpi=50).meta == artifact.meta
    assert encode_figure(axes, dpi=100).meta["width_px"] > width
    assert figure.dpi == 100 and figure.axes == [axes]


def test_figure_from_an_axes_in_a_subfigure_draws_the_whole_figure() -> None:
    figure = Figure(figsize=(4, 2))
    subfigures = figure.subfigures(1, 2)
    assert isinstance(subfigures, np.ndarray)
    axes = subfigures[0].add_subplot()
    assert encode_figure(axes, dpi=40).meta == encode_figure(figure, dpi=40).meta


@pytest.mark.parametrize("bad", ["figure.png", None, object()])
def test_figure_refuses_what_is_not_a_figure(bad: Any) -> None:
    with pytest.raises(InvalidValue, match="Figure or Axes"):
        encode_figure(bad)


@pytest.mark.parametrize("dpi", [0, -5, float("nan"), "100", True])
def test_figure_refuses_a_bad_dpi(dpi: Any) -> None:
    with pytest.raises(InvalidValue, match="dpi"):
        encode_figure(Figure(), dpi=dpi)


# -- tables -----------------------------------------------------------------------------------


def test_frame_as_parquet_round_trips_without_the_index(frame: pd.DataFrame) -> None:
    artifact = encode_table(frame)
    assert (artifact.suffix, artifact.media_type, artifact.kind) == (
        ".parquet",
        "application/vnd.apache.parquet",
        "table",
    )
    assert artifact.meta == {
        "rows": 3,
        "columns": [
            {"name": "n", "type": "integer"},
            {"name": "x", "type": "float"},
            {"name": "s", "type": "string"},
            {"name": "when", "type": "datetime"},
            {"name": "cat", "type": "string"},
            {"name": "ok", "type": "boolean"},
        ],
        "format": "parquet",
    }
    table = _read_parquet(artifact)
    assert table.column_names == ["n", "x", "s", "when", "cat", "ok"]
    assert b"pandas" in table.schema.metadata  # so that pandas reads its own dtypes back
    back = table.to_pandas()
    assert back["n"].tolist() == [1, 2, 3]
    assert back["s"].tolist()[0] == "a" and pd.isna(back["s"].tolist()[1])
    assert back["when"].iloc[2] == pd.Timestamp("2024-03-01 12:00")
    assert back["cat"].tolist() == ["lo", "hi", "lo"]
    assert isinstance(back["cat"].dtype, pd.CategoricalDtype)
    nullable = pd.DataFrame({"i": pd.array([1, None], dtype="Int64")})
    assert str(_read_parquet(encode_table(nullable)).to_pandas()["i"].dtype) == "Int64"


def test_the_same_table_gives_the_same_bytes(frame: pd.DataFrame) -> None:
    assert encode_table(frame).data == encode_table(frame.copy()).data
    rows = [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert encode_table(rows).data == encode_table([dict(r) for r in rows]).data
    assert encode_table(frame).data != encode_table(frame.assign(n=[1, 2, 4])).data


def test_csv_is_forced_with_fmt_csv(frame: pd.DataFrame) -> None:
    artifact = encode_table(frame, fmt="csv")
    assert (artifact.suffix, artifact.media_type, artifact.meta["format"]) == (".csv", "text/csv", "csv")
    assert artifact.meta["columns"] == encode_table(frame).meta["columns"]
    lines = artifact.data.decode().splitlines()
    assert lines[0] == "n,x,s,when,cat,ok"
    assert lines[2] == "2,,,,hi,False"
    assert pd.read_csv(io.BytesIO(artifact.data))["n"].tolist() == [1, 2, 3]


def test_list_of_dicts() -> None:
    rows = [
        {"id": 1, "score": 0.5, "name": "a", "at": dt.datetime(2024, 1, 1), "ok": True},
        {"id": 2, "score": 1, "name": None, "at": None, "ok": np.bool_(False)},
    ]
    artifact = encode_table(rows)
    assert artifact.meta == {
        "rows": 2,
        "columns": [
            {"name": "id", "type": "integer"},
            {"name": "score", "type": "float"},
            {"name": "name", "type": "string"},
            {"name": "at", "type": "datetime"},
            {"name": "ok", "type": "boolean"},
        ],
        "format": "parquet",
    }
    assert _read_parquet(artifact).to_pylist() == [
        {"id": 1, "score": 0.5, "name": "a", "at": dt.datetime(2024, 1, 1), "ok": True},
        {"id": 2, "score": 1.0, "name": None, "at": None, "ok": False},
    ]
    # columns= orders the columns of dict rows.
    assert _read_parquet(encode_table(rows, columns=["ok", "id", "score", "name", "at"])).column_names[0] == "ok"


def test_list_of_lists_with_columns_as_csv() -> None:
    artifact = encode_table([[1, "a,b", None], (2, "c", 3.5)], columns=["n", "text", "v"], fmt="csv")
    assert artifact.data == b'n,text,v\n1,"a,b",\n2,c,3.5\n'
    assert [c["type"] for c in artifact.meta["columns"]] == ["integer", "string", "float"]
    assert artifact.meta["rows"] == 2


def test_numpy_array_and_empty_tables() -> None:
    artifact = encode_table(np.arange(6).reshape(3, 2), columns=["a", "b"])
    assert _read_parquet(artifact).to_pydict() == {"a": [0, 2, 4], "b": [1, 3, 5]}
    empty = encode_table([], columns=["a"])
    assert empty.meta == {"rows": 0, "columns": [{"name": "a", "type": "other"}], "format": "parquet"}
    assert _read_parquet(empty).num_rows == 0
    assert encode_table([], fmt="csv").meta["rows"] == 0


@pytest.mark.parametrize(
    ("data", "columns", "message"),
    [
        ([{"a": 1}, {"a": 2, "b": 3}], None, r"row 1 .*unexpected \['b'\]"),
        ([{"a": 1, "b": 2}, {"a": 2}], None, r"row 1 .*missing \['b'\]"),
        ([{"a": 1}], ["a", "b"], r"row 0 .*missing \['b'\]"),
        ([[1, 2], [3]], ["a", "b"], "row 1 has 1 values for 2 columns"),
        ([[1, 2]], None, "need columns"),
        ([{"a": 1}, [1]], None, "all be dicts or lists"),
        ([[1], {"a": 1}], ["a"], "all be dicts or lists"),
        ([1, 2], None, "dict or a list"),
        ([[1, 2]], ["a", "a"], "unique"),
        ([[1]], [3], "strings"),
        ([{1: "x"}], None, "strings"),
        ("a,b\n1,2", None, "list of rows"),
        ({"a": [1, 2]}, None, "list of rows"),
        (42, None, "list of rows"),
        (np.arange(3), ["a"], "2 dimensions"),
        ([{}], None, "no columns"),
    ],
)
def test_table_refuses_ragged_or_mistyped_rows(data: Any, columns: Any, message: str) -> None:
    for fmt in ("auto", "csv"):
        with pytest.raises(InvalidValue, match=message):
            encode_table(data, columns=columns, fmt=fmt)


def test_table_refuses_bad_options_and_unstorable_columns(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidValue, match="fmt"):
        encode_table(frame, fmt="xlsx")  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="rename the DataFrame"):
        encode_table(frame, columns=["a"])
    with pytest.raises(InvalidValue, match="column 'v' cannot be written as Parquet"):
        encode_table([{"v": 1}, {"v": "x"}])
    assert encode_table([{"v": 1}, {"v": "x"}], fmt="csv").meta["columns"] == [{"name": "v", "type": "other"}]
    with pytest.raises(InvalidValue, match="fmt='csv'"):
        encode_table(pd.DataFrame({"o": [1, "x"]}))
    with pytest.raises(InvalidValue, match="unique"):
        encode_table(pd.DataFrame([[1, 2]], columns=[1, "1"]))


def test_frame_with_non_str_column_names() -> None:
    artifact = encode_table(pd.DataFrame([[1, 2.5]]))
    assert _read_parquet(artifact).column_names == ["0", "1"]


def test_rows_without_pandas_or_pyarrow_are_csv(without: Any) -> None:
    without("pandas", "pyarrow")
    artifact = encode_table([{"a": 1, "b": dt.date(2024, 5, 1)}, {"a": float("nan"), "b": None}])
    assert artifact.data == b"a,b\n1,2024-05-01\n,\n"
    assert artifact.meta == {
        "rows": 2,
        "columns": [{"name": "a", "type": "integer"}, {"name": "b", "type": "datetime"}],
        "format": "csv",
    }
    with pytest.raises(InvalidValue, match="needs pyarrow"):
        encode_table([{"a": 1}], fmt="parquet")


def test_frame_without_pyarrow_is_csv(frame: pd.DataFrame, without: Any) -> None:
    without("pyarrow")
    artifact = encode_table(frame)
    assert artifact.suffix == ".csv" and artifact.meta["format"] == "csv"
    assert artifact.data.decode().splitlines()[0] == "n,x,s,when,cat,ok"


# -- confusion matrices -----------------------------------------------------------------------


def test_confusion_matrix_counts_true_rows_by_predicted_columns() -> None:
    artifact = encode_confusion_matrix(["cat", "dog", "dog", "bird"], ["cat", "cat", "dog", "bird"])
    assert (artifact.suffix, artifact.media_type, artifact.kind) == (".json", "application/json", "confusion_matrix")
    assert orjson.loads(artifact.data) == {
        "labels": ["bird", "cat", "dog"],
        "matrix": [[1, 0, 0], [0, 1, 0], [0, 1, 1]],
        "total": 4,
    }
    assert artifact.meta == {"labels": ["bird", "cat", "dog"], "accuracy": 0.75}


def test_confusion_matrix_takes_numpy_and_pandas_and_keeps_labels_native() -> None:
    artifact = encode_confusion_matrix(np.array([0, 1, 2, 2], dtype=np.int32), pd.Series([0, 2, 2, 1]))
    body = orjson.loads(artifact.data)
    assert body["labels"] == [0, 1, 2] and all(type(label) is int for label in artifact.meta["labels"])
    assert body["matrix"] == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    assert encode_confusion_matrix(np.array([0, 1]), [0, 1]).data == encode_confusion_matrix([0, 1], [0, 1]).data


def test_confusion_matrix_with_given_labels_and_empty_input() -> None:
    artifact = encode_confusion_matrix([1, 1], [1, 0], labels=[1, 0, 2])
    assert orjson.loads(artifact.data)["matrix"] == [[1, 1, 0], [0, 0, 0], [0, 0, 0]]
    assert artifact.meta == {"labels": [1, 0, 2], "accuracy": 0.5}
    empty = encode_confusion_matrix([], [], labels=["a"])
    assert orjson.loads(empty.data) == {"labels": ["a"], "matrix": [[0]], "total": 0}
    assert empty.meta == {"labels": ["a"], "accuracy": None}


@pytest.mark.parametrize(
    ("y_true", "y_pred", "labels", "message"),
    [
        ([0, 1], [0], None, "y_true has 2 values but y_pred has 1"),
        ([0, 1], [0, 2], [0, 1], r"not in labels: \[2\]"),
        ([0, "a"], [0, "a"], None, "mix strings and numbers"),
        ([0, None], [0, 1], None, "missing value"),
        ([0.0, float("nan")], [0.0, 1.0], None, "non-finite"),
        ([0, 1], [0, 1], [0, 1, 1], "repeated"),
        ("ab", "ab", None, "sequence of labels"),
        ([[0, 1]], [[0, 1]], None, "strings or numbers"),
    ],
)
def test_confusion_matrix_refusals(y_true: Any, y_pred: Any, labels: Any, message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        encode_confusion_matrix(y_true, y_pred, labels=labels)
