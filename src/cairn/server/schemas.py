"""Request and response models of REST API v1: what validates input and documents OpenAPI.

Responses are rendered from :mod:`cairn.core.wire` as raw JSON (no model validates them on the
way out: a history of a million points would cost more to check than to send); the models here
describe them for the OpenAPI document, and the API fuzz test (tests/e2e/test_api_fuzz.py)
checks every answer against that document, so the two cannot drift apart.

Requests: unknown fields are refused rather than silently dropped. A rule the service checks
(a key's characters, a digest's shape, an artifact path) is stated in the schema with
``json_schema_extra`` only, never validated here, so that a bad value is the same error
(invalid_key, invalid_value, ...) over HTTP as in embedded mode. Every number comes from
:mod:`cairn.core.limits`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from cairn.core import limits, webhooks
from cairn.core.artifacts import ARTIFACT_KINDS, ARTIFACT_PATH_PATTERN, SNAPSHOT_KINDS
from cairn.core.entities import RunStatus
from cairn.core.events import EventType, type_patterns
from cairn.core.models.uri import (
    ALIAS_PATTERN,
    MAX_ALIAS_LENGTH,
    MAX_MODEL_SOURCE_LENGTH,
    MODEL_NAME_PATTERN,
    RUNS_URI_PATTERN,
)
from cairn.core.reviews import MAX_CHECKS, MAX_REQUIRED_APPROVALS
from cairn.core.webhooks import DeliveryStatus
from cairn.service.registry import MAX_MODEL_PAGE_TOKEN_LENGTH, MODEL_PAGE_TOKEN_PATTERN

# -- rules stated for the OpenAPI document (the service enforces them) ---------------------------

KEY_RULE: dict[str, Any] = {"pattern": limits.KEY_PATTERN, "minLength": 1, "maxLength": limits.MAX_KEY_LENGTH}
NAME_RULE: dict[str, Any] = {"pattern": limits.NAME_PATTERN, "maxLength": limits.MAX_NAME_LENGTH}
DIGEST_RULE: dict[str, Any] = {"pattern": limits.SHA256_PATTERN, "description": "SHA-256, lowercase hex"}
PATH_RULE: dict[str, Any] = {
    "pattern": ARTIFACT_PATH_PATTERN,
    "maxLength": limits.MAX_ARTIFACT_PATH_LENGTH,
    "description": "relative POSIX path inside the run: no '..', '.' or empty segments",
}

#: A run query's text; its grammar (docs/query.md) is the parser's to check.
QUERY_RULE: dict[str, Any] = {"maxLength": limits.MAX_QUERY_LENGTH}
PATH_OR_EMPTY_RULE: dict[str, Any] = {**PATH_RULE, "pattern": f"(?:{ARTIFACT_PATH_PATTERN})|^$"}


def text_rule(limit: int) -> dict[str, Any]:
    return {"pattern": limits.TEXT_PATTERN, "maxLength": limit}


def documented(rule: dict[str, Any], **field: Any) -> Any:
    """A pydantic Field whose JSON schema states ``rule``, which the service checks."""
    return Field(json_schema_extra=rule, **field)


Key = Annotated[str, documented(KEY_RULE)]
Name = Annotated[str, Field(min_length=1, max_length=limits.MAX_NAME_LENGTH, json_schema_extra=NAME_RULE)]
Digest = Annotated[str, documented(DIGEST_RULE)]
ArtifactPath = Annotated[str, documented(PATH_RULE)]
# Integers are stored as signed 64 bits. The bound is stated as exclusive: 2^63, which a double
# holds exactly, so that a client or generator comparing in floats does not round past it. They
# are strict: true and 1.5 are no integers (nor is 1.0: Cairn refuses it, JSON Schema allows it).
_INT64_END = limits.MAX_INT64 + 1
Count = Annotated[int, Field(ge=0, lt=_INT64_END, strict=True)]
Millis = Annotated[int, Field(ge=0, lt=_INT64_END, strict=True, description="milliseconds since the Unix epoch")]
Step = Annotated[int, Field(ge=limits.MIN_INT64, lt=_INT64_END, strict=True)]
NonFinite = Literal["NaN", "Infinity", "-Infinity"]
WireFloat = Annotated[float | NonFinite, Field(description='a number, or "NaN", "Infinity", "-Infinity"')]

# Path parameters used by several route modules.
RunId = Annotated[str, Path(min_length=1, max_length=64)]
UploadId = Annotated[str, Path(min_length=1, max_length=64, json_schema_extra={"pattern": limits.UPLOAD_ID_PATTERN})]
ProjectName = Annotated[str, Path(min_length=1, max_length=limits.MAX_NAME_LENGTH, json_schema_extra=NAME_RULE)]
# A project named in the query string (names may hold slashes).
ProjectQuery = Annotated[str, Query(min_length=1, max_length=limits.MAX_NAME_LENGTH, json_schema_extra=NAME_RULE)]

#: A param's value: a scalar keeps its type; a non-finite float travels as {"float": "NaN"};
#: a list, or an object of params nested under the key, is flattened or stored as JSON text.
PARAM_VALUE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "integer", "minimum": limits.MIN_INT64, "exclusiveMaximum": _INT64_END},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "string", **text_rule(limits.MAX_PARAM_VALUE_LENGTH)},
        {"type": "null"},
        {
            "type": "object",
            "properties": {"float": {"enum": ["NaN", "Infinity", "-Infinity"]}},
            "required": ["float"],
            "additionalProperties": False,
        },
        {"type": "array"},
        {"type": "object", "propertyNames": KEY_RULE},
    ]
}
PARAMS_RULE: dict[str, Any] = {
    "propertyNames": KEY_RULE,
    "additionalProperties": PARAM_VALUE_SCHEMA,
    "maxProperties": limits.MAX_ITEMS_PER_REQUEST,
}
TAGS_RULE: dict[str, Any] = {
    "propertyNames": KEY_RULE,
    "additionalProperties": {"type": "string", **text_rule(limits.MAX_TAG_VALUE_LENGTH)},
    "maxProperties": limits.MAX_ITEMS_PER_REQUEST,
}


class Strict(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """A response body: it has exactly the fields named, so a field added to the wire
    format without the document fails the API fuzz test (additionalProperties: false)."""

    model_config = ConfigDict(extra="forbid")


# -- projects ------------------------------------------------------------------------------------


class ProjectCreate(Strict):
    name: Name
    description: str = Field(
        default="",
        max_length=limits.MAX_PROJECT_DESCRIPTION_LENGTH,
        json_schema_extra=text_rule(limits.MAX_PROJECT_DESCRIPTION_LENGTH),
    )


class ProjectOut(Out):
    id: str
    name: str
    description: str
    created_at: int
    run_count: int
    last_activity: int | None


class ProjectList(Out):
    projects: list[ProjectOut]


# -- runs, params, tags --------------------------------------------------------------------------

ParamIn = int | float | bool | str | None | list[Any] | dict[str, Any]


class RunCreate(Strict):
    project: Name
    name: str | None = Field(default=None, max_length=limits.MAX_NAME_LENGTH, json_schema_extra=NAME_RULE)
    user: str | None = Field(default=None, max_length=limits.MAX_NAME_LENGTH, json_schema_extra=NAME_RULE)
    config: dict[str, ParamIn] = Field(
        default_factory=dict, description="nested params, flattened with dots", json_schema_extra=PARAMS_RULE
    )
    tags: dict[str, str] = Field(default_factory=dict, json_schema_extra=TAGS_RULE)
    notes: str = Field(
        default="", max_length=limits.MAX_NOTES_LENGTH, json_schema_extra=text_rule(limits.MAX_NOTES_LENGTH)
    )
    parent_id: str | None = Field(default=None, max_length=64)
    start_time: Millis | None = None
    id: str | None = Field(
        default=None,
        pattern=limits.RUN_ID_PATTERN,
        description="an id the client chose (a run started offline); creating it again returns the same run",
    )


class RunPatch(Strict):
    status: RunStatus | None = None
    name: str | None = Field(default=None, max_length=limits.MAX_NAME_LENGTH, json_schema_extra=NAME_RULE)
    notes: str | None = Field(
        default=None, max_length=limits.MAX_NOTES_LENGTH, json_schema_extra=text_rule(limits.MAX_NOTES_LENGTH)
    )
    end_time: Millis | None = None


class MetricSummaryOut(Out):
    last: WireFloat
    last_step: int
    last_timestamp: int
    min: WireFloat | None
    max: WireFloat | None
    count: int


class RunOut(Out):
    id: str
    project: str
    project_id: str
    name: str
    user: str
    status: RunStatus
    start_time: int
    end_time: int | None
    duration_ms: int | None
    parent_id: str | None
    notes: str
    deleted: bool
    params: dict[str, Any]
    tags: dict[str, str]
    metrics: dict[str, MetricSummaryOut]
    fingerprint: str | None = Field(description="sha256 over the normalised params")


class RunList(Out):
    runs: list[RunOut]
    next_page_token: str | None


class GroupOut(Out):
    value: Any
    count: int
    mean: WireFloat | None
    min: WireFloat | None
    max: WireFloat | None


class GroupList(Out):
    groups: list[GroupOut]


class ParamsIn(Strict):
    params: dict[str, ParamIn] = Field(json_schema_extra=PARAMS_RULE)


class TagsIn(Strict):
    tags: dict[str, str] = Field(json_schema_extra=TAGS_RULE)


# -- metrics -------------------------------------------------------------------------------------


class MetricColumnsIn(Strict):
    """One metric's points as columns of the same length."""

    key: Key
    steps: list[Step]
    timestamps: list[Millis]
    values: list[WireFloat]


