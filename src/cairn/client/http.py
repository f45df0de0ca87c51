"""The tracking interface over REST API v1: the remote twin of ``TrackingService``.

Errors come back as the same typed exceptions the server raised (the envelope's ``code`` picks
the class), and a server that cannot be reached is :class:`Unavailable`, which the background
writer retries.
"""

from __future__ import annotations

import functools
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import httpx
import orjson

from cairn.client.bulk_get import bulk_open, proxies_configured
from cairn.client.http_access import AccessOverHttp
from cairn.client.http_labels import LabelsOverHttp
from cairn.client.http_lifecycle import LifecycleOverHttp
from cairn.client.http_monitors import MonitorsOverHttp
from cairn.client.http_paths import API, alias_url, model_url, segment, version_url
from cairn.core import binary_batch, limits
from cairn.core.addresses import is_loopback
from cairn.core.archive import ArchivedFile, read_archive
from cairn.core.artifacts import Artifact, ArtifactEntry, DatasetSpec, DatasetVersion, RunInput, Snapshot, SnapshotFile
from cairn.core.diff import RunDiff
from cairn.core.discussion import Comment, ProjectFields, SavedView
from cairn.core.entities import IngestResult, Page, Project, Run, RunGroup, RunUpdate, SimilarRun
from cairn.core.errors import (
    CairnError,
    InvalidValue,
    Unavailable,
    UploadOffsetMismatch,
    error_class_for_code,
)
from cairn.core.gcpause import collector_paused
from cairn.core.limits import check_key, check_name
from cairn.core.metrics import MetricBatch, MetricHistory
from cairn.core.models.uri import check_version_number
from cairn.core.params import flatten_config
from cairn.core.registry import AliasMove, ModelVersion, ModelVersionFolder, RegisteredModel
from cairn.core.registry_wire import (
    VERSION_COLUMNS_MEDIA_TYPE,
    alias_move_from_wire,
    model_from_wire,
    version_from_wire,
    versions_from_columns,
)
from cairn.core.wire import (
    artifact_entry_to_wire,
    artifact_from_wire,
    comment_from_wire,
    dataset_spec_to_wire,
    dataset_version_from_wire,
    diff_from_wire,
    group_from_wire,
    history_from_wire,
    ingest_result_from_wire,
    params_to_wire,
    project_fields_from_wire,
    project_from_wire,
    run_from_wire,
    run_input_from_wire,
    similar_from_wire,
    snapshot_from_wire,
    view_from_wire,
)
from cairn.service.uploads import file_chunks

#: Names the acting user to a server without authentication (cairn.server.deps.USER_HEADER).
USER_HEADER = "x-cairn-user"
#: Files from this size on go up in parts that survive a dropped connection.
RESUMABLE_ABOVE_BYTES = 100 * 1024 * 1024
#: A multiple of the server's part alignment (8 MiB).
RESUMABLE_PART_BYTES = 64 * 1024 * 1024
_PART_RETRIES = 5
#: Bodies above this size are gzipped when the server is on another machine. On loopback the
#: bytes cost nothing to move and compressing them would be most of the client's ingest time.
_COMPRESS_ABOVE_BYTES = 1 << 20
_TIMEOUT = httpx.Timeout(60.0, connect=5.0)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default context (certifi's CAs, or SSL_CERT_FILE / SSL_CERT_DIR), made once:
    loading the CA bundle takes ~20 ms, which a new context per ``cairn.*`` call paid each
    time, even for http:// servers. A context is read-only once made and safe to share."""
    return httpx.create_ssl_context()


def _transport(**kwargs: Any) -> httpx.HTTPTransport:
    # Without TCP_NODELAY, a request written as headers then body meets Nagle's algorithm and
    # the server's delayed ACK: ~40 ms lost per small request on a kept-alive connection.
    return httpx.HTTPTransport(
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)], retries=0, verify=_tls_context(), **kwargs
    )


