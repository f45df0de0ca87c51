"""The process's console output, teed to a file while a run lives.

:class:`ConsoleCapture` replaces ``sys.stdout`` and ``sys.stderr`` with wrappers that write
everything through to the original streams first (the user sees what they would have seen, in
the same order) and then append it to one UTF-8 file, stdout and stderr interleaved as written.
The file is written unbuffered, so it is complete up to the last write even if the process dies.

What it does not see: this is a Python-level tee, not a file-descriptor redirect. Output of child
processes, of C extensions writing to fd 1/2 directly, writes to ``sys.stdout.buffer``, and
streams saved before :meth:`ConsoleCapture.start` (a ``logging.StreamHandler`` configured
earlier, say) reach the console but not the file. A forked child inherits the wrappers but
writes only to the console.

Progress bars rewrite their line with ``\\r``; the file keeps every rewrite, and
:func:`finished_log` reads it back with each line collapsed to what was last written on it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO, cast

DEFAULT_MAX_BYTES = 100 * 1024 * 1024


class ConsoleCapture:
    """Tee ``sys.stdout`` and ``sys.stderr`` into the file at ``path`` (appended to; its folder
    is created) from :meth:`start` to :meth:`stop`, or as a context manager.

    The file stops growing at ``max_bytes`` with one line saying it was cut. Nothing here ever
    raises into a ``print``: if the file cannot be written (disk full, say), capture stops after
    one warning on the real stderr, and the output still reaches the console.
    """

    def __init__(self, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES):
        if max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, not {max_bytes!r}")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._sink: _Sink | None = None
        self._tees: list[tuple[str, _Tee]] = []

    @property
    def active(self) -> bool:
        """True while output is being written to the file."""
        return self._sink is not None and self._sink.open

    def start(self) -> None:
        """Install the tee wrappers. If the file cannot be opened, warn once on stderr and
        leave the streams alone."""
        if self._sink is not None:
            raise RuntimeError("this ConsoleCapture is already started")
        try:
            self._sink = _Sink(self.path, self.max_bytes, warn_to=sys.stderr)
        except OSError as exc:
            _warn(sys.stderr, f"console output is not captured: cannot open {self.path}: {exc}")
            return
        for name in ("stdout", "stderr"):
            original = getattr(sys, name)
            if original is None:  # pythonw and friends have no console streams
                continue
            tee = _Tee(original, self._sink)
            self._tees.append((name, tee))
            setattr(sys, name, cast(TextIO, tee))

    def stop(self) -> None:
        """Restore the original streams (unless someone replaced ours meanwhile: theirs stays,
        and ours passes writes through untouched from now on), then close the file."""
        for name, tee in self._tees:
            if getattr(sys, name) is tee:
                setattr(sys, name, tee.original)
        self._tees = []
        if self._sink is not None:
            self._sink.close()

    def __enter__(self) -> ConsoleCapture:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def collapse_carriage_returns(text: str) -> str:
    """Keep on each line only what was written after its last ``\\r``, as a terminal shows a
    progress bar once it is done. ``\\r\\n`` (and ``\\r`` right before a newline) is just a
    newline. Everything else, ANSI colour codes included, is kept."""
    return "\n".join(_last_write(line) for line in text.split("\n"))


def finished_log(path: Path) -> bytes:
    """The file a :class:`ConsoleCapture` wrote, with carriage returns collapsed, as UTF-8.

    Bytes that are not UTF-8 become U+FFFD. Raises :class:`OSError` if the file cannot be read.
    """
    parts: list[bytes] = []
    with open(path, "rb") as file:
        for raw in file:  # lines split on b"\n": it never occurs inside a UTF-8 sequence
            newline = raw.endswith(b"\n")
            line = raw[:-1] if newline else raw
            parts.append(_last_write(line.decode("utf-8", "replace")).encode("utf-8"))
            if newline:
                parts.append(b"\n")
    return b"".join(parts)


def _last_write(line: str) -> str:
    return line.rstrip("\r").rpartition("\r")[2]


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b"\n"


def _warn(stream: TextIO | None, message: str) -> None:
    if stream is None:
        return
    with contextlib.suppress(Exception):
        stream.write(f"cairn: warning: {message}\n")
        stream.flush()


class _Sink:
    """The capture file: appended to under a lock, bounded, and silent once it fails."""

    def __init__(self, path: Path, max_bytes: int, *, warn_to: TextIO | None):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab", buffering=0)
        self._path = path
        self._max_bytes = max_bytes
        self._written = os.fstat(self._file.fileno()).st_size  # appending counts what is there
        self._at_line_start = self._written == 0 or _ends_with_newline(path)
        self._warn_to = warn_to
        self._pid = os.getpid()
        # Reentrant: a signal handler that prints while this thread holds the lock must not hang.
        self._lock = threading.RLock()
        self.open = True

    def write(self, text: str) -> None:
        if os.getpid() != self._pid:  # a forked child: its output goes to the console only
            return
        data = text.encode("utf-8", "backslashreplace")  # lone surrogates must not raise
        with self._lock:
            if not self.open:
                return
            try:
                room = self._max_bytes - self._written
                if len(data) <= room:
                    self._write_all(data)
                else:
                    self._cut(data[: max(room, 0)])
            except (OSError, ValueError) as exc:
                self._fail(exc)

    def close(self) -> None:
        with self._lock:
            self.open = False
            with contextlib.suppress(OSError):
                self._file.close()

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = self._file.write(view)
            if not n:  # None (would block) or 0: not expected of a regular file
                raise OSError(f"short write to {self._path}")
            view = view[n:]
        self._written += len(data)
        if data:
            self._at_line_start = data.endswith(b"\n")

    def _cut(self, head: bytes) -> None:
        head = head.decode("utf-8", "ignore").encode("utf-8")  # whole characters: still valid UTF-8
        at_line_start = head.endswith(b"\n") if head else self._at_line_start
        notice = f"[cairn: console log cut at {self._max_bytes} bytes; later output was not kept]\n"
        self._write_all(head + (b"" if at_line_start else b"\n") + notice.encode("utf-8"))
        self.open = False
        with contextlib.suppress(OSError):
            self._file.close()

    def _fail(self, exc: BaseException) -> None:
        self.open = False
        with contextlib.suppress(OSError):
            self._file.close()
        _warn(self._warn_to, f"console capture stopped: cannot write {self._path}: {exc}")


class _Tee:
    """Writes to the original stream, then to the sink; every other attribute (``isatty``,
    ``fileno``, ``encoding``, ``errors``, ``buffer``...) is the original's."""

    def __init__(self, original: TextIO, sink: _Sink):
        self.original = original
        self._sink = sink

    def write(self, text: str) -> int:
        written = self.original.write(text)
        self._sink.write(text)
        return written

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.original.flush()  # the file is unbuffered

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)

    def __repr__(self) -> str:
        return f"<cairn console tee of {self.original!r}>"


class ConsoleLog:
    """The capture file alone, for output that never passes through this process's
    ``sys.stdout`` (``cairn run`` tees its command's pipes into it): :meth:`write` appends,
    under a lock and bounded like :class:`ConsoleCapture`'s file; :meth:`stop` ends it. Raises
    :class:`OSError` if the file cannot be opened."""

    def __init__(self, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES):
        self.path = Path(path)
        self._sink = _Sink(self.path, max_bytes, warn_to=sys.stderr)

    def write(self, text: str) -> None:
        self._sink.write(text)

    def stop(self) -> None:
        self._sink.close()
