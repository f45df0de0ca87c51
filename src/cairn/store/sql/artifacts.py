"""Artifacts, datasets and the record of stored blobs, in SQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, exists, insert, or_, select, update

from cairn.core.artifacts import Artifact, ArtifactEntry, DatasetSpec, DatasetVersion, RunInput
from cairn.core.clock import now_ms
from cairn.core.errors import ArtifactNotFound, BlobNotFound, DatasetNotFound, InvalidValue, RunNotFound
from cairn.store.sql import schema as t
from cairn.store.sql.engine import Engines, reading, transaction
from cairn.store.sql.rows import dialect_insert, in_chunks, project_of_run, require_run


class SqlArtifactStore:
    """Implements :class:`cairn.store.base.ArtifactStore`."""

    _engines: Engines

    # -- blobs ------------------------------------------------------------------------------

    def record_blob(self, digest: str, size: int) -> None:
        now = now_ms()
        with transaction(self._engines.write) as conn:
            row = {"digest": digest, "size": size, "created_at": now, "last_seen_at": now}
            conn.execute(upsert(conn, t.blobs, row, ["digest"], {"last_seen_at": now}))

    def touch_blobs(self, digests: Sequence[str]) -> dict[str, int]:
        present: dict[str, int] = {}
        now = now_ms()
        with transaction(self._engines.write) as conn:
            for chunk in in_chunks(sorted(set(digests))):
                query = select(t.blobs.c.digest, t.blobs.c.size).where(t.blobs.c.digest.in_(chunk))
                present.update({digest: size for digest, size in conn.execute(query)})
                conn.execute(update(t.blobs).where(t.blobs.c.digest.in_(chunk)).values(last_seen_at=now))
        return present

    def recorded_blobs(self, digests: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with reading(self._engines) as conn:
            for chunk in in_chunks(sorted(set(digests))):
                found.update(conn.scalars(select(t.blobs.c.digest).where(t.blobs.c.digest.in_(chunk))))
        return found

    def unreferenced_blobs(self, seen_before: int) -> list[tuple[str, int]]:
        query = select(t.blobs.c.digest, t.blobs.c.size).where(_collectable(seen_before))
        with reading(self._engines) as conn:
            return [(digest, size) for digest, size in conn.execute(query)]

    def forget_blob(self, digest: str, seen_before: int) -> bool:
        with transaction(self._engines.write) as conn:
            result = conn.execute(delete(t.blobs).where(t.blobs.c.digest == digest, _collectable(seen_before)))
            return result.rowcount == 1

    # -- artifacts --------------------------------------------------------------------------

    def add_artifacts(self, run_id: str, entries: Sequence[ArtifactEntry]) -> list[Artifact]:
        now = now_ms()
        rows = [
            {
                "run_id": run_id,
                "path": entry.path,
                "digest": entry.digest,
                "size": entry.size,
                "kind": entry.kind,
                "media_type": entry.media_type,
                "meta": orjson.dumps(dict(entry.meta)).decode(),
                "created_at": now,
            }
            for entry in entries
        ]
        with transaction(self._engines.write) as conn:
            require_run(conn, run_id)
            sizes = blob_sizes(conn, [entry.digest for entry in entries])
            for entry in entries:
                if entry.digest not in sizes:
                    raise BlobNotFound(
                        f"no bytes are stored under {entry.digest} for {entry.path!r}; upload them first",
                        details={"digest": entry.digest, "path": entry.path},
                    )
                if sizes[entry.digest] != entry.size:
                    raise InvalidValue(
                        f"{entry.path!r} says it has {entry.size} bytes, its blob has {sizes[entry.digest]}",
                        details={"path": entry.path, "size": sizes[entry.digest]},
                    )
            # Logging a path again replaces it, as in MLflow: the older bytes stay until gc.
            paths = [entry.path for entry in entries]
            for chunk in in_chunks(paths):
                conn.execute(delete(t.artifacts).where(t.artifacts.c.run_id == run_id, t.artifacts.c.path.in_(chunk)))
            if rows:
                conn.execute(insert(t.artifacts), rows)
        return [_artifact_from_row(row) for row in rows]

    def list_artifacts(self, run_id: str, prefix: str = "", limit: int = 100_000) -> list[Artifact]:
        a = t.artifacts.c
        query = select(t.artifacts).where(a.run_id == run_id)
        if prefix:
            # The file itself, or what lies below it as a folder; a range on the primary key.
            query = query.where(or_(a.path == prefix, and_(a.path > prefix + "/", a.path < prefix + "0")))
        with reading(self._engines) as conn:
            require_run(conn, run_id)
            rows = conn.execute(query.order_by(a.path).limit(limit)).mappings().all()
        return [_artifact_from_row(row) for row in rows]

    def get_artifact(self, run_id: str, path: str) -> Artifact:
        query = select(t.artifacts).where(t.artifacts.c.run_id == run_id, t.artifacts.c.path == path)
        with reading(self._engines) as conn:
            row = conn.execute(query).mappings().first()
            if row is None:
                require_run(conn, run_id)
        if row is None:
            raise ArtifactNotFound(f"run {run_id} has no artifact {path!r}", details={"run_id": run_id, "path": path})
        return _artifact_from_row(row)

    # -- datasets ---------------------------------------------------------------------------

    def log_dataset(self, project_id: str, spec: DatasetSpec, run_id: str | None, context: str) -> DatasetVersion:
        now = now_ms()
        with transaction(self._engines.write) as conn:
            if spec.stored:
                sizes = blob_sizes(conn, [f.digest for f in spec.files])
                missing = [f.path for f in spec.files if f.digest not in sizes]
                if missing:
                    raise BlobNotFound(
                        f"dataset {spec.name!r} is to be stored but {len(missing)} of its files were not uploaded",
                        details={"paths": missing[:20]},
                    )
            dataset_id = _dataset_id(conn, project_id, spec.name, now)
            d = t.dataset_versions.c
            found = conn.execute(
                select(d.id, d.stored).where(d.dataset_id == dataset_id, d.digest == spec.digest)
            ).first()
            if found is None:
                version_id = uuid.uuid4().hex
                conn.execute(
                    insert(t.dataset_versions),
                    {
                        "id": version_id,
                        "dataset_id": dataset_id,
                        "digest": spec.digest,
                        "source_uri": spec.source_uri,
                        "source_kind": spec.source_kind,
                        "rows": spec.rows,
                        "columns": spec.columns,
                        "schema": orjson.dumps(spec.schema).decode(),
                        "profile": orjson.dumps(dict(spec.profile)).decode(),
                        "stored": spec.stored,
                        "created_at": now,
                    },
                )
                if spec.files:
                    conn.execute(
                        insert(t.dataset_files),
                        [
                            {"version_id": version_id, "path": f.path, "digest": f.digest, "size": f.size}
                            for f in spec.files
                        ],
                    )
            else:
                version_id = found.id
                if spec.stored and not found.stored:  # logged by reference before, now with its bytes
                    conn.execute(update(t.dataset_versions).where(d.id == version_id).values(stored=True))
            if run_id is not None:
                require_run(conn, run_id)
                row = {"run_id": run_id, "version_id": version_id, "context": context, "created_at": now}
                conn.execute(_insert_ignore(conn, t.run_inputs, row, ["run_id", "version_id", "context"]))
        return self._dataset_versions(project_id, version_ids=[version_id])[0]

    def list_datasets(self, project_id: str, name: str | None = None) -> list[DatasetVersion]:
        if name is not None:
            with reading(self._engines) as conn:
                exists_ = conn.execute(
                    select(t.datasets.c.id).where(t.datasets.c.project_id == project_id, t.datasets.c.name == name)
                ).first()
            if exists_ is None:
                raise DatasetNotFound(f"no dataset named {name!r} in this project", details={"dataset": name})
        return self._dataset_versions(project_id, name=name)

    def run_inputs(self, run_id: str) -> list[RunInput]:
        i = t.run_inputs.c
        with reading(self._engines) as conn:
            project_id = project_of_run(conn, run_id)
            pairs = conn.execute(select(i.version_id, i.context).where(i.run_id == run_id).order_by(i.created_at)).all()
        if not pairs:
            return []
        versions = {v.id: v for v in self._dataset_versions(project_id, version_ids=[p[0] for p in pairs])}
        return [RunInput(dataset=versions[version_id], context=context) for version_id, context in pairs]

    def dataset_version(self, version_id: str) -> DatasetVersion:
        """A dataset version by id (a model version's lineage names them so). Raises DatasetNotFound."""
        v, d = t.dataset_versions.c, t.datasets.c
        with reading(self._engines) as conn:
            project_id = conn.scalar(
                select(d.project_id).join(t.dataset_versions, v.dataset_id == d.id).where(v.id == version_id)
            )
        found = [] if project_id is None else self._dataset_versions(project_id, version_ids=[version_id])
        if not found:
            raise DatasetNotFound(f"no dataset version {version_id!r}", details={"dataset_version_id": version_id})
        return found[0]

    def dataset_files(self, version_id: str) -> list[tuple[str, str, int]]:
        f = t.dataset_files.c
        with reading(self._engines) as conn:
            query = select(f.path, f.digest, f.size).where(f.version_id == version_id).order_by(f.path)
            return [(path, digest, size) for path, digest, size in conn.execute(query)]

    def _dataset_versions(
        self, project_id: str, *, name: str | None = None, version_ids: Sequence[str] | None = None
    ) -> list[DatasetVersion]:
        v, d, i, p = t.dataset_versions.c, t.datasets.c, t.run_inputs.c, t.projects.c
        query = (
            select(t.dataset_versions, d.name, p.name.label("project_name"))
            .join(t.datasets, d.id == v.dataset_id)
            .join(t.projects, p.id == d.project_id)
            .where(d.project_id == project_id)
        )
        if name is not None:
            query = query.where(d.name == name)
        if version_ids is not None:
            query = query.where(v.id.in_(list(version_ids)))
        with reading(self._engines) as conn:
            rows = conn.execute(query.order_by(d.name, v.created_at.desc(), v.id)).mappings().all()
            ids = [row["id"] for row in rows]
            used_by: dict[str, list[tuple[str, str]]] = {version_id: [] for version_id in ids}
            counts: dict[str, int] = dict.fromkeys(ids, 0)
            for chunk in in_chunks(ids):
                inputs = select(i.version_id, i.run_id, i.context).where(i.version_id.in_(chunk))
                for version_id, run_id, context in conn.execute(inputs.order_by(i.created_at, i.run_id)):
                    used_by[version_id].append((run_id, context))
                files = select(t.dataset_files.c.version_id).where(t.dataset_files.c.version_id.in_(chunk))
                for (version_id,) in conn.execute(files):
                    counts[version_id] += 1
        return [
            DatasetVersion(
                id=row["id"],
                project=row["project_name"],
                name=row["name"],
                digest=row["digest"],
                source_uri=row["source_uri"],
                source_kind=row["source_kind"],
                rows=row["rows"],
                columns=row["columns"],
                schema=orjson.loads(row["schema"]),
                profile=orjson.loads(row["profile"]),
                stored=bool(row["stored"]),
                created_at=row["created_at"],
                file_count=counts[row["id"]],
                used_by=used_by[row["id"]],
            )
            for row in rows
        ]

    # -- purging ----------------------------------------------------------------------------

    def deleted_run_ids(self) -> list[str]:
        with reading(self._engines) as conn:
            return list(conn.scalars(select(t.runs.c.id).where(t.runs.c.deleted.is_(True))))

    def purge_run(self, run_id: str) -> bool:
        """Remove a deleted run and everything it logged, for good; False when it is not deleted."""
        with transaction(self._engines.write) as conn:
            row = conn.execute(select(t.runs.c.deleted).where(t.runs.c.id == run_id)).first()
            if row is None or not row.deleted:
                return False
            # Children first, explicitly: SQLite enforces ON DELETE CASCADE only with a pragma.
            conn.execute(update(t.runs).where(t.runs.c.parent_id == run_id).values(parent_id=None))
            for table in (
                t.artifacts,
                t.run_inputs,
                t.run_snapshots,
                t.params,
                t.param_pairs,
                t.tags,
                t.metric_chunks,
                t.metric_summaries,
                t.comments,
            ):
                conn.execute(delete(table).where(table.c.run_id == run_id))
            conn.execute(delete(t.ingest_batches).where(t.ingest_batches.c.run_id == run_id))
            conn.execute(delete(t.runs).where(t.runs.c.id == run_id))
        return True


def _collectable(seen_before: int) -> Any:
    """Blobs nobody points at and nobody touched since ``seen_before``: what gc may remove."""
    digest = t.blobs.c.digest
    stored_dataset_file = (
        select(t.dataset_files.c.digest)
        .join(t.dataset_versions, t.dataset_versions.c.id == t.dataset_files.c.version_id)
        .where(t.dataset_files.c.digest == digest, t.dataset_versions.c.stored.is_(True))
    )
    return and_(
        t.blobs.c.last_seen_at < seen_before,
        ~exists(select(t.artifacts.c.digest).where(t.artifacts.c.digest == digest)),
        ~exists(stored_dataset_file),
        ~exists(select(t.snapshot_files.c.digest).where(t.snapshot_files.c.digest == digest)),
        ~exists(select(t.prediction_logs.c.digest).where(t.prediction_logs.c.digest == digest)),
        ~exists(select(t.prediction_labels.c.digest).where(t.prediction_labels.c.digest == digest)),
    )


def _require_run(conn: Connection, run_id: str) -> None:
    if conn.execute(select(t.runs.c.id).where(t.runs.c.id == run_id)).first() is None:
        raise RunNotFound(f"no run with id {run_id!r}", details={"run_id": run_id})


def blob_sizes(conn: Connection, digests: Iterable[str]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for chunk in in_chunks(sorted(set(digests))):
        query = select(t.blobs.c.digest, t.blobs.c.size).where(t.blobs.c.digest.in_(chunk))
        sizes.update({digest: size for digest, size in conn.execute(query)})
    return sizes


def _dataset_id(conn: Connection, project_id: str, name: str, now: int) -> str:
    row = {"id": uuid.uuid4().hex, "project_id": project_id, "name": name, "created_at": now}
    conn.execute(_insert_ignore(conn, t.datasets, row, ["project_id", "name"]))
    query = select(t.datasets.c.id).where(t.datasets.c.project_id == project_id, t.datasets.c.name == name)
    return str(conn.scalar(query))


def _artifact_from_row(row: Any) -> Artifact:
    return Artifact(
        run_id=row["run_id"],
        path=row["path"],
        digest=row["digest"],
        size=row["size"],
        kind=row["kind"],
        media_type=row["media_type"],
        meta=orjson.loads(row["meta"]),
        created_at=row["created_at"],
    )


def upsert(conn: Connection, table: Any, row: dict[str, Any], keys: list[str], on_conflict: dict[str, Any]) -> Any:
    return dialect_insert(conn, table).values(row).on_conflict_do_update(index_elements=keys, set_=on_conflict)


def _insert_ignore(conn: Connection, table: Any, row: dict[str, Any], keys: list[str]) -> Any:
    return dialect_insert(conn, table).values(row).on_conflict_do_nothing(index_elements=keys)
