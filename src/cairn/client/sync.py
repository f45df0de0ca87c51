"""``cairn sync``: send the spooled writes of processes that died before they could."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cairn.client.connect import connect
from cairn.client.prediction_files import SPOOLED_PREDICTIONS, send_spooled
from cairn.client.spool import Orphan, SpooledWrite, orphaned_spools
from cairn.client.writer import apply_write, worth_retrying
from cairn.core.entities import RunStatus
from cairn.core.errors import CairnError

#: The statuses an ``update`` write ends a run with.
_ENDS = frozenset(status.value for status in RunStatus if status.is_terminal)


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

    A run's end waits while another spool still holds writes to that run: under ``cairn run``
    the wrapper's spool (the older) ends the run, and the script attached to it spools its
    metrics apart; the store refuses metrics for a run that has ended.
    """
    report = SyncReport()
    waiting = orphaned_spools(root)
    hold_ends = True
    while waiting:
        handled_before = report.writes_sent + report.writes_refused
        waiting = [orphan for orphan in waiting if not _replay(orphan, report, progress, waiting if hold_ends else [])]
        if report.writes_sent + report.writes_refused == handled_before:
            if not hold_ends:
                break
            hold_ends = False  # the writes an end waits for cannot get through: send it anyway
    report.spools_left = len(waiting)
    return report


def _replay(
    orphan: Orphan, report: SyncReport, progress: Callable[[int], None] | None, others: Sequence[Orphan]
) -> bool:
    """Send ``orphan``'s writes until it is empty (True) or one is worth retrying later: one
    the store refused for now, or the end of a run that another spool in ``others`` still
    has writes for."""
    try:
        tracking = connect(orphan.spool.uri)
    except CairnError as exc:  # an embedded store that cannot be opened right now
        if not exc.retryable:
            raise
        return False
    try:
        for write in orphan.spool.pending():
            if _ends_a_run(write) and _written_elsewhere(write.run_id, orphan, others):
                return False
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


def _ends_a_run(write: SpooledWrite) -> bool:
    return write.kind == "update" and write.payload.get("status") in _ENDS


def _written_elsewhere(run_id: str, orphan: Orphan, others: Sequence[Orphan]) -> bool:
    return any(
        other is not orphan and any(write.run_id == run_id for write in other.spool.pending()) for other in others
    )


def pending_writes(root: Path) -> int:
    return sum(len(orphan.spool) for orphan in orphaned_spools(root))
