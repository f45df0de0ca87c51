"""``cairn.register_model``: a folder a run logged becomes a numbered version, embedded and
through a server."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from tests.contract.helpers import manifest_json

import cairn
from cairn.core.errors import ArtifactNotFound


def _model_folder(root: Path, weights: bytes) -> Path:
    """A folder as ``run.log_model`` leaves one: files and a cairn-model.json (docs/models.md)."""
    root.mkdir()
    (root / "model.bin").write_bytes(weights)
    (root / "cairn-model.json").write_bytes(manifest_json({"model.bin": hashlib.sha256(weights).hexdigest()}))
    return root


@pytest.mark.parametrize("mode", ["embedded", "http"])
def test_register_model_returns_numbered_versions(
    mode: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if mode == "http":
        monkeypatch.setenv("CAIRN_URI", request.getfixturevalue("server").url)
    uris = []
    for i in range(2):
        with cairn.init("digits", capture=False, flush_interval=0.05) as run:
            run.log_artifact(_model_folder(tmp_path / f"m{i}", f"w{i}".encode()), name="model")
        uris.append(f"runs:/{run.id}/model")
    first = cairn.register_model(uris[0], "digits-clf")
    second = cairn.register_model(uris[1], "digits-clf", description="retrained", tags={"data": "v2"})
    assert (first.version, second.version) == (1, 2)
    assert second.source == uris[1] and second.flavor == "python_function"
    assert second.description == "retrained" and second.tags == {"data": "v2"}
    with pytest.raises(ArtifactNotFound):
        cairn.register_model(uris[0].removesuffix("/model") + "/nothing", "digits-clf")
