"""What an upload sends (:mod:`cairn.service.uploads`), in process and over HTTP alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.blobs.base import CHUNK_SIZE
from cairn.core.errors import DigestMismatch
from cairn.service.uploads import file_chunks


def test_a_range_of_a_file_in_chunks_with_progress(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    data = bytes(range(256)) * (CHUNK_SIZE // 128)  # two chunks
    path.write_bytes(data)
    seen: list[int] = []
    chunks = list(file_chunks(path, 10, len(data) - 5, seen.append))
    assert b"".join(chunks) == data[10:-5]
    assert max(len(c) for c in chunks) <= CHUNK_SIZE
    assert seen == [sum(len(c) for c in chunks[: i + 1]) for i in range(len(chunks))]


def test_a_file_that_became_shorter_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_bytes(b"0123456789")
    with pytest.raises(DigestMismatch, match="became shorter") as raised:
        list(file_chunks(path, 0, 20))
    assert raised.value.details == {"path": str(path)}
