"""What every framework integration shares: which run a training call logs into, and a guard
that keeps an error inside logging from ever stopping training.

An integration never decides on its own where runs go: it asks :func:`training_run`, which
logs into the run the script already has open (``cairn.init``), else starts one in the project
``cairn.autolog(project=...)`` named, else ``CAIRN_PROJECT``, else the script's folder name,
and finishes that run when the training call returns (failed if it raised).

One training call often makes others: a scikit-learn pipeline fits an ``XGBClassifier``, which
calls ``xgboost.train``. :func:`logging_call` marks, per thread, that a logged training call is
under way and whose it is (:func:`current_logging_call`), so the inner integration adds what
only it sees to the outer call's run instead of starting a second one.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from cairn.client import lifecycle
from cairn.client.run import Run
from cairn.client.writer import warn
from cairn.core.params import same_param_value

P = ParamSpec("P")
T = TypeVar("T")

#: The name every integration logs its model under: ``runs:/RUN/model``.
MODEL_NAME = "model"


@dataclass
class AutologSettings:
    """One integration's switch, as its ``autolog(...)`` call left it."""

    enabled: bool = False
    project: str | None = None
    log_models: bool = True
    #: Whether the training (and evaluation) data is logged as the run's dataset inputs.
    log_datasets: bool = True


_settings: dict[str, AutologSettings] = {}
_lock = threading.Lock()


def settings_of(integration: str) -> AutologSettings:
    with _lock:
        return _settings.setdefault(integration, AutologSettings())


def configure(integration: str, **values: Any) -> AutologSettings:
    with _lock:
        current = _settings.setdefault(integration, AutologSettings())
        for key, value in values.items():
            setattr(current, key, value)
        return current


def active_run() -> Run | None:
    """The run most recently started and not yet finished in this process, if any."""
    runs = lifecycle.active_runs()
    return runs[-1] if runs else None


@contextlib.contextmanager
def training_run(
    integration: str,
    *,
    project: str | None = None,
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    parent: Run | None = None,
) -> Iterator[Run | None]:
    """The run one training call logs into, for the length of the call.

    An open run (``cairn.init``) is used as it is and left open; otherwise a run is started
    (nested under ``parent`` when given) and finished when the block ends: ``failed`` if the
    training raised, ``killed`` on Ctrl-C. Yields None, with one warning, when no run can be
    started at all: training goes on without logging.
    """
    run = active_run() if parent is None else None
    owned = False
    if run is None:
        from cairn.client.sdk import init

        target = project or settings_of(integration).project
        try:
            run = init(
                target,
                name=name,
                config=config,
                parent=parent,
                tags={"cairn.autolog": integration},
                on_duplicate="warn",
            )
            owned = True
        except Exception as exc:  # no run must never mean no training
            Guard.of(integration).report(exc)
            run = None
    if run is None or not owned:
        yield run
        return
    try:
        yield run
    except KeyboardInterrupt:
        _finish(integration, run, "killed")
        raise
    except BaseException:
        _finish(integration, run, "failed")
        raise
    _finish(integration, run, "finished")


_calls = threading.local()  # .integration: whose logged training call this thread is in


@contextlib.contextmanager
def logging_call(integration: str) -> Iterator[None]:
    """Mark this thread as inside a logged training call of ``integration`` for the block."""
    outer = getattr(_calls, "integration", None)
    _calls.integration = integration
    try:
        yield
    finally:
        _calls.integration = outer


def current_logging_call() -> str | None:
    """The integration whose logged training call this thread is inside, or None."""
    return getattr(_calls, "integration", None)


def prepare_connection() -> None:
    """Build, now, what the first run's connection needs (the HTTP client and its TLS
    context, or the embedded store and its database): 0.3 to 1 s that the first training
    call would otherwise spend. Nothing is sent: a server that is away costs nothing here."""
    from cairn.client.connect import connect

    connect().close()


#: How long the sending of a run finished while the store is away keeps trying before it
#: leaves the rest to the spool (``cairn sync``). The training call does not wait for it (the
#: run finishes in the background), but the interpreter's exit does.
_OFFLINE_FINISH_TIMEOUT_S = 1.0


def _finish(integration: str, run: Run, status: str) -> None:
    timeout = _OFFLINE_FINISH_TIMEOUT_S if run.offline else 30.0
    # Training returns at once: the rest (the capture's last snapshot, queued writes, the run's
    # end) is sent in the background; the interpreter waits for it at exit, cairn.flush() and
    # cairn.Api() before they read.
    Guard.of(integration).call(run.finish, status, timeout=timeout, wait=False)


def log_new_params(run: Run, params: Mapping[str, Any]) -> None:
    """Params the run does not hold yet: a second training call logged into one open run
    keeps the first call's values rather than failing on params being immutable."""
    held = run.config
    fresh = {key: value for key, value in params.items() if key not in held or same_param_value(held[key], value)}
    if fresh:
        run.log_params(fresh)


def in_memory_arrays(named: Mapping[str, Any]) -> dict[str, Any] | None:
    """``named`` as it is, when ``run.log_dataset`` can take it as arrays: every value an
    array (numpy, a torch tensor, anything with ``__array__``) of one dimension or more, none
    of Python objects, all with the same first dimension, the rows. Else None: a generator,
    a ``tf.data`` or torch ``Dataset``, data of several lengths are not one table of arrays,
    and training on them is no error to warn about.

    Only shapes and dtypes are read, not the values: ``named_arrays`` (which ``log_dataset``
    applies later, raising on the same cases) would copy a GPU tensor to the CPU here, at the
    start of a fit, and hold the copy while it trains."""
    rows = set()
    for value in named.values():
        shape = getattr(value, "shape", None)
        if not hasattr(value, "__array__") or shape is None or len(shape) == 0:
            return None
        if getattr(getattr(value, "dtype", None), "hasobject", False):  # no bytes to digest
            return None
        rows.add(int(shape[0]))
    return dict(named) if len(rows) == 1 else None


class Guard:
    """Runs an integration's logging code so that it can never fail training.

    The first error an integration meets prints one warning naming it and the error; later
    errors of the same integration are silent (training loops call logging thousands of
    times). ``call`` returns None where the logging code raised.
    """

    _guards: dict[str, Guard] = {}
    _guards_lock = threading.Lock()

    def __init__(self, integration: str):
        self.integration = integration
        self.errors = 0

    @classmethod
    def of(cls, integration: str) -> Guard:
        with cls._guards_lock:
            guard = cls._guards.get(integration)
            if guard is None:
                guard = cls._guards[integration] = cls(integration)
            return guard

    def report(self, exc: BaseException) -> None:
        self.errors += 1
        if self.errors == 1:
            warn(
                f"{self.integration} logging failed, training goes on (later errors of it are not shown): "
                f"{type(exc).__name__}: {exc}"
            )

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # logging must never stop training
            self.report(exc)
            return None

    def wraps(self, fn: Callable[P, T]) -> Callable[P, T | None]:
        """``fn`` as a function that reports its errors instead of raising them."""

        @functools.wraps(fn)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> T | None:
            return self.call(fn, *args, **kwargs)

        return guarded
