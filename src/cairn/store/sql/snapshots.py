"""Snapshots in SQL: trees of path → digest shared by identical content, chained per kind."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, delete, exists, insert, select

from cairn.core.artifacts import Snapshot, SnapshotFile, snapshot_id
from cairn.core.clock import now_ms
from cairn.core.errors import BlobNotFound, NotFound
from cairn.store.sql import schema as t
from cairn.store.sql.artifacts import blob_sizes, upsert
from cairn.store.sql.engine import Engines, reading, transaction
from cairn.store.sql.rows import project_of_run


class SqlSnapshotStore:
    """Implements the snapshot half of :class:`cairn.store.base.ArtifactStore`."""

    _engines: Engines

    def save_snapshot(
        self,
        run_id: str,
        kind: str,
        files: Sequence[SnapshotFile],
        *,
        message: str = "",
        meta: Mapping[str, Any] | None = None,
    ) -> Snapshot:
        tree = list(files)
        identifier = snapshot_id(kind, tree)
        now = now_ms()
        with transaction(self._engines.write) as conn:
            project_id = project_of_run(conn, run_id)
            sizes = blob_sizes(conn, [f.digest for f in tree])
            missing = [f.path for f in tree if sizes.get(f.digest) != f.size]
            if missing:
                raise BlobNotFound(
                    f"{len(missing)} files of the {kind} snapshot were not uploaded (or have another size)",
                    details={"paths": missing[:20]},
                )
            s = t.snapshots.c
            known = conn.execute(select(s.id).where(s.id == identifier, s.project_id == project_id)).first()
            if known is None:
                conn.execute(
                    insert(t.snapshots),
                    {
                        "id": identifier,
                        "project_id": project_id,
                        "kind": kind,
                        "parent_id": _latest(conn, project_id, kind, exclude=identifier),
                        "message": message,
                        "meta": orjson.dumps(dict(meta or {})).decode(),
                        "created_at": now,
                    },
                )
                if tree:
                    conn.execute(
                        insert(t.snapshot_files),
                        [
                            {"snapshot_id": identifier, "project_id": project_id, "path": f.path, "digest": f.digest,
                             "size": f.size}
                            for f in tree
                        ],
                    )  # fmt: skip
            link = {"run_id": run_id, "kind": kind, "snapshot_id": identifier, "created_at": now}
            conn.execute(upsert(conn, t.run_snapshots, link, ["run_id", "kind"], {"snapshot_id": identifier}))
        return self.get_snapshot(identifier, project_id=project_id)

    def get_snapshot(self, snapshot_id_: str, *, project_id: str | None = None) -> Snapshot:
        s = t.snapshots.c
        query = select(t.snapshots, t.projects.c.name.label("project_name")).join(
            t.projects, t.projects.c.id == s.project_id
        )
        query = query.where(s.id == snapshot_id_)
        if project_id is not None:
            query = query.where(s.project_id == project_id)
        with reading(self._engines) as conn:
            row = conn.execute(query.order_by(s.created_at)).mappings().first()
            if row is None:
                raise NotFound(f"no snapshot {snapshot_id_!r}", details={"snapshot": snapshot_id_})
            f = t.snapshot_files.c
            files = [
                SnapshotFile(path, digest, size)
                for path, digest, size in conn.execute(
                    select(f.path, f.digest, f.size)
                    .where(f.snapshot_id == row["id"], f.project_id == row["project_id"])
                    .order_by(f.path)
                )
            ]
        return _snapshot(row, files)

    def run_snapshots(self, run_id: str) -> list[Snapshot]:
        r = t.run_snapshots.c
        with reading(self._engines) as conn:
            project_id = project_of_run(conn, run_id)
            ids = list(conn.scalars(select(r.snapshot_id).where(r.run_id == run_id).order_by(r.kind)))
        return [self.get_snapshot(identifier, project_id=project_id) for identifier in ids]

    def purge_orphan_snapshots(self) -> int:
        """Remove snapshots no run points at any more (after runs were purged)."""
        s, r = t.snapshots.c, t.run_snapshots.c
        with transaction(self._engines.write) as conn:
            orphans = conn.execute(
                select(s.id, s.project_id).where(~exists(select(r.run_id).where(r.snapshot_id == s.id)))
            ).all()
            for identifier, project_id in orphans:
                f = t.snapshot_files.c
                conn.execute(delete(t.snapshot_files).where(f.snapshot_id == identifier, f.project_id == project_id))
                conn.execute(delete(t.snapshots).where(s.id == identifier, s.project_id == project_id))
        return len(orphans)


def _latest(conn: Connection, project_id: str, kind: str, *, exclude: str) -> str | None:
    """The snapshot of ``kind`` the project's most recent run before this one recorded."""
    r, runs = t.run_snapshots.c, t.runs.c
    query = (
        select(r.snapshot_id)
        .join(t.runs, runs.id == r.run_id)
        .where(runs.project_id == project_id, r.kind == kind, r.snapshot_id != exclude)
        .order_by(r.created_at.desc())
        .limit(1)
    )
    found = conn.scalar(query)
    return None if found is None else str(found)


def _snapshot(row: Any, files: list[SnapshotFile]) -> Snapshot:
    return Snapshot(
        id=row["id"],
        project=row["project_name"],
        kind=row["kind"],
        parent_id=row["parent_id"],
        message=row["message"],
        meta=orjson.loads(row["meta"]),
        created_at=row["created_at"],
        files=files,
    )
