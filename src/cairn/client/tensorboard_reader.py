"""TensorBoard event files read into what a Cairn run holds: scalars, hyperparameters, images
and text, by run folder.

A run is a folder under the log directory that holds event files (``*tfevents*``) directly;
its name is the folder's path relative to the log directory. Events are read with the
``tensorboard`` package (``pip install 'cairn[tensorboard]'``): its record reader checks every
record's length and checksums, and its compatibility layers (``data_compat``,
``dataclass_compat``) turn summaries of every writer and age (TF 1 ``simple_value``, TF 2,
PyTorch's ``SummaryWriter``, tensorboardX) into one form, the plugin named on each value.

Unlike TensorBoard, which stops quietly at a bad record (it reads files still being written),
this reader refuses a file it cannot read to its end: InvalidEventFile, before anything of the
run is written. Plugins other than scalars, images, text and hparams (histograms, graphs,
audio, PR curves, meshes...) are counted in :attr:`TensorBoardRun.left_out`, not read.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.core.entities import ParamValue
from cairn.core.errors import FrameworkNotInstalled, InvalidEventFile

#: The marker in an event file's name (``events.out.tfevents.TIME.HOST.PID.N``).
EVENT_FILE_MARK = "tfevents"


@dataclass(frozen=True)
class Point:
    step: int
    timestamp_ms: int
    value: float


@dataclass(frozen=True)
class Image:
    tag: str
    step: int
    #: Which image of the event (an event may hold several, ``add_images``).
    index: int
    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class Text:
    tag: str
    step: int
    text: str


@dataclass
class TensorBoardRun:
    """What one run folder holds."""

    name: str
    folder: Path
    files: list[Path]
    scalars: dict[str, list[Point]] = field(default_factory=lambda: defaultdict(list))
    hparams: dict[str, ParamValue] = field(default_factory=dict)
    images: list[Image] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    #: Plugin name → number of values of it that were not read.
    left_out: Counter[str] = field(default_factory=Counter)
    first_ms: int | None = None
    last_ms: int | None = None


def run_folders(logdir: Path) -> list[tuple[str, Path, list[Path]]]:
    """``(name, folder, event files)`` for every folder under ``logdir`` (itself included) that
    holds event files, sorted by name. The log directory's own files are the run named after it."""
    root = logdir.resolve()
    found = []
    for folder in sorted([root, *(path for path in root.rglob("*") if path.is_dir())]):
        files = sorted(path for path in folder.iterdir() if path.is_file() and EVENT_FILE_MARK in path.name)
        if files:
            name = root.name if folder == root else folder.relative_to(root).as_posix()
            found.append((name, folder, files))
    return found


def files_digest(files: list[Path]) -> str:
    """One SHA-256 over the files' names and contents: the same only if no file changed."""
    outer = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.name):
        with open(path, "rb") as file:
            inner = hashlib.file_digest(file, "sha256").hexdigest()
        outer.update(f"{path.name}\0{inner}\n".encode())
    return outer.hexdigest()


def read_run(name: str, folder: Path, files: list[Path]) -> TensorBoardRun:
    """Read every event of ``files``. Raises InvalidEventFile for a file that cannot be read to
    its end, FrameworkNotInstalled without the tensorboard package."""
    run = TensorBoardRun(name, folder, files)
    # A TF 2 writer puts a tag's plugin on its first value only: remembered over the run's files.
    plugin_of: dict[str, str] = {}
    for path in files:
        for event in _events(path):
            _take(run, event, plugin_of, path)
    return run


def require_tensorboard() -> None:
    """Raise FrameworkNotInstalled, saying what to install, without the tensorboard package."""
    try:
        import tensorboard  # noqa: F401
    except ImportError as exc:
        raise FrameworkNotInstalled(
            "reading TensorBoard logs needs the tensorboard package: pip install 'cairn[tensorboard]'",
            details={"package": "tensorboard"},
        ) from exc


def _events(path: Path) -> Iterator[Any]:
    """The file's events, through TensorBoard's compatibility layers, checked to the end."""
    require_tensorboard()
    from google.protobuf.message import DecodeError
    from tensorboard import data_compat, dataclass_compat
    from tensorboard.compat.proto import event_pb2

    # The stub reader, not tf's: the same checks with or without TensorFlow installed.
    from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow

    reader = pywrap_tensorflow.PyRecordReader_New(str(path))
    initial_metadata: dict[str, Any] = {}
    number = 0
    try:
        while True:
            try:
                reader.GetNext()
            except errors.OutOfRangeError:
                return
            except errors.DataLossError as exc:
                raise _invalid(path, number, str(exc.message).replace(str(path), "").strip()) from None
            try:
                event = event_pb2.Event.FromString(reader.record())
            except DecodeError as exc:
                raise _invalid(path, number, f"not an event ({exc})") from None
            number += 1
            yield from dataclass_compat.migrate_event(data_compat.migrate_event(event), initial_metadata)
    finally:
        reader.file_handle.close()


def _invalid(path: Path, number: int, reason: str) -> InvalidEventFile:
    return InvalidEventFile(
        f"{path} cannot be read after {number} events: {reason}; nothing of its run was imported",
        details={"path": str(path), "events_read": number},
    )


def _take(run: TensorBoardRun, event: Any, plugin_of: dict[str, str], path: Path) -> None:
    if not event.HasField("summary"):
        return  # file_version, graph_def, session_log, ...
    timestamp_ms = round(event.wall_time * 1000)
    run.first_ms = timestamp_ms if run.first_ms is None else min(run.first_ms, timestamp_ms)
    run.last_ms = timestamp_ms if run.last_ms is None else max(run.last_ms, timestamp_ms)
    from tensorboard.util import tensor_util

    for value in event.summary.value:
        plugin = value.metadata.plugin_data.plugin_name or plugin_of.get(value.tag, "")
        if plugin:
            plugin_of.setdefault(value.tag, plugin)
        if plugin == "scalars":
            number = tensor_util.make_ndarray(value.tensor)
            run.scalars[value.tag].append(Point(event.step, timestamp_ms, float(number.item())))
        elif plugin == "images":
            # [width, height, encoded image...] as strings (data_compat's form for every writer).
            strings = list(value.tensor.string_val)
            width, height = int(strings[0]), int(strings[1])
            for index, data in enumerate(strings[2:]):
                run.images.append(Image(value.tag, event.step, index, data, width, height))
        elif plugin == "text":
            strings = tensor_util.make_ndarray(value.tensor).flatten().tolist()
            text = "\n".join(s.decode("utf-8", "replace") if isinstance(s, bytes) else str(s) for s in strings)
            run.texts.append(Text(value.tag.removesuffix("/text_summary"), event.step, text))
        elif plugin == "hparams":
            _take_hparams(run, value)
        else:
            run.left_out[plugin or "untyped"] += 1


def _take_hparams(run: TensorBoardRun, value: Any) -> None:
    """The values of a session's hyperparameters (``hparams.summary.session_start_pb``, which
    PyTorch's ``add_hparams`` writes too). The experiment's value domains are not kept."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
    if not data.HasField("session_start_info"):
        return
    for key, hparam in data.session_start_info.hparams.items():
        kind = hparam.WhichOneof("kind")
        if kind == "number_value":
            number = hparam.number_value
            # TensorBoard keeps every number as a double: a whole one was most likely an int.
            run.hparams[key] = int(number) if number.is_integer() and abs(number) < 2**53 else number
        elif kind == "bool_value":
            run.hparams[key] = hparam.bool_value
        elif kind == "string_value":
            run.hparams[key] = hparam.string_value