class MetricBatchIn(Strict):
    """Points of one or more metrics as columns. ``(client_id, seq)`` names the batch: a batch
    sent again with the same pair is acknowledged but not stored twice."""

    client_id: str = Field(min_length=1, max_length=64)
    seq: Count
    metrics: list[MetricColumnsIn]


class IngestOut(Out):
    points: int
    duplicate: bool


class HistoryOut(Out):
    key: str
    total: int = Field(description="points in the requested step window")
    downsampled: bool
    next_offset: int | None
    steps: list[int]
    timestamps: list[int]
    values: list[WireFloat]


# -- insight -------------------------------------------------------------------------------------


class DuplicateList(Out):
    runs: list[RunOut]


class SimilarOut(Out):
    run: RunOut
    distance: int = Field(description="params that differ or exist on one side only")


class SimilarList(Out):
    runs: list[SimilarOut]


class NearestOut(Out):
    run: RunOut | None
    distance: int | None


class RunRefOut(Out):
    id: str
    name: str
    project: str
    user: str
    status: RunStatus
    start_time: int


class ChangeOut(Out):
    before: Any
    after: Any


class MappingDiffOut(Out):
    added: dict[str, Any]
    removed: dict[str, Any]
    changed: dict[str, ChangeOut]
    unchanged: int


