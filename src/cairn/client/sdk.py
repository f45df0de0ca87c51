"""``cairn.init``: start a run and return it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from cairn.client import lifecycle
from cairn.client.connect import connect, resolve_uri
from cairn.client.run import Run
from cairn.client.writer import BackgroundWriter
from cairn.core.errors import Unavailable
from cairn.service.interface import Tracking
from cairn.service.policy import Principal
from cairn.settings import cairn_home

#: How long ``init`` keeps trying a server that does not answer before it gives up.
_START_PATIENCE_S = 10.0


def init(
    project: str,
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    notes: str | None = None,
    *,
    parent: Run | str | None = None,
    uri: str | None = None,
    flush_interval: float = 0.5,
) -> Run:
    """Start a run in ``project`` (created on first use) and return it.

    ``config`` is logged as params, nested mappings flattened with dots. ``uri`` (else
    ``CAIRN_URI``, else the embedded store under ``CAIRN_HOME``) says where the run goes.
    ``parent`` makes it a nested run.
    """
    target = resolve_uri(uri)
    tracking = connect(target)
    parent_id = parent.id if isinstance(parent, Run) else parent
    record = _create_with_patience(
        tracking,
        project,
        name=name,
        user=Principal.local_user().name,
        config=config,
        tags=tags,
        notes=notes or "",
        parent_id=parent_id,
    )
    writer = BackgroundWriter(
        tracking, record.id, spool_root=cairn_home() / "spool", uri=target, flush_interval=flush_interval
    )
    run = Run(tracking, record, writer, owns_tracking=True)
    lifecycle.remember(run)
    return run


def _create_with_patience(tracking: Tracking, project: str, **fields: Any) -> Any:
    deadline = time.monotonic() + _START_PATIENCE_S
    delay = 0.25
    while True:
        try:
            return tracking.create_run(project, **fields)
        except Unavailable:
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
