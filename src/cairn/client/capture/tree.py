"""The code a run was started from, as a tree of files: what ``cairn reproduce`` writes back.

Inside a git work tree the tree is every tracked file as it is on disk (staged and unstaged
changes included, deleted files left out) plus every untracked file git does not ignore, and
the commit, branch and remote go along as metadata. Outside git, or without a git executable,
it is the entry script's folder, without what a ``.gitignore`` there, hidden folders, virtual
environments and caches hold (and at most 20,000 files, should that folder be a home directory).

Never captured: untracked files that usually hold credentials (``.env``, ``*.pem``, ``id_rsa``
...; outside git, any such file: nothing is tracked there), symbolic links and special files,
submodules and repositories nested in the work tree, unreadable files. Files over
``max_file_bytes``, and past ``max_total_bytes`` in all, are left out too (and named in the
metadata), so that a stray checkpoint in the repo does not end up in every run.

Nothing here raises on an odd repository: no git, no commits yet, a detached HEAD, a shallow
clone, unreadable files: each becomes a one-line warning and the capture goes on. Only the
listing is done here (a few git calls, run side by side); reading and hashing the files is the
caller's part.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pathspec

from cairn.core import display

MAX_FILE_BYTES = 1 << 20
MAX_TOTAL_BYTES = 50 << 20
_SKIPPED_DIRS = {".git", "__pycache__", ".venv", "venv", "node_modules", ".mypy_cache", ".pytest_cache", ".tox"}
# GIT_OPTIONAL_LOCKS=0: reading the repo must not take the index lock from under the user's own git.
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
_GIT_TIMEOUT_S = 20.0
# A folder capture of a home directory (a notebook started in ~) must not walk the whole disk.
_MAX_FOLDER_FILES = 20_000
# Untracked files that usually hold credentials: never captured.
_CREDENTIAL_FILES = (
    ".env",
    ".env.*",
    ".netrc",
    ".pypirc",
    ".git-credentials",
    "*.pem",
    "*.key",
    "id_rsa*",
    "id_ed25519*",
)
_CREDENTIAL_NAME = re.compile("|".join(fnmatch.translate(pattern) for pattern in _CREDENTIAL_FILES))
_EXAMPLES_PER_WARNING = 5


@dataclass
class CodeTree:
    root: Path
    kind: str  # "git" or "folder"
    #: (path relative to root, absolute path) of every file captured, sorted.
    files: list[tuple[str, Path]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def capture_tree(
    start: Path, *, max_file_bytes: int = MAX_FILE_BYTES, max_total_bytes: int = MAX_TOTAL_BYTES
) -> CodeTree:
    """The tree of the git work tree holding ``start`` (the entry script's folder, or the script
    itself), or of that folder outside git."""
    root = Path(os.path.realpath(start))
    if os.path.isfile(root):
        root = root.parent
    if not os.path.isdir(root):
        return CodeTree(root, "folder", warnings=[f"{root} is not a folder: no code was captured"])
    warnings: list[str] = []
    executable = shutil.which("git")
    captured = None
    if executable is None:
        warnings.append("git executable not found: the folder is captured, without commit, branch or remote")
    else:
        captured = _capture_git(executable, root, warnings)
    if captured is None:
        left_out = _LeftOut()
        tree = CodeTree(root, "folder", warnings=warnings)
        # Outside git nothing is tracked: every file counts as untracked for the credential rule.
        paths = _folder_paths(root, warnings, left_out)
        found = _probe(root, paths, untracked=True, credentials="files that may hold credentials", left_out=left_out)
    else:
        tree, found, left_out = captured
    total = 0
    skipped: list[str] = []
    for relative, size, absolute in found:
        if size > max_file_bytes:
            left_out.add(
                f"files over the {display.size(max_file_bytes)} per-file limit", f"{relative} ({display.size(size)})"
            )
            skipped.append(relative)
        elif total + size > max_total_bytes:
            left_out.add(f"files past the {display.size(max_total_bytes)} total limit", relative)
            skipped.append(relative)
        else:
            total += size
            tree.files.append((relative, absolute))
    if skipped:
        tree.meta["skipped"] = skipped[:1000]
    tree.warnings.extend(left_out.warnings())
    return tree


def tree_digest(files: list[tuple[str, bytes]]) -> str:
    """sha256 over the lines ``path\\tsha256(content)\\n`` sorted by path: equal for two trees
    with the same files and contents wherever they are."""
    return digest_of_tree((path, hashlib.sha256(content).hexdigest()) for path, content in files)


def digest_of_tree(entries: Iterable[tuple[str, str]]) -> str:
    """:func:`tree_digest` from (path, hex SHA-256 of the content) pairs already at hand."""
    hasher = hashlib.sha256()
    for path, digest in sorted(entries):
        hasher.update(f"{path}\t{digest}\n".encode())
    return hasher.hexdigest()


def work_tree_digest(start: Path) -> str:
    """:func:`tree_digest` of what :func:`capture_tree` would capture at ``start`` (no limits),
    each file hashed as it is read (a file that cannot be read is left out, as the run's capture
    leaves it out)."""
    tree = capture_tree(start, max_file_bytes=1 << 62, max_total_bytes=1 << 62)
    entries = []
    for relative, absolute in tree.files:
        try:
            with open(absolute, "rb") as file:
                entries.append((relative, hashlib.file_digest(file, "sha256").hexdigest()))
        except OSError:
            continue
    return digest_of_tree(entries)


def strip_credentials(url: str) -> str:
    """A remote URL without a password or token: ``https://x-access-token:abc@github.com/o/r.git``
    becomes ``https://github.com/o/r.git``. An ssh URL keeps its user name (``git@``), which is
    no secret; scp-like ``git@host:o/r.git`` and local paths come back unchanged. A query
    string goes too: git remotes do not need one, tokens sometimes hide there."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or not parts.netloc:
        return url
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if at:
        user = userinfo.split(":", 1)[0]
        keep_user = parts.scheme.lower() in ("ssh", "git+ssh", "ssh+git") and user
        netloc = f"{user}@{hostport}" if keep_user else hostport
    return urlunsplit(parts._replace(netloc=netloc, query="", fragment=""))