class MetricChangeOut(Out):
    before: MetricSummaryOut
    after: MetricSummaryOut
    last: WireFloat = Field(description="after - before")
    min: WireFloat | None
    max: WireFloat | None


class MetricsDiffOut(Out):
    added: dict[str, MetricSummaryOut]
    removed: dict[str, MetricSummaryOut]
    changed: dict[str, MetricChangeOut]
    unchanged: int


class DiffOut(Out):
    """What changed from ``baseline`` to ``run``: "added" is what the run has and the baseline
    lacks; "before" is the baseline's value."""

    run: RunRefOut
    baseline: RunRefOut
    distance: int
    params: MappingDiffOut
    metrics: MetricsDiffOut
    tags: MappingDiffOut
    notes: ChangeOut | None


class HealthOut(Out):
    status: str
    version: str


# -- artifacts and datasets ----------------------------------------------------------------------


class ArtifactIn(Strict):
    path: ArtifactPath
    digest: Digest
    size: Count
    kind: str = Field(default="file", json_schema_extra={"enum": list(ARTIFACT_KINDS)})
    media_type: str = Field(default="", json_schema_extra=text_rule(limits.MAX_MEDIA_TYPE_LENGTH))
    meta: dict[str, Any] = Field(default_factory=dict)


class ArtifactsIn(Strict):
    artifacts: list[ArtifactIn] = Field(
        max_length=limits.MAX_ARTIFACTS_PER_REQUEST, description="paths unique within the request"
    )


