"""describe_dataset: digests anyone can recompute, folder manifests, schemas and small profiles."""

from __future__ import annotations

import hashlib
import io
import os
import sys
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cairn.client import dataset_arrays, datasets
from cairn.client.dataset_arrays import write_npz
from cairn.client.datasets import DatasetDescription, DatasetFile, describe_dataset, folder_manifest
from cairn.core.errors import InvalidArtifactPath, InvalidValue


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": [3, 1, 2, 2],
            "x": [0.5, np.nan, np.inf, -1.5],
            "s": ["b", None, "a", "b"],
            "when": pd.to_datetime(["2024-01-02", None, "2023-12-31", "2024-06-01"]),
            "cat": pd.Categorical(["lo", "hi", "lo", None]),
            "ok": [True, False, True, True],
            "mixed": [1, "x", None, 2.5],
        }
    )


# -- files ------------------------------------------------------------------------------------


def test_a_plain_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.bin"
    path.write_bytes(b"\x00\x01" * 1000)
    described = describe_dataset(str(path))
    assert described == DatasetDescription(
        digest=_sha(b"\x00\x01" * 1000),
        source_uri=path.resolve().as_uri(),
        source_kind="file",
        rows=None,
        columns=None,
        schema=[],
        profile={"bytes": 2000},
        files=[DatasetFile("notes.bin", _sha(b"\x00\x01" * 1000), 2000, path.resolve())],
    )
    assert described.source_uri.startswith("file:///")
    assert describe_dataset(path) == described  # a Path as well as a str


def test_a_file_larger_than_a_chunk_is_read_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(10_000)
    path = tmp_path / "blob"
    path.write_bytes(data)
    monkeypatch.setattr(datasets, "CHUNK_BYTES", 1024)
    assert datasets.file_digest(path) == (_sha(data), 10_000)