# -- choosing the files ------------------------------------------------------------------------

#: A file that may be captured: (path relative to the root, size, absolute path).
_Found = tuple[str, int, Path]


class _LeftOut:
    """What the capture leaves out, by reason: one warning line per reason, with examples."""

    def __init__(self) -> None:
        self.by_reason: dict[str, list[str]] = {}

    def add(self, reason: str, shown: str) -> None:
        self.by_reason.setdefault(reason, []).append(shown)

    def warnings(self) -> list[str]:
        lines = []
        for reason, shown in self.by_reason.items():
            examples = ", ".join(sorted(shown)[:_EXAMPLES_PER_WARNING])
            more = f" and {len(shown) - _EXAMPLES_PER_WARNING} more" if len(shown) > _EXAMPLES_PER_WARNING else ""
            lines.append(f"left out {reason} ({len(shown)}): {examples}{more}")
        return lines


def _probe(root: Path, paths: Iterable[str], *, untracked: bool, credentials: str, left_out: _LeftOut) -> list[_Found]:
    """The listed files that can be captured (size limits aside): regular files, readable, with
    UTF-8 names, and no credentials file unless git tracks it. One ``lstat`` per file in a tight
    loop: on a large repo this is most of the capture's time."""
    found: list[_Found] = []
    prefix, add = os.path.join(str(root), ""), left_out.add
    lstat, is_regular, credential = os.lstat, stat.S_ISREG, _CREDENTIAL_NAME.match
    readable = _mode_readable()
    for relative in paths:
        if untracked and credential(relative.rpartition("/")[2]):
            add(credentials, relative)
            continue
        if not relative.isascii():
            try:
                relative.encode()
            except UnicodeEncodeError:  # git or the file system gave bytes that are no UTF-8
                add(
                    "files whose names are not UTF-8",
                    relative.encode(errors="surrogateescape").decode(errors="replace"),
                )
                continue
        absolute = prefix + relative
        try:
            info = lstat(absolute)
        except FileNotFoundError:
            continue  # deleted in the work tree (or since it was listed)
        except OSError as exc:
            add("unreadable files", f"{relative} ({exc.strerror})")
            continue
        if not is_regular(info.st_mode):
            if stat.S_ISLNK(info.st_mode):
                add("symbolic links", relative)
            elif not stat.S_ISDIR(info.st_mode):  # a tracked file turned folder: git lists what it holds
                add("special files (not regular files)", relative)
            continue
        if not readable(info) and not os.access(absolute, os.R_OK):
            add("unreadable files", f"{relative} (Permission denied)")
            continue
        found.append((relative, info.st_size, root / relative))
    return found