class ArtifactOut(Out):
    run_id: str
    path: str
    digest: str
    size: int
    kind: str
    media_type: str
    meta: dict[str, Any]
    created_at: int


class ArtifactList(Out):
    artifacts: list[ArtifactOut]


class DatasetFileIn(Strict):
    path: ArtifactPath
    digest: Digest
    size: Count


class DatasetIn(Strict):
    # A stored dataset needs its files (a data frame is stored as a table file).
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "if": {"properties": {"stored": {"const": True}}, "required": ["stored"]},
            "then": {"properties": {"files": {"minItems": 1}}, "required": ["files"]},
        },
    )

    name: Name
    digest: Digest
    source_uri: str = Field(default="", json_schema_extra=text_rule(limits.MAX_DATASET_SOURCE_LENGTH))
    source_kind: str = Field(json_schema_extra={"enum": ["file", "folder", "dataframe", "array"]})
    rows: Count | None = None
    columns: Count | None = None
    schema_: list[dict[str, Any]] = Field(default_factory=list, alias="schema")
    profile: dict[str, Any] = Field(default_factory=dict)
    files: list[DatasetFileIn] = Field(default_factory=list, max_length=limits.MAX_ARTIFACTS_PER_REQUEST)
    stored: bool = Field(default=False, description="the files' bytes are uploaded; needs files")


class RunDatasetIn(Strict):
    dataset: DatasetIn
    context: str = Field(
        default="train", min_length=1, max_length=64, json_schema_extra={"pattern": limits.KEY_PATTERN}
    )


class DatasetVersionOut(Out):
    id: str
    project: str
    name: str
    digest: str
    source_uri: str
    source_kind: str
    rows: int | None
    columns: int | None
    schema_: list[dict[str, Any]] = Field(alias="schema")
    profile: dict[str, Any]
    stored: bool
    created_at: int
    file_count: int
    used_by: list[dict[str, str]]


class DatasetVersionList(Out):
    versions: list[DatasetVersionOut]


class RunInputOut(Out):
    dataset: DatasetVersionOut
    context: str


class RunInputList(Out):
    inputs: list[RunInputOut]


# -- blobs ---------------------------------------------------------------------------------------


class DigestsIn(Strict):
    digests: list[Digest] = Field(max_length=limits.MAX_DIGESTS_PER_REQUEST)


class MissingOut(Out):
    missing: list[str]


class BlobOut(Out):
    digest: str
    size: int


class UploadCreate(Strict):
    size: Count | None = Field(default=None, description="the file's size: lets the server offer direct_parts")


class DirectPartsOut(Out):
    part_size: int
    urls: list[str]


class UploadOut(Out):
    upload_id: str
    offset: int = Field(description="bytes received so far: where the next part starts")
    part_alignment: int = Field(description="every part but the last is a multiple of this many bytes")
    direct_parts: DirectPartsOut | None = Field(
        default=None,
        description="presigned URLs to PUT the parts to directly (S3, with --presign-uploads); then complete",
    )


class CommitIn(Strict):
    digest: Digest


# -- snapshots -----------------------------------------------------------------------------------


class SnapshotFileIn(Strict):
    path: ArtifactPath
    digest: Digest
    size: Count


class SnapshotIn(Strict):
    kind: str = Field(json_schema_extra={"enum": list(SNAPSHOT_KINDS)})
    files: list[SnapshotFileIn] = Field(
        max_length=limits.MAX_SNAPSHOT_FILES, description="paths unique within the snapshot"
    )
    message: str = Field(default="", json_schema_extra=text_rule(limits.MAX_NOTES_LENGTH))
    meta: dict[str, Any] = Field(default_factory=dict)


class SnapshotFileOut(Out):
    path: str
    digest: str
    size: int


class SnapshotOut(Out):
    id: str
    project: str
    kind: str
    parent_id: str | None
    message: str
    meta: dict[str, Any]
    created_at: int
    files: list[SnapshotFileOut]


class SnapshotList(Out):
    snapshots: list[SnapshotOut]


# -- discussion: comments, saved views, field names ----------------------------------------------