def test_a_csv_file_is_profiled(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text("id,score,label,flag\n1,0.5,cat,true\n2,,dog,false\n3,1.5,cat,true\n")
    described = describe_dataset(path)
    assert (described.rows, described.columns) == (3, 4)
    columns = described.profile["columns"]
    assert columns["id"].pop("quantiles") == pytest.approx(np.linspace(1, 3, 101).tolist())
    assert columns["score"].pop("quantiles") == pytest.approx(np.linspace(0.5, 1.5, 101).tolist())
    assert described.schema == [
        {"name": "id", "type": "integer"},
        {"name": "score", "type": "float"},
        {"name": "label", "type": "string"},
        {"name": "flag", "type": "boolean"},
    ]
    assert described.profile == {
        "bytes": path.stat().st_size,
        "columns": {
            "id": {"type": "integer", "nulls": 0, "min": 1.0, "max": 3.0, "mean": 2.0},
            "score": {"type": "float", "nulls": 1, "min": 0.5, "max": 1.5, "mean": 1.0},
            "label": {"type": "string", "nulls": 0, "distinct": 2, "top": [["cat", 2], ["dog", 1]]},
            "flag": {"type": "boolean", "nulls": 0, "distinct": 2, "top": [[True, 2], [False, 1]]},
        },
    }
    assert described.digest == _sha(path.read_bytes())


def test_tsv_and_jsonl_files(tmp_path: Path) -> None:
    tsv = tmp_path / "a.TSV"
    tsv.write_text("a\tb\n1\tx\n2\ty\n")
    assert describe_dataset(tsv).schema == [{"name": "a", "type": "integer"}, {"name": "b", "type": "string"}]
    jsonl = tmp_path / "b.jsonl"
    jsonl.write_text('{"a": 1, "b": "x"}\n{"a": 2, "b": null}\n')
    described = describe_dataset(jsonl)
    assert (described.rows, described.columns) == (2, 2)
    assert described.profile["columns"]["b"] == {"type": "string", "nulls": 1, "distinct": 1, "top": [["x", 1]]}


def test_a_parquet_file_takes_rows_and_schema_from_its_footer(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "data.parquet"
    pq.write_table(pa.Table.from_pandas(frame.drop(columns="mixed"), preserve_index=False), path)
    described = describe_dataset(path)
    assert (described.rows, described.columns) == (4, 6)
    assert described.schema == [
        {"name": "n", "type": "integer"},
        {"name": "x", "type": "float"},
        {"name": "s", "type": "string"},
        {"name": "when", "type": "datetime"},
        {"name": "cat", "type": "string"},
        {"name": "ok", "type": "boolean"},
    ]
    assert described.profile["columns"]["cat"]["top"] == [["lo", 2], ["hi", 1]]
    orjson.dumps(described.profile)


def test_big_tabular_files_are_profiled_on_their_first_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets, "SAMPLE_ABOVE_BYTES", 100)
    monkeypatch.setattr(datasets, "SAMPLE_ROWS", 10)
    csv = tmp_path / "big.csv"
    csv.write_text("v\n" + "".join(f"{i}\n" for i in range(50)))
    described = describe_dataset(csv)
    assert described.rows is None and described.columns == 1
    assert described.profile["sampled_rows"] == 10
    assert described.profile["columns"]["v"]["max"] == 9.0
    parquet = tmp_path / "big.parquet"
    pq.write_table(pa.table({"v": list(range(50))}), parquet, row_group_size=7)
    described = describe_dataset(parquet)
    assert described.rows == 50  # the footer knows
    assert described.profile["sampled_rows"] == 10
    assert described.profile["columns"]["v"]["max"] == 9.0
    small = tmp_path / "small.csv"
    small.write_text("v\n" + "".join(f"{i}\n" for i in range(5)) + "#" * 200 + "\n")
    assert "sampled_rows" not in describe_dataset(small).profile  # fewer rows than the sample: all read


def test_only_the_first_columns_are_profiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets, "PROFILE_COLUMNS", 2)
    path = tmp_path / "wide.csv"
    path.write_text("a,b,c\n1,2,3\n")
    described = describe_dataset(path)
    assert described.columns == 3 and len(described.schema) == 3
    assert list(described.profile["columns"]) == ["a", "b"]
    assert described.profile["truncated_columns"] is True
    parquet = tmp_path / "wide.parquet"
    pq.write_table(pa.table({"a": [1], "b": [2], "c": [3]}), parquet)
    assert describe_dataset(parquet).profile["truncated_columns"] is True