def _mode_readable() -> Callable[[os.stat_result], bool]:
    """Whether the mode bits let this process read a file, without another system call per file
    (a no is settled by ``os.access``: ACLs, capabilities)."""
    if not hasattr(os, "geteuid"):
        return lambda info: False
    euid = os.geteuid()
    groups = {*os.getgroups(), os.getegid()}
    if euid == 0:
        return lambda info: True

    def readable(info: os.stat_result) -> bool:
        if info.st_uid == euid:
            return bool(info.st_mode & stat.S_IRUSR)
        if info.st_gid in groups:
            return bool(info.st_mode & stat.S_IRGRP)
        return bool(info.st_mode & stat.S_IROTH)

    return readable


# -- git ---------------------------------------------------------------------------------------

_STATUS = (
    "status",
    "--porcelain=v2",
    "-z",
    "--branch",
    # Untracked files one by one; no rename detection, no look inside submodules, no ahead/behind
    # count against the upstream: only what the capture needs.
    "--untracked-files=all",
    "--no-renames",
    "--ignore-submodules=dirty",
    "--no-ahead-behind",
)
# What git says of an untracked folder it cannot read (and goes on).
_UNLISTABLE = re.compile(r"^warning: could not open directory '(.*)': (.*)$", re.MULTILINE)


def _capture_git(git: str, start: Path, warnings: list[str]) -> tuple[CodeTree, list[_Found], _LeftOut] | None:
    """The work tree holding ``start``: its metadata and files, or None (folder mode) outside git
    or when git cannot list it (with a warning, unless it is simply no repository)."""
    found, error = _finish(_spawn(git, start, "rev-parse", "--show-toplevel", "--is-shallow-repository"))
    if found is None:
        if "not a git repository" not in error:
            warnings.append(f"git cannot read the repository at {start} ({error}): the folder is captured")
        return None
    lines = os.fsdecode(found).splitlines()
    if not lines or not lines[0]:
        warnings.append(f"git gave no work tree for {start}: the folder is captured")
        return None
    root = Path(lines[0])
    # Side by side: the status (it stats every tracked file and walks the untracked ones) is the
    # slow one; the tracked files are looked at while it runs.
    calls = [
        _spawn(git, root, *_STATUS),
        _spawn(git, root, "ls-files", "-z", "--stage"),
        _spawn(git, root, "config", "-z", "--get-regexp", r"^remote\..*\.url$"),
    ]
    listed, listed_message = _finish(calls[1])
    left_out = _LeftOut()
    credentials = "untracked files that may hold credentials"
    files = []
    if listed is not None:
        files = _probe(root, _tracked(listed, left_out), untracked=False, credentials=credentials, left_out=left_out)
    (status, status_message), (remotes, _) = _finish(calls[0]), _finish(calls[2])
    if status is None or listed is None:
        failure = listed_message if listed is None else status_message
        warnings.append(f"git cannot list the files of {root} ({failure}): the folder is captured")
        return None
    meta, untracked = _parse_status(status, left_out)
    for folder, reason in _UNLISTABLE.findall(status_message):
        left_out.add("folders that cannot be listed", f"{folder.rstrip('/')} ({reason})")
    files.extend(_probe(root, untracked, untracked=True, credentials=credentials, left_out=left_out))
    files.sort(key=lambda entry: entry[0])
    meta["remote"] = _remote(remotes)
    meta["shallow"] = len(lines) > 1 and lines[1].strip() == "true"
    if meta["commit"] is None:
        warnings.append(f"{root} has no commits yet: its files are captured, without a commit")
    return CodeTree(root, "git", meta=meta, warnings=warnings), files, left_out


def _tracked(output: bytes, left_out: _LeftOut) -> list[str]:
    """The tracked paths ``git ls-files -z --stage`` lists, sorted, submodules aside."""
    tracked: set[str] = set()
    submodules: set[str] = set()
    for entry in os.fsdecode(output).split("\0"):
        info, _, path = entry.partition("\t")
        if path:  # once, however many merge stages it has
            (submodules if info.startswith("160000 ") else tracked).add(path)
    for path in submodules:  # a gitlink: the submodule's files are its own
        left_out.add("submodules", path)
    return sorted(tracked)


