"""The rules of the model registry, mixed into :class:`TrackingService` (docs/registry.md).

- registered models are named across the whole store, as in MLflow (``models:/NAME/…`` names
  no project); reading them needs the right to read, changing them the right to write, and
  registering a version also the right to read the source run's project;
- a version is registered from ``runs:/RUN_ID/PATH``: the run must exist and not be deleted,
  and PATH must be a logged model, a folder with ``cairn-model.json`` at its root whose files
  are among the run's artifacts with the digests it states. The version records the folder's
  tree digest, the manifest's flavor and signature, and the dataset versions the run used;
- the model is made on its first registration (as ``mlflow.register_model`` does);
- an alias names one version at a time; setting, moving and removing it are recorded with the
  acting principal; a protected alias is never set, moved or removed here, only by merging a
  review (service/reviews.py);
- stages are MLflow's four; moving a version to Staging or Production with
  ``archive_existing`` archives the model's other versions in that stage;
- models and versions are selected by the query language (docs/query.md), each with its own
  fields: a version's source run's params and metrics are ``run.params.KEY``, ``run.metrics.KEY``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from cairn.core import limits
from cairn.core.access import ResourceKind
from cairn.core.archive import ArchivedFile
from cairn.core.artifacts import Artifact
from cairn.core.clock import now_ms
from cairn.core.entities import Page
from cairn.core.errors import (
    ArtifactNotFound,
    Conflict,
    DigestMismatch,
    InvalidManifest,
    InvalidPageToken,
    InvalidValue,
    ModelNotFound,
    ModelTampered,
    RunNotActive,
)
from cairn.core.events import EventType, model_subject
from cairn.core.models.manifest import MANIFEST_NAME, ModelManifest, manifest_digest, model_tree_digest, parse_manifest
from cairn.core.models.signature import signature_to_wire
from cairn.core.models.uri import check_alias, check_model_name, check_version_number, parse_runs_uri
from cairn.core.query.ast import Expr
from cairn.core.query.parser import parse_query
from cairn.core.query.vocabulary import MODELS, VERSIONS, Vocabulary
from cairn.core.registry import AliasMove, ModelVersion, ModelVersionFolder, RegisteredModel, check_stage
from cairn.core.registry_wire import version_to_wire
from cairn.service.events import EventRules
from cairn.service.policy import Action, check_run

if TYPE_CHECKING:
    from cairn.blobs.base import BlobStore
    from cairn.service.policy import Policy, Principal
    from cairn.store.base import MetadataStore

#: Versions or models one page holds at most, and by default.
MAX_REGISTRY_PAGE = limits.MAX_PAGE_SIZE
DEFAULT_REGISTRY_PAGE = 100
#: A version listing's page token: the version number the next page starts below.
MAX_VERSION_PAGE_TOKEN_LENGTH = 19
VERSION_PAGE_TOKEN_PATTERN = f"^[0-9]{{1,{MAX_VERSION_PAGE_TOKEN_LENGTH}}}$"
#: A model listing's page token: the UTF-8 of the last name given, in lowercase hex. Both are
#: short, and stated so in the OpenAPI document: a token of the runs listing's 32 KiB, sent in
#: a query string, can outgrow the request line an HTTP server accepts.
MAX_MODEL_PAGE_TOKEN_LENGTH = 2 * 4 * limits.MAX_NAME_LENGTH
MODEL_PAGE_TOKEN_PATTERN = f"^(?:[0-9a-f]{{2}}){{1,{MAX_MODEL_PAGE_TOKEN_LENGTH // 2}}}$"
#: A search of every model's versions: the last model's name as above, ``-``, its version.
MAX_SEARCH_PAGE_TOKEN_LENGTH = MAX_MODEL_PAGE_TOKEN_LENGTH + 1 + MAX_VERSION_PAGE_TOKEN_LENGTH
SEARCH_PAGE_TOKEN_PATTERN = (
    f"^(?:[0-9a-f]{{2}}){{1,{MAX_MODEL_PAGE_TOKEN_LENGTH // 2}}}-[0-9]{{1,{MAX_VERSION_PAGE_TOKEN_LENGTH}}}$"
)
_VERSION_TOKEN = re.compile(VERSION_PAGE_TOKEN_PATTERN)
_MODEL_TOKEN = re.compile(MODEL_PAGE_TOKEN_PATTERN)
_SEARCH_TOKEN = re.compile(SEARCH_PAGE_TOKEN_PATTERN)
#: Bytes of a manifest the registry reads; a real one is a few kilobytes.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024


class RegistryRules(EventRules):
    store: MetadataStore
    principal: Principal
    policy: Policy

    @property
    def blobs(self) -> BlobStore:
        raise NotImplementedError  # provided by ArtifactRules

    def _open_folder(self, run_id: str, path: str) -> list[tuple[Artifact, Iterator[bytes]]]:
        raise NotImplementedError  # provided by ArtifactRules

    def _grant_creator(self, kind: ResourceKind, name: str) -> None:
        raise NotImplementedError  # provided by TrackingService

    # -- registered models ------------------------------------------------------------------

    def create_model(self, name: str, description: str = "", tags: Mapping[str, str] | None = None) -> RegisteredModel:
        """Register a model name with no versions yet. Raises AlreadyExists."""
        checked = check_model_name(name)
        limits.check_text(description, "model description", limits.MAX_NOTES_LENGTH)
        checked_tags = limits.check_tags(tags or {})
        self.policy.check(self.principal, Action.READ, None)  # any signed-in user; they become its admin
        with self.store.atomic():
            model = self.store.create_model(checked, description, checked_tags)
            self._grant_creator(ResourceKind.MODEL, checked)
            self._record(EventType.MODEL_CREATED, model_subject(checked), {"name": checked, "tags": dict(checked_tags)})
        return model

    def get_model(self, name: str) -> RegisteredModel:
        """Raises ModelNotFound."""
        checked = check_model_name(name)
        self.policy.check_model(self.principal, Action.READ, checked)
        return self.store.get_model(checked)

    def update_model(self, name: str, description: str) -> RegisteredModel:
        """Replace the model's description. Raises ModelNotFound."""
        checked = check_model_name(name)
        limits.check_text(description, "model description", limits.MAX_NOTES_LENGTH)
        self.policy.check_model(self.principal, Action.WRITE, checked)
        with self.store.atomic():
            model = self.store.update_model(checked, description)
            self._record(EventType.MODEL_UPDATED, model_subject(checked), {"name": checked, "description": description})
        return model

    def rename_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename the model; its versions, aliases, reviews and roles follow it. Needs the
        maintain role, as changing where everyone finds it. Raises ModelNotFound, AlreadyExists."""
        checked, new = check_model_name(name), check_model_name(new_name)
        self.policy.check_model(self.principal, Action.MAINTAIN, checked)
        if new == checked:
            return self.store.get_model(checked)
        with self.store.atomic():
            model = self.store.rename_model(checked, new)
            self._record(EventType.MODEL_RENAMED, model_subject(new), {"from": checked, "to": new})
        return model

    def delete_model(self, name: str) -> None:
        """Delete the model with every version, alias and tag (the runs and files stay)."""
        checked = check_model_name(name)
        self.policy.check_model(self.principal, Action.DELETE, checked)
        with self.store.atomic():
            self.store.delete_model(checked)
            self._record(EventType.MODEL_DELETED, model_subject(checked), {"name": checked})

    def list_models(
        self,
        *,
        where: str = "",
        name_like: str | None = None,
        tags: Mapping[str, str] | None = None,
        limit: int = DEFAULT_REGISTRY_PAGE,
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        """Models by name for which ``where`` holds (docs/query.md: ``name``, ``tags.KEY``,
        ``alias``…); ``name_like`` is a LIKE pattern (``%`` any text, ``_`` one character,
        case-sensitive), ``tags`` must all match exactly. Raises InvalidQuery."""
        parsed = _parse(where, MODELS)
        if name_like is not None:
            limits.check_text(name_like, "name pattern", limits.MAX_NAME_LENGTH)
        checked_tags = limits.check_tags(tags or {})
        limits.check_listing_limit(limit, MAX_REGISTRY_PAGE)
        after = None if page_token is None else _name_from_token(page_token)
        self.policy.check(self.principal, Action.READ, None)
        found = self.store.list_models(
            names=self.policy.visible(self.principal, ResourceKind.MODEL),
            name_like=name_like,
            tags=checked_tags,
            limit=limit + 1,
            after_name=after,
            where=parsed,
            now_ms=now_ms(),
        )
        more = len(found) > limit
        items = found[:limit]
        return Page(items, _name_token(items[-1].name) if more else None)

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        """Set one tag of the model. Raises ModelNotFound."""
        checked = limits.check_tags({key: value})
        model = check_model_name(name)
        self.policy.check_model(self.principal, Action.WRITE, model)
        with self.store.atomic():
            self.store.set_model_tag(model, key, checked[key])
            self._record(
                EventType.MODEL_TAG_SET, model_subject(model), {"name": model, "key": key, "value": checked[key]}
            )

    def delete_model_tag(self, name: str, key: str) -> None:
        """Remove one tag of the model (nothing happens if it has none of that key)."""
        limits.check_key(key, "tag")
        model = check_model_name(name)
        self.policy.check_model(self.principal, Action.WRITE, model)
        with self.store.atomic():
            self.store.delete_model_tag(model, key)
            self._record(EventType.MODEL_TAG_DELETED, model_subject(model), {"name": model, "key": key})

    # -- versions ---------------------------------------------------------------------------

    def register_model(
        self, source: str, name: str, *, description: str = "", tags: Mapping[str, str] | None = None
    ) -> ModelVersion:
        """Register the logged model at ``runs:/RUN_ID/PATH`` as the next version of ``name``
        (made if new). Raises InvalidValue (a bad source, name or manifest), RunNotFound,
        RunNotActive (a deleted run), ArtifactNotFound (no model at that path)."""
        checked_name = check_model_name(name)
        location = parse_runs_uri(source)
        run_id, path = location.run_id, location.path
        limits.check_text(description, "version description", limits.MAX_NOTES_LENGTH)
        checked_tags = limits.check_tags(tags or {})
        run = self.store.get_run(run_id, details=False)
        check_run(self.policy, self.principal, Action.READ, run)
        if self._model_exists(checked_name):
            self.policy.check_model(self.principal, Action.WRITE, checked_name)
        else:
            self.policy.check(self.principal, Action.READ, None)  # a new model: its maker becomes its admin
        if run.deleted:
            raise RunNotActive(f"run {run_id} is deleted; restore it to register its model", details={"run_id": run_id})
        folder = self.store.list_artifacts(run_id, path)
        by_path = {a.path.removeprefix(path + "/"): a for a in folder if a.path != path}
        manifest_entry = by_path.get(MANIFEST_NAME)
        if manifest_entry is None:
            raise ArtifactNotFound(
                f"{source} is not a logged model: run {run_id} has no {path}/{MANIFEST_NAME}",
                details={"run_id": run_id, "path": f"{path}/{MANIFEST_NAME}"},
            )
        manifest = read_model_manifest(self._manifest_bytes(manifest_entry), source)
        _check_files(manifest, by_path, source)
        with self.store.atomic():
            is_new = not self._model_exists(checked_name)
            version = self.store.create_version(
                checked_name,
                run_id=run_id,
                source_path=path,
                tree_digest=model_tree_digest((p, a.digest, a.size) for p, a in by_path.items()),
                flavor=manifest.flavor,
                signature=None if manifest.signature is None else signature_to_wire(manifest.signature),
                datasets=[(i.dataset.id, i.context) for i in self.store.run_inputs(run_id)],
                description=description,
                tags=checked_tags,
                created_by=self.principal.name,
            )
            if is_new:
                self._grant_creator(ResourceKind.MODEL, checked_name)
                self._record(EventType.MODEL_CREATED, model_subject(checked_name), {"name": checked_name, "tags": {}})
            self._record(
                EventType.VERSION_CREATED, model_subject(checked_name, version.version), version_to_wire(version)
            )
        return version

    def _model_exists(self, name: str) -> bool:
        try:
            self.store.get_model(name)
        except ModelNotFound:
            return False
        return True

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        """Raises ModelNotFound, ModelVersionNotFound."""
        checked = check_model_name(name), check_version_number(version)
        self.policy.check_model(self.principal, Action.READ, checked[0])
        return self.store.get_version(*checked)

    def list_model_versions(
        self, name: str, *, where: str = "", limit: int = DEFAULT_REGISTRY_PAGE, page_token: str | None = None
    ) -> Page[ModelVersion]:
        """The model's versions for which ``where`` holds, newest first, ``limit`` (at most
        10,000) at a time. The page token is the version number the next page starts below.
        Raises ModelNotFound, InvalidQuery."""
        checked = check_model_name(name)
        parsed = _parse(where, VERSIONS)
        limits.check_listing_limit(limit, MAX_REGISTRY_PAGE)
        before = None if page_token is None else _version_from_token(page_token)
        self.policy.check_model(self.principal, Action.READ, checked)
        found = self.store.list_versions(checked, limit=limit + 1, before_version=before, where=parsed, now_ms=now_ms())
        items = found[:limit]
        return Page(items, str(items[-1].version) if len(found) > limit else None)

    def search_model_versions(
        self, *, where: str = "", limit: int = DEFAULT_REGISTRY_PAGE, page_token: str | None = None
    ) -> Page[ModelVersion]:
        """Versions of every model for which ``where`` holds (docs/query.md: ``name``,
        ``stage``, ``alias``, ``run.params.KEY``…), by model name, then newest first. Raises
        InvalidQuery."""
        parsed = _parse(where, VERSIONS)
        limits.check_listing_limit(limit, MAX_REGISTRY_PAGE)
        after = None if page_token is None else _search_position(page_token)
        self.policy.check(self.principal, Action.READ, None)
        found = self.store.search_versions(
            where=parsed,
            now_ms=now_ms(),
            limit=limit + 1,
            after=after,
            names=self.policy.visible(self.principal, ResourceKind.MODEL),
        )
        items = found[:limit]
        last = items[-1] if len(found) > limit else None
        return Page(items, None if last is None else f"{_name_token(last.model)}-{last.version}")

    def run_model_versions(self, run_id: str) -> list[ModelVersion]:
        """Every version registered from the run, by model name and version."""
        run = self.store.get_run(run_id, details=False)
        check_run(self.policy, self.principal, Action.READ, run)
        return self._readable_versions(self.store.versions_of_run(run_id))

    def dataset_model_versions(self, dataset_version_id: str) -> list[ModelVersion]:
        """Every version whose source run used the dataset version (lineage, read backwards)."""
        limits.check_text(dataset_version_id, "dataset version id", 64)
        self.policy.check(self.principal, Action.READ, None)
        return self._readable_versions(self.store.versions_of_dataset(dataset_version_id))

    def _readable_versions(self, versions: list[ModelVersion]) -> list[ModelVersion]:
        """Those of ``versions`` whose model the principal may see (one question for all)."""
        visible = self.policy.visible(self.principal, ResourceKind.MODEL, {v.model for v in versions})
        return versions if visible is None else [v for v in versions if v.model in visible]

    def update_model_version(self, name: str, version: int, description: str) -> ModelVersion:
        """Replace the version's description. Raises ModelNotFound, ModelVersionNotFound."""
        checked = check_model_name(name), check_version_number(version)
        limits.check_text(description, "version description", limits.MAX_NOTES_LENGTH)
        self.policy.check_model(self.principal, Action.WRITE, checked[0])
        with self.store.atomic():
            updated = self.store.update_version(*checked, description)
            self._record(
                EventType.VERSION_UPDATED,
                model_subject(*checked),
                {"name": checked[0], "version": checked[1], "description": description},
            )
        return updated

    def delete_model_version(self, name: str, version: int) -> None:
        """Delete one version with its tags, reviews and prediction logs (its run and files
        stay). A version an alias points at is refused (Conflict): move or delete the alias
        first, so that nothing serving ``@alias`` loses its model unannounced. Raises
        ModelNotFound, ModelVersionNotFound."""
        checked = check_model_name(name), check_version_number(version)
        self.policy.check_model(self.principal, Action.DELETE, checked[0])
        with self.store.atomic():
            found = self.store.get_version(*checked)
            if found.aliases:
                aliases = ", ".join(f"@{a}" for a in found.aliases)
                raise Conflict(
                    f"version {found.version} of {found.model!r} is {aliases}: move or delete the alias first",
                    details={"model": found.model, "version": found.version, "aliases": list(found.aliases)},
                )
            self.store.delete_version(*checked)
            self._record(
                EventType.VERSION_DELETED, model_subject(*checked), {"name": checked[0], "version": checked[1]}
            )

    def transition_stage(self, name: str, version: int, stage: str, *, archive_existing: bool = False) -> ModelVersion:
        """Move the version to a stage (None, Staging, Production, Archived); with
        ``archive_existing``, the model's other versions in Staging or Production (whichever
        ``stage`` is) move to Archived in the same transaction."""
        checked = check_model_name(name), check_version_number(version)
        checked_stage = check_stage(stage)
        if not isinstance(archive_existing, bool):
            raise InvalidValue("archive_existing is true or false")
        self.policy.check_model(self.principal, Action.WRITE, checked[0])
        with self.store.atomic():
            before = self.store.get_version(*checked).stage
            moved = self.store.set_stage(*checked, checked_stage, archive_existing=archive_existing)
            self._record(
                EventType.VERSION_STAGE_CHANGED,
                model_subject(*checked),
                {
                    "name": checked[0],
                    "version": checked[1],
                    "from_stage": before.value,
                    "to_stage": checked_stage.value,
                    "archive_existing": archive_existing,
                },
            )
        return moved

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        """Set one tag of the version. Raises ModelNotFound, ModelVersionNotFound."""
        checked = limits.check_tags({key: value})
        numbers = check_model_name(name), check_version_number(version)
        self.policy.check_model(self.principal, Action.WRITE, numbers[0])
        with self.store.atomic():
            self.store.set_version_tag(*numbers, key, checked[key])
            self._record(
                EventType.VERSION_TAG_SET,
                model_subject(*numbers),
                {"name": numbers[0], "version": numbers[1], "key": key, "value": checked[key]},
            )

    def delete_model_version_tag(self, name: str, version: int, key: str) -> None:
        """Remove one tag of the version (nothing happens if it has none of that key)."""
        limits.check_key(key, "tag")
        numbers = check_model_name(name), check_version_number(version)
        self.policy.check_model(self.principal, Action.WRITE, numbers[0])
        with self.store.atomic():
            self.store.delete_version_tag(*numbers, key)
            self._record(
                EventType.VERSION_TAG_DELETED,
                model_subject(*numbers),
                {"name": numbers[0], "version": numbers[1], "key": key},
            )

    # -- aliases ----------------------------------------------------------------------------

    def set_model_alias(self, name: str, alias: str, version: int) -> AliasMove:
        """Point ``alias`` at ``version``, moving it from the version it named; the move is
        recorded with the acting principal. Raises InvalidValue (a bad alias), ModelNotFound,
        ModelVersionNotFound, ReviewRequired (the alias is protected: only a merged review
        moves it)."""
        checked = check_model_name(name), check_alias(alias)
        number = check_version_number(version)
        self.policy.check_model(self.principal, Action.WRITE, checked[0])
        with self.store.atomic():
            self._refuse_if_protected(*checked)
            return self._move_alias(*checked, number)

    def _refuse_if_protected(self, name: str, alias: str) -> None:
        raise NotImplementedError  # provided by ReviewRules

    def _move_alias(self, name: str, alias: str, version: int) -> AliasMove:
        """Set or move the alias and record it; the rules of who may are the caller's."""
        with self.store.atomic():
            move = self.store.set_alias(name, alias, version, self.principal.name)
            self._record(EventType.ALIAS_SET, model_subject(name), _alias_data(move))
        return move

    def delete_model_alias(self, name: str, alias: str) -> AliasMove:
        """Remove the alias; the removal is recorded. Raises ModelNotFound, AliasNotFound,
        ReviewRequired (the alias is protected)."""
        checked = check_model_name(name), check_alias(alias)
        self.policy.check_model(self.principal, Action.WRITE, checked[0])
        with self.store.atomic():
            self._refuse_if_protected(*checked)
            move = self.store.delete_alias(*checked, self.principal.name)
            self._record(EventType.ALIAS_DELETED, model_subject(checked[0]), _alias_data(move))
        return move

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version ``alias`` points at. Raises ModelNotFound, AliasNotFound."""
        checked = check_model_name(name), check_alias(alias)
        self.policy.check_model(self.principal, Action.READ, checked[0])
        return self.store.version_by_alias(*checked)

    def read_model_version_folder(
        self, name: str, version: int | None = None, *, alias: str | None = None
    ) -> ModelVersionFolder:
        """The folder of version ``version``, or of the one ``alias`` points at (exactly one of
        them), with every file and its bytes: what loading ``models:/NAME/VERSION`` or
        ``models:/NAME@ALIAS`` reads, in one call. Raises ModelNotFound, ModelVersionNotFound,
        AliasNotFound, ArtifactNotFound, BlobNotFound before any byte."""
        found, opened = self.open_model_version_folder(name, version, alias=alias)
        files = [(ArchivedFile(a.path, a.digest, a.size), chunks) for a, chunks in opened]
        return ModelVersionFolder(
            found.model, found.version, found.run_id, found.source_path, found.tree_digest, iter(files)
        )

    def open_model_version_folder(
        self, name: str, version: int | None = None, *, alias: str | None = None
    ) -> tuple[ModelVersion, list[tuple[Artifact, Iterator[bytes]]]]:
        """:meth:`read_model_version_folder` with the whole version and each file's whole
        artifact: what the version's archive route sends."""
        if (version is None) == (alias is None):
            raise InvalidValue("name a version or an alias, not both or neither")
        if version is not None:
            found = self.get_model_version(name, version)
        else:
            found = self.get_model_version_by_alias(name, alias or "")
        # The right to read the model is the right to load it, even without the source run's project.
        return found, self._open_folder(found.run_id, found.source_path)

    def model_alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every set, move and removal of the model's aliases (of ``alias`` only, if given),
        oldest first, with who and when."""
        checked = check_model_name(name)
        if alias is not None:
            check_alias(alias)
        self.policy.check_model(self.principal, Action.READ, checked)
        return self.store.alias_history(checked, alias)

    def _manifest_bytes(self, entry: Artifact) -> bytes:
        if entry.size > MAX_MANIFEST_BYTES:
            raise InvalidManifest(
                f"{MANIFEST_NAME} of run {entry.run_id} is {entry.size} bytes; a manifest is at most "
                f"{MAX_MANIFEST_BYTES}",
                details={"run_id": entry.run_id, "path": entry.path, "field": None},
            )
        raw = b"".join(self.blobs.read(entry.digest, 0, None))
        # The artifact's digest is the manifest's (both are the SHA-256 of its bytes), and the
        # manifest lists every other file: a blob that no longer hashes to it stands for nothing.
        if manifest_digest(raw) != entry.digest:
            raise DigestMismatch(
                f"{entry.path} of run {entry.run_id} no longer matches its digest",
                details={"run_id": entry.run_id, "path": entry.path},
            )
        return raw


def _alias_data(move: AliasMove) -> dict[str, Any]:
    return {
        "name": move.model,
        "alias": move.alias,
        "from_version": move.from_version,
        "version": move.to_version,
    }


def read_model_manifest(data: bytes, source: str) -> ModelManifest:
    """The manifest of the model at ``source``, read by the packaging's strict parser
    (docs/models.md); InvalidManifest naming the field and the source otherwise."""
    try:
        return parse_manifest(data)
    except InvalidManifest as exc:
        raise InvalidManifest(f"{source}: {exc.message}", details={**exc.details, "source": source}) from None


def _check_files(manifest: ModelManifest, folder: Mapping[str, Artifact], source: str) -> None:
    """The folder is exactly what the manifest lists (its own file aside), each file with the
    digest the manifest states, as loading will check it (client/models/folder.py)."""
    problems = [(path, "is missing from it") for path in manifest.files if path not in folder]
    problems += [
        (path, "differs from the digest the manifest states")
        for path, digest in manifest.files.items()
        if path in folder and folder[path].digest != digest
    ]
    problems += [(path, "is not listed in it") for path in sorted(set(folder) - set(manifest.files) - {MANIFEST_NAME})]
    if problems:
        path, why = problems[0]
        raise ModelTampered(
            f"{source} does not match its manifest: {path!r} {why}", details={"source": source, "path": path}
        )


def _parse(where: str, vocabulary: Vocabulary) -> Expr | None:
    if not isinstance(where, str):
        raise InvalidValue(f"a query is text, got {type(where).__name__}")
    return parse_query(where, vocabulary)


def _search_position(token: str) -> tuple[str, int]:
    """The (model name, version) a search's page token says the next page starts after."""
    if not isinstance(token, str) or not _SEARCH_TOKEN.fullmatch(token):
        raise InvalidPageToken(f"{str(token)[:40]!r} is not a page token of a version search")
    name, version = token.rsplit("-", 1)
    return _name_from_token(name), int(version)


def _version_from_token(token: str) -> int:
    if not isinstance(token, str) or not _VERSION_TOKEN.fullmatch(token):
        raise InvalidPageToken(f"{str(token)[:40]!r} is not a page token of a version listing")
    return int(token)


def _name_token(name: str) -> str:
    return name.encode().hex()


def _name_from_token(token: str) -> str:
    try:
        if not isinstance(token, str) or not _MODEL_TOKEN.fullmatch(token):
            raise ValueError(token)
        return bytes.fromhex(token).decode()
    except ValueError as exc:
        raise InvalidPageToken(f"{str(token)[:40]!r} is not a page token of a model listing") from exc
