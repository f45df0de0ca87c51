"""What the artifacts browser shows of one file, chosen by its kind, media type and suffix.

Previews read at most :data:`MAX_PREVIEW_BYTES` of a file, so a 10 GB checkpoint costs the page
nothing; anything larger or binary gets its size and a download link. Parquet tables need
pyarrow on the server (optional); CSV needs nothing.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from cairn.core.artifacts import Artifact
from cairn.service.tracking import TrackingService

MAX_PREVIEW_BYTES = 1024 * 1024
MAX_TABLE_ROWS = 100
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml")
TEXT_SUFFIXES = (".txt", ".log", ".md", ".py", ".cfg", ".ini", ".toml", ".sh", ".rst", ".out", ".err")


@dataclass
class Preview:
    kind: str  # image, text, json, table, confusion_matrix, none
    text: str = ""
    truncated: bool = False
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def preview_artifact(tracking: TrackingService, artifact: Artifact) -> Preview:
    path = artifact.path.lower()
    if artifact.media_type in IMAGE_TYPES or path.endswith((".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg")):
        return Preview("image")
    if artifact.kind == "confusion_matrix":
        return _confusion_matrix(_read(tracking, artifact, whole=True))
    if artifact.kind == "table" or path.endswith((".csv", ".parquet")):
        return _table(tracking, artifact)
    if path.endswith(".json") or artifact.media_type == "application/json":
        return _structured(tracking, artifact, json.loads, "json")
    if path.endswith((".yaml", ".yml")):
        return _structured(tracking, artifact, yaml.safe_load, "yaml")
    if artifact.kind == "text" or artifact.media_type.startswith("text/") or path.endswith(TEXT_SUFFIXES):
        data = _read(tracking, artifact)
        return Preview("text", text=data.decode("utf-8", errors="replace"), truncated=artifact.size > len(data))
    return Preview("none", reason="No preview for this type of file.")


def _read(tracking: TrackingService, artifact: Artifact, *, whole: bool = False) -> bytes:
    end = None if whole else min(artifact.size, MAX_PREVIEW_BYTES)
    return b"".join(tracking.read_artifact(artifact.run_id, artifact.path, 0, end))


def _structured(tracking: TrackingService, artifact: Artifact, load: Any, kind: str) -> Preview:
    if artifact.size > MAX_PREVIEW_BYTES:
        return Preview("none", reason=f"Too large to preview ({artifact.size} bytes).")
    text = _read(tracking, artifact).decode("utf-8", errors="replace")
    try:
        value = load(text)
    except (ValueError, yaml.YAMLError):
        return Preview("text", text=text)  # shown as written when it does not parse
    pretty = json.dumps(value, indent=2, ensure_ascii=False, default=str) if kind == "json" else text
    return Preview("json", text=pretty)


def _confusion_matrix(data: bytes) -> Preview:
    try:
        value = json.loads(data)
        labels = [str(label) for label in value["labels"]]
        counts = [[int(c) for c in row] for row in value["matrix"]]
    except (ValueError, KeyError, TypeError):
        return Preview("text", text=data[:MAX_PREVIEW_BYTES].decode("utf-8", errors="replace"))
    total = sum(sum(row) for row in counts)
    accuracy = sum(counts[i][i] for i in range(min(len(counts), len(labels)))) / total if total else None
    return Preview("confusion_matrix", data={"labels": labels, "counts": counts, "accuracy": accuracy})


def _table(tracking: TrackingService, artifact: Artifact) -> Preview:
    if artifact.path.lower().endswith(".parquet") or "parquet" in artifact.media_type:
        return _parquet(tracking, artifact)
    data = _read(tracking, artifact)
    text = data.decode("utf-8", errors="replace")
    if artifact.size > len(data):
        text = text.rsplit("\n", 1)[0]  # the last line may be cut midway
    reader = csv.reader(io.StringIO(text))
    rows = list(row for _, row in zip(range(MAX_TABLE_ROWS + 1), reader, strict=False))
    if not rows:
        return Preview("none", reason="The table is empty.")
    return Preview(
        "table", columns=rows[0], rows=rows[1:], truncated=artifact.size > len(data) or len(rows) > MAX_TABLE_ROWS
    )


def _parquet(tracking: TrackingService, artifact: Artifact) -> Preview:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return Preview("none", reason="Previewing Parquet needs pyarrow on the server (pip install pyarrow).")
    if artifact.size > 64 * MAX_PREVIEW_BYTES:
        return Preview("none", reason=f"Too large to preview ({artifact.size} bytes).")
    table = pq.read_table(io.BytesIO(_read(tracking, artifact, whole=True)))
    head = table.slice(0, MAX_TABLE_ROWS).to_pylist()
    columns = list(table.column_names)
    return Preview(
        "table",
        columns=columns,
        rows=[[row.get(c) for c in columns] for row in head],
        truncated=table.num_rows > MAX_TABLE_ROWS,
    )
