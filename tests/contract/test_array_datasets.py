"""Arrays as a dataset through the tracking interface: every backend keeps the kind "array",
the schema with each array's row shape, the profile and the stored .npz, one version per digest."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cairn.client.dataset_arrays import named_arrays, write_npz
from cairn.client.datasets import describe_arrays, file_digest
from cairn.core.artifacts import DatasetFileEntry
from cairn.service.interface import Tracking


def test_an_array_dataset_keeps_its_kind_schema_profile_and_npz(tracking: Tracking, tmp_path: Path) -> None:
    arrays = named_arrays({"x": np.ones((6, 4, 4), dtype=np.float32), "y": np.arange(6)})
    described = describe_arrays(arrays)
    npz = tmp_path / "data.npz"
    write_npz(arrays, npz)
    digest, size = file_digest(npz)
    if tracking.missing_blobs([digest]):
        tracking.upload_file(npz, digest, size)
    spec = described.spec("digits", files=[DatasetFileEntry("data.npz", digest, size)], stored=True)
    first, second = tracking.create_run("arrays"), tracking.create_run("arrays")
    logged = tracking.log_dataset(first.id, spec, "train")
    assert tracking.log_dataset(second.id, spec, "validation").id == logged.id  # one version

    [version] = tracking.list_datasets("arrays", "digits")
    assert (version.id, version.digest, version.source_kind, version.source_uri) == (
        logged.id,
        described.digest,
        "array",
        "",
    )
    assert (version.rows, version.columns, version.stored, version.file_count) == (6, 17, True, 1)
    assert version.schema == [
        {"name": "x", "type": "float32", "shape": [4, 4]},
        {"name": "y", "type": "int64", "shape": []},
    ]
    assert version.profile == described.profile
    assert sorted(version.used_by) == sorted([(first.id, "train"), (second.id, "validation")])
    [used] = tracking.run_inputs(first.id)
    assert (used.dataset.source_kind, used.dataset.schema, used.context) == ("array", version.schema, "train")
