"""The one exception to SHA-256 dataset digests: a dataset logged through MLflow's API keeps
MLflow's own digest (source kind ``mlflow``), and is otherwise held to the same rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.core.artifacts import MLFLOW_SOURCE_KIND, DatasetFileEntry, DatasetSpec
from cairn.core.errors import InvalidInput, InvalidValue
from cairn.core.limits import MAX_INT64
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.store.base import MetadataStore
from cairn.store.sql import SqlStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    if request.param == "sqlite":
        sqlite = SqlStore(str(tmp_path / "mlflow-datasets.db"))
        yield sqlite
        sqlite.close()
    else:
        yield request.getfixturevalue("postgres_store")


def _spec(**changes: object) -> DatasetSpec:
    fields: dict[str, object] = {
        "name": "iris",
        "digest": "a1b2c3d4",
        "source_uri": "",
        "source_kind": MLFLOW_SOURCE_KIND,
    }
    return DatasetSpec(**{**fields, **changes})  # type: ignore[arg-type]


def test_mlflow_s_digest_is_kept_and_names_one_version(store: MetadataStore) -> None:
    tracking = TrackingService(store, Principal("tester"))
    first, second = tracking.create_run("p"), tracking.create_run("p")
    one = tracking.log_dataset(first.id, _spec(rows=3), "train")
    again = tracking.log_dataset(second.id, _spec(rows=3), "eval")
    assert (one.id, one.digest, one.source_kind) == (again.id, "a1b2c3d4", "mlflow")
    assert [(i.dataset.id, i.context) for i in tracking.run_inputs(second.id)] == [(one.id, "eval")]


def test_an_mlflow_dataset_is_refused_what_any_dataset_is(store: MetadataStore) -> None:
    tracking = TrackingService(store, Principal("tester"))
    run = tracking.create_run("p")
    bad = [
        _spec(digest=""),
        _spec(digest="f" * 65),
        _spec(rows=MAX_INT64 + 1),
        _spec(columns=-1),
        _spec(files=[DatasetFileEntry("a.csv", "0" * 64, 1)]),
        _spec(source_kind="carrier-pigeon"),  # nor does a made-up kind get MLflow's digests
    ]
    for spec in bad:
        with pytest.raises(InvalidInput):
            tracking.log_dataset(run.id, spec)
    with pytest.raises(InvalidValue, match="SHA-256"):
        tracking.log_dataset(run.id, _spec(source_kind="file"))
    assert tracking.run_inputs(run.id) == []