class CommentIn(Strict):
    body: str = Field(
        description="markdown, stored as given; not only white space",
        json_schema_extra={
            "pattern": limits.NOT_BLANK_TEXT_PATTERN,
            "minLength": 1,
            "maxLength": limits.MAX_COMMENT_LENGTH,
        },
    )


class CommentOut(Out):
    id: str
    run_id: str
    author: str
    body: str
    mentions: list[str]
    created_at: int
    updated_at: int | None


class CommentList(Out):
    comments: list[CommentOut]


class ViewIn(Strict):
    name: str = Field(json_schema_extra={**NAME_RULE, "maxLength": limits.MAX_VIEW_NAME_LENGTH})
    query: str = Field(default="", description="a query, see docs/query.md; empty for every run")
    order_by: str = Field(default="", description='as for listing runs, e.g. "metrics.acc desc"')
    columns: list[str] = Field(
        default_factory=list,
        description='fields, e.g. "name", "params.lr"',
        json_schema_extra={"maxItems": limits.MAX_VIEW_ITEMS},
    )
    charts: list[str] = Field(
        default_factory=list,
        description='metric keys, e.g. "val/accuracy"',
        json_schema_extra={"maxItems": limits.MAX_VIEW_ITEMS, "items": {"type": "string", **KEY_RULE}},
    )
    group_by: str = Field(default="", description='a param, tag or attribute, e.g. "params.optimizer"')


class ViewOut(Out):
    id: str
    project: str
    name: str
    query: str
    order_by: str
    columns: list[str]
    charts: list[str]
    group_by: str
    created_by: str
    created_at: int
    updated_at: int


class ViewList(Out):
    views: list[ViewOut]


class FieldsOut(Out):
    params: list[str]
    metrics: list[str]
    tags: list[str]


# -- the model registry: models, versions, aliases, stages ---------------------------------------

MODEL_NAME_RULE: dict[str, Any] = {"pattern": MODEL_NAME_PATTERN, "maxLength": limits.MAX_NAME_LENGTH}
ALIAS_RULE: dict[str, Any] = {
    "pattern": ALIAS_PATTERN,
    "maxLength": MAX_ALIAS_LENGTH,
    "description": "lowercase letters, digits, '_' and '-', from a letter; not 'latest' or v followed by digits",
}
ModelName = Annotated[str, Path(min_length=1, max_length=limits.MAX_NAME_LENGTH, json_schema_extra=MODEL_NAME_RULE)]
AliasName = Annotated[str, Path(min_length=1, max_length=MAX_ALIAS_LENGTH, json_schema_extra=ALIAS_RULE)]
VersionNumber = Annotated[int, Path(ge=1, lt=_INT64_END)]
StageName = Literal["None", "Staging", "Production", "Archived"]


class ModelCreate(Strict):
    name: str = Field(json_schema_extra={**MODEL_NAME_RULE, "minLength": 1})
    description: str = Field(default="", json_schema_extra=text_rule(limits.MAX_NOTES_LENGTH))
    tags: dict[str, str] = Field(default_factory=dict, json_schema_extra=TAGS_RULE)


class DescriptionIn(Strict):
    description: str = Field(json_schema_extra=text_rule(limits.MAX_NOTES_LENGTH))


class TagIn(Strict):
    key: Key
    value: str = Field(json_schema_extra=text_rule(limits.MAX_TAG_VALUE_LENGTH))


class ModelOut(Out):
    name: str
    description: str
    tags: dict[str, str]
    created_at: int
    updated_at: int
    latest_version: int | None = Field(description="the highest version number given out; null before the first")
    aliases: dict[str, int] = Field(description="alias → the version it points at")


class ModelSearch(Strict):
    where: str = Field(
        default="", description="a query of models' fields, see docs/query.md", json_schema_extra=QUERY_RULE
    )
    name_like: str | None = Field(
        default=None,
        description="LIKE pattern: % any text, _ one character (case-sensitive)",
        json_schema_extra=text_rule(limits.MAX_NAME_LENGTH),
    )
    tags: dict[str, str] = Field(
        default_factory=dict, description="every one must match exactly", json_schema_extra=TAGS_RULE
    )
    limit: int = Field(default=100, ge=1, le=limits.MAX_PAGE_SIZE, strict=True)
    page_token: str | None = Field(
        default=None,
        json_schema_extra={"pattern": MODEL_PAGE_TOKEN_PATTERN, "maxLength": MAX_MODEL_PAGE_TOKEN_LENGTH},
    )


