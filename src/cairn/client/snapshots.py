"""Two runs' snapshots side by side, and a run's code written back: ``cairn diff`` and
``cairn reproduce``.

A snapshot is a tree of path → digest (docs/reproducibility.md): comparing two is comparing
trees, and a file whose digest differs is read from the blob store for a unified diff.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from cairn.client.capture.tree import digest_of_tree
from cairn.core.artifacts import Snapshot, check_artifact_path
from cairn.core.diff import FileStatus, PackageChange, package_changes, snapshot_changes
from cairn.core.errors import DigestMismatch
from cairn.service.interface import Tracking

#: Text files larger than this are compared by digest only.
MAX_DIFF_BYTES = 512 * 1024
#: Lines of unified diff shown per file.
MAX_DIFF_LINES = 400


@dataclass(frozen=True)
class FileChange:
    path: str
    status: FileStatus
    #: The unified diff of a changed or added or removed text file; None for binary or large files.
    diff: str | None = None


@dataclass
class SnapshotDiff:
    kind: str
    before: Snapshot | None
    after: Snapshot | None
    files: list[FileChange] = field(default_factory=list)
    packages: list[PackageChange] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.files or self.packages)


def diff_snapshots(tracking: Tracking, before: Snapshot | None, after: Snapshot | None) -> SnapshotDiff:
    """What changed from ``before`` to ``after`` (either may be missing)."""
    either = after or before
    kind = either.kind if either is not None else "code"
    result = SnapshotDiff(kind, before, after)
    for path, status in snapshot_changes(before, after).items():
        if path.endswith(".ipynb"):
            result.files.append(FileChange(path, status, _notebook_diff(tracking, before, after, path)))
            continue
        old_text = _text(tracking, before, path) if status != "added" else ""
        new_text = _text(tracking, after, path) if status != "removed" else ""
        diff = None
        if old_text is not None and new_text is not None:
            lines = difflib.unified_diff(
                old_text.splitlines(keepends=True),
                new_text.splitlines(keepends=True),
                fromfile=f"a/{path}",
                tofile=f"b/{path}",
            )
            diff = "".join(list(lines)[:MAX_DIFF_LINES])
        result.files.append(FileChange(path, status, diff))
    if kind == "environment":
        result.packages = _package_changes(tracking, before, after)
    return result


def _notebook_diff(tracking: Tracking, before: Snapshot | None, after: Snapshot | None, path: str) -> str:
    """Cell by cell, sources and outputs (nbdime), instead of a diff of the JSON."""
    from cairn.client.capture.notebook import notebook_diff

    def read(snapshot: Snapshot | None) -> bytes | None:
        if snapshot is None or not any(f.path == path for f in snapshot.files):
            return None
        return b"".join(tracking.read_snapshot_file(snapshot.id, path))

    return notebook_diff(read(before), read(after))


def _text(tracking: Tracking, snapshot: Snapshot | None, path: str) -> str | None:
    if snapshot is None:
        return ""
    entry = next((f for f in snapshot.files if f.path == path), None)
    if entry is None or entry.size > MAX_DIFF_BYTES:
        return None
    data = b"".join(tracking.read_snapshot_file(snapshot.id, path))
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _requirements(tracking: Tracking, snapshot: Snapshot | None) -> str | None:
    if snapshot is None or not any(f.path == "requirements.txt" for f in snapshot.files):
        return None
    return b"".join(tracking.read_snapshot_file(snapshot.id, "requirements.txt")).decode("utf-8", "replace")


def _package_changes(tracking: Tracking, before: Snapshot | None, after: Snapshot | None) -> list[PackageChange]:
    return package_changes(_requirements(tracking, before), _requirements(tracking, after))


# -- reproduce ---------------------------------------------------------------------------------


@dataclass
class Reproduction:
    folder: Path
    files: int = 0
    #: The digest of the code tree as written, and whether it is the one captured.
    tree_digest: str | None = None
    matches_capture: bool | None = None
    requirements: Path | None = None
    #: The command to run, and the folder to run it in (inside ``folder``).
    argv: list[str] = field(default_factory=list)
    cwd: Path | None = None
    warnings: list[str] = field(default_factory=list)


def write_snapshot(tracking: Tracking, snapshot: Snapshot, folder: Path) -> int:
    """Write every file of ``snapshot`` under ``folder``, each checked against its digest."""
    for file in snapshot.files:
        target = folder / check_artifact_path(file.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        temporary = target.with_name(f".{target.name}.cairn-part")
        with open(temporary, "wb") as out:
            for chunk in tracking.read_snapshot_file(snapshot.id, file.path):
                hasher.update(chunk)
                out.write(chunk)
        if hasher.hexdigest() != file.digest:
            temporary.unlink()
            raise DigestMismatch(f"{file.path} of snapshot {snapshot.id[:12]} did not arrive intact")
        os.replace(temporary, target)
    return len(snapshot.files)


def reproduce(tracking: Tracking, run_id: str, folder: Path) -> Reproduction:
    """Write what made a run into ``folder``: its code tree, and under ``.cairn/`` the pinned
    requirements, the environment, the command and the run's params (``config.json``); work
    out the command to run it again."""
    snapshots = {s.kind: s for s in tracking.run_snapshots(run_id)}
    result = Reproduction(folder)
    folder.mkdir(parents=True, exist_ok=True)
    code = snapshots.get("code")
    if code is None:
        result.warnings.append(f"run {run_id} has no code snapshot (it ran with capture off, or outside Cairn 0.1)")
    else:
        result.files = write_snapshot(tracking, code, folder)
        # Each file was checked against its digest as it was written: no need to read them back.
        result.tree_digest = digest_of_tree((f.path, f.digest) for f in code.files)
        if code.meta.get("tree_digest"):
            result.matches_capture = result.tree_digest == code.meta["tree_digest"]
        skipped = code.meta.get("skipped") or []
        if skipped:
            result.warnings.append(
                f"{len(skipped)} large files were not captured and are missing, e.g. {skipped[0]}"
                + (f" (they are in commit {code.meta['commit']})" if code.meta.get("commit") else "")
            )
    extra = folder / ".cairn"
    extra.mkdir(parents=True, exist_ok=True)
    # The run's config as it logged it: what a script reading its params from a file needs.
    params = dict(tracking.get_run(run_id).params)
    (extra / "config.json").write_bytes(orjson.dumps(params, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    for kind in ("environment", "command"):
        if kind in snapshots:
            write_snapshot(tracking, snapshots[kind], extra)
    if (extra / "requirements.txt").exists():
        result.requirements = extra / "requirements.txt"
    if (extra / "command.json").exists():
        command = orjson.loads((extra / "command.json").read_bytes())
        result.argv, result.cwd = _command_here(command, code, folder)
    return result


def _command_here(command: dict[str, object], code: Snapshot | None, folder: Path) -> tuple[list[str], Path]:
    """The recorded command, pointed at the written tree: the working directory and the entry
    script move from the original code root to ``folder``."""
    argv = [str(a) for a in command.get("argv") or []]  # type: ignore[attr-defined]
    root = Path(str(code.meta.get("root"))) if code is not None and code.meta.get("root") else None
    cwd = Path(str(command.get("cwd") or "."))
    here = folder
    if root is not None and cwd.is_relative_to(root):
        here = folder / cwd.relative_to(root)
    if argv and root is not None:
        script = Path(argv[0])
        absolute = script if script.is_absolute() else cwd / script
        if absolute.is_relative_to(root):
            argv[0] = os.path.relpath(folder / absolute.relative_to(root), here)
    return ["python", *argv], here
