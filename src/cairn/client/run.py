"""A run as the training script sees it: ``cairn.init(...)`` returns one.

Everything a run logs is checked here, in the caller's thread, so a mistake raises where it was
made; then it is queued for the background writer, so the caller never waits on I/O.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, MutableMapping
from types import TracebackType
from typing import Any

from cairn.client.writer import BackgroundWriter, update_payload
from cairn.core import limits
from cairn.core.entities import ParamValue, RunStatus, RunUpdate
from cairn.core.entities import Run as RunRecord
from cairn.core.errors import InvalidValue, ParamConflict
from cairn.core.params import flatten_config, same_param_value
from cairn.service.interface import Tracking

#: Plain numbers pass the hot path's check without a call; numpy scalars, tensors and the like
#: are converted with float().
_NUMBER_TYPES = (float, int)


class Run:
    """A run being logged. Use as a context manager, or call :meth:`finish` at the end.

    If neither happens, the run is finished when the interpreter exits (as failed if it exits
    on an uncaught exception).
    """

    def __init__(self, tracking: Tracking, record: RunRecord, writer: BackgroundWriter, *, owns_tracking: bool):
        self._tracking = tracking
        self._record = record
        self._writer = writer
        self._owns_tracking = owns_tracking
        self._params: dict[str, ParamValue] = dict(record.params)
        self._known_keys: set[str] = set()
        self._next_step = 0
        self._notes = record.notes
        self._name = record.name
        self._status: RunStatus | None = None
        self.config = RunConfig(self)

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
        self._writer.put("update", update_payload(RunUpdate(name=value)))

    @property
    def notes(self) -> str:
        """Markdown notes; assigning replaces them."""
        return self._notes

    @notes.setter
    def notes(self, value: str) -> None:
        self._notes = limits.check_text(value, "notes", limits.MAX_NOTES_LENGTH)
        self._writer.put("update", update_payload(RunUpdate(notes=value)))

    @property
    def finished(self) -> bool:
        return self._status is not None

    def __repr__(self) -> str:
        return f"<cairn.Run {self.project}/{self.name} id={self.id}>"

    # -- logging ----------------------------------------------------------------------------

    def log(self, data: Mapping[str, Any], step: int | None = None, timestamp: int | None = None) -> None:
        """Log metric values at a step (the previous step + 1 when omitted; 0 at first).

        ``timestamp`` is in milliseconds since the epoch, now when omitted. Values are numbers
        (NaN and ±inf included); keys follow the limits in docs/limits.md.
        """
        if self._status is not None:
            raise InvalidValue(f"run {self.id} is finished; nothing more can be logged to it")
        if step is None:
            step = self._next_step
        elif type(step) is not int:
            step = limits.check_step(step)
        self._next_step = step + 1
        if timestamp is None:
            timestamp = time.time_ns() // 1_000_000
        values = dict(data)  # the caller may reuse its dict for the next step
        for key, value in values.items():
            if key not in self._known_keys:
                self._known_keys.add(limits.check_key(key, "metric"))
            if type(value) not in _NUMBER_TYPES:
                values[key] = _as_number(key, value)
        self._writer.put_points(step, timestamp, values)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log params (nested mappings become dotted keys). Params are immutable: the same value
        again is fine, another value raises :class:`ParamConflict`."""
        flat = flatten_config(params)
        conflicts = {k: v for k, v in flat.items() if k in self._params and not same_param_value(self._params[k], v)}
        if conflicts:
            raise ParamConflict(
                f"params are immutable; already logged with a different value: {', '.join(sorted(conflicts))}",
                details={"run_id": self.id, "keys": sorted(conflicts)},
            )
        new = {k: v for k, v in flat.items() if k not in self._params}
        if new:
            self._params.update(new)
            self._writer.put("params", new)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        checked = {
            limits.check_key(k, "tag"): limits.check_text(v, f"tag {k!r}", limits.MAX_TAG_VALUE_LENGTH)
            for k, v in tags.items()
        }
        self._writer.put("tags", checked)

    # -- ending -----------------------------------------------------------------------------

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait for everything logged so far to reach the store (False if it is spooled)."""
        return self._writer.flush(timeout)

    def finish(self, status: str | RunStatus = "finished", *, timeout: float = 30.0) -> None:
        """End the run: send what is queued, then mark it ``status`` (finished, failed, killed)."""
        if self._status is not None:
            return
        final = RunStatus(status)
        if not final.is_terminal:
            raise InvalidValue("a run can only finish as finished, failed or killed")
        self._status = final
        self._writer.put("update", update_payload(RunUpdate(status=final, end_time=time.time_ns() // 1_000_000)))
        from cairn.client import lifecycle

        lifecycle.forget(self)
        delivered = self._writer.close(timeout)
        if not delivered and self._writer.backlog:
            from cairn.client.writer import warn

            warn(
                f"run {self.id}: {self._writer.backlog} writes could not reach the store yet; they are "
                f"kept in {self._writer.spool.folder} and `cairn sync` sends them"
            )
        if self._owns_tracking:
            self._tracking.close()

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
        return iter(self._run._params)

    def __len__(self) -> int:
        return len(self._run._params)

    def update(self, other: Any = (), /, **kwargs: Any) -> None:  # type: ignore[override]
        self._run.log_params({**dict(other), **kwargs})

    def __repr__(self) -> str:
        return f"RunConfig({self._run._params!r})"


def _as_number(key: str, value: Any) -> float:
    if isinstance(value, bool | str) or value is None:
        raise InvalidValue(f"metric {key!r} must be a number, got {type(value).__name__}", details={"key": key})
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidValue(
            f"metric {key!r} must be a number, got {type(value).__name__}", details={"key": key}
        ) from None
