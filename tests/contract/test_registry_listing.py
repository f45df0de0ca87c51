"""Listings read a whole page in a few queries (docs/registry.md): each model of a page keeps its
own tags and aliases, and each version its own aliases, tags and lineage, sorted by dataset name
and context, however many share a signature or datasets."""

from __future__ import annotations

from pathlib import Path

from tests.contract.test_registry import SIGNATURE, log_model_folder

from cairn.core.artifacts import DatasetSpec
from cairn.service.interface import Tracking


def test_a_page_of_models_keeps_each_ones_tags_and_aliases(tracking: Tracking, tmp_path: Path) -> None:
    run = tracking.create_run("reg")
    log_model_folder(tracking, run.id, tmp_path)
    for name, team in (("b-model", "nlp"), ("a-model", "vision"), ("c-model", "nlp")):
        tracking.register_model(f"runs:/{run.id}/model", name)
        tracking.set_model_tag(name, "team", team)
    tracking.register_model(f"runs:/{run.id}/model", "a-model")
    tracking.set_model_alias("a-model", "champion", 2)
    tracking.set_model_alias("a-model", "challenger", 1)
    tracking.set_model_alias("c-model", "champion", 1)
    page = tracking.list_models()
    assert [(m.name, m.tags, m.aliases, m.latest_version) for m in page.items] == [
        ("a-model", {"team": "vision"}, {"challenger": 1, "champion": 2}, 2),
        ("b-model", {"team": "nlp"}, {}, 1),
        ("c-model", {"team": "nlp"}, {"champion": 1}, 1),
    ]
    assert [m.name for m in tracking.list_models(tags={"team": "nlp"}).items] == ["b-model", "c-model"]


def test_a_page_of_versions_keeps_each_ones_lineage_tags_and_aliases(tracking: Tracking, tmp_path: Path) -> None:
    both, one = tracking.create_run("reg"), tracking.create_run("reg")
    specs = [
        DatasetSpec(name=n, digest=d * 64, source_uri=f"{n}.csv", source_kind="file")
        for n, d in (("zoo", "b"), ("iris", "a"))
    ]
    zoo, iris = (
        tracking.log_dataset(both.id, spec, context=context)
        for spec, context in zip(specs, ("validation", "train"), strict=True)
    )
    tracking.log_dataset(one.id, specs[0], context="train")
    for run in (both, one, both):
        log_model_folder(tracking, run.id, tmp_path)
        tracking.register_model(f"runs:/{run.id}/model", "m")
    tracking.set_model_version_tag("m", 2, "validated", "yes")
    tracking.set_model_alias("m", "champion", 3)
    tracking.set_model_alias("m", "b-alias", 3)
    items = tracking.list_model_versions("m").items
    assert [v.version for v in items] == [3, 2, 1]
    assert [[(d.name, d.context) for d in v.datasets] for v in items] == [
        [("iris", "train"), ("zoo", "validation")],
        [("zoo", "train")],
        [("iris", "train"), ("zoo", "validation")],
    ]
    assert items[0].datasets[0].dataset_version_id == iris.id and items[0].datasets[1].digest == zoo.digest
    assert [v.aliases for v in items] == [("b-alias", "champion"), (), ()]
    assert [v.tags for v in items] == [{}, {"validated": "yes"}, {}]
    assert all(v.signature == SIGNATURE for v in items)
    assert tracking.list_model_versions("m", limit=1, page_token="3").items == [items[1]]
