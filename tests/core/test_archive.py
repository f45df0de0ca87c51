"""The archive format of a run's folder: what the server writes, the reader reads back member by
member with each digest, and other tar readers (Python's, GNU tar) unpack; what is not a plain
file under an artifact path with a digest is refused, and a stream cut short is Unavailable."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.core.archive import (
    DIGEST_KEYWORD,
    END_OF_ARCHIVE,
    ArchivedFile,
    archive_length,
    member_header,
    member_padding,
    read_archive,
)
from cairn.core.errors import DigestMismatch, InvalidArtifactPath, Unavailable


def archive_of(files: dict[str, bytes]) -> bytes:
    """The archive the server sends for ``files``, built the way its route builds it."""
    parts = []
    for path, data in files.items():
        parts += [member_header(ArchivedFile(path, _sha(data), len(data)), 1_700_000_000), data]
        parts.append(member_padding(len(data)))
    return b"".join(parts) + END_OF_ARCHIVE


def read_all(chunks: Iterable[bytes]) -> list[tuple[ArchivedFile, bytes]]:
    return [(file, b"".join(data)) for file, data in read_archive(chunks, source="the test")]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pieces(raw: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


FILES = {
    "model/cairn-model.json": b'{"format": 1}\n',
    "model/model.skops": bytes(range(256)) * 40,
    "model/empty.txt": b"",
    "model/" + "deep/" * 30 + "weights – ünïcode.bin": b"\x00" * 513,  # past ustar's 100-character names
}


@pytest.mark.parametrize("piece", [1, 7, 512, 1 << 20], ids=lambda n: f"{n}-byte chunks")
def test_every_member_comes_back_with_its_path_digest_and_bytes(piece: int) -> None:
    raw = archive_of(FILES)
    got = read_all(_pieces(raw, piece))
    assert [(f.path, f.digest, f.size, data) for f, data in got] == [
        (path, _sha(data), len(data), data) for path, data in FILES.items()
    ]


def test_the_length_is_known_before_the_first_byte() -> None:
    headers = [(member_header(ArchivedFile(p, _sha(d), len(d))), len(d)) for p, d in FILES.items()]
    assert archive_length(headers) == len(archive_of(FILES))


def test_python_s_tarfile_reads_it_with_each_digest_as_a_pax_keyword() -> None:
    with tarfile.open(fileobj=io.BytesIO(archive_of(FILES)), mode="r:") as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == list(FILES)
        assert [m.pax_headers[DIGEST_KEYWORD] for m in members] == [_sha(d) for d in FILES.values()]
        assert archive.extractfile(members[1]).read() == FILES["model/model.skops"]  # type: ignore[union-attr]


@pytest.mark.skipif(shutil.which("tar") is None, reason="no tar program on this machine")
def test_tar_unpacks_it(tmp_path: Path) -> None:
    (tmp_path / "a.tar").write_bytes(archive_of(FILES))
    done = subprocess.run(["tar", "-xf", "a.tar"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    for path, data in FILES.items():
        assert (tmp_path / path).read_bytes() == data


def _tar(member: tarfile.TarInfo, data: bytes = b"", *, digest: str | None = "0" * 64) -> bytes:
    if digest is not None:
        member.pax_headers = {DIGEST_KEYWORD: digest}
    member.size = len(data) if member.isreg() else 0
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(member, io.BytesIO(data) if member.isreg() else None)
    return buffer.getvalue()


def _symlink(name: str) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return member


@pytest.mark.parametrize(
    ("raw", "error", "match"),
    [
        (_tar(tarfile.TarInfo("../outside"), b"x"), InvalidArtifactPath, "inside the run"),
        (_tar(tarfile.TarInfo("/etc/cron.d/x"), b"x"), InvalidArtifactPath, "absolute"),
        (_tar(_symlink("model/link")), InvalidArtifactPath, "not a regular file"),
        (_tar(tarfile.TarInfo("model/x"), b"x", digest=None), DigestMismatch, "carries no CAIRN.sha256"),
        (_tar(tarfile.TarInfo("model/x"), b"x", digest="not hex"), DigestMismatch, "carries no CAIRN.sha256"),
    ],
    ids=["parent segment", "absolute path", "symlink", "no digest", "bad digest"],
)
def test_a_member_that_is_not_a_plain_file_of_the_run_with_a_digest_is_refused(
    raw: bytes, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        read_all([raw])


@pytest.mark.parametrize("cut", [100, 700, 2000, -1100])
def test_an_archive_cut_short_is_unavailable(cut: int) -> None:
    raw = archive_of(FILES)
    with pytest.raises(Unavailable, match="cut off or malformed"):
        read_all([raw[:cut]])


def test_bytes_that_are_no_tar_are_unavailable() -> None:
    with pytest.raises(Unavailable, match="the test"):
        read_all([b'{"error": "not a tar"}' * 40])


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_.\- ]{0,20}(/[a-z0-9_][a-z0-9_.\- ]{0,20}){0,3}", fullmatch=True),
        st.binary(max_size=2000),
        max_size=6,
    ),
    st.integers(1, 3000),
)
def test_any_folder_round_trips(files: dict[str, bytes], piece: int) -> None:
    got = read_all(_pieces(archive_of(files), piece))
    assert {f.path: (f.digest, data) for f, data in got} == {p: (_sha(d), d) for p, d in files.items()}