def test_a_tabular_file_that_does_not_parse_still_gets_a_digest(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    described = describe_dataset(path)
    assert described.digest == _sha(b"not parquet at all")
    assert described.rows is None and described.schema == []
    assert described.profile["bytes"] == 18 and described.profile["error"]
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert "error" in describe_dataset(empty).profile


def test_tabular_files_without_pandas_or_pyarrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in ("pandas", "pyarrow"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pandas", None)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    path = tmp_path / "t.csv"
    path.write_text("a\n1\n")
    described = describe_dataset(path)
    assert described.profile == {"bytes": 4} and described.rows is None and described.schema == []


def test_missing_paths_and_wrong_types_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidValue, match="no such file"):
        describe_dataset(tmp_path / "nope.csv")
    with pytest.raises(InvalidValue, match="path, a pandas DataFrame or arrays"):
        describe_dataset(b"/tmp")
    with pytest.raises(InvalidValue, match="path, a pandas DataFrame or arrays"):
        describe_dataset(None)


# -- folders ----------------------------------------------------------------------------------


def _tree(root: Path) -> None:
    (root / "b" / "deep").mkdir(parents=True)
    (root / "a.csv").write_text("x\n1\n")
    (root / "b" / "deep" / "z.parquet").write_bytes(b"PAR1")
    (root / "b" / ".hidden").write_bytes(b"secret")
    (root / "README").write_bytes(b"")


def test_a_folder_manifest_lists_every_file_sorted(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    _tree(root)
    described = describe_dataset(root)
    assert described.source_kind == "folder" and described.source_uri == root.resolve().as_uri()
    assert [f.path for f in described.files] == ["README", "a.csv", "b/.hidden", "b/deep/z.parquet"]
    assert described.files[2] == DatasetFile("b/.hidden", _sha(b"secret"), 6, (root / "b" / ".hidden").resolve())
    manifest = "".join(f"{f.path}\t{_sha((root / f.path).read_bytes())}\t{f.size}\n" for f in described.files)
    assert folder_manifest(described.files) == manifest.encode()
    assert described.digest == _sha(manifest.encode())
    assert (described.rows, described.columns, described.schema) == (None, None, [])
    assert described.profile == {"files": 4, "bytes": 4 + 4 + 6, "extensions": {"": 2, ".csv": 1, ".parquet": 1}}


def test_a_folder_digest_depends_on_content_and_names_only(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    _tree(one)
    _tree(two)
    assert describe_dataset(one).digest == describe_dataset(two).digest
    (two / "b" / ".hidden").write_bytes(b"Secret")
    assert describe_dataset(one).digest != describe_dataset(two).digest
    (two / "b" / ".hidden").write_bytes(b"secret")
    (two / "a.csv").rename(two / "a2.csv")
    assert describe_dataset(one).digest != describe_dataset(two).digest


def test_an_empty_folder(tmp_path: Path) -> None:
    described = describe_dataset(tmp_path)
    assert described.digest == _sha(b"") and described.files == []
    assert described.profile == {"files": 0, "bytes": 0, "extensions": {}}


def test_symlinks_inside_the_folder_are_followed(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    _tree(root)
    (root / "link.csv").symlink_to(root / "a.csv")
    (root / "alias").symlink_to(Path("b") / "deep")  # relative, to a folder
    described = describe_dataset(root)
    paths = {f.path: f for f in described.files}
    assert paths["link.csv"].digest == paths["a.csv"].digest
    assert paths["alias/z.parquet"].digest == paths["b/deep/z.parquet"].digest
    assert paths["link.csv"].local_path == (root / "a.csv").resolve()


def test_a_symlink_leading_outside_the_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    (tmp_path / "outside.txt").write_text("no")
    (root / "sub").mkdir()
    (root / "sub" / "escape").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(InvalidArtifactPath, match="outside the folder") as raised:
        describe_dataset(root)
    assert raised.value.code == "invalid_artifact_path"
    assert raised.value.details == {"path": "sub/escape"}


def test_a_symlinked_folder_leading_outside_or_in_a_loop_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    (root / "up").symlink_to(tmp_path)
    with pytest.raises(InvalidArtifactPath, match="outside"):
        describe_dataset(root)
    (root / "up").unlink()
    (root / "sub").mkdir()
    (root / "sub" / "loop").symlink_to(root)
    with pytest.raises(InvalidArtifactPath, match="folder it is in"):
        describe_dataset(root)


def test_a_dangling_symlink_inside_is_skipped_and_the_root_may_be_a_symlink(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    (root / "f").write_bytes(b"1")
    (root / "gone").symlink_to(root / "missing")
    (tmp_path / "alias").symlink_to(root)
    described = describe_dataset(tmp_path / "alias")
    assert [f.path for f in described.files] == ["f"]
    assert described.source_uri == root.resolve().as_uri()


def test_a_file_name_that_would_break_the_manifest_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a\tb").write_bytes(b"")
    with pytest.raises(InvalidArtifactPath, match="tab or line break"):
        describe_dataset(tmp_path)


# -- DataFrames -------------------------------------------------------------------------------


def test_a_dataframe_is_described_in_memory(frame: pd.DataFrame) -> None:
    described = describe_dataset(frame)
    assert (described.source_kind, described.source_uri, described.files) == ("dataframe", "", [])
    assert (described.rows, described.columns) == (4, 7)
    assert [c["type"] for c in described.schema] == [
        "integer",
        "float",
        "string",
        "datetime",
        "string",
        "boolean",
        "other",
    ]
    columns = described.profile["columns"]
    assert orjson.loads(orjson.dumps(described.profile)) == described.profile
    # Percentiles of the finite values: 1, 2, 2, 3 and -1.5, 0.5 (inf is left out).
    assert columns["n"].pop("quantiles") == pytest.approx(np.quantile([1, 2, 2, 3], np.linspace(0, 1, 101)).tolist())
    assert columns["x"].pop("quantiles") == pytest.approx(np.linspace(-1.5, 0.5, 101).tolist())
    assert columns["n"] == {"type": "integer", "nulls": 0, "min": 1.0, "max": 3.0, "mean": 2.0}
    assert columns["x"] == {"type": "float", "nulls": 1, "min": -1.5, "max": None, "mean": None}  # inf
    assert columns["s"] == {"type": "string", "nulls": 1, "distinct": 2, "top": [["b", 2], ["a", 1]]}
    assert columns["when"] == {
        "type": "datetime",
        "nulls": 1,
        "min": "2023-12-31T00:00:00",
        "max": "2024-06-01T00:00:00",
    }
    assert columns["cat"] == {"type": "string", "nulls": 1, "distinct": 2, "top": [["lo", 2], ["hi", 1]]}
    assert columns["ok"] == {"type": "boolean", "nulls": 0, "distinct": 2, "top": [[True, 3], [False, 1]]}
    assert columns["mixed"] == {"type": "other", "nulls": 1}
    assert orjson.loads(orjson.dumps(described.profile)) == described.profile


def test_a_dataframe_digest_names_its_content(frame: pd.DataFrame) -> None:
    digest = describe_dataset(frame).digest
    assert describe_dataset(frame.copy()).digest == digest
    changed = frame.copy()
    changed.loc[2, "n"] = 4
    assert describe_dataset(changed).digest != digest
    assert describe_dataset(frame.iloc[::-1]).digest != digest  # row order
    assert describe_dataset(frame[list(reversed(frame.columns))]).digest != digest  # column order
    assert describe_dataset(frame.astype({"n": "float64"})).digest != digest  # dtype
    assert describe_dataset(frame.rename(columns={"n": "m"})).digest != digest  # names
    assert describe_dataset(frame.set_axis([5, 6, 7, 8])).digest != digest  # index
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_profile_stays_small_and_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets, "PROFILE_COLUMNS", 3)
    frame = pd.DataFrame(
        [[f"v{i % 7}", i, np.int8(i), True, None] for i in range(30)], columns=["s", "a", "a", "b", "e"]
    )
    profile = describe_dataset(frame).profile
    assert list(profile["columns"]) == ["s", "a", "a.1"]
    assert profile["truncated_columns"] is True
    assert len(profile["columns"]["s"]["top"]) == 5
    assert profile["columns"]["s"]["top"][0] == ["v0", 5]  # ties broken by value
    assert describe_dataset(pd.DataFrame({"e": [None, None]})).profile["columns"]["e"] == {"type": "other", "nulls": 2}
    orjson.dumps(profile)


def test_numbers_in_an_object_column_and_an_empty_numeric_column() -> None:
    frame = pd.DataFrame({"o": pd.Series([1, None, 3], dtype=object), "f": [np.nan, np.nan, np.nan]})
    columns = describe_dataset(frame).profile["columns"]
    assert columns["o"].pop("quantiles") == pytest.approx(np.linspace(1, 3, 101).tolist())
    assert columns["o"] == {"type": "integer", "nulls": 1, "min": 1.0, "max": 3.0, "mean": 2.0}
    assert columns["f"] == {"type": "float", "nulls": 3, "min": None, "max": None, "mean": None}  # no quantiles


def test_numeric_columns_keep_101_ascending_percentiles() -> None:
    rng = np.random.default_rng(0)
    huge = np.array([2**63 - 1, -(2**63), 0, 1, 2, 3], dtype=np.int64)
    frame = pd.DataFrame({"v": rng.lognormal(0, 3, 10_001), "c": np.full(10_001, 7.25), "h": np.resize(huge, 10_001)})
    columns = describe_dataset(frame).profile["columns"]
    quantiles = columns["v"]["quantiles"]
    assert len(quantiles) == 101 and quantiles == sorted(quantiles)
    assert quantiles[0] == columns["v"]["min"] and quantiles[-1] == columns["v"]["max"]
    assert quantiles[50] == pytest.approx(float(np.median(frame["v"])))
    assert columns["c"]["quantiles"] == [7.25] * 101
    assert columns["h"]["quantiles"][0] == -(2.0**63) and columns["h"]["quantiles"][-1] == 2.0**63
    assert all(isinstance(q, float) for q in quantiles)


# -- arrays -----------------------------------------------------------------------------------


def _array_digest(named: list[tuple[str, str, np.ndarray]]) -> str:
    """The digest as docs/artifacts.md defines it, written out plainly: per array in order of
    name, the JSON line [name, dtype, shape] and then the values' bytes in C order."""
    digest = hashlib.sha256()
    for name, dtype, array in sorted(named, key=lambda item: item[0]):
        digest.update(f'["{name}","{dtype}",{orjson.dumps(list(array.shape)).decode()}]\n'.encode())
        digest.update(array.tobytes(order="C"))
    return digest.hexdigest()


@pytest.fixture
def xy() -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(24, dtype=np.float32).reshape(4, 3, 2)
    y = np.array([0, 1, 1, 2], dtype=np.int64)
    return x, y


def test_a_numpy_array_is_described_in_memory() -> None:
    x = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]])
    assert describe_dataset(x) == DatasetDescription(
        digest=_array_digest([("0", "<f8", x)]),
        source_uri="",
        source_kind="array",
        rows=3,
        columns=2,
        schema=[{"name": "0", "type": "float64", "shape": [2]}],
        profile={"bytes": 48, "arrays": {"0": {"bytes": 48, "nulls": 1, "min": 1.0, "max": 6.0, "mean": 3.4}}},
        files=[],
    )


def test_a_tuple_of_arrays_shares_its_rows(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    described = describe_dataset((x, y))
    assert (described.source_kind, described.rows, described.columns) == ("array", 4, 7)  # 3×2 + 1 a row
    assert described.schema == [
        {"name": "0", "type": "float32", "shape": [3, 2]},
        {"name": "1", "type": "int64", "shape": []},
    ]
    # x has three dimensions: no statistics, only its size; y is summed up.
    assert described.profile == {
        "bytes": 96 + 32,
        "arrays": {"0": {"bytes": 96}, "1": {"bytes": 32, "nulls": 0, "min": 0.0, "max": 2.0, "mean": 1.0}},
    }
    assert described.digest == _array_digest([("0", "<f4", x), ("1", "<i8", y)])
    assert describe_dataset([x, y]) == described  # a list is named like a tuple
    orjson.dumps(described.profile)


def test_a_dict_of_arrays_is_named_by_its_keys(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    described = describe_dataset({"y": y, "x": x})
    assert [a["name"] for a in described.schema] == ["y", "x"]  # in the order given
    assert described.digest == _array_digest([("x", "<f4", x), ("y", "<i8", y)])
    assert describe_dataset({"x": x, "y": y}).digest == described.digest  # ...but the digest goes by name
    assert describe_dataset({"0": x, "1": y}).digest == describe_dataset((x, y)).digest
    assert describe_dataset({"features": x, "y": y}).digest != described.digest


def test_a_torch_tensor_is_read_off_the_graph() -> None:
    torch = pytest.importorskip("torch", reason="torch is not installed")
    weights = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    labels = torch.tensor([1, 0])
    described = describe_dataset({"x": weights * 2, "y": labels})
    expected = describe_dataset({"x": np.array([[2.0, 4.0], [6.0, 8.0]], dtype=np.float32), "y": np.array([1, 0])})
    assert described == expected
    assert described.schema == [
        {"name": "x", "type": "float32", "shape": [2]},
        {"name": "y", "type": "int64", "shape": []},
    ]
    with pytest.raises(InvalidValue, match="'0' cannot be read as a numpy array") as refused:
        describe_dataset(torch.zeros(2, dtype=torch.bfloat16))
    assert refused.value.code == "invalid_value"


def test_an_array_digest_names_its_content(xy: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = xy
    digest = describe_dataset((x, y)).digest
    assert describe_dataset((x.copy(), y.copy())).digest == digest
    assert describe_dataset((np.asfortranarray(x), y)).digest == digest  # the values, not their layout
    wide = np.zeros((4, 6, 2), dtype=np.float32)
    wide[:, ::2] = x
    assert describe_dataset((wide[:, ::2], y)).digest == digest  # a strided view
    monkeypatch.setattr(dataset_arrays, "CHUNK_BYTES", 10)  # hashed a row at a time
    assert describe_dataset((wide[:, ::2], y)).digest == digest
    changed = x.copy()
    changed[3, 2, 1] = -1
    assert describe_dataset((changed, y)).digest != digest
    assert describe_dataset((x.astype(np.float64), y)).digest != digest  # dtype
    assert describe_dataset((x.reshape(4, 6), y)).digest != digest  # shape
    assert describe_dataset((x[::-1], y[::-1])).digest != digest  # row order
    assert describe_dataset((y, x)).digest != digest  # which array is which
    assert len(digest) == 64


def test_bad_arrays_are_refused(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    cases = [
        ((x, y[:3]), "same first dimension"),
        ({"x": x, "y": np.arange(5)}, "'x': 4, 'y': 5"),
        (np.array([{"a": 1}, None], dtype=object), "holds Python objects"),
        ((x, np.array(["a", 1, None, 2.0], dtype=object)), "'1' holds Python objects"),
        (np.array(3.0), "single value"),
        (np.float32(3.0), "single value"),
        ((x, np.array(7)), "'1' is a single value"),
        ((), "at least one array"),
        ([], "at least one array"),
        ({}, "at least one array"),
        ({1: x}, "non-empty strings, not 1"),
        ({"": x}, "non-empty strings"),
        ((x, 3), "'1' is of type int, not an array"),
        ((x, [0, 1, 1, 2]), "'1' is of type list"),
    ]
    for source, message in cases:
        with pytest.raises(InvalidValue, match=message) as refused:
            describe_dataset(source)
        assert refused.value.code == "invalid_value"


def test_array_profiles_stay_cheap_and_plain() -> None:
    images = np.zeros((600, 28, 28), dtype=np.uint8)
    assert describe_dataset(images).profile == {"bytes": 470_400, "arrays": {"0": {"bytes": 470_400}}}
    texts = np.array(["a", "bb"])
    assert describe_dataset(texts).profile == {"bytes": 16, "arrays": {"0": {"bytes": 16}}}  # not numeric
    empty = np.zeros((0, 3))
    assert describe_dataset(empty).rows == 0
    assert describe_dataset(empty).profile["arrays"]["0"] == {
        "bytes": 0,
        "nulls": 0,
        "min": None,
        "max": None,
        "mean": None,
    }
    huge = np.array([np.inf, 1.0, np.nan])
    assert describe_dataset(huge).profile["arrays"]["0"] == {
        "bytes": 24,
        "nulls": 1,
        "min": 1.0,
        "max": None,
        "mean": None,
    }
    orjson.dumps(describe_dataset(huge).profile)


def test_stored_arrays_are_an_npz_numpy_reads_back(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    first, again = io.BytesIO(), io.BytesIO()
    arrays = {"x": np.asfortranarray(x), "y": y, "file": np.array(["a", "b", "c", "d"])}
    write_npz(arrays, first)
    write_npz(dict(arrays), again)
    assert first.getvalue() == again.getvalue()  # the same arrays, the same bytes: one blob
    first.seek(0)
    with np.load(first, allow_pickle=False) as loaded:
        assert list(loaded) == ["x", "y", "file"]
        for name, array in arrays.items():
            assert loaded[name].dtype == array.dtype
            np.testing.assert_array_equal(loaded[name], array)