class ModelList(Out):
    models: list[ModelOut]
    next_page_token: str | None


class VersionCreate(Strict):
    source: str = Field(
        description="a logged model: runs:/RUN_ID/PATH",
        json_schema_extra={"pattern": RUNS_URI_PATTERN, "maxLength": MAX_MODEL_SOURCE_LENGTH},
    )
    description: str = Field(default="", json_schema_extra=text_rule(limits.MAX_NOTES_LENGTH))
    tags: dict[str, str] = Field(default_factory=dict, json_schema_extra=TAGS_RULE)


class LineageOut(Out):
    dataset_version_id: str
    name: str
    digest: str
    context: str


class VersionOut(Out):
    model: str
    version: int
    source: str = Field(description="runs:/RUN_ID/PATH")
    run_id: str
    source_path: str
    tree_digest: str = Field(description="sha256 of the model folder's tree of path → digest")
    flavor: str
    signature: dict[str, Any] | None
    stage: StageName
    description: str
    aliases: list[str]
    tags: dict[str, str]
    created_by: str
    created_at: int
    updated_at: int
    datasets: list[LineageOut] = Field(description="the dataset versions the source run used")


class VersionList(Out):
    versions: list[VersionOut]
    next_page_token: str | None


class VersionItems(Out):
    versions: list[VersionOut]


class ColumnMismatchOut(Out):
    column: str
    problem: str = Field(description="missing, extra or type: how the column differs from the version's signature")
    expected: str | None = Field(description="the signature's type; null for an extra column")
    found: str | None = Field(description="the file's column type; null for a missing column")


class PredictionLogOut(Out):
    """One prediction log file (docs/prediction-logs.md)."""

    id: str
    model: str
    version: int
    hour_ms: int = Field(description="the start of the UTC hour every prediction in the file falls within")
    rows: int
    first_ms: int = Field(description="the earliest timestamp_ms in the file")
    last_ms: int = Field(description="the latest timestamp_ms in the file")
    size: int
    digest: str = Field(description="sha256 of the file's bytes")
    created_by: str
    created_at: int
    mismatches: list[ColumnMismatchOut] = Field(
        description="the input columns that do not match the version's signature; the file is kept all the same"
    )
    mismatched_rows: int = Field(description="the rows the mismatches concern: all of the file's, or 0")


class PredictionLogList(Out):
    files: list[PredictionLogOut]
    next_page_token: str | None


class VersionColumnsOut(Out):
    """A page of versions in columns (``Accept: application/vnd.cairn.version-columns+json``)."""

    columns: dict[str, list[Any]] = Field(
        description="for each field of a version but source, its value for each version of the page, in order; "
        "signature and datasets are indexes into signatures and lineages"
    )
    signatures: list[dict[str, Any] | None] = Field(description="each distinct signature of the page once")
    lineages: list[list[LineageOut]] = Field(description="each distinct list of datasets of the page once")
    next_page_token: str | None


class StageIn(Strict):
    stage: str = Field(json_schema_extra={"enum": ["None", "Staging", "Production", "Archived"]})
    archive_existing: bool = Field(
        default=False, description="archive the model's other versions in this stage (Staging or Production)"
    )


class AliasIn(Strict):
    version: int = Field(ge=1, lt=_INT64_END, strict=True)


class AliasMoveOut(Out):
    model: str
    alias: str
    from_version: int | None = Field(description="null when the alias was set for the first time")
    to_version: int | None = Field(description="null when the alias was removed")
    moved_by: str
    moved_at: int


class AliasHistoryOut(Out):
    moves: list[AliasMoveOut]


# -- reviews: protected aliases, and the reviews that move them ----------------------------------