def _parse_status(output: bytes, left_out: _LeftOut) -> tuple[dict[str, Any], list[str]]:
    """Commit, branch and dirty flag from ``git status --porcelain=v2 -z --branch``, and the
    untracked files it lists."""
    meta: dict[str, Any] = {"commit": None, "branch": None, "remote": None, "dirty": False, "shallow": False}
    untracked = []
    entries = iter(os.fsdecode(output).split("\0"))
    for entry in entries:
        if entry.startswith("# branch.oid "):
            oid = entry.removeprefix("# branch.oid ")
            meta["commit"] = None if oid == "(initial)" else oid
        elif entry.startswith("# branch.head "):
            head = entry.removeprefix("# branch.head ")
            meta["branch"] = None if head == "(detached)" else head
        elif entry and not entry.startswith("#"):
            meta["dirty"] = True
            if entry.startswith("? "):
                path = entry[2:]
                if path.endswith("/"):  # a repository nested in the work tree
                    left_out.add("nested git repositories", path.rstrip("/"))
                else:
                    untracked.append(path)
            elif entry.startswith("2 "):  # a rename (not asked for): its original path follows
                next(entries, None)
    return meta, untracked


def _remote(output: bytes | None) -> str | None:
    """The ``origin`` remote's URL (else the first one's), without credentials."""
    urls: dict[str, str] = {}
    for entry in os.fsdecode(output or b"").split("\0"):
        key, _, value = entry.partition("\n")
        if key and value.strip():
            urls.setdefault(key, value)
    url = urls.get("remote.origin.url") or next(iter(urls.values()), None)
    return strip_credentials(url) if url else None


def _spawn(git: str, cwd: Path, *args: str) -> subprocess.Popen[bytes] | OSError:
    try:
        return subprocess.Popen(
            [git, "-C", str(cwd), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **_GIT_ENV},
        )
    except OSError as exc:
        return exc


def _finish(process: subprocess.Popen[bytes] | OSError) -> tuple[bytes | None, str]:
    """What git printed and its stderr, or None and why not (it could not start, timed out or
    failed)."""
    if isinstance(process, OSError):
        return None, f"git could not run: {process}"
    try:
        out, err = process.communicate(timeout=_GIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return None, f"git did not answer within {_GIT_TIMEOUT_S:.0f} s"
    if process.returncode != 0:
        lines = [line.strip() for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
        first = next((line for line in lines if line.startswith(("fatal:", "error:"))), lines[0] if lines else "")
        return None, first or f"git exited with {process.returncode}"
    return out, err.decode("utf-8", "replace")


# -- folders -------------------------------------------------------------------------------------


def _folder_paths(root: Path, warnings: list[str], left_out: _LeftOut) -> list[str]:
    """Relative POSIX paths of the folder's files, sorted, without ignored ones or skipped folders."""
    ignored = _gitignore(root, warnings)
    found: list[str] = []

    def unreadable(exc: OSError) -> None:
        shown = os.path.relpath(exc.filename, root) if exc.filename else str(exc)
        left_out.add("folders that cannot be listed", f"{shown} ({exc.strerror})")

    for folder, dirs, names in os.walk(root, onerror=unreadable):
        base = os.path.relpath(folder, root).replace(os.sep, "/")
        prefix = "" if base == "." else base + "/"
        kept = []
        for name in sorted(dirs):
            relative = prefix + name
            if name in _SKIPPED_DIRS or name.startswith(".") or (ignored is not None and ignored(relative + "/")):
                continue
            if os.path.islink(os.path.join(folder, name)):
                left_out.add("symbolic links", relative)
                continue
            kept.append(name)
        dirs[:] = kept
        for name in sorted(names):
            relative = prefix + name
            if not name.endswith((".pyc", ".pyo")) and (ignored is None or not ignored(relative)):
                found.append(relative)
        if len(found) > _MAX_FOLDER_FILES:
            warnings.append(
                f"stopped listing {root} after {_MAX_FOLDER_FILES:,} files (is it really the project folder?): "
                "the rest is not captured"
            )
            break
    return sorted(found[:_MAX_FOLDER_FILES])


def _gitignore(root: Path, warnings: list[str]) -> Any:
    """A matcher for the folder's .gitignore, or None (none there, or unreadable)."""
    try:
        text = (root / ".gitignore").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        warnings.append(f"cannot read {root / '.gitignore'} ({exc.strerror}): nothing is ignored")
        return None
    try:
        return pathspec.GitIgnoreSpec.from_lines(text.splitlines()).match_file
    except ValueError as exc:  # a pattern pathspec cannot read
        warnings.append(f"cannot use {root / '.gitignore'} ({exc}): nothing is ignored")
        return None
