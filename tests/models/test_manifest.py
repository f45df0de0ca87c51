"""The manifest (cairn-model.json) reads back what was written, and refuses anything else by
field; model URIs parse in one place."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cairn.core.errors import InvalidManifest, InvalidModelUri, InvalidValue
from cairn.core.models.manifest import Framework, ModelManifest, manifest_to_json, parse_manifest
from cairn.core.models.signature import ColumnSchema, ColumnSpec, Signature, TensorSchema
from cairn.core.models.uri import (
    RegisteredModelUri,
    RunModelUri,
    check_alias,
    check_model_name,
    parse_model_uri,
    parse_runs_uri,
)

DIGEST = "a" * 64
MANIFEST = ModelManifest(
    flavor="sklearn",
    loader={"format": "skops", "file": "model.skops"},
    framework=Framework("scikit-learn", "1.5.2"),
    python="3.11.7",
    requirements=("scikit-learn==1.5.2", "skops==0.10.0"),
    signature=Signature(ColumnSchema((ColumnSpec("x", "double"),)), TensorSchema("int64", (-1,))),
    input_example="input_example.json",
    files={"model.skops": DIGEST, "input_example.json": "b" * 64},
)


def wire() -> dict[str, Any]:
    return json.loads(manifest_to_json(MANIFEST))


def test_a_manifest_reads_back_as_written_with_its_keys_in_order() -> None:
    raw = manifest_to_json(MANIFEST)
    assert parse_manifest(raw) == MANIFEST
    assert list(json.loads(raw)) == [
        "format",
        "flavor",
        "loader",
        "framework",
        "python",
        "requirements",
        "signature",
        "input_example",
        "files",
    ]
    assert json.loads(raw)["format"] == 1
    assert not MANIFEST.runs_code_on_load


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m.update(format=2), "format"),
        (lambda m: m.update(format=True), "format"),
        (lambda m: m.pop("files"), "files"),
        (lambda m: m.update(extra=1), "extra"),
        (lambda m: m.update(flavor=""), "flavor"),
        (lambda m: m.update(loader={}), "loader"),
        (lambda m: m.update(loader={"format": "pickle", "runs_code_on_load": "yes"}), "loader.runs_code_on_load"),
        (lambda m: m.update(framework={"name": "x"}), "framework"),
        (lambda m: m.update(requirements="numpy"), "requirements"),
        (lambda m: m.update(signature={"inputs": 3, "outputs": None}), "signature"),
        (lambda m: m.update(input_example="elsewhere.json"), "input_example"),
        (lambda m: m["files"].update({"../escape": DIGEST}), "files"),
        (lambda m: m["files"].update({"cairn-model.json": DIGEST}), "files"),
        (lambda m: m["files"].update({"model.skops": "A" * 64}), "files"),
    ],
)
def test_a_bad_manifest_is_refused_naming_the_field(change: Any, field: str) -> None:
    data = wire()
    change(data)
    with pytest.raises(InvalidManifest) as caught:
        parse_manifest(json.dumps(data))
    assert caught.value.code == "invalid_manifest"
    assert caught.value.details["field"] == field


@pytest.mark.parametrize("raw", [b"", b"[]", b"{", b"\xff"])
def test_what_is_not_a_json_object_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidManifest):
        parse_manifest(raw)


def test_model_uris() -> None:
    assert parse_model_uri("runs:/0123abcd/model") == RunModelUri("0123abcd", "model")
    assert parse_model_uri("runs:/0123abcd/models/iris") == RunModelUri("0123abcd", "models/iris")
    assert parse_model_uri("models:/iris/3") == RegisteredModelUri("iris", version=3)
    assert parse_model_uri("models:/iris@champion") == RegisteredModelUri("iris", alias="champion")
    for uri in ("runs:/abc/model", "models:/iris/3", "models:/iris@champion"):
        assert str(parse_model_uri(uri)) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "runs:/abc",
        "runs://model",
        "runs:/abc/../x",
        "models:/iris",
        "models:/iris/0",
        "models:/iris/latest",
        "models:/iris@Champion",
        "models:/iris@",
        "models:/@champion",
        "models:/iris@v3",
        "models:/iris@latest",
        "models:/iris@a@b",
        "models:/  /1",
        "models:/ir\tis/1",
        f"models:/iris/{2**63}",
        "models:/" + "x" * 251 + "/1",
        "runs:/abc/" + "x" * 1000,
        "s3://bucket/model",
        "",
        3,
    ],
)
def test_bad_model_uris_are_refused(uri: object) -> None:
    with pytest.raises(InvalidModelUri):
        parse_model_uri(uri)


def test_names_a_uri_can_carry_are_the_names_the_registry_takes() -> None:
    """One rule each: the registry checks names and aliases with the URI's own functions."""
    assert check_model_name("iris v2 (eu)") == "iris v2 (eu)"
    assert parse_model_uri("models:/iris v2 (eu)@prod-eu") == RegisteredModelUri("iris v2 (eu)", alias="prod-eu")
    for alias in ("v3", "latest", "Champion"):
        with pytest.raises(InvalidValue):
            check_alias(alias)
    assert parse_runs_uri("runs:/abc/model") == RunModelUri("abc", "model")
    with pytest.raises(InvalidModelUri, match="registered from"):
        parse_runs_uri("models:/iris/1")
