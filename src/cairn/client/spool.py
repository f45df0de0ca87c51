"""A folder of writes that could not be sent yet, so that they survive the process.

Each writer has its own folder under ``CAIRN_HOME/spool/``: an ``owner.json`` naming the process
and the store it writes to, and one JSON file per pending write, named by its sequence number so
that replay keeps the order (a run's "finished" must not overtake its last metrics). Files are
written to a temporary name and renamed, so a crash never leaves half a write behind.
``cairn sync`` replays the folders of processes that are gone, and those a writer released when
``run.finish()`` gave up waiting for the store (``"released": true`` in ``owner.json``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from cairn.core.clock import now_ms


@dataclass(frozen=True, slots=True)
class SpooledWrite:
    seq: int
    run_id: str
    kind: str  # metrics | params | tags | update
    payload: Any
    path: Path
    #: Bytes kept beside the JSON entry (a spooled prediction log's Parquet file), if any.
    attachment: Path | None = None


class Spool:
    def __init__(self, folder: Path, *, uri: str) -> None:
        self.folder = folder
        self.uri = uri

    @classmethod
    def for_writer(cls, root: Path, writer_id: str, uri: str) -> Spool:
        return cls(root / writer_id, uri=uri)

    def _ensure_owner(self) -> None:
        owner = self.folder / "owner.json"
        if not owner.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(owner, {"pid": os.getpid(), "uri": self.uri, "created_at": now_ms()})

    def put(self, seq: int, run_id: str, kind: str, payload: Any) -> None:
        """Persist one write. Raises OSError if the disk refuses it."""
        self._ensure_owner()
        _write_atomically(
            self.folder / f"{seq:015d}.json", {"seq": seq, "run_id": run_id, "kind": kind, "payload": payload}
        )

    def put_file(self, seq: int, run_id: str, kind: str, payload: Any, data: bytes, *, suffix: str) -> None:
        """Persist one write whose bytes are too many for JSON: the bytes first, then the entry
        that names them, so an entry never names bytes that are not there. Raises OSError."""
        self._ensure_owner()
        name = f"{seq:015d}{suffix}"
        _write_bytes_atomically(self.folder / name, data)
        _write_atomically(
            self.folder / f"{seq:015d}.json",
            {"seq": seq, "run_id": run_id, "kind": kind, "payload": payload, "attachment": name},
        )

    def pending(self) -> Iterator[SpooledWrite]:
        """Spooled writes, oldest first."""
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("[0-9]*.json")):
            data = orjson.loads(path.read_bytes())
            attached = data.get("attachment")
            attachment = None if attached is None else self.folder / attached
            yield SpooledWrite(data["seq"], data["run_id"], data["kind"], data["payload"], path, attachment)

    def __len__(self) -> int:
        return len(list(self.folder.glob("[0-9]*.json"))) if self.folder.is_dir() else 0

    def remove(self, write: SpooledWrite) -> None:
        write.path.unlink(missing_ok=True)
        if write.attachment is not None:
            write.attachment.unlink(missing_ok=True)

    def release(self) -> None:
        """Mark the spool as no longer sent by its process (its writer stopped), so that
        ``cairn sync`` sends it even while that process still runs."""
        owner = self.folder / "owner.json"
        if owner.is_file():
            data = orjson.loads(owner.read_bytes())
            _write_atomically(owner, {**data, "released": True})

    def remove_if_empty(self) -> None:
        if self.folder.is_dir() and not any(self.folder.glob("[0-9]*.json")):
            (self.folder / "owner.json").unlink(missing_ok=True)
            for left in self.folder.glob("[0-9]*.*"):  # bytes whose entry was never written (a crash)
                left.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                self.folder.rmdir()


@dataclass(frozen=True, slots=True)
class Orphan:
    """A spool folder whose owning process has exited, or whose writer gave up and released it."""

    spool: Spool
    pid: int


def orphaned_spools(root: Path) -> list[Orphan]:
    """Spools left by processes that are no longer running, or released by their writer, oldest
    first: a run started offline reaches the store before the nested runs started after it."""
    found: list[tuple[int, str, Orphan]] = []
    if not root.is_dir():
        return []
    for folder in sorted(root.iterdir()):
        owner = folder / "owner.json"
        if not owner.is_file():
            continue
        try:
            data = orjson.loads(owner.read_bytes())
        except orjson.JSONDecodeError:
            continue
        if not data.get("released") and _process_alive(data["pid"]):
            continue  # its writer is still sending (this process's too)
        orphan = Orphan(Spool(folder, uri=data["uri"]), data["pid"])
        found.append((int(data.get("created_at") or 0), folder.name, orphan))
    return [orphan for *_, orphan in sorted(found, key=lambda entry: entry[:2])]


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_atomically(path: Path, data: Any) -> None:
    _write_bytes_atomically(path, orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY))


def _write_bytes_atomically(path: Path, data: bytes) -> None:
    # A name of this thread's own: a monitor's two upload threads may spool at the same moment,
    # and both write owner.json first; one shared temporary would lose one of their files.
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
