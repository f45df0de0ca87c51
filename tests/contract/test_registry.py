"""The model registry through the tracking interface: models, versions, aliases, stages, tags,
lineage, and the bad input around them (docs/registry.md)."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import orjson
import pytest
from tests.contract.helpers import SIGNATURE, author_of, manifest_json

import cairn
from cairn.core.artifacts import ArtifactEntry, DatasetSpec
from cairn.core.errors import (
    AliasNotFound,
    AlreadyExists,
    ArtifactNotFound,
    InvalidManifest,
    InvalidModelUri,
    InvalidPageToken,
    InvalidValue,
    ModelNotFound,
    ModelTampered,
    ModelVersionNotFound,
    RunNotActive,
    RunNotFound,
)
from cairn.core.registry import Stage
from cairn.service.interface import Tracking

UNKNOWN = "0" * 32


def _upload(tracking: Tracking, tmp_path: Path, content: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(content).hexdigest()
    if tracking.missing_blobs([digest]):
        source = tmp_path / f"blob-{digest[:12]}"
        source.write_bytes(content)
        tracking.upload_file(source, digest, len(content))
    return digest, len(content)


def log_model_folder(
    tracking: Tracking,
    run_id: str,
    tmp_path: Path,
    *,
    path: str = "model",
    weights: bytes = b"weights v1",
    manifest: bytes | None = None,
) -> None:
    """A tiny logged model: a weights file and its cairn-model.json (``manifest`` replaces it)."""
    digest, size = _upload(tracking, tmp_path, weights)
    if manifest is None:
        manifest = manifest_json({"model.bin": digest})
    manifest_digest, manifest_size = _upload(tracking, tmp_path, manifest)
    tracking.log_artifacts(
        run_id,
        [
            ArtifactEntry(f"{path}/model.bin", digest, size),
            ArtifactEntry(f"{path}/cairn-model.json", manifest_digest, manifest_size),
        ],
    )


def trained_run(tracking: Tracking, tmp_path: Path, weights: bytes = b"weights v1") -> str:
    run = tracking.create_run("reg", config={"lr": 0.1})
    log_model_folder(tracking, run.id, tmp_path, weights=weights)
    return run.id


# -- versions -----------------------------------------------------------------------------------


def test_register_versions_one_two_three(tracking: Tracking, tmp_path: Path) -> None:
    runs = [trained_run(tracking, tmp_path, f"weights {i}".encode()) for i in range(3)]
    versions = [tracking.register_model(f"runs:/{run_id}/model", "digits") for run_id in runs]
    assert [v.version for v in versions] == [1, 2, 3]
    first = versions[0]
    assert first.model == "digits" and first.run_id == runs[0] and first.source_path == "model"
    assert first.source == f"runs:/{runs[0]}/model"
    assert first.flavor == "python_function" and first.signature == SIGNATURE
    assert first.stage is Stage.NONE and first.aliases == () and first.tags == {}
    assert first.created_by == author_of(tracking)
    assert len(first.tree_digest) == 64
    # Different weights, different trees.
    assert len({v.tree_digest for v in versions}) == 3

    assert tracking.get_model_version("digits", 2) == versions[1]
    model = tracking.get_model("digits")
    assert model.latest_version == 3 and model.aliases == {}
    page = tracking.list_model_versions("digits", limit=2)
    assert [v.version for v in page.items] == [3, 2] and page.next_page_token is not None
    rest = tracking.list_model_versions("digits", limit=2, page_token=page.next_page_token)
    assert [v.version for v in rest.items] == [1] and rest.next_page_token is None
    assert tracking.run_model_versions(runs[1]) == [versions[1]]


def test_same_folder_twice_has_the_same_tree_digest(tracking: Tracking, tmp_path: Path) -> None:
    run_id = trained_run(tracking, tmp_path)
    one = tracking.register_model(f"runs:/{run_id}/model", "a")
    two = tracking.register_model(f"runs:/{run_id}/model", "b")
    assert one.tree_digest == two.tree_digest and one.version == two.version == 1


def test_lineage_both_ways(tracking: Tracking, tmp_path: Path) -> None:
    run = tracking.create_run("reg")
    data = tracking.log_dataset(
        run.id, DatasetSpec(name="iris", digest="a" * 64, source_uri="iris.csv", source_kind="file")
    )
    log_model_folder(tracking, run.id, tmp_path)
    version = tracking.register_model(f"runs:/{run.id}/model", "iris-model")
    assert [(d.dataset_version_id, d.name, d.digest, d.context) for d in version.datasets] == [
        (data.id, "iris", "a" * 64, "train")
    ]
    assert tracking.dataset_model_versions(data.id) == [version]
    assert tracking.dataset_model_versions(UNKNOWN) == []


def test_concurrent_registrations_get_distinct_numbers(tracking: Tracking, tmp_path: Path) -> None:
    run_id = trained_run(tracking, tmp_path)
    numbers: list[int] = []
    errors: list[BaseException] = []

    def register() -> None:
        try:
            for _ in range(4):
                numbers.append(tracking.register_model(f"runs:/{run_id}/model", "busy").version)
        except BaseException as exc:  # reported below, from the main thread
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, 17))
    assert tracking.get_model("busy").latest_version == 16


# -- aliases ------------------------------------------------------------------------------------


def test_concurrent_first_settings_of_an_alias_all_land(tracking: Tracking, tmp_path: Path) -> None:
    run_id = trained_run(tracking, tmp_path)
    for _ in range(2):
        tracking.register_model(f"runs:/{run_id}/model", "raced")
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def point(version: int) -> None:
        try:
            start.wait()
            tracking.set_model_alias("raced", "champion", version)
        except BaseException as exc:  # reported below, from the main thread
            errors.append(exc)

    threads = [threading.Thread(target=point, args=(1 + n % 2,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    history = tracking.model_alias_history("raced", "champion")
    # One setting, then five moves, each from the version the one before it left.
    assert [m.from_version for m in history][0] is None and len(history) == 6
    assert all(a.to_version == b.from_version for a, b in zip(history, history[1:], strict=False))
    assert tracking.get_model_version_by_alias("raced", "champion").version == history[-1].to_version


def test_aliases_move_are_unique_and_kept_in_history(tracking: Tracking, tmp_path: Path) -> None:
    run_id = trained_run(tracking, tmp_path)
    for _ in range(3):
        tracking.register_model(f"runs:/{run_id}/model", "m")
    set_ = tracking.set_model_alias("m", "champion", 1)
    assert (set_.alias, set_.from_version, set_.to_version) == ("champion", None, 1)
    tracking.set_model_alias("m", "challenger", 2)
    moved = tracking.set_model_alias("m", "champion", 3)
    assert (moved.from_version, moved.to_version, moved.moved_by) == (1, 3, author_of(tracking))

    assert tracking.get_model_version_by_alias("m", "champion").version == 3
    assert tracking.get_model("m").aliases == {"challenger": 2, "champion": 3}
    # One version per alias: version 1 lost it.
    assert tracking.get_model_version("m", 1).aliases == ()
    assert tracking.get_model_version("m", 3).aliases == ("champion",)
    both = tracking.set_model_alias("m", "challenger", 3)
    assert both.from_version == 2
    assert tracking.get_model_version("m", 3).aliases == ("challenger", "champion")

    removed = tracking.delete_model_alias("m", "challenger")
    assert (removed.from_version, removed.to_version) == (3, None)
    with pytest.raises(AliasNotFound) as missing:
        tracking.get_model_version_by_alias("m", "challenger")
    assert missing.value.details == {"model": "m", "alias": "challenger"}
    with pytest.raises(AliasNotFound):
        tracking.delete_model_alias("m", "challenger")

    history = tracking.model_alias_history("m")
    assert [(h.alias, h.from_version, h.to_version) for h in history] == [
        ("champion", None, 1),
        ("challenger", None, 2),
        ("champion", 1, 3),
        ("challenger", 2, 3),
        ("challenger", 3, None),
    ]
    assert all(a.moved_at < b.moved_at for a, b in zip(history, history[1:], strict=False))
    assert [h.to_version for h in tracking.model_alias_history("m", "champion")] == [1, 3]


@pytest.mark.parametrize("alias", ["Champion", "1st", "best model", "a/b", "v3", "latest", "", "x" * 251, "naïve"])
def test_bad_alias_is_refused(tracking: Tracking, tmp_path: Path, alias: str) -> None:
    run_id = trained_run(tracking, tmp_path)
    tracking.register_model(f"runs:/{run_id}/model", "m")
    with pytest.raises(InvalidValue):
        tracking.set_model_alias("m", alias, 1)
    assert tracking.model_alias_history("m") == []


def test_alias_to_unknown_version_or_model(tracking: Tracking, tmp_path: Path) -> None:
    run_id = trained_run(tracking, tmp_path)
    tracking.register_model(f"runs:/{run_id}/model", "m")
    with pytest.raises(ModelVersionNotFound) as unknown:
        tracking.set_model_alias("m", "champion", 2)
    assert unknown.value.details == {"model": "m", "version": 2}
    with pytest.raises(ModelNotFound) as no_model:
        tracking.set_model_alias("nope", "champion", 1)
    assert no_model.value.details == {"model": "nope"}
    assert tracking.model_alias_history("m") == []


# -- stages and tags ----------------------------------------------------------------------------


def test_stages_with_and_without_archiving(tracking: Tracking, tmp_path: Path) -> None:
    run_id = trained_run(tracking, tmp_path)
    for _ in range(3):
        tracking.register_model(f"runs:/{run_id}/model", "m")
    assert tracking.transition_stage("m", 1, "Production").stage is Stage.PRODUCTION
    assert tracking.transition_stage("m", 2, "production").stage is Stage.PRODUCTION
    assert tracking.get_model_version("m", 1).stage is Stage.PRODUCTION
    third = tracking.transition_stage("m", 3, "Production", archive_existing=True)
    assert third.stage is Stage.PRODUCTION
    assert [tracking.get_model_version("m", n).stage for n in (1, 2)] == [Stage.ARCHIVED, Stage.ARCHIVED]
    with pytest.raises(InvalidValue):
        tracking.transition_stage("m", 3, "Prod")
    with pytest.raises(ModelVersionNotFound):
        tracking.transition_stage("m", 9, "Staging")


def test_model_and_version_tags_and_descriptions(tracking: Tracking, tmp_path: Path) -> None:
    run_id = trained_run(tracking, tmp_path)
    created = tracking.create_model("m", "classifies digits", {"team": "vision"})
    assert created.tags == {"team": "vision"} and created.latest_version is None
    with pytest.raises(AlreadyExists):
        tracking.create_model("m")
    tracking.register_model(f"runs:/{run_id}/model", "m", description="first", tags={"data/split": "a"})
    tracking.set_model_tag("m", "owner", "ana")
    tracking.delete_model_tag("m", "team")
    tracking.set_model_version_tag("m", 1, "validated", "yes")
    tracking.delete_model_version_tag("m", 1, "data/split")
    assert tracking.get_model("m").tags == {"owner": "ana"}
    version = tracking.get_model_version("m", 1)
    assert version.tags == {"validated": "yes"} and version.description == "first"
    assert tracking.update_model_version("m", 1, "better").description == "better"
    assert tracking.update_model("m", "new words").description == "new words"


def test_list_and_search_models(tracking: Tracking) -> None:
    for name, team in (("digits-a", "vision"), ("digits-b", "nlp"), ("text", "nlp")):
        tracking.create_model(name, tags={"team": team})
    assert [m.name for m in tracking.list_models().items] == ["digits-a", "digits-b", "text"]
    assert [m.name for m in tracking.list_models(name_like="digits%").items] == ["digits-a", "digits-b"]
    assert [m.name for m in tracking.list_models(tags={"team": "nlp"}).items] == ["digits-b", "text"]
    first = tracking.list_models(limit=2)
    assert len(first.items) == 2 and first.next_page_token is not None
    assert [m.name for m in tracking.list_models(limit=2, page_token=first.next_page_token).items] == ["text"]
    with pytest.raises(InvalidPageToken):
        tracking.list_models(page_token="not hex")
    with pytest.raises(InvalidPageToken):
        tracking.list_model_versions("text", page_token="x1")
    # Tokens are what the server makes, and no more: short, ASCII digits, lowercase hex.
    for token in ("²", "1\n", "1" * 20):
        with pytest.raises(InvalidPageToken):
            tracking.list_model_versions("text", page_token=token)
    for token in (first.next_page_token.upper(), "", "a" * 2001, first.next_page_token + "\n"):
        with pytest.raises(InvalidPageToken):
            tracking.list_models(limit=2, page_token=token)


def test_delete_model_takes_its_versions(tracking: Tracking, tmp_path: Path) -> None:
    run_id = trained_run(tracking, tmp_path)
    tracking.register_model(f"runs:/{run_id}/model", "m")
    tracking.set_model_alias("m", "champion", 1)
    tracking.delete_model("m")
    with pytest.raises(ModelNotFound):
        tracking.get_model("m")
    assert tracking.run_model_versions(run_id) == []
    # The name is free again, and numbering starts over.
    assert tracking.register_model(f"runs:/{run_id}/model", "m").version == 1


def test_a_version_s_folder_is_read_by_number_or_alias_with_its_tree_digest(tracking: Tracking, tmp_path: Path) -> None:
    first = tracking.register_model(f"runs:/{trained_run(tracking, tmp_path)}/model", "m")
    second = tracking.register_model(f"runs:/{trained_run(tracking, tmp_path, b'weights v2')}/model", "m")
    tracking.set_model_alias("m", "champion", 2)

    def read(**which: object) -> tuple[tuple[str, int, str, str, str], dict[str, bytes]]:
        folder = tracking.read_model_version_folder("m", **which)  # type: ignore[arg-type]
        files = {file.path: b"".join(chunks) for file, chunks in folder.files}
        return (folder.model, folder.version, folder.run_id, folder.source_path, folder.tree_digest), files

    where, files = read(version=1)
    assert where == ("m", 1, first.run_id, "model", first.tree_digest)
    assert files["model/model.bin"] == b"weights v1"
    assert set(files) == {"model/cairn-model.json", "model/model.bin"}
    where, files = read(alias="champion")
    assert where == ("m", 2, second.run_id, "model", second.tree_digest)
    assert files["model/model.bin"] == b"weights v2"

    # Each file comes with the digest and size its artifact records.
    listed = {(a.path, a.digest, a.size) for a in tracking.list_artifacts(second.run_id)}
    folder = tracking.read_model_version_folder("m", 2)
    assert {(file.path, file.digest, len(b"".join(chunks))) for file, chunks in folder.files} == listed


def test_a_version_s_folder_that_is_not_there(tracking: Tracking, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound):
        tracking.read_model_version_folder("nope", 1)
    tracking.register_model(f"runs:/{trained_run(tracking, tmp_path)}/model", "m")
    with pytest.raises(ModelVersionNotFound):
        tracking.read_model_version_folder("m", 2)
    with pytest.raises(AliasNotFound):
        tracking.read_model_version_folder("m", alias="champion")
    for bad in ({}, {"version": 1, "alias": "champion"}, {"version": 0}, {"alias": "Bad Alias"}):
        with pytest.raises(InvalidValue):
            tracking.read_model_version_folder("m", **bad)  # type: ignore[arg-type]


# -- bad input ----------------------------------------------------------------------------------


def test_unknown_model_and_version(tracking: Tracking, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound):
        tracking.get_model("nope")
    with pytest.raises(ModelNotFound):
        tracking.list_model_versions("nope")
    run_id = trained_run(tracking, tmp_path)
    tracking.register_model(f"runs:/{run_id}/model", "m")
    with pytest.raises(ModelVersionNotFound):
        tracking.get_model_version("m", 2)
    with pytest.raises(InvalidValue):
        tracking.get_model_version("m", 0)


@pytest.mark.parametrize("name", ["", "  ", "a/b", "a@b", "tab\there", "x" * 251])
def test_bad_model_name_is_refused(tracking: Tracking, tmp_path: Path, name: str) -> None:
    run_id = trained_run(tracking, tmp_path)
    with pytest.raises(InvalidValue):
        tracking.register_model(f"runs:/{run_id}/model", name)
    assert tracking.list_models().items == []


def test_registering_what_is_no_logged_model(tracking: Tracking, tmp_path: Path) -> None:
    run = tracking.create_run("reg")
    with pytest.raises(ArtifactNotFound) as no_manifest:
        tracking.register_model(f"runs:/{run.id}/model", "m")
    assert no_manifest.value.details == {"run_id": run.id, "path": "model/cairn-model.json"}
    # A folder without a manifest is no model either.
    digest, size = _upload(tracking, tmp_path, b"just a file")
    tracking.log_artifacts(run.id, [ArtifactEntry("plain/file.txt", digest, size)])
    with pytest.raises(ArtifactNotFound):
        tracking.register_model(f"runs:/{run.id}/plain", "m")
    with pytest.raises(RunNotFound):
        tracking.register_model(f"runs:/{UNKNOWN}/model", "m")
    for source in ("models:/m/1", "runs:/", f"runs:/{run.id}", f"runs:/{run.id}/", "s3://b/model"):
        with pytest.raises(InvalidModelUri):
            tracking.register_model(source, "m")
    with pytest.raises(cairn.InvalidInput):
        tracking.register_model(f"runs:/{run.id}/../x", "m")
    # Nothing was half-made.
    assert tracking.list_models().items == []


def test_manifest_that_does_not_match_its_folder(tracking: Tracking, tmp_path: Path) -> None:
    run = tracking.create_run("reg")
    log_model_folder(tracking, run.id, tmp_path, manifest=manifest_json({"model.bin": "b" * 64}, signature=None))
    with pytest.raises(ModelTampered) as mismatch:
        tracking.register_model(f"runs:/{run.id}/model", "m")
    assert mismatch.value.details["path"] == "model.bin"
    # A file the manifest does not list would be refused at load, so it is refused here.
    log_model_folder(tracking, run.id, tmp_path, path="extra", manifest=manifest_json({}))
    with pytest.raises(ModelTampered, match="not listed") as unlisted:
        tracking.register_model(f"runs:/{run.id}/extra", "m")
    assert unlisted.value.details["path"] == "model.bin"
    assert tracking.list_models().items == []


@pytest.mark.parametrize(
    ("manifest", "field"),
    [
        (orjson.dumps({**orjson.loads(manifest_json({})), "format": 2}), "format"),
        (orjson.dumps({"format": 1, "flavor": "sklearn", "signature": None, "files": {}}), "loader"),
        (orjson.dumps({**orjson.loads(manifest_json({})), "signature": {"inputs": 3}}), "signature"),
        (orjson.dumps([1, 2]), None),
        (b"{not json", None),
    ],
)
def test_a_manifest_is_read_by_the_packaging_parser(
    tracking: Tracking, tmp_path: Path, manifest: bytes, field: str | None
) -> None:
    run = tracking.create_run("reg")
    log_model_folder(tracking, run.id, tmp_path, manifest=manifest)
    with pytest.raises(InvalidManifest) as refused:
        tracking.register_model(f"runs:/{run.id}/model", "m")
    assert refused.value.code == "invalid_manifest"
    assert refused.value.details["source"] == f"runs:/{run.id}/model"
    if field is not None:
        assert refused.value.details["field"] == field
    assert tracking.list_models().items == []


def test_deleted_run(tracking: Tracking, tmp_path: Path) -> None:
    run_id = trained_run(tracking, tmp_path)
    before = tracking.register_model(f"runs:/{run_id}/model", "m")
    tracking.delete_run(run_id)
    with pytest.raises(RunNotActive):
        tracking.register_model(f"runs:/{run_id}/model", "m")
    # What was registered before stays.
    assert tracking.get_model_version("m", 1) == before
    assert tracking.get_model("m").latest_version == 1