ReviewId = Annotated[int, Path(ge=1, lt=_INT64_END)]
CheckText = Annotated[
    str,
    Field(
        description="a condition of the query language, signature-unchanged or no-archived-duplicate",
        json_schema_extra={
            "pattern": limits.NOT_BLANK_TEXT_PATTERN,
            "minLength": 1,
            "maxLength": limits.MAX_QUERY_LENGTH,
        },
    ),
]
ReviewStateName = Literal["open", "merged", "closed"]
CheckKindName = Literal["condition", "signature_unchanged", "no_archived_duplicate"]
#: A role on a model a protection asks of approvers and mergers (cairn.core.access.Role).
ProtectionRole = Literal["viewer", "editor", "maintainer", "admin"]
NOT_BLANK_COMMENT_RULE: dict[str, Any] = {
    "pattern": limits.NOT_BLANK_TEXT_PATTERN,
    "minLength": 1,
    "maxLength": limits.MAX_COMMENT_LENGTH,
}


class ProtectionIn(Strict):
    # Bounds stated, not validated here: the service refuses a bad number as invalid_value,
    # the same as in embedded mode.
    approvals: int = Field(
        default=1,
        strict=True,
        description="approvals needed from people other than the review's author",
        json_schema_extra={"minimum": 0, "maximum": MAX_REQUIRED_APPROVALS},
    )
    checks: list[CheckText] = Field(default_factory=list, json_schema_extra={"maxItems": MAX_CHECKS})
    approve_role: ProtectionRole = Field(default="editor", description="the least role on the model an approver holds")
    merge_role: ProtectionRole = Field(default="maintainer", description="the least role on the model to merge")


class ProtectionOut(Out):
    model: str
    alias: str
    required_approvals: int
    checks: list[str]
    created_by: str
    created_at: int
    updated_by: str
    updated_at: int
    approve_role: ProtectionRole
    merge_role: ProtectionRole


class ProtectionList(Out):
    protections: list[ProtectionOut]


class ReviewCreate(Strict):
    model: str = Field(json_schema_extra={**MODEL_NAME_RULE, "minLength": 1})
    version: int = Field(ge=1, lt=_INT64_END, strict=True)
    alias: str = Field(json_schema_extra={**ALIAS_RULE, "minLength": 1})
    description: str = Field(default="", json_schema_extra=text_rule(limits.MAX_NOTES_LENGTH))


class ApprovalIn(Strict):
    body: str = Field(
        default="", description="markdown; may be empty", json_schema_extra=text_rule(limits.MAX_COMMENT_LENGTH)
    )


class ChangesIn(Strict):
    body: str = Field(description="markdown: what to change", json_schema_extra=NOT_BLANK_COMMENT_RULE)


class ReviewCommentIn(Strict):
    body: str = Field(description="markdown, stored as given", json_schema_extra=NOT_BLANK_COMMENT_RULE)
    reply_to: int | None = Field(default=None, ge=1, lt=_INT64_END, strict=True, description="the entry answered")


class CheckResultOut(Out):
    check: str
    kind: CheckKindName
    passed: bool
    observed: dict[str, Any] = Field(description="what the check looked at, e.g. each field a condition names")
    message: str


class VoteOut(Out):
    reviewer: str
    decision: Literal["approved", "changes_requested"]
    voted_at: int


class ReviewOut(Out):
    id: int
    model: str
    alias: str
    version: int = Field(description="the candidate: where the alias moves when the review merges")
    base_version: int | None = Field(description="the version the alias pointed at when the review opened")
    state: ReviewStateName
    author: str
    description: str
    required_approvals: int
    checks: list[CheckResultOut] = Field(description="the checks as they last ran")
    checks_ran_at: int
    votes: list[VoteOut] = Field(description="each reviewer's latest vote")
    approvals: list[str]
    changes_requested_by: list[str]
    mergeable: bool = Field(description="open, and nothing blocks a merge as the checks last ran")
    created_at: int
    updated_at: int
    merged_by: str | None
    merged_at: int | None
    merged_from_version: int | None
    closed_by: str | None
    closed_at: int | None


class ReviewList(Out):
    reviews: list[ReviewOut]
    next_page_token: str | None


class ReviewCommentOut(Out):
    id: int
    review_id: int
    author: str
    kind: Literal["comment", "approved", "changes_requested"]
    body: str
    mentions: list[str]
    reply_to: int | None
    created_at: int


