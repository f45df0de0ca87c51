"""A run as the training script sees it: ``cairn.init(...)`` returns one.

Everything a run logs is checked here, in the caller's thread, so a mistake raises where it was
made; then it is queued for the background writer, so the caller never waits on I/O.
"""

from __future__ import annotations

import operator
import os
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from cairn.client.capture.recorder import RunCapture
from cairn.client.connect import connect
from cairn.client.writer import BackgroundWriter, in_request_chunks, update_payload
from cairn.core import limits
from cairn.core.entities import ParamValue, RunStatus, RunUpdate
from cairn.core.entities import Run as RunRecord
from cairn.core.errors import CairnError, InvalidValue, ParamConflict, RunNotActive
from cairn.core.params import flatten_config, same_param_value
from cairn.service.interface import Tracking

if TYPE_CHECKING:
    from cairn.client.child_runs import ChildRun
    from cairn.client.models.transfer import ModelInfo
    from cairn.client.watch import Watcher
    from cairn.core.models.signature import Signature

#: Plain floats pass the hot path's check without a call; ints (which may not fit a float),
#: numpy scalars, tensors and the like are converted with float().
_NOT_NUMBERS = (bool, np.bool_, str, bytes, bytearray)


class Run:
    """A run being logged. Use as a context manager, or call :meth:`finish` at the end.

    If neither happens, the run is finished when the interpreter exits (as failed if it exits
    on an uncaught exception).
    """

    def __init__(
        self,
        tracking: Tracking,
        record: RunRecord,
        writer: BackgroundWriter,
        *,
        owns_tracking: bool,
        duplicates: Sequence[RunRecord] = (),
        attached: bool = False,
    ):
        self._tracking = tracking
        self._record = record
        self._writer = writer
        self._owns_tracking = owns_tracking
        #: Logging into a run another process owns (``cairn run``, see ``cairn.init``): finishing
        #: it here only sends what is queued; the owner ends the run.
        self._attached = attached
        self._duplicates = list(duplicates)
        self._params: dict[str, ParamValue] = dict(record.params)
        self._known_keys: set[str] = set()
        self._next_step = 0
        self._notes = record.notes
        self._name = record.name
        self._status: RunStatus | None = None
        #: What the run records without being asked (set by cairn.init; see capture/recorder.py).
        self._capture: RunCapture | None = None
        self._watchers: dict[int, Watcher] = {}  # id(model) -> its hook (run.watch)
        self._encode_at_close: list[tuple[Callable[[], Any], str]] = []  # (encode, name)
        self.config = RunConfig(self)
        writer.on_refused = self._forget_refused

    # -- identity ---------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def project(self) -> str:
        return self._record.project

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = limits.check_name(value, "run name")
        self._update(RunUpdate(name=value))

    @property
    def notes(self) -> str:
        """Markdown notes; assigning replaces them."""
        return self._notes

    @notes.setter
    def notes(self, value: str) -> None:
        self._notes = limits.check_text(value, "notes", limits.MAX_NOTES_LENGTH)
        self._update(RunUpdate(notes=value))

    @property
    def finished(self) -> bool:
        return self._status is not None

    @property
    def offline(self) -> bool:
        """True while the store cannot be reached: what the run logs waits in its spool on
        disk and is sent when the store is back (or by ``cairn sync``)."""
        return self._writer.offline

    @property
    def skipped(self) -> bool:
        """True when ``cairn.init(..., on_duplicate="skip")`` found the config already ran and
        created no run: see :class:`SkippedRun`."""
        return False

    @property
    def duplicates(self) -> list[RunRecord]:
        """Earlier finished runs of the project with the same config (the same fingerprint),
        newest first, as ``cairn.init`` found them before the run started; [] if none."""
        return list(self._duplicates)

    def __repr__(self) -> str:
        return f"<cairn.Run {self.project}/{self.name} id={self.id}>"

    def _repr_html_(self) -> str:
        """In a notebook: the run's summary, with a link to its page in the dashboard."""
        from cairn.client import notebook_display

        uri = self._writer.spool.uri
        try:
            record = self._stored(notebook_display.SUMMARY_WAIT_S)
        except Exception as exc:  # showing a run must never raise: show what this process knows
            return notebook_display.run_summary(
                project=self.project,
                name=self.name,
                run_id=self.id,
                status=self._status.value if self._status is not None else RunStatus.RUNNING.value,
                params=self._params,
                metrics=None,
                uri=uri,
                note=f"metrics not shown: the store could not be read ({type(exc).__name__})",
            )
        return notebook_display.record_summary(record, uri)

    def _stored(self, wait: float) -> RunRecord:
        """The run as its store has it, after up to ``wait`` seconds for what is queued to get
        there (a notebook's summary shows the metrics just logged)."""
        if self._status is None:
            self._writer.flush(wait)
            return self._tracking.get_run(self.id)
        found: list[RunRecord] = []
        self._after_end(lambda tracking: found.append(tracking.get_run(self.id)))
        return found[0]

    # -- logging ----------------------------------------------------------------------------

    def log(self, data: Mapping[str, Any], step: int | None = None, timestamp: int | None = None) -> None:
        """Log metric values at a step (the previous step + 1 when omitted; 0 at first).

        ``timestamp`` is in milliseconds since the epoch, now when omitted. Values are numbers
        (NaN and ±inf included); keys follow the limits in docs/limits.md.
        """
        if step is None:
            step = self._next_step
        self._next_step = self._log_at(data, step, timestamp) + 1  # only once the call logged something

    def _log_at(self, data: Mapping[str, Any], step: int, timestamp: int | None) -> int:
        """Check and queue ``data`` at ``step``, which it returns as checked, without moving
        the run's next step: what logs on its own schedule (``watch``) leaves the script's
        own numbering alone."""
        if self._status is not None:
            self._check_open()
        # A bad step or timestamp must raise here: in the writer it would sink a whole batch.
        if type(step) is not int or not limits.MIN_INT64 <= step <= limits.MAX_INT64:
            step = limits.check_step(step)
        if timestamp is None:
            timestamp = time.time_ns() // 1_000_000
        elif type(timestamp) is not int or not 0 <= timestamp <= limits.MAX_INT64:
            timestamp = _as_timestamp(timestamp)
        values = dict(data)  # the caller may reuse its dict for the next step
        for key, value in values.items():
            if key not in self._known_keys:
                self._known_keys.add(limits.check_key(key, "metric"))
            if type(value) is not float:
                values[key] = _as_number(key, value)
        self._writer.put_points(step, timestamp, values)
        return step

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log params (nested mappings become dotted keys). Params are immutable: the same value
        again is fine, another value raises :class:`ParamConflict`."""
        self._check_open()
        flat = flatten_config(params)
        conflicts = {k: v for k, v in flat.items() if k in self._params and not same_param_value(self._params[k], v)}
        if conflicts:
            raise ParamConflict(
                f"params are immutable; already logged with a different value: {', '.join(sorted(conflicts))}",
                details={"run_id": self.id, "keys": sorted(conflicts)},
            )
        new = {k: v for k, v in flat.items() if k not in self._params}
        self._params.update(new)
        for chunk in in_request_chunks(new):  # any number of params, in requests the store takes
            self._writer.put("params", chunk)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Set string tags; unlike metrics and params, tags may still change after the run ends."""
        checked = {
            limits.check_key(k, "tag"): limits.check_text(v, f"tag {k!r}", limits.MAX_TAG_VALUE_LENGTH)
            for k, v in tags.items()
        }
        chunks = in_request_chunks(checked)
        if self._status is not None:

            def set_all(tracking: Tracking) -> None:
                for chunk in chunks:
                    tracking.set_tags(self.id, chunk)

            self._after_end(set_all)
        else:
            for chunk in chunks:
                self._writer.put("tags", chunk)

    def _forget_refused(self, kind: str, payload: Any) -> None:
        """The store refused params this run claimed (the writer warned): ``run.config`` must
        not go on showing them. Called on the writer thread."""
        if kind == "params":
            for key, value in payload.items():
                if key in self._params and same_param_value(self._params[key], value):
                    self._params.pop(key, None)

    # -- artifacts and datasets --------------------------------------------------------------

    def log_artifact(self, path: str | os.PathLike[str], name: str | None = None, *, copy: bool = False) -> None:
        """Keep a file, or a whole folder, with the run under ``name`` (by default its own name).

        The files are hashed now, so the run keeps them as they are at this call; the upload
        happens in the background (only bytes the store lacks are sent) and :meth:`finish`
        waits for it. ``copy=True`` copies them first (into CAIRN_HOME/staging, removed once
        uploaded), so they may be changed or deleted right after this call (a checkpoint
        that training replaces). Paths that would leave the run, and symlinks pointing
        outside a logged folder, raise InvalidArtifactPath and nothing is logged.
        """
        self._check_open()
        from cairn.client.artifacts import collect

        self._queue_artifacts(collect(path, name, copy=copy))

    def log_text(self, text: str, name: str) -> None:
        """Keep a piece of text as ``name`` (".txt" added when it has no suffix)."""
        from cairn.client.artifact_formats import encode_text

        self._log_encoded(lambda: encode_text(text), name)

    def log_dict(self, data: Mapping[str, Any], name: str) -> None:
        """Keep a mapping as JSON, or as YAML when ``name`` ends in .yaml or .yml."""
        from cairn.client.artifact_formats import encode_dict

        yaml = name.lower().endswith((".yaml", ".yml"))
        self._log_encoded(lambda: encode_dict(data, "yaml" if yaml else "json"), name)

    def log_figure(self, figure: Any, name: str, *, dpi: float = 100) -> None:
        """Keep a matplotlib figure (or axes) as a PNG."""
        from cairn.client.artifact_formats import encode_figure

        self._log_encoded(lambda: encode_figure(figure, dpi=dpi), name)

    def log_table(self, data: Any, name: str, *, columns: Sequence[str] | None = None) -> None:
        """Keep a table: a pandas DataFrame, or a list of rows (dicts, or lists with
        ``columns``). Stored as Parquet when pyarrow is installed, else CSV, with its schema."""
        from cairn.client.artifact_formats import encode_table

        self._log_encoded(lambda: encode_table(data, columns=columns), name)

    def log_confusion_matrix(
        self, y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None, name: str = "confusion_matrix"
    ) -> None:
        """Keep a confusion matrix as data (labels and counts), so the dashboard can draw it."""
        from cairn.client.artifact_formats import encode_confusion_matrix

        self._log_encoded(lambda: encode_confusion_matrix(y_true, y_pred, labels), name)

    def log_dataset(self, source: Any, name: str, *, context: str = "train", store: bool = False) -> None:
        """Record the data this run used: a file, a folder, a pandas DataFrame, or arrays.

        Arrays are a numpy array or tensor (anything with ``__array__``; a torch tensor is
        detached and copied to the CPU), or a tuple, list or dict of them sharing their first
        dimension: ``(x, y)`` names them "0" and "1", ``{"x": x, "y": y}`` by their keys.
        The dataset is identified by the digest of its content (a folder by its manifest of
        file digests), with row and column counts, schema and a small profile; the same
        content under the same name is one version however often it is logged. Large data is
        referenced by digest and location; ``store=True`` also uploads its bytes (a DataFrame
        as a Parquet or CSV table, arrays as one ``.npz``). See docs/artifacts.md."""
        self._check_open()
        limits.check_name(name, "dataset name")
        limits.check_key(context, "dataset context")
        from cairn.client.artifacts import dataset_payload

        self._writer.put("dataset", dataset_payload(source, name, context, store))

    def log_model(
        self,
        model: Any,
        name: str = "model",
        *,
        input_example: Any = None,
        signature: Signature | None = None,
        flavor: str | None = None,
        pip_requirements: Sequence[str] | None = None,
        wait: bool = True,
    ) -> ModelInfo:
        """Keep ``model`` with the run as a model folder under ``name`` (docs/models.md) and
        return its :class:`ModelInfo`, whose ``uri`` (``runs:/RUN_ID/NAME``) loads it again
        with ``cairn.load_model``.

        The flavor is found from the model's type unless given (``"sklearn"``,
        ``"python_function"``, or a plugin's). ``input_example`` (a DataFrame, an array, a list
        of dicts, a dict of lists, a list of strings or one string) is saved with the model
        and, without ``signature``, gives it one: the inputs from the example, the outputs from
        the model's prediction on it. ``pip_requirements``
        replaces the pinned requirements Cairn finds. Unlike other artifacts, this waits until
        the store has the files (or they are spooled), so the URI can be used at once;
        ``wait=False`` (what integrations use, so that training never waits) sends them in the
        background like any artifact, and :func:`cairn.flush` waits for them.
        """
        self._check_open()
        from cairn.client.models.transfer import package_for_run

        requirements = None if pip_requirements is None else list(pip_requirements)
        info, files = package_for_run(
            self.id,
            name,
            model,
            flavor=flavor,
            input_example=input_example,
            signature=signature,
            pip_requirements=requirements,
        )
        self._queue_artifacts(files)
        if wait:
            self._writer.flush()
        return info

    def log_child_runs(self, children: Sequence[ChildRun]) -> None:
        """Log finished child runs of this run in one call, without waiting: each is created
        with its params and tags, its metrics at step 0, and ended, by the background writer
        (a hyperparameter search logs its candidates so). Names, keys and values are checked
        here; the runs appear in the store once the writer has sent them (:meth:`flush`)."""
        self._check_open()
        from cairn.client.child_runs import child_run_payload
        from cairn.service.policy import Principal

        user = Principal.local_user().name
        payloads = [child_run_payload(self.project, self.id, child, user=user) for child in children]
        for payload in payloads:  # all checked before any is queued
            self._writer.put("child_run", payload)

    def watch(self, model: Any, log: str = "gradients", log_freq: int = 100) -> None:
        """Log the L2 norm of each gradient (``log="gradients"``), each parameter
        (``"parameters"``) or both (``"all"``) of a torch model every ``log_freq`` backward
        passes, as metrics ``gradients/<name>`` and ``parameters/<name>`` at the pass's index
        (0, ``log_freq``, …). One autograd hook does it; between logged passes it only counts.
        :meth:`unwatch` (or the run's end) takes it off."""
        self._check_open()
        from cairn.client import watch

        watch.watch(self, self._watchers, model, log, log_freq)

    def unwatch(self, model: Any = None) -> None:
        """Stop watching ``model`` (every watched model when None)."""
        from cairn.client import watch

        watch.unwatch(self._watchers, model)

    def _log_encoded(self, encode: Callable[[], Any], name: str) -> None:
        self._check_open()
        from cairn.client.artifacts import encoded_to_local

        self._queue_artifacts([encoded_to_local(encode(), name)])

    def _log_encoded_at_close(self, encode: Callable[[], Any], name: str) -> None:
        """An artifact encoded when the run closes rather than now: on the background thread
        when it finishes with ``wait=False``, so a training call does not wait for slow
        encoding (drawing a chart costs 0.1 to 0.4 s). ``encode`` must not raise: it is
        the caller's to guard."""
        self._check_open()
        self._encode_at_close.append((encode, name))

    def _queue_artifacts(self, files: Sequence[Any]) -> None:
        if files:
            self._writer.put("artifacts", {"files": [file.to_payload() for file in files]})

    def _update(self, update: RunUpdate) -> None:
        if self._status is not None:
            self._after_end(lambda tracking: tracking.update_run(self.id, update))
        else:
            self._writer.put("update", update_payload(update))

    def _after_end(self, write: Callable[[Tracking], object]) -> None:
        """Send a change the store accepts after the run ended (tags, notes, name) directly:
        the background writer stopped at finish, and what it was handed then would be lost."""
        tracking = connect(self._writer.spool.uri) if self._owns_tracking else self._tracking
        try:
            write(tracking)
        finally:
            if self._owns_tracking:
                tracking.close()

    def _check_open(self) -> None:
        # After finish the writer has stopped: a write accepted now would be silently lost.
        if self._status is not None:
            raise RunNotActive(
                f"run {self.id} has ended ({self._status.value}); nothing more can be logged to it",
                details={"run_id": self.id, "status": self._status.value},
            )

    # -- ending -----------------------------------------------------------------------------

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait for everything logged so far to reach the store (False if it is spooled)."""
        return self._writer.flush(timeout)

    def finish(self, status: str | RunStatus = "finished", *, timeout: float = 30.0, wait: bool = True) -> None:
        """End the run: send what is queued, then mark it ``status`` (finished, failed, killed).

        ``wait=False`` returns at once and leaves the sending to a background thread, which the
        interpreter waits for at exit and :func:`cairn.flush` (or a new ``cairn.Api()``) waits
        for before reading: what an integration does, so that training never waits on logging.
        """
        if self._status is not None:
            return
        final = RunStatus(status)
        if not final.is_terminal:
            raise InvalidValue("a run can only finish as finished, failed or killed")
        if self._watchers:
            self.unwatch()
        end_time = time.time_ns() // 1_000_000
        self._status = final  # nothing more is accepted from here on
        if self._capture is not None:
            self._capture.stop()
        from cairn.client import lifecycle

        lifecycle.forget(self)
        if wait:
            self._close(final, end_time, timeout)
        else:
            lifecycle.close_in_background(self.id, lambda: self._close(final, end_time, timeout))

    def _close(self, final: RunStatus, end_time: int, timeout: float) -> None:
        from cairn.client.artifacts import encoded_to_local

        for encode, name in self._encode_at_close:
            encoded = encode()
            if encoded is not None:
                self._queue_artifacts([encoded_to_local(encoded, name)])
        self._encode_at_close.clear()
        if self._capture is not None:
            self._capture.finish()  # its last writes go before the run is marked ended
        if not self._attached:
            self._writer.put("update", update_payload(RunUpdate(status=final, end_time=end_time)))
        delivered = self._writer.close(timeout)
        if not delivered and self._writer.backlog:
            self._report_left_behind(timeout)
        if self._owns_tracking:
            self._tracking.close()

    def _report_left_behind(self, timeout: float) -> None:
        """Say on stderr what finish() could not deliver within its timeout, where it waits, and
        the command that sends it."""
        from cairn.client.writer import warn

        left = self._writer.backlog_summary()
        what = []
        if left.metric_batches:
            what.append(f"{_count(left.metric_batches, 'metric batch', 'es')} ({_count(left.points, 'point')})")
        if left.other_writes:
            what.append(f"{_count(left.other_writes, 'other write')} (params, tags, the run's end and the like)")
        lines = [
            f"run {self.id}: finish() waited {timeout:g} s, but the store at {self._writer.spool.uri} did not "
            f"take everything; the run stays 'running' there until the rest arrives.",
            f"  left: {', '.join(what)}",
        ]
        if left.writes > left.in_memory:
            when = "now" if self._writer.release() else "once this process has exited"
            lines.append(f"  kept in: {self._writer.spool.folder}")
            lines.append(f"  to send them: `cairn sync` (from {when}, with the same CAIRN_HOME)")
        if left.in_memory:
            lines.append(
                f"  {_count(left.in_memory, 'write')} of these are in memory only (the spool could not be "
                "written): they are lost when this process exits"
            )
        warn("\n".join(lines))

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.finish("finished")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.finish("killed")
        else:
            self.finish("failed")


class SkippedRun(Run):
    """What ``cairn.init(..., on_duplicate="skip")`` returns when the config already ran: no run
    was created, ``skipped`` is True, ``duplicates`` lists the earlier runs, and everything
    logged to it is dropped without a word, so a script that does not check still runs.
    The intended use is to stop early::

        run = cairn.init("mnist", config=config, on_duplicate="skip")
        if run.skipped:
            print("already tried:", run.duplicates[0].metrics["acc"].last)
            return

    A skipped run has no id of its own (``id`` is ""); its ``config`` holds the config.
    """

    def __init__(
        self,
        project: str,
        *,
        name: str | None,
        params: Mapping[str, ParamValue],
        notes: str,
        duplicates: Sequence[RunRecord],
    ) -> None:
        # Not Run.__init__: no record, store or writer stands behind a skipped run.
        self._project = project
        self._name = name or ""
        self._notes = notes
        self._params = dict(params)
        self._duplicates = list(duplicates)
        self._status = None
        self.config = RunConfig(self)

    @property
    def id(self) -> str:
        return ""

    @property
    def project(self) -> str:
        return self._project

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    @property
    def notes(self) -> str:
        return self._notes

    @notes.setter
    def notes(self, value: str) -> None:
        self._notes = value

    @property
    def offline(self) -> bool:
        return False

    @property
    def skipped(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<cairn.Run {self.project}/{self.name or '-'} skipped: the config already ran>"

    def _repr_html_(self) -> str:
        from cairn.client import notebook_display
        from cairn.client.connect import resolve_uri

        earlier = f" as run {self._duplicates[0].id}" if self._duplicates else ""
        return notebook_display.run_summary(
            project=self.project,
            name=self.name or "-",
            run_id="",
            status="skipped",
            params=self._params,
            metrics=None,
            uri=resolve_uri(None),
            note=f"nothing was logged: this config already ran{earlier}",
        )

    def log(self, data: Mapping[str, Any], step: int | None = None, timestamp: int | None = None) -> None:
        pass

    def log_params(self, params: Mapping[str, Any]) -> None:
        try:
            flat = flatten_config(params)
        except CairnError:
            return
        for key, value in flat.items():
            self._params.setdefault(key, value)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        pass

    def log_artifact(self, path: str | os.PathLike[str], name: str | None = None, *, copy: bool = False) -> None:
        pass

    def watch(self, model: Any, log: str = "gradients", log_freq: int = 100) -> None:
        pass

    def unwatch(self, model: Any = None) -> None:
        pass

    def _log_encoded(self, encode: Callable[[], Any], name: str) -> None:
        pass

    def _log_encoded_at_close(self, encode: Callable[[], Any], name: str) -> None:
        pass

    def log_dataset(self, source: Any, name: str, *, context: str = "train", store: bool = False) -> None:
        pass

    def log_child_runs(self, children: Sequence[ChildRun]) -> None:
        pass

    def log_model(
        self,
        model: Any,
        name: str = "model",
        *,
        input_example: Any = None,
        signature: Signature | None = None,
        flavor: str | None = None,
        pip_requirements: Sequence[str] | None = None,
        wait: bool = True,
    ) -> ModelInfo:
        # Nothing is stored: the info says so with an empty URI and digest.
        from cairn.client.models.transfer import ModelInfo

        return ModelInfo(uri="", run_id="", name=name, flavor=flavor or "", signature=signature, manifest_digest="")

    def flush(self, timeout: float | None = 30.0) -> bool:
        return True

    def finish(self, status: str | RunStatus = "finished", *, timeout: float = 30.0, wait: bool = True) -> None:
        # Nothing to end, as nothing was stored: the run only remembers that it was finished.
        if self._status is None:
            self._status = RunStatus.FINISHED


class RunConfig(MutableMapping[str, Any]):
    """``run.config``: the run's params as a mapping; setting a key logs a param."""

    def __init__(self, run: Run) -> None:
        self._run = run

    def __getitem__(self, key: str) -> Any:
        return self._run._params[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._run.log_params({key: value})

    def __delitem__(self, key: str) -> None:
        raise ParamConflict("params are immutable: they cannot be removed once logged")

    def __iter__(self) -> Iterator[str]:
        # A copy: the writer thread drops params the store refused (see Run._forget_refused).
        return iter(list(self._run._params))

    def __len__(self) -> int:
        return len(self._run._params)

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        self._run.log_params({**dict(other), **kwargs})

    def __repr__(self) -> str:
        return f"RunConfig({self._run._params!r})"


def _count(n: int, noun: str, plural_suffix: str = "s") -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}{plural_suffix}"


def _as_number(key: str, value: Any) -> float:
    if isinstance(value, _NOT_NUMBERS) or value is None:
        raise InvalidValue(f"metric {key!r} must be a number, got {type(value).__name__}", details={"key": key})
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidValue(
            f"metric {key!r} must be a number, got {type(value).__name__}", details={"key": key}
        ) from None


def _as_timestamp(value: Any) -> int:
    if not isinstance(value, bool) and hasattr(value, "__index__"):
        value = operator.index(value)  # numpy integers
    return limits.check_timestamp(value)
