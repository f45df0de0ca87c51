"""What a run captures without being asked, and when.

At ``cairn.init``:
- the console (stdout and stderr, teed) and the system sampler start at once: both are cheap;
- code, environment, command and (inside Jupyter) the notebook are captured on a thread of
  their own, so ``init`` returns without waiting on 5,000 files being read and hashed; each
  becomes a snapshot of the run, queued on the background writer like any other write (and
  spooled like one).

At ``run.finish()``, before the run is marked ended: the capture thread is waited for, the
sampler stops and logs the run's peak memory, wall and CPU time under ``system/``, and the
console log becomes the artifact ``cairn/console.log``.

Every part can be switched off: ``cairn.init(..., capture=False)``, ``capture=CaptureSettings(
console=False)``, or ``CAIRN_CAPTURE=0`` in the environment. Nothing here may stop a run from
starting: a part that fails warns once and is left out.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cairn.client.artifact_formats import EncodedArtifact
from cairn.client.artifacts import LocalArtifact, encoded_to_local, stage_bytes
from cairn.settings import cairn_home

if TYPE_CHECKING:
    from cairn.client.writer import BackgroundWriter
    from cairn.service.interface import Tracking

#: Reserved for what Cairn captures itself; a run's own artifacts go anywhere else.
CAPTURE_PREFIX = "cairn"


@dataclass(frozen=True)
class CaptureSettings:
    code: bool = True
    environment: bool = True
    command: bool = True
    #: Inside Jupyter or IPython: the notebook file, or the executed cells when it cannot be found.
    notebook: bool = True
    system: bool = True
    console: bool = True
    #: Seconds between system metric samples.
    system_interval_s: float = 10.0

    @classmethod
    def resolve(cls, capture: bool | CaptureSettings | None) -> CaptureSettings:
        """``init``'s ``capture`` argument, with ``CAIRN_CAPTURE=0`` turning everything off and
        ``CAIRN_SYSTEM_INTERVAL`` setting the sampling period."""
        off = cls(code=False, environment=False, command=False, notebook=False, system=False, console=False)
        if capture is False or os.environ.get("CAIRN_CAPTURE", "").strip().lower() in ("0", "false", "no", "off"):
            return off
        settings = capture if isinstance(capture, CaptureSettings) else cls()
        interval = os.environ.get("CAIRN_SYSTEM_INTERVAL")
        if interval:
            try:
                settings = replace(settings, system_interval_s=max(0.1, float(interval)))
            except ValueError:
                pass
        return settings


class RunCapture:
    def __init__(
        self,
        settings: CaptureSettings,
        tracking: Tracking,
        writer: BackgroundWriter,
        *,
        warn: Callable[[str], None],
        start_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.tracking = tracking
        self.writer = writer
        self.warn = warn
        self.start_dir = start_dir or _entry_folder()
        self._thread: threading.Thread | None = None
        self._sampler: Any = None
        self._console: Any = None
        self._console_path: Path | None = None
        self._system_step = 0

    def start(self) -> None:
        if self.settings.console:
            self._guard("console", self._start_console)
        if self.settings.system:
            self._guard("system metrics", self._start_system)
        if self.settings.code or self.settings.environment or self.settings.command or self.settings.notebook:
            self._thread = threading.Thread(target=self._snapshots, name="cairn-capture", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """The parts that end with the run's finish call itself, on its thread: the sampler
        stops (the run's wall time ends here) and the console tee leaves sys.stdout/stderr — a
        background thread must never swap the streams of a process that has moved on."""
        if self._sampler is not None:
            self._sampler.stop()
        if self._console is not None:
            self._guard("console", self._console.stop)

    def finish(self) -> None:
        """Send what the capture still holds: the snapshots (waiting for them), the system
        summary and the console log. Stops first, if :meth:`stop` was not called."""
        self.stop()
        if self._thread is not None:
            self._thread.join(30)
        if self._sampler is not None:
            self._guard("system metrics", lambda: self._emit(self._sampler.summary()))
        if self._console is not None:
            self._guard("console", self._finish_console)

    # -- parts ------------------------------------------------------------------------------

    def _start_console(self) -> None:
        from cairn.client.capture.console import ConsoleCapture

        folder = cairn_home() / "staging"
        folder.mkdir(parents=True, exist_ok=True)
        self._console_path = folder / f"console-{self.writer.run_id}-{os.getpid()}.log"
        self._console = ConsoleCapture(self._console_path)
        self._console.start()

    def _finish_console(self) -> None:
        from cairn.client.capture.console import finished_log

        self._console.stop()
        assert self._console_path is not None
        text = finished_log(self._console_path)
        self._console_path.unlink(missing_ok=True)
        encoded = EncodedArtifact(text, ".log", "text/plain; charset=utf-8", "text", {"chars": len(text)})
        self.writer.put(
            "artifacts", {"files": [encoded_to_local(encoded, f"{CAPTURE_PREFIX}/console.log").to_payload()]}
        )

    def _start_system(self) -> None:
        from cairn.client.capture.system import SystemSampler

        self._sampler = SystemSampler(interval_s=self.settings.system_interval_s)
        self._sampler.start(self._emit)

    def _emit(self, values: dict[str, float]) -> None:
        # System metrics keep their own step (the sample's number), apart from the run's.
        if values:
            self.writer.put_points(self._system_step, time.time_ns() // 1_000_000, values)
            self._system_step += 1

    def _snapshots(self) -> None:
        if self.settings.code:
            self._guard("code", self._code)
        if self.settings.environment:
            self._guard("environment", self._environment)
        if self.settings.command:
            self._guard("command", self._command)
        if self.settings.notebook:
            self._guard("notebook", self._notebook)

    def _code(self) -> None:
        from cairn.client.capture.tree import capture_tree

        tree = capture_tree(self.start_dir)
        for warning in tree.warnings:
            self.warn(f"code capture: {warning}")
        contents = []
        for relative, absolute in tree.files:
            try:
                contents.append((relative, absolute.read_bytes()))
            except OSError:
                continue
        meta = {**tree.meta, "kind": tree.kind, "root": str(tree.root)}
        self._snapshot("code", contents, meta, record_tree_digest=True)

    def _environment(self) -> None:
        from cairn.client.capture.environment import capture_environment, environment_files

        environment = capture_environment()
        for warning in environment.warnings:
            self.warn(f"environment capture: {warning}")
        files = environment_files(environment)
        meta = {"python": environment.python, "platform": environment.platform, "packages": len(environment.packages)}
        self._snapshot("environment", sorted(files.items()), meta)

    def _command(self) -> None:
        from cairn.client.capture.command import capture_command, command_json

        command = capture_command()
        self._snapshot("command", [("command.json", command_json(command))], {"shell_line": command.shell_line})

    def _notebook(self) -> None:
        from cairn.client.capture.notebook import capture_notebook

        notebook = capture_notebook()
        if notebook is None:  # not inside IPython
            return
        for warning in notebook.warnings:
            self.warn(f"notebook capture: {warning}")
        self._snapshot("notebook", sorted(notebook.files.items()), dict(notebook.meta))

    def _snapshot(
        self, kind: str, contents: list[tuple[str, bytes]], meta: dict[str, Any], *, record_tree_digest: bool = False
    ) -> None:
        """Queue a snapshot: bytes the store lacks are staged (the files may change while the
        run goes on), the rest are only named by digest. With ``record_tree_digest``, the
        meta keeps the tree's digest, which `cairn reproduce` checks what it writes against."""
        from cairn.client.capture.tree import digest_of_tree

        digests = [hashlib.sha256(data).hexdigest() for _, data in contents]
        if record_tree_digest:
            meta = {**meta, "tree_digest": digest_of_tree(zip((path for path, _ in contents), digests, strict=True))}
        missing = set(self.tracking.missing_blobs(digests)) if digests else set()
        files = []
        for (path, data), digest in zip(contents, digests, strict=True):
            if digest in missing:
                files.append(stage_bytes(path, data, digest=digest))
            else:
                files.append(LocalArtifact(path, Path(os.devnull), digest, len(data)))
        payload = {"kind": kind, "files": [f.to_payload() for f in files], "meta": meta}
        self.writer.put("snapshot", orjson.loads(orjson.dumps(payload)))

    def _guard(self, what: str, part: Callable[[], None]) -> None:
        try:
            part()
        except Exception as exc:  # capture must never stop a run
            self.warn(f"{what} capture failed and is left out of this run: {exc!r}")


def _entry_folder() -> Path:
    """The entry script's folder, or the working directory (a REPL, a notebook, ``-c``)."""
    import sys

    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.is_file():
        return script.resolve().parent
    return Path.cwd()