class PackageChangeOut(Out):
    name: str
    before: str | None
    after: str | None


class SnapshotChangesOut(Out):
    kind: str
    before: str | None = Field(description="the compared version's run's snapshot id")
    after: str | None = Field(description="the candidate's run's snapshot id")
    files: dict[str, Literal["added", "removed", "changed"]]
    packages: list[PackageChangeOut]


class ReviewDetailOut(Out):
    review: ReviewOut
    protection: ProtectionOut | None
    comments: list[ReviewCommentOut] = Field(description="the thread, in the order written")
    candidate: VersionOut
    compared_with: VersionOut | None = Field(
        description="the alias's holder while open; the version it moved off once merged"
    )
    candidate_run: RunOut | None
    compared_run: RunOut | None
    diff: DiffOut | None = Field(description="what changed from the compared version's run to the candidate's")
    snapshots: list[SnapshotChangesOut]


# -- the event log ------------------------------------------------------------------------------


class EventOut(Out):
    seq: int = Field(description="the event's place in the log: later events have larger numbers")
    id: str
    type: EventType
    subject: str = Field(description="what changed, as a path: models/NAME/versions/3, runs/RUN_ID…")
    actor: str
    created_at: int
    data: dict[str, Any]


class EventList(Out):
    events: list[EventOut]
    next_page_token: str | None


# -- webhooks ------------------------------------------------------------------------------------

#: Event type patterns a webhook subscribes to.
EventPatterns = Annotated[
    list[Annotated[str, Field(json_schema_extra={"enum": type_patterns()})]],
    Field(json_schema_extra={"minItems": 1, "maxItems": webhooks.MAX_EVENT_PATTERNS}),
]
WebhookUrlField = Annotated[
    str,
    Field(
        json_schema_extra={"pattern": webhooks.URL_PATTERN, "maxLength": webhooks.MAX_URL_LENGTH},
        description="http:// or https://; loopback and private addresses only with --allow-private-webhooks",
    ),
]
SecretField = Annotated[
    str,
    Field(
        json_schema_extra={
            "pattern": webhooks.SECRET_PATTERN,
            "minLength": webhooks.MIN_PLAIN_SECRET_LENGTH,
            "maxLength": webhooks.MAX_SECRET_LENGTH,
        },
        description="whsec_ and the base64 of 24 to 64 bytes, or 16 characters or more (their UTF-8 is the key)",
    ),
]
WebhookDescription = Annotated[str, documented(text_rule(webhooks.MAX_DESCRIPTION_LENGTH))]


class WebhookCreate(Strict):
    url: WebhookUrlField
    events: EventPatterns = Field(description="event types, SUBJECT.* or *")
    description: WebhookDescription = ""
    secret: SecretField | None = Field(default=None, description="made when left out; answered once")
    active: bool = Field(default=True, strict=True, description="false: queue nothing until enabled")


class WebhookPatch(Strict):
    url: WebhookUrlField | None = None
    events: EventPatterns | None = None
    description: WebhookDescription | None = None
    secret: SecretField | None = None
    active: bool | None = Field(default=None, strict=True)


class WebhookOut(Out):
    id: str
    url: str
    events: list[str]
    description: str
    active: bool
    secret_fingerprint: str = Field(description="hex SHA-256 of the secret's text, first 12 digits")
    created_by: str
    created_at: int
    updated_at: int


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="the signing secret: in this answer only")


class WebhookList(Out):
    webhooks: list[WebhookOut]


class AttemptOut(Out):
    number: int
    started_at: int
    duration_ms: int
    status_code: int | None = Field(description="the endpoint's HTTP status; null when none came")
    error: str | None
    response: str = Field(description="the start of the answer's body")


class DeliveryOut(Out):
    id: str = Field(description="the webhook-id header of every attempt")
    webhook_id: str
    event_id: str
    event_seq: int
    event_type: str
    subject: str
    status: DeliveryStatus
    next_attempt_at: int | None
    created_at: int
    finished_at: int | None
    attempts: list[AttemptOut]


class DeliveryList(Out):
    deliveries: list[DeliveryOut]
    next_page_token: str | None
