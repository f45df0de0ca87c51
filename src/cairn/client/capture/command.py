"""The command a run was started with: argv, working directory, entry script and config files.

:func:`capture_command` never raises: what it cannot read (a deleted working directory, an
unreadable config file) is left out and said in :attr:`Command.warnings`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: Suffixes of the arguments taken for config files, whose content is hashed.
CONFIG_SUFFIXES = frozenset({".yaml", ".yml", ".json", ".toml", ".cfg", ".ini", ".conf"})
# argv[0] of a Jupyter kernel: a file, but not the code of the run.
_KERNEL_LAUNCHERS = frozenset({"ipykernel_launcher.py", "colab_kernel_launcher.py"})


@dataclass(frozen=True)
class Command:
    """What :func:`capture_command` found."""

    argv: list[str]
    cwd: Path
    #: The absolute path of ``argv[0]`` when it is a file; None in a REPL, a notebook, ``-c``.
    entry_script: Path | None
    executable: str
    #: An argument (``path`` or ``--flag=path``) naming a config file, as written → sha256 of its bytes.
    config_files: dict[str, str]
    #: A shell line that starts the same command again.
    shell_line: str
    warnings: list[str] = field(default_factory=list)


def capture_command(argv: Sequence[str] | None = None, cwd: Path | None = None) -> Command:
    """Describe ``argv`` (``sys.argv`` by default) run in ``cwd`` (the working directory)."""
    warnings: list[str] = []
    try:
        cwd = Path.cwd() if cwd is None else Path(os.path.abspath(cwd))
    except OSError as exc:  # the working directory was deleted
        warnings.append(f"cannot read the working directory ({exc.strerror})")
        cwd = Path(os.environ.get("PWD") or "/") if cwd is None else Path(cwd)
    args = list(sys.argv if argv is None else argv)
    python = Path(sys.executable).name if sys.executable else "python"
    # The interpreter's own command line keeps ``-m pkg`` and ``-c code``, which sys.argv loses.
    original = getattr(sys, "orig_argv", None) if argv is None else None
    if original:
        shell_line = shlex.join([python, *original[1:]])
    else:
        shell_line = shlex.join([python, *(args if args and args[0] else args[1:])])
    return Command(
        argv=args,
        cwd=cwd,
        entry_script=_entry_script(args, cwd),
        executable=sys.executable,
        config_files=_config_files(args[1:], cwd, warnings),
        shell_line=shell_line,
        warnings=warnings,
    )


def command_json(command: Command) -> bytes:
    """The command as canonical JSON (sorted keys, indent 2, final newline)."""
    document = asdict(command)
    document["cwd"] = str(command.cwd)
    document["entry_script"] = None if command.entry_script is None else str(command.entry_script)
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def _entry_script(argv: Sequence[str], cwd: Path) -> Path | None:
    if not argv or not argv[0] or argv[0] in ("-c", "-m"):
        return None
    path = Path(os.path.normpath(cwd / argv[0]))
    try:
        if path.name in _KERNEL_LAUNCHERS or not path.is_file():
            return None
    except OSError:
        return None
    return path


def _config_files(args: Sequence[str], cwd: Path, warnings: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for arg in args:
        candidate = arg.partition("=")[2] if "=" in arg else arg
        if Path(candidate).suffix.lower() not in CONFIG_SUFFIXES or candidate in found:
            continue
        path = cwd / candidate
        try:
            if not path.is_file():
                continue
            with open(path, "rb") as file:
                found[candidate] = hashlib.file_digest(file, "sha256").hexdigest()
        except OSError as exc:
            warnings.append(f"cannot read the config file {candidate} ({exc.strerror})")
    return found
