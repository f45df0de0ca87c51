"""``cairn sync``: send the spooled writes of processes that died before they could."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cairn.client.connect import connect
from cairn.client.prediction_files import SPOOLED_PREDICTIONS, send_spooled
from cairn.client.spool import Orphan, orphaned_spools
from cairn.client.writer import apply_write, worth_retrying
from cairn.core.errors import CairnError


@dataclass
class SyncReport:
    writes_sent: int = 0
    points_sent: int = 0
    writes_refused: int = 0
    spools_left: int = 0
    #: Rows of spooled prediction log files (cairn.monitor) the store accepted.
    prediction_rows_sent: int = 0


def sync_spools(root: Path, *, progress: Callable[[int], None] | None = None) -> SyncReport:
    """Replay every orphaned spool under ``root`` to the store it was meant for, in order.

    A write the store refuses (say, to a run deleted since) is dropped and counted; a store that
    cannot be reached leaves its spool in place for the next attempt. A spool that stops at a
    write worth retrying — a nested run whose parent is still in another spool — is tried again
    after the others, for as long as a pass gets anything through: spools are taken oldest
    first, but two created in the same millisecond have no order.
    """
    report = SyncReport()
    waiting = orphaned_spools(root)
    while waiting:
        handled_before = report.writes_sent + report.writes_refused
        waiting = [orphan for orphan in waiting if not _replay(orphan, report, progress)]
        if report.writes_sent + report.writes_refused == handled_before:
            break
    report.spools_left = len(waiting)
    return report


def _replay(orphan: Orphan, report: SyncReport, progress: Callable[[int], None] | None) -> bool:
    """Send ``orphan``'s writes until it is empty (True) or one is worth retrying later."""
    try:
        tracking = connect(orphan.spool.uri)
    except CairnError as exc:  # an embedded store that cannot be opened right now
        if not exc.retryable:
            raise
        return False
    try:
        for write in orphan.spool.pending():
            try:
                if write.kind == SPOOLED_PREDICTIONS:
                    report.prediction_rows_sent += send_spooled(tracking, write).rows
                else:
                    report.points_sent += apply_write(tracking, write.run_id, write.kind, write.payload)
                report.writes_sent += 1
            except CairnError as exc:
                if worth_retrying(write.kind, exc):
                    return False
                report.writes_refused += 1
            orphan.spool.remove(write)
            if progress is not None:
                progress(1)
        orphan.spool.remove_if_empty()
        return True
    finally:
        tracking.close()


def pending_writes(root: Path) -> int:
    return sum(len(orphan.spool) for orphan in orphaned_spools(root))