class HttpTracking(AccessOverHttp, LifecycleOverHttp, MonitorsOverHttp, LabelsOverHttp):
    """Implements :class:`cairn.service.interface.Tracking` against a Cairn server."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        user: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        """``user`` is who acts (the configured user name, see server/deps.py); without it the
        server acts as "anonymous"."""
        headers = {"user-agent": "cairn-python", "accept": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        if user:
            headers[USER_HEADER] = quote(check_name(user, "user name"), safe="")
        self.base_url = base_url.rstrip("/")
        self._compress = not is_loopback(httpx.URL(self.base_url).host)
        self._client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=_TIMEOUT, transport=transport or _transport()
        )
        # Artifact bodies go over http.client (see bulk_get), unless a test gave its own
        # transport or the environment names proxies, which only httpx honours.
        self._bulk_downloads = transport is None and not proxies_configured()

    # -- plumbing ---------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        packed: tuple[str, bytes] | None = None,
        accept: str | None = None,
        decode: Callable[[bytes], Any] = orjson.loads,
    ) -> Any:
        """One API call: ``body`` is sent as JSON, ``packed`` as (media type, bytes); the
        answer, of the media type ``accept`` if given, is decoded by ``decode``."""
        headers = {} if accept is None else {"accept": accept}
        content = None
        if body is not None:
            packed = ("application/json", orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY))
        if packed is not None:
            headers["content-type"], content = packed
            if self._compress and len(content) > _COMPRESS_ABOVE_BYTES:
                compressor = zlib.compressobj(1, wbits=31)
                content = compressor.compress(content) + compressor.flush()
                headers["content-encoding"] = "gzip"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._client.request(method, path, content=content, params=query, headers=headers)
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach the Cairn server at {self.base_url}: {exc}") from exc
        if response.status_code == 204:
            return None
        if response.is_success:
            return decode(response.content)
        raise _error_from(response)

    # -- projects ---------------------------------------------------------------------------

    def create_project(self, name: str, description: str = "") -> Project:
        return project_from_wire(
            self._request("POST", f"{API}/projects", body={"name": name, "description": description})
        )

    def get_project(self, name: str) -> Project:
        return project_from_wire(self._request("GET", f"{API}/projects/{segment(name)}"))

    def list_projects(self) -> list[Project]:
        return [project_from_wire(p) for p in self._request("GET", f"{API}/projects")["projects"]]

    # -- runs -------------------------------------------------------------------------------

    def create_run(
        self,
        project: str,
        *,
        name: str | None = None,
        user: str | None = None,
        config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        notes: str = "",
        parent_id: str | None = None,
        start_time: int | None = None,
        run_id: str | None = None,
    ) -> Run:
        body = {
            "project": project,
            "name": name,
            "user": user,
            # Flattened and typed here, so that JSON carries every value as the server would
            # store it in-process (NaN and ±inf included) and bad keys fail the same way.
            "config": params_to_wire(flatten_config(config or {})),
            "tags": dict(tags or {}),
            "notes": notes,
            "parent_id": parent_id,
            "start_time": start_time,
        }
        if run_id is not None:  # older servers know no "id": leave it out unless it is chosen
            body["id"] = run_id
        return run_from_wire(self._request("POST", f"{API}/runs", body=body))

    def get_run(self, run_id: str) -> Run:
        return run_from_wire(self._request("GET", f"{API}/runs/{segment(run_id)}"))

    def update_run(self, run_id: str, update: RunUpdate) -> Run:
        body = {
            "status": None if update.status is None else update.status.value,
            "name": update.name,
            "notes": update.notes,
            "end_time": update.end_time,
        }
        body = {k: v for k, v in body.items() if v is not None}
        return run_from_wire(self._request("PATCH", f"{API}/runs/{segment(run_id)}", body=body))

    def delete_run(self, run_id: str) -> Run:
        return run_from_wire(self._request("DELETE", f"{API}/runs/{segment(run_id)}"))

    def restore_run(self, run_id: str) -> Run:
        return run_from_wire(self._request("POST", f"{API}/runs/{segment(run_id)}/restore"))

    def list_runs(
        self,
        project: str,
        *,
        where: str = "",
        order_by: str = "",
        include_deleted: bool = False,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Run]:
        data = self._request(
            "GET",
            f"{API}/runs",
            params={
                "project": project,
                "where": where or None,
                "order_by": order_by or None,
                "include_deleted": str(include_deleted).lower(),
                "limit": limit,
                "page_token": page_token,
            },
        )
        return Page(items=[run_from_wire(r) for r in data["runs"]], next_page_token=data["next_page_token"])

    def group_runs(
        self,
        project: str,
        *,
        group_by: str,
        metric: str | None = None,
        where: str = "",
        include_deleted: bool = False,
    ) -> list[RunGroup]:
        params = {
            "project": project,
            "group_by": group_by,
            "metric": metric,
            "where": where or None,
            "include_deleted": str(include_deleted).lower(),
        }
        data = self._request("GET", f"{API}/runs/groups", params=params)
        return [group_from_wire(g) for g in data["groups"]]

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        body = {"params": params_to_wire(flatten_config(params))}
        self._request("POST", f"{API}/runs/{segment(run_id)}/params", body=body)

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        self._request("POST", f"{API}/runs/{segment(run_id)}/tags", body={"tags": dict(tags)})

    def delete_tag(self, run_id: str, key: str) -> None:
        # Checked here too: a key with a control character cannot even travel in a URL path.
        check_key(key, "tag")
        self._request("DELETE", f"{API}/runs/{segment(run_id)}/tags/{segment(key)}")

    def log_metrics(self, run_id: str, batch: MetricBatch) -> IngestResult:
        batch.check()  # columns JSON cannot even carry (text values) fail as they do in-process
        packed = (binary_batch.MEDIA_TYPE, binary_batch.encode_batch(batch))
        data = self._request("POST", f"{API}/runs/{segment(run_id)}/metrics", packed=packed)
        return ingest_result_from_wire(data)

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        *,
        step_min: int | None = None,
        step_max: int | None = None,
        max_points: int | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> MetricHistory:
        params = {
            "key": key,
            "step_min": step_min,
            "step_max": step_max,
            "max_points": max_points,
            "offset": offset or None,
            "limit": limit,
        }
        return history_from_wire(self._request("GET", f"{API}/runs/{segment(run_id)}/metrics/history", params=params))

    def find_duplicates(self, project: str, fingerprint: str, limit: int = 5) -> list[Run]:
        params = {"project": project, "fingerprint": fingerprint, "limit": limit}
        return [run_from_wire(r) for r in self._request("GET", f"{API}/runs/duplicates", params=params)["runs"]]

    def similar_runs(self, run_id: str, limit: int = 5) -> list[SimilarRun]:
        data = self._request("GET", f"{API}/runs/{segment(run_id)}/similar", params={"limit": limit})
        return similar_from_wire(data)

    def diff_runs(self, run_id: str, against: str | None = None) -> RunDiff:
        if against is not None:
            segment(against)  # an empty id fails here as it does in a path
        data = self._request("GET", f"{API}/runs/{segment(run_id)}/diff", params={"against": against})
        return diff_from_wire(data)

    # -- artifacts and datasets --------------------------------------------------------------

    def missing_blobs(self, digests: Sequence[str]) -> list[str]:
        missing: list[str] = []
        for start in range(0, len(digests), limits.MAX_DIGESTS_PER_REQUEST):
            chunk = list(digests[start : start + limits.MAX_DIGESTS_PER_REQUEST])
            missing += self._request("POST", f"{API}/blobs/missing", body={"digests": chunk})["missing"]
        return missing

    def upload_file(self, path: Path, digest: str, size: int, progress: Callable[[int], None] | None = None) -> None:
        if size < RESUMABLE_ABOVE_BYTES:
            self._send_body("PUT", f"{API}/blobs/{digest}", path, 0, size, progress)
        else:
            ResumableUpload(self, path, digest, size, progress).run()

    def _send_body(
        self,
        method: str,
        url: str,
        path: Path,
        start: int,
        end: int,
        progress: Callable[[int], None] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Stream bytes [start, end) of a file as a request body (no gzip: a blob's digest is
        of its bytes as they are, and model files rarely compress)."""
        headers = {"content-type": "application/octet-stream", "content-length": str(end - start)}
        body = file_chunks(path, start, end, progress)
        try:
            response = self._client.request(method, url, content=body, headers=headers, params=params)
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach the Cairn server at {self.base_url}: {exc}") from exc
        if response.is_success:
            return orjson.loads(response.content) if response.content else None
        raise _error_from(response)

    def log_artifacts(self, run_id: str, entries: Sequence[ArtifactEntry]) -> list[Artifact]:
        body = {"artifacts": [artifact_entry_to_wire(entry) for entry in entries]}
        data = self._request("POST", f"{API}/runs/{segment(run_id)}/artifacts", body=body)
        return [artifact_from_wire(item) for item in data["artifacts"]]

    def list_artifacts(self, run_id: str, path: str = "") -> list[Artifact]:
        data = self._request("GET", f"{API}/runs/{segment(run_id)}/artifacts", params={"path": path or None})
        return [artifact_from_wire(item) for item in data["artifacts"]]

    def read_artifact(self, run_id: str, path: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        url = f"{API}/runs/{segment(run_id)}/artifacts/files/{quote(path, safe='/')}"
        headers = {}
        if start or end is not None:
            headers["range"] = f"bytes={start}-{'' if end is None else end - 1}"
        return self._stream(url, headers)

    def read_artifact_folder(self, run_id: str, path: str) -> Iterator[tuple[ArchivedFile, Iterator[bytes]]]:
        url = f"{API}/runs/{segment(run_id)}/artifacts/archive"
        if path:
            url += "?" + urlencode({"path": path})
        # Asked for here, so an error answer raises before the first file is.
        chunks = self._stream(url, {})
        return read_archive(chunks, source=self.base_url)

    def _stream(self, url: str, headers: dict[str, str]) -> Iterator[bytes]:
        """A streamed GET whose error answer raises here, before the first chunk is asked for."""
        return self._stream_with_headers(url, headers)[1]

    def _stream_with_headers(self, url: str, headers: dict[str, str]) -> tuple[Mapping[str, str], Iterator[bytes]]:
        """:meth:`_stream`, and the answer's headers."""
        if self._bulk_downloads:
            headers.update({k: v for k, v in self._client.headers.items() if k in ("user-agent", "authorization")})
            return bulk_open(self.base_url + url, headers, timeout=_TIMEOUT.read or 60.0, error_from=_error_from_parts)
        stream = self._client.stream("GET", url, headers=headers, follow_redirects=True)
        try:
            response = stream.__enter__()
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach the Cairn server at {self.base_url}: {exc}") from exc
        if not response.is_success:
            response.read()
            stream.__exit__(None, None, None)
            raise _error_from(response)
        return response.headers, _chunks_then_close(stream, response)

    def log_dataset(self, run_id: str, spec: DatasetSpec, context: str = "train") -> DatasetVersion:
        body = {"dataset": dataset_spec_to_wire(spec), "context": context}
        return dataset_version_from_wire(self._request("POST", f"{API}/runs/{segment(run_id)}/datasets", body=body))

    def list_datasets(self, project: str, name: str | None = None) -> list[DatasetVersion]:
        data = self._request("GET", f"{API}/datasets", params={"project": project, "name": name})
        return [dataset_version_from_wire(item) for item in data["versions"]]

    def run_inputs(self, run_id: str) -> list[RunInput]:
        data = self._request("GET", f"{API}/runs/{segment(run_id)}/inputs")
        return [run_input_from_wire(item) for item in data["inputs"]]

    def save_snapshot(
        self,
        run_id: str,
        kind: str,
        files: Sequence[SnapshotFile],
        *,
        message: str = "",
        meta: Mapping[str, Any] | None = None,
    ) -> Snapshot:
        body = {
            "kind": kind,
            "files": [{"path": f.path, "digest": f.digest, "size": f.size} for f in files],
            "message": message,
            "meta": dict(meta or {}),
        }
        return snapshot_from_wire(self._request("POST", f"{API}/runs/{segment(run_id)}/snapshots", body=body))

    def run_snapshots(self, run_id: str) -> list[Snapshot]:
        data = self._request("GET", f"{API}/runs/{segment(run_id)}/snapshots")
        return [snapshot_from_wire(item) for item in data["snapshots"]]

    def get_snapshot(self, snapshot_id: str) -> Snapshot:
        return snapshot_from_wire(self._request("GET", f"{API}/snapshots/{segment(snapshot_id)}"))

    def read_snapshot_file(self, snapshot_id: str, path: str) -> Iterator[bytes]:
        url = f"{API}/snapshots/{segment(snapshot_id)}/files/{quote(path, safe='/')}"
        return self._stream(url, {})

    # -- discussion: comments, saved views, field names -------------------------------------

    def add_comment(self, run_id: str, body: str) -> Comment:
        data = self._request("POST", f"{API}/runs/{segment(run_id)}/comments", body={"body": body})
        return comment_from_wire(data)

    def list_comments(self, run_id: str) -> list[Comment]:
        data = self._request("GET", f"{API}/runs/{segment(run_id)}/comments")
        return [comment_from_wire(item) for item in data["comments"]]

    def edit_comment(self, comment_id: str, body: str) -> Comment:
        data = self._request("PATCH", f"{API}/comments/{segment(comment_id)}", body={"body": body})
        return comment_from_wire(data)

    def delete_comment(self, comment_id: str) -> None:
        self._request("DELETE", f"{API}/comments/{segment(comment_id)}")

    def save_view(
        self,
        project: str,
        name: str,
        *,
        query: str = "",
        order_by: str = "",
        columns: Sequence[str] = (),
        charts: Sequence[str] = (),
        group_by: str = "",
    ) -> SavedView:
        body = {
            "name": name,
            "query": query,
            "order_by": order_by,
            "columns": list(columns),
            "charts": list(charts),
            "group_by": group_by,
        }
        return view_from_wire(self._request("POST", f"{API}/projects/{segment(project)}/views", body=body))

    def list_views(self, project: str) -> list[SavedView]:
        data = self._request("GET", f"{API}/projects/{segment(project)}/views")
        return [view_from_wire(item) for item in data["views"]]

    def get_view(self, view_id: str) -> SavedView:
        return view_from_wire(self._request("GET", f"{API}/views/{segment(view_id)}"))

    def delete_view(self, view_id: str) -> None:
        self._request("DELETE", f"{API}/views/{segment(view_id)}")

    def project_fields(self, project: str) -> ProjectFields:
        return project_fields_from_wire(self._request("GET", f"{API}/projects/{segment(project)}/fields"))

    # -- the model registry ----------------------------------------------------------------

    def create_model(self, name: str, description: str = "", tags: Mapping[str, str] | None = None) -> RegisteredModel:
        body = {"name": name, "description": description, "tags": dict(tags or {})}
        return model_from_wire(self._request("POST", f"{API}/models", body=body))

    def get_model(self, name: str) -> RegisteredModel:
        return model_from_wire(self._request("GET", model_url(name)))

    def update_model(self, name: str, description: str) -> RegisteredModel:
        return model_from_wire(self._request("PATCH", model_url(name), body={"description": description}))

    def delete_model(self, name: str) -> None:
        self._request("DELETE", model_url(name))

    def list_models(
        self,
        *,
        where: str = "",
        name_like: str | None = None,
        tags: Mapping[str, str] | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        body = {
            "where": where,
            "name_like": name_like,
            "tags": dict(tags or {}),
            "limit": limit,
            "page_token": page_token,
        }
        data = self._request("POST", f"{API}/models/search", body=body)
        return Page([model_from_wire(m) for m in data["models"]], data["next_page_token"])

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        self._request("POST", f"{model_url(name)}/tags", body={"key": key, "value": value})

    def delete_model_tag(self, name: str, key: str) -> None:
        check_key(key, "tag")
        self._request("DELETE", f"{model_url(name)}/tags/{segment(key)}")

    def register_model(
        self, source: str, name: str, *, description: str = "", tags: Mapping[str, str] | None = None
    ) -> ModelVersion:
        body = {"source": source, "description": description, "tags": dict(tags or {})}
        return version_from_wire(self._request("POST", f"{model_url(name)}/versions", body=body))

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        return version_from_wire(self._request("GET", version_url(name, version)))

    def list_model_versions(
        self, name: str, *, where: str = "", limit: int = 100, page_token: str | None = None
    ) -> Page[ModelVersion]:
        params = {"where": where or None, "limit": limit, "page_token": page_token}
        return self._versions_page(f"{model_url(name)}/versions", params)

    def search_model_versions(
        self, *, where: str = "", limit: int = 100, page_token: str | None = None
    ) -> Page[ModelVersion]:
        params = {"where": where or None, "limit": limit, "page_token": page_token}
        return self._versions_page(f"{API}/model-versions", params)

    def _versions_page(self, path: str, params: Mapping[str, Any]) -> Page[ModelVersion]:
        # Up to 10,000 versions, asked for in columns (a third of the bytes and a tenth of the
        # objects to decode).
        page: Page[ModelVersion] = self._request(
            "GET", path, params=params, accept=VERSION_COLUMNS_MEDIA_TYPE, decode=_versions_in_columns
        )
        return page

    def run_model_versions(self, run_id: str) -> list[ModelVersion]:
        data = self._request("GET", f"{API}/runs/{segment(run_id)}/model-versions")
        return [version_from_wire(v) for v in data["versions"]]

    def dataset_model_versions(self, dataset_version_id: str) -> list[ModelVersion]:
        data = self._request("GET", f"{API}/dataset-versions/{segment(dataset_version_id)}/model-versions")
        return [version_from_wire(v) for v in data["versions"]]

    def update_model_version(self, name: str, version: int, description: str) -> ModelVersion:
        body = {"description": description}
        return version_from_wire(self._request("PATCH", version_url(name, version), body=body))

    def transition_stage(self, name: str, version: int, stage: str, *, archive_existing: bool = False) -> ModelVersion:
        body = {"stage": stage, "archive_existing": archive_existing}
        return version_from_wire(self._request("POST", f"{version_url(name, version)}/stage", body=body))

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        self._request("POST", f"{version_url(name, version)}/tags", body={"key": key, "value": value})

    def delete_model_version_tag(self, name: str, version: int, key: str) -> None:
        check_key(key, "tag")
        self._request("DELETE", f"{version_url(name, version)}/tags/{segment(key)}")

    def set_model_alias(self, name: str, alias: str, version: int) -> AliasMove:
        body = {"version": check_version_number(version)}
        return alias_move_from_wire(self._request("PUT", alias_url(name, alias), body=body))

    def delete_model_alias(self, name: str, alias: str) -> AliasMove:
        return alias_move_from_wire(self._request("DELETE", alias_url(name, alias)))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return version_from_wire(self._request("GET", alias_url(name, alias)))

    def read_model_version_folder(
        self, name: str, version: int | None = None, *, alias: str | None = None
    ) -> ModelVersionFolder:
        if (version is None) == (alias is None):
            raise InvalidValue("name a version or an alias, not both or neither")
        url = version_url(name, version) if version is not None else alias_url(name, alias or "")
        headers, chunks = self._stream_with_headers(f"{url}/archive", {})
        try:
            return ModelVersionFolder(
                model=name,
                version=int(headers["x-cairn-model-version"]),
                run_id=unquote(headers["x-cairn-run-id"]),
                source_path=unquote(headers["x-cairn-source-path"]),
                tree_digest=headers["x-cairn-tree-digest"],
                files=read_archive(chunks, source=self.base_url),
            )
        except (KeyError, ValueError) as exc:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            raise CairnError(f"the server at {self.base_url} sent a model archive without its version: {exc}") from None

    def model_alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        data = self._request("GET", f"{model_url(name)}/alias-history", params={"alias": alias})
        return [alias_move_from_wire(m) for m in data["moves"]]

    def close(self) -> None:
        self._client.close()


def _versions_in_columns(body: bytes) -> Page[ModelVersion]:
    """A page of versions in columns, decoded and built with the collector paused (see
    cairn.core.gcpause): only while it is built, not while the server is awaited."""
    with collector_paused():
        data = orjson.loads(body)
        return Page(versions_from_columns(data), data["next_page_token"])


class ResumableUpload:
    """A large file sent in parts, going on from where the server says after a failure.

    Parts are :data:`RESUMABLE_PART_BYTES` long (a multiple of the server's alignment). A part
    that fails to arrive is retried from the offset the server reports, a few times with
    back-off; then the upload gives up with Unavailable and the server discards the staged
    bytes at its next gc.
    """

    def __init__(
        self, client: HttpTracking, path: Path, digest: str, size: int, progress: Callable[[int], None] | None
    ) -> None:
        self.client = client
        self.path = path
        self.digest = digest
        self.size = size
        self.progress = progress

    def run(self) -> None:
        created = self.client._request("POST", f"{API}/blobs/uploads", body={"size": self.size})
        upload_url = f"{API}/blobs/uploads/{created['upload_id']}"
        if created.get("direct_parts"):
            self._send_direct(created["direct_parts"])
        else:
            self._send_through_server(upload_url)
        self.client._request("POST", f"{upload_url}/complete", body={"digest": self.digest})

    def _send_through_server(self, upload_url: str) -> None:
        offset = 0
        failures = 0
        while offset < self.size:
            end = min(offset + RESUMABLE_PART_BYTES, self.size)
            try:
                answer = self.client._send_body(
                    "PUT", upload_url, self.path, offset, end, self._progress_from(offset), params={"offset": offset}
                )
                offset = answer["offset"]
                failures = 0
            except UploadOffsetMismatch as exc:
                offset = int(exc.details.get("offset", offset))
            except Unavailable:
                # Wait, then ask the server where the upload got to; while it is still away
                # that question fails too, and counts as another failed attempt.
                failures += 1
                if failures > _PART_RETRIES:
                    raise
                time.sleep(min(0.5 * 2**failures, 8.0))
                try:
                    offset = self.client._request("GET", upload_url)["offset"]
                except Unavailable:
                    continue

    def _send_direct(self, direct: Mapping[str, Any]) -> None:
        """PUT each part to its presigned URL (S3), without the server's token, retrying a part
        that fails to arrive."""
        part_size = int(direct["part_size"])
        with httpx.Client(timeout=_TIMEOUT, transport=_transport()) as s3:
            for number, url in enumerate(direct["urls"]):
                start = number * part_size
                end = min(start + part_size, self.size)
                for attempt in range(_PART_RETRIES + 1):
                    body = file_chunks(self.path, start, end, self._progress_from(start))
                    try:
                        response = s3.put(url, content=body, headers={"content-length": str(end - start)})
                    except httpx.TransportError as exc:
                        failure = f"{exc}"
                    else:
                        if response.is_success:
                            break
                        failure = f"S3 answered {response.status_code}: {response.text[:200]}"
                    if attempt == _PART_RETRIES:
                        raise Unavailable(f"part {number + 1} of {self.path} did not reach the blob store: {failure}")
                    time.sleep(min(0.5 * 2 ** (attempt + 1), 8.0))

    def _progress_from(self, base: int) -> Callable[[int], None] | None:
        if self.progress is None:
            return None
        report = self.progress
        return lambda sent: report(base + sent)


def _chunks_then_close(stream: Any, response: httpx.Response) -> Iterator[bytes]:
    # Chunks as they come off the socket: re-cutting them into even sizes cost a second per
    # gigabyte. Artifacts are sent without content encoding, so raw bytes are the content.
    try:
        yield from response.iter_raw()
    except httpx.TransportError as exc:
        raise Unavailable(f"the download was cut off: {exc}") from exc
    finally:
        stream.__exit__(None, None, None)


def _error_from_parts(status: int, body: bytes, url: str) -> CairnError:
    try:
        error = orjson.loads(body)["error"]
        return error_class_for_code(error["code"])(error["message"], details=error.get("details") or {})
    except (orjson.JSONDecodeError, KeyError, TypeError):
        pass
    if status in (502, 503, 504):
        return Unavailable(f"the Cairn server at {urlsplit(url).hostname} answered {status}")
    return CairnError(f"unexpected answer {status} from {url}")


def _error_from(response: httpx.Response) -> CairnError:
    return _error_from_parts(response.status_code, response.content, str(response.url))
