"""``cairn.init``: start a run and return it; ``cairn.register_model``: make a logged model a
version of a registered model."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from cairn.client import lifecycle
from cairn.client.capture.recorder import CaptureSettings, RunCapture
from cairn.client.connect import connect, resolve_uri
from cairn.client.duplicates import LOOKUP_LIMIT, OnDuplicate, check_on_duplicate, describe, duplicate_error
from cairn.client.monitor import DEFAULT_BATCH_ROWS, DEFAULT_MAX_QUEUED_ROWS, PredictionMonitor
from cairn.client.run import Run, SkippedRun
from cairn.client.writer import BackgroundWriter, creation_payload, in_request_chunks, warn
from cairn.core.clock import now_ms
from cairn.core.entities import ParamValue, RunStatus
from cairn.core.entities import Run as RunRecord
from cairn.core.errors import InvalidValue, Unavailable
from cairn.core.fingerprint import fingerprint
from cairn.core.names import generate_run_name
from cairn.core.params import flatten_config
from cairn.core.registry import ModelVersion
from cairn.service.interface import Tracking
from cairn.service.policy import Principal
from cairn.settings import cairn_home, default_project

if TYPE_CHECKING:
    from cairn.client.models.loaded import LoadedModel

#: Set by ``cairn run`` for the command it wraps: the id of the run that command logs into.
ATTACH_ENV = "CAIRN_RUN_ID"

#: How long ``init`` keeps trying a server that does not answer before it gives up.
_START_PATIENCE_S = 10.0

T = TypeVar("T")


def init(
    project: str | None = None,
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    notes: str | None = None,
    *,
    parent: Run | str | None = None,
    uri: str | None = None,
    flush_interval: float = 0.5,
    on_duplicate: OnDuplicate = "warn",
    capture: bool | CaptureSettings = True,
) -> Run:
    """Start a run in ``project`` (created on first use; else ``CAIRN_PROJECT``, else the name
    of the script's folder) and return it.

    ``config`` is logged as params, nested mappings flattened with dots. ``uri`` (else
    ``CAIRN_URI``, else the embedded store under ``CAIRN_HOME``) says where the run goes.
    ``parent`` makes it a nested run.

    Before the run is created, finished runs of the project with the same config (the same
    fingerprint, see docs/insight.md) are looked up; ``run.duplicates`` lists them, newest
    first. ``on_duplicate`` says what happens when there are some: ``"warn"`` (the default)
    prints one line on stderr and starts the run; ``"error"`` raises
    :class:`cairn.DuplicateRun` and creates nothing; ``"skip"`` creates nothing and returns a
    run whose ``skipped`` is True and whose logging calls do nothing — check it and stop::

        run = cairn.init("mnist", config=config, on_duplicate="skip")
        if run.skipped:
            return

    ``capture`` (on unless ``CAIRN_CAPTURE=0``) records, without being asked, the code the run
    started from, its environment and command as snapshots, system metrics under ``system/``,
    and the console as ``cairn/console.log``; ``capture=False`` or a :class:`CaptureSettings`
    switches parts off (docs/reproducibility.md).

    Inside a command that ``cairn run`` started, ``CAIRN_RUN_ID`` names the run it opened: a
    call without ``parent`` then logs into that run (``config`` as its params, ``tags`` and
    ``notes`` added) instead of starting one; the run ends when the command does, with its exit
    status (docs/integrations/cli-run.md).
    """
    policy = check_on_duplicate(on_duplicate)
    project = default_project(project)
    if isinstance(parent, Run) and parent.skipped:
        raise InvalidValue("a skipped run cannot be a parent: it was never created")
    params = flatten_config(config or {})
    target = resolve_uri(uri)
    wrapper_run = os.environ.get(ATTACH_ENV)
    if wrapper_run and parent is None:  # started by `cairn run`, which owns the run
        return _attach(wrapper_run, project, params, tags, notes, target, flush_interval)
    reproduces = os.environ.get("CAIRN_REPRODUCES")
    if reproduces:  # started by `cairn reproduce RUN --run`
        tags = {**(tags or {}), "reproduces": reproduces}
    tracking = connect(target)
    digest = fingerprint(params)
    # Chosen here, so that sending the creation again (after an outage) never makes two runs.
    run_id = uuid.uuid4().hex
    parent_id = parent.id if isinstance(parent, Run) else parent
    creation = _Creation(project, run_id, name or generate_run_name(), params, dict(tags or {}), notes or "", parent_id)
    # "warn" can start without the store and tell the duplicates later; "error" and "skip" need
    # the answer before anything starts, so they wait for the store a while.
    patience = _START_PATIENCE_S if policy != "warn" else 0.0
    try:
        duplicates: list[RunRecord] = []
        if params:  # without params there is nothing to compare yet
            try:
                duplicates = _with_patience(lambda: tracking.find_duplicates(project, digest, LOOKUP_LIMIT), patience)
            except Unavailable as exc:
                if policy != "warn":
                    raise
                return _start_offline(tracking, creation, exc, target, flush_interval, capture)
        if duplicates and policy == "error":
            raise duplicate_error(duplicates, digest, target, uri=uri)
        if duplicates and policy == "skip":
            tracking.close()
            return SkippedRun(project, name=name, params=params, notes=notes or "", duplicates=duplicates)
        if duplicates:
            warn(describe(duplicates, target, uri=uri))
        try:
            record = _create_whole(tracking, creation, patience)
        except Unavailable as exc:
            if policy != "warn":
                raise
            return _start_offline(tracking, creation, exc, target, flush_interval, capture)
    except BaseException:
        tracking.close()
        raise
    writer = BackgroundWriter(
        tracking, record.id, spool_root=cairn_home() / "spool", uri=target, flush_interval=flush_interval
    )
    return _started(Run(tracking, record, writer, owns_tracking=True, duplicates=duplicates), capture)


@dataclasses.dataclass(frozen=True)
class _Creation:
    """What ``init`` asks the store to create, with the id the client chose."""

    project: str
    run_id: str
    name: str
    params: dict[str, ParamValue]
    tags: dict[str, str]
    notes: str
    parent_id: str | None
    user: str = dataclasses.field(default_factory=lambda: Principal.local_user().name)


def _started(run: Run, capture: bool | CaptureSettings) -> Run:
    run._capture = RunCapture(CaptureSettings.resolve(capture), run._tracking, run._writer, warn=warn)
    run._capture.start()
    lifecycle.remember(run)
    return run


def _start_offline(
    tracking: Tracking,
    creation: _Creation,
    exc: Unavailable,
    target: str,
    flush_interval: float,
    capture: bool | CaptureSettings,
) -> Run:
    """A run that starts while the store cannot be reached: its creation is the first write
    the background writer keeps, so the script goes on at once and the run reaches the store,
    under the same id, when it is back (or by ``cairn sync``). Its duplicates cannot be known."""
    start_time = now_ms()
    record = RunRecord(
        id=creation.run_id,
        project_id="",
        project=creation.project,
        name=creation.name,
        user=creation.user,
        status=RunStatus.RUNNING,
        start_time=start_time,
        end_time=None,
        parent_id=creation.parent_id,
        notes=creation.notes,
        deleted=False,
        params=creation.params,
        tags=creation.tags,
    )
    writer = BackgroundWriter(
        tracking, creation.run_id, spool_root=cairn_home() / "spool", uri=target, flush_interval=flush_interval
    )
    writer.begin_offline()
    warn(
        f"{exc.message}; run {creation.name!r} ({creation.run_id}) starts offline: what it logs waits in "
        f"{writer.spool.folder} and is sent when the store is back (or by `cairn sync`)"
    )
    param_chunks = in_request_chunks(creation.params) or [{}]
    tag_chunks = in_request_chunks(creation.tags) or [{}]
    writer.put(
        "create",
        creation_payload(
            creation.project,
            name=creation.name,
            user=creation.user,
            params=param_chunks[0],
            tags=tag_chunks[0],
            notes=creation.notes,
            parent_id=creation.parent_id,
            start_time=start_time,
        ),
    )
    for param_chunk in param_chunks[1:]:
        writer.put("params", param_chunk)
    for tag_chunk in tag_chunks[1:]:
        writer.put("tags", tag_chunk)
    return _started(Run(tracking, record, writer, owns_tracking=True), capture)


def _attach(
    run_id: str,
    project: str,
    params: dict[str, ParamValue],
    tags: Mapping[str, str] | None,
    notes: str | None,
    target: str,
    flush_interval: float,
) -> Run:
    """The run ``cairn run`` opened for this process, to log into. ``cairn run`` captures code,
    environment, command and console and ends the run with the command's exit status, so this
    side captures nothing and its ``finish`` (at exit too) only sends what is queued."""
    tracking = connect(target)
    try:
        record = tracking.get_run(run_id)
        offline = False
    except Unavailable:  # `cairn run` started offline too, or the store went away since
        offline = True
        record = RunRecord(
            id=run_id,
            project_id="",
            project=os.environ.get("CAIRN_PROJECT") or project,
            name=run_id,
            user=Principal.local_user().name,
            status=RunStatus.RUNNING,
            start_time=now_ms(),
            end_time=None,
            parent_id=None,
            notes="",
            deleted=False,
            params={},
            tags={},
        )
    except BaseException:
        tracking.close()
        raise
    if record.project != project:
        warn(
            f"logging into run {record.name!r} ({run_id}) of `cairn run`, "
            f"in project {record.project!r}, not {project!r}"
        )
    writer = BackgroundWriter(
        tracking, run_id, spool_root=cairn_home() / "spool", uri=target, flush_interval=flush_interval
    )
    if offline:
        writer.begin_offline()
    run = _started(Run(tracking, record, writer, owns_tracking=True, attached=True), False)
    if params:
        run.log_params(params)
    if tags:
        run.set_tags(tags)
    if notes:
        run.notes = notes
    return run


def load_model(model_uri: str, *, uri: str | None = None) -> LoadedModel:
    """The model at ``model_uri``, ready to ``predict``: ``runs:/RUN_ID/NAME`` (what
    ``run.log_model`` returns), ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``.

    Every file is checked against the digests of the model's manifest before any is read (a
    changed file raises ModelTampered); a model saved with pickle warns once that loading it
    runs code. ``predict`` takes a DataFrame, an array or a list of dicts and checks it against
    the model's signature (docs/models.md). ``uri`` (else ``CAIRN_URI``, else the embedded
    store) says which store to look in, as for ``cairn.init``.
    """
    from cairn.client.models.transfer import load_model_from

    lifecycle.flush()  # a model this process logged is there to load
    tracking = connect(resolve_uri(uri))
    try:
        return load_model_from(tracking, model_uri, stacklevel=3)
    finally:
        tracking.close()


def _create_whole(tracking: Tracking, creation: _Creation, patience: float) -> RunRecord:
    """Create the run with all its params and tags, or with none of them.

    A request carries at most ``MAX_ITEMS_PER_REQUEST`` params or tags, so a bigger config goes
    in the same chunks as ``run.log_params``: the first with the run, the rest right after. If
    one of those fails, the run is deleted again and the error raised: never half a config.
    """
    params, tags = creation.params, creation.tags
    param_chunks = in_request_chunks(params) or [{}]
    tag_chunks = in_request_chunks(tags) or [{}]
    record = _with_patience(
        lambda: tracking.create_run(
            creation.project,
            run_id=creation.run_id,
            name=creation.name,
            user=creation.user,
            config=param_chunks[0],
            tags=tag_chunks[0],
            notes=creation.notes,
            parent_id=creation.parent_id,
        ),
        patience,
    )
    if len(param_chunks) == 1 and len(tag_chunks) == 1:
        return record
    try:
        for param_chunk in param_chunks[1:]:
            _with_patience(functools.partial(tracking.log_params, record.id, param_chunk), _START_PATIENCE_S)
        for tag_chunk in tag_chunks[1:]:
            _with_patience(functools.partial(tracking.set_tags, record.id, tag_chunk), _START_PATIENCE_S)
    except BaseException:
        with contextlib.suppress(Exception):
            tracking.delete_run(record.id)
            warn(f"run {record.id} was deleted again: its config or tags could not be stored whole")
        raise
    return dataclasses.replace(record, params={**record.params, **params}, tags={**record.tags, **tags})


def _with_patience(call: Callable[[], T], patience: float) -> T:
    """``call()``, tried again for ``patience`` seconds when the store or server cannot be reached."""
    deadline = time.monotonic() + patience
    delay = 0.25
    while True:
        try:
            return call()
        except Unavailable:
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def register_model(
    model_uri: str,
    name: str,
    *,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    uri: str | None = None,
) -> ModelVersion:
    """Register the model a run logged (``runs:/RUN_ID/PATH``, as ``run.log_model`` returns
    it) as the next version of the registered model ``name``, made if new, and return the
    version: ``.version`` is its number, from 1. ``uri`` (else ``CAIRN_URI``, else the embedded
    store) says which store. See docs/registry.md.

        version = cairn.register_model(f"runs:/{run.id}/model", "digits")
        print(version.version)
    """
    lifecycle.flush()  # a model this process logged is there to register
    tracking = connect(resolve_uri(uri))
    try:
        return tracking.register_model(model_uri, name, description=description, tags=tags)
    finally:
        tracking.close()


#: The alias :func:`monitor` follows when given neither a version nor an alias: the one monitors
#: follow by default (docs/monitoring.md), the version a review promoted to production.
DEFAULT_MONITOR_ALIAS = "champion"


def monitor(
    name: str,
    version: int | None = None,
    *,
    alias: str | None = None,
    uri: str | None = None,
    flush_interval: float = 5.0,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    max_queued_rows: int = DEFAULT_MAX_QUEUED_ROWS,
) -> PredictionMonitor:
    """A :class:`PredictionMonitor` that logs predictions of the registered model ``name`` as
    prediction log files, for monitoring (docs/prediction-logs.md):

        with cairn.monitor("scorer") as mon:  # the version @champion points to now
            ids = mon.log(features_frame, model.predict(features_frame))

    The version is ``version`` if given, else the one ``alias`` points to, else the one
    ``@champion`` points to; an alias is resolved once, here (a monitor of the version an alias
    names later is a new monitor). ``uri`` (else ``CAIRN_URI``, else the embedded store) says
    which store, as for :func:`init`. ``log`` never waits: a thread writes a file per UTC hour
    every ``batch_rows`` rows or ``flush_interval`` seconds and sends it; when the store is
    away, files wait in the spool under ``CAIRN_HOME`` for the next flush or ``cairn sync``. At
    most ``max_queued_rows`` rows wait for the thread; more are dropped and counted in
    ``rows_dropped``. Raises ModelNotFound, ModelVersionNotFound, AliasNotFound (nothing to
    log to), Unavailable (an alias and no store to resolve it)."""
    from cairn.core.models.uri import check_model_name, check_version_number

    check_model_name(name)
    if version is not None and alias is not None:
        raise InvalidValue("give a version or an alias, not both")
    target = resolve_uri(uri)
    tracking = connect(target)
    try:
        if version is not None:
            number = check_version_number(version)
            # Checked now when the store answers; offline, the files wait in the spool.
            with contextlib.suppress(Unavailable):
                tracking.get_model_version(name, number)
        else:
            number = tracking.get_model_version_by_alias(name, alias or DEFAULT_MONITOR_ALIAS).version
        return PredictionMonitor(
            tracking,
            name,
            number,
            uri=target,
            spool_root=cairn_home() / "spool",
            flush_interval=flush_interval,
            batch_rows=batch_rows,
            max_queued_rows=max_queued_rows,
        )
    except BaseException:
        tracking.close()
        raise
