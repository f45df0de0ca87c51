"""Any command as a run: what ``cairn run [OPTIONS] -- CMD ARGS...`` does.

The run is started first (offline at once when the store is away, as ``cairn.init`` does) with
the command line in its tag ``cairn.command``; then the command runs as a child process, in
the working directory, with ``CAIRN_RUN_ID``, ``CAIRN_URI`` and ``CAIRN_PROJECT`` in its
environment, so that a ``cairn.init()`` or ``cairn.autolog()`` inside it logs into this same run
(see ``cairn.init``) rather than starting another.

What a run captures (capture/recorder.py) is captured for the command: the code of the working
directory's git work tree (or folder), the environment, the command line, system metrics (the
sampler counts this process with its children) and the console. The child's stdout and stderr
go through pipes: each chunk is written to this process's stdout or stderr as it arrives and
appended to the console log (both streams, interleaved as read), which becomes the artifact
``cairn/console.log``. Pipes are not terminals, so ``PYTHONUNBUFFERED=1`` is set for the child
(unless set already) to keep a Python child's output flowing as it prints.

The exit status becomes the run's status: 0 is ``finished``, any other ``failed``, death by a
signal (or a Ctrl-C or SIGTERM this process received) ``killed``; the status is also kept in the
tag ``cairn.exit_code``. SIGINT and SIGTERM sent to this process are passed on to the child —
except a Ctrl-C typed at the terminal the child shares with it, which the terminal has already
delivered to both.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import IO, Any

from cairn.client.capture.recorder import CaptureSettings, RunCapture
from cairn.client.connect import resolve_uri
from cairn.client.run import Run
from cairn.client.sdk import ATTACH_ENV, init
from cairn.client.writer import warn
from cairn.core import limits
from cairn.core.entities import RunStatus
from cairn.core.errors import CommandNotFound, InvalidValue
from cairn.settings import cairn_home

#: The tag that keeps the command line, as a shell would take it.
COMMAND_TAG = "cairn.command"
#: The tag that keeps the command's exit status (``-N`` when signal N ended it).
EXIT_CODE_TAG = "cairn.exit_code"
#: How long the end of the run waits for a store that is away before leaving the rest to the
#: spool (``cairn sync``), as an integration's run does: the command is over, the shell waits.
_OFFLINE_FINISH_TIMEOUT_S = 1.0
#: How long the console pumps may go on after the child exited: a grandchild that keeps the
#: pipes open must not keep ``cairn run`` from returning.
_PUMP_JOIN_S = 5.0
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class WrappedOutcome:
    """How the command ended, and the run it was."""

    run_id: str
    status: RunStatus
    #: The command's exit status as a shell reports it: 128 + N when signal N ended it.
    exit_code: int


def find_program(command: str) -> str:
    """The file ``command`` runs: a path as written, else the first match on PATH. Raises
    CommandNotFound when there is none, or it is not an executable file."""
    if os.sep in command or (os.altsep and os.altsep in command):
        if os.path.isfile(command) and os.access(command, os.X_OK):
            return command
        raise CommandNotFound(f"{command}: not an executable file", details={"command": command})
    found = shutil.which(command)
    if found is None:
        raise CommandNotFound(f"{command}: command not found on PATH", details={"command": command})
    return found


def run_command(
    argv: Sequence[str],
    *,
    project: str | None = None,
    name: str | None = None,
    tags: Mapping[str, str] | None = None,
    uri: str | None = None,
) -> WrappedOutcome:
    """Run ``argv`` as a run of ``project`` (else ``CAIRN_PROJECT``, else the working
    directory's name) and return how it ended. The command is looked for before anything is
    started: CommandNotFound leaves no run behind."""
    if not argv:
        raise InvalidValue("no command to run: give it after --, as in `cairn run -- python train.py`")
    program = find_program(argv[0])
    cwd = Path.cwd()
    project = project or os.environ.get("CAIRN_PROJECT") or cwd.name or "default"
    target = resolve_uri(uri)
    command_line = shlex.join(argv)
    # Inside a command another `cairn run` wraps, this one is a run of its own, nested under that.
    outer = os.environ.get(ATTACH_ENV) or None
    run = init(
        project,
        name=name,
        # A very long line is cut here; the command snapshot keeps all of it.
        tags={**(tags or {}), COMMAND_TAG: command_line[: limits.MAX_TAG_VALUE_LENGTH]},
        uri=target,
        parent=outer,
        capture=False,
    )
    capture = _CommandCapture(list(argv), program, run, CaptureSettings.resolve(True), start_dir=cwd)
    run._capture = capture  # the run's finish() ends it, before the run is marked ended
    capture.start()
    print(f"cairn: run {run.name!r} ({run.id}) in project {run.project!r}", file=sys.stderr, flush=True)
    env = {**os.environ, ATTACH_ENV: run.id, "CAIRN_URI": target, "CAIRN_PROJECT": run.project}
    env.setdefault("PYTHONUNBUFFERED", "1")
    stopped = _Forwarder()
    with stopped.installed():  # before the child exists: a signal from then on ends it as killed
        try:
            child = subprocess.Popen(
                list(argv), executable=program, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as exc:  # found, but the system would not start it (not a program, say)
            run.set_tags({EXIT_CODE_TAG: "126"})
            run.finish("failed", timeout=_finish_timeout(run))
            if isinstance(exc, FileNotFoundError):  # removed since it was found
                raise CommandNotFound(f"{argv[0]}: command not found", details={"command": argv[0]}) from exc
            raise
        stopped.follow(child)
        capture.follow(child)
        returncode = child.wait()
        capture.drain()
    if returncode == 0 and not stopped.signal:
        status = RunStatus.FINISHED
    elif returncode < 0 or stopped.signal:
        status = RunStatus.KILLED
    else:
        status = RunStatus.FAILED
    run.set_tags({EXIT_CODE_TAG: str(returncode)})
    run.finish(status, timeout=_finish_timeout(run))
    return WrappedOutcome(run.id, status, 128 - returncode if returncode < 0 else returncode)


def _finish_timeout(run: Run) -> float:
    return _OFFLINE_FINISH_TIMEOUT_S if run.offline else 30.0


class _Forwarder:
    """SIGINT and SIGTERM handlers for the life of the child: each is noted (the run is then
    ``killed``) and passed on, unless the terminal already gave it to the child."""

    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.signal: int | None = None

    def follow(self, child: subprocess.Popen[bytes]) -> None:
        self.child = child
        if self.signal is not None:  # it came while the child was being started
            with contextlib.suppress(OSError):
                child.send_signal(self.signal)

    @contextlib.contextmanager
    def installed(self) -> Any:
        previous: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, self._handle)
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signal = signum
        if self.child is None:
            return
        if signum == signal.SIGINT and _in_terminal_foreground():
            return  # a Ctrl-C: the terminal sent it to the child too, which must not get two
        with contextlib.suppress(OSError):
            self.child.send_signal(signum)


def _in_terminal_foreground() -> bool:
    """True when this process is in the foreground process group of its terminal, which a
    child started without a session of its own shares."""
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
    return False


class _CommandCapture(RunCapture):
    """What a run captures, for a command run as a child: its command line instead of this
    process's, and its console from the pipes instead of ``sys.stdout``."""

    def __init__(self, argv: list[str], program: str, run: Run, settings: CaptureSettings, *, start_dir: Path) -> None:
        # No notebook: the command is no cell of a kernel this process could read.
        super().__init__(replace(settings, notebook=False), run._tracking, run._writer, warn=warn, start_dir=start_dir)
        self.argv = argv
        self.program = program
        self._pumps: list[threading.Thread] = []

    def _command(self) -> None:
        from cairn.client.capture.command import capture_command, command_json

        command = capture_command(self.argv, self.start_dir)
        # capture_command reads argv as a Python script's: the program here is argv[0] itself.
        command = replace(command, executable=self.program, shell_line=shlex.join(self.argv))
        self._snapshot("command", [("command.json", command_json(command))], {"shell_line": command.shell_line})

    def _start_console(self) -> None:
        from cairn.client.capture.console import ConsoleLog

        folder = cairn_home() / "staging"
        folder.mkdir(parents=True, exist_ok=True)
        self._console_path = folder / f"console-{self.writer.run_id}-{os.getpid()}.log"
        self._console = ConsoleLog(self._console_path)

    def follow(self, child: subprocess.Popen[bytes]) -> None:
        """Start copying the child's stdout and stderr to this process's, and into the log."""
        for pipe, stream in ((child.stdout, sys.stdout), (child.stderr, sys.stderr)):
            assert pipe is not None
            thread = threading.Thread(target=self._pump, args=(pipe, stream), name="cairn-run-console", daemon=True)
            thread.start()
            self._pumps.append(thread)

    def drain(self) -> None:
        """Wait for the pipes to be read to their end (the child has exited)."""
        for thread in self._pumps:
            thread.join(_PUMP_JOIN_S)

    def _pump(self, pipe: IO[bytes], stream: Any) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        out = getattr(stream, "buffer", None)
        fd = pipe.fileno()
        pending = ""
        while True:
            try:
                chunk = os.read(fd, _CHUNK)
            except OSError:
                break
            final = not chunk
            text = decoder.decode(chunk, final=final)
            with contextlib.suppress(Exception):  # a closed terminal must not stop the log
                if out is not None:
                    out.write(chunk)
                    out.flush()
                elif text:
                    stream.write(text)
                    stream.flush()
            # Whole lines go to the log, so that the two streams interleave by line: an
            # unbuffered print writes its text and its newline apart.
            pending += text
            cut = max(pending.rfind("\n"), pending.rfind("\r")) + 1 if not final else len(pending)
            if cut and self._console is not None:
                self._console.write(pending[:cut])
            pending = pending[cut:]
            if final:
                break
        with contextlib.suppress(OSError):
            pipe.close()
