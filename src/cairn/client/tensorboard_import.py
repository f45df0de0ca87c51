"""Copy a TensorBoard log directory into Cairn: each run folder becomes a run of one project.

A folder's scalars become metrics with their steps and wall times, its HParams-plugin
hyperparameters params, its images artifacts ``images/TAG/step-STEP.png`` and its text
summaries artifacts ``text/TAG/step-STEP.txt`` (tensorboard_reader.py reads them). The run is
named by the folder's path under the log directory, starts at its first event, ends at its last
and is ``finished``.

A run is recognised as imported by its tag ``tensorboard.source`` (the folder's absolute path),
set last with ``tensorboard.digest`` (one SHA-256 of its event files) once everything else of
the run is in: importing again skips a folder whose files are unchanged, and re-imports one
whose files changed (training went on) into a new run, deleting the old one (an ended run takes
no more metrics, so the new points cannot be appended to it). A folder that cannot be read or
written is reported and nothing of it is left (the half-made run is deleted); the others go on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cairn.client import artifacts
from cairn.client.artifact_formats import EncodedArtifact
from cairn.client.tensorboard_reader import TensorBoardRun, files_digest, read_run, require_tensorboard, run_folders
from cairn.core import limits
from cairn.core.entities import Run, RunStatus, RunUpdate
from cairn.core.errors import CairnError
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.service.interface import Tracking

SOURCE_TAG = "tensorboard.source"
DIGEST_TAG = "tensorboard.digest"


@dataclass
class TensorBoardReport:
    """What an import did, run folder by run folder."""

    imported: int = 0
    #: Folders imported before whose files are unchanged.
    skipped: int = 0
    #: Folders imported before whose files changed: imported again, the old run deleted.
    replaced: int = 0
    #: ``(run folder name, reason)`` of the folders that could not be imported.
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: Plugin name → values of it not imported (histograms, graphs, audio, ...).
    left_out: dict[str, int] = field(default_factory=dict)


def import_tensorboard(
    tracking: Tracking,
    logdir: str | Path,
    *,
    project: str,
    on_total: Callable[[int], None] | None = None,
    on_step: Callable[[], None] | None = None,
) -> TensorBoardReport:
    """Import every run folder under ``logdir`` into ``project`` (created if new).
    ``on_total`` hears how many run folders there are, ``on_step`` each one done. Raises
    FrameworkNotInstalled at once without the tensorboard package."""
    require_tensorboard()
    folders = run_folders(Path(logdir))
    if on_total is not None:
        on_total(len(folders))
    step = on_step or (lambda: None)
    report = TensorBoardReport()
    imported = _imported(tracking, project)
    for name, folder, files in folders:
        try:
            digest = files_digest(files)
            before = imported.get(str(folder))
            if before is not None and before.tags.get(DIGEST_TAG) == digest:
                report.skipped += 1
            else:
                source = read_run(name, folder, files)  # all of it, before anything is written
                _write_run(tracking, project, source, digest)
                for plugin, count in source.left_out.items():
                    report.left_out[plugin] = report.left_out.get(plugin, 0) + count
                if before is not None:
                    tracking.delete_run(before.id)
                    report.replaced += 1
                else:
                    report.imported += 1
        except (CairnError, OSError) as exc:  # reported, and the other folders go on
            code = f" [{exc.code}]" if isinstance(exc, CairnError) else ""
            report.failed.append((name, f"{exc}{code}"))
        step()
    return report


def _imported(tracking: Tracking, project: str) -> dict[str, Run]:
    """Source folder → the run imported from it, for the runs of ``project``."""
    found: dict[str, Run] = {}
    token = None
    while True:
        try:
            page = tracking.list_runs(project, limit=1000, page_token=token)
        except CairnError as exc:
            if exc.code == "project_not_found":
                return found
            raise
        for run in page.items:
            if SOURCE_TAG in run.tags:
                found[run.tags[SOURCE_TAG]] = run
        token = page.next_page_token
        if not token:
            return found


def _write_run(tracking: Tracking, project: str, source: TensorBoardRun, digest: str) -> str:
    run = tracking.create_run(project, name=source.name, start_time=source.first_ms)
    try:
        if source.hparams:
            tracking.log_params(run.id, source.hparams)
        _write_scalars(tracking, run.id, source)
        _write_media(tracking, run.id, source)
        end_time = max(source.last_ms, run.start_time) if source.last_ms is not None else None
        tracking.update_run(run.id, RunUpdate(status=RunStatus.FINISHED, end_time=end_time))
        tracking.set_tags(run.id, {SOURCE_TAG: str(source.folder), DIGEST_TAG: digest})
    except BaseException:
        tracking.delete_run(run.id)  # not left behind as if it were the run
        raise
    return run.id


def _write_scalars(tracking: Tracking, run_id: str, source: TensorBoardRun) -> None:
    seq = 0
    for key in sorted(source.scalars):
        points = source.scalars[key]
        for start in range(0, len(points), limits.MAX_POINTS_PER_BATCH):
            chunk = points[start : start + limits.MAX_POINTS_PER_BATCH]
            columns = MetricColumns(
                key=key,
                steps=np.array([p.step for p in chunk], dtype=np.int64),
                timestamps=np.array([p.timestamp_ms for p in chunk], dtype=np.int64),
                values=np.array([p.value for p in chunk], dtype=np.float64),
            )
            batch = MetricBatch(client_id=f"tensorboard-import-{run_id}", seq=seq, columns=[columns])
            tracking.log_metrics(run_id, batch)
            seq += 1


def _write_media(tracking: Tracking, run_id: str, source: TensorBoardRun) -> None:
    files = []
    for image in source.images:
        suffix, media_type = _image_format(image.data)
        index = f"-{image.index}" if image.index else ""
        meta = {"width_px": image.width, "height_px": image.height, "step": image.step, "tag": image.tag}
        encoded = EncodedArtifact(image.data, suffix, media_type, "figure", meta)  # shown as a figure is
        files.append(artifacts.stage(encoded, f"images/{image.tag}/step-{image.step}{index}{suffix}"))
    for text in source.texts:
        encoded = EncodedArtifact(
            text.text.encode(),
            ".txt",
            "text/plain; charset=utf-8",
            "text",
            {"chars": len(text.text), "step": text.step},
        )
        files.append(artifacts.stage(encoded, f"text/{text.tag}/step-{text.step}.txt"))
    if files:
        artifacts.upload(tracking, run_id, files)


def _image_format(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png", "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg", "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return ".gif", "image/gif"
    return ".bin", "application/octet-stream"
