"""Request and response models of REST API v1: what validates input and documents OpenAPI.

Responses are rendered from :mod:`cairn.core.wire`; the models here describe them for the
OpenAPI document. Unknown request fields are refused rather than silently dropped.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from cairn.core import limits
from cairn.core.entities import RunStatus

Millis = Annotated[int, Field(ge=0, le=limits.MAX_INT64, description="milliseconds since the Unix epoch")]
Step = Annotated[int, Field(ge=limits.MIN_INT64, le=limits.MAX_INT64)]
WireFloat = Annotated[float | str, Field(description='a number, or "NaN", "Infinity", "-Infinity"')]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectCreate(Strict):
    name: str = Field(min_length=1, max_length=limits.MAX_NAME_LENGTH)
    description: str = Field(default="", max_length=limits.MAX_PROJECT_DESCRIPTION_LENGTH)


class ProjectOut(BaseModel):
    id: str
    name: str
    description: str
    created_at: int
    run_count: int
    last_activity: int | None


class ProjectList(BaseModel):
    projects: list[ProjectOut]


ParamIn = int | float | bool | str | None | list[Any] | dict[str, Any]


class RunCreate(Strict):
    project: str = Field(min_length=1, max_length=limits.MAX_NAME_LENGTH)
    name: str | None = Field(default=None, max_length=limits.MAX_NAME_LENGTH)
    user: str | None = Field(default=None, max_length=limits.MAX_NAME_LENGTH)
    config: dict[str, ParamIn] = Field(default_factory=dict, description="nested params, flattened with dots")
    tags: dict[str, str] = Field(default_factory=dict)
    notes: str = Field(default="", max_length=limits.MAX_NOTES_LENGTH)
    parent_id: str | None = Field(default=None, max_length=64)
    start_time: Millis | None = None


class RunPatch(Strict):
    status: RunStatus | None = None
    name: str | None = Field(default=None, max_length=limits.MAX_NAME_LENGTH)
    notes: str | None = Field(default=None, max_length=limits.MAX_NOTES_LENGTH)
    end_time: Millis | None = None


class MetricSummaryOut(BaseModel):
    last: WireFloat
    last_step: int
    last_timestamp: int
    min: WireFloat | None
    max: WireFloat | None
    count: int


class RunOut(BaseModel):
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
    fingerprint: str | None = Field(default=None, description="sha256 over the normalised params")


class RunList(BaseModel):
    runs: list[RunOut]
    next_page_token: str | None


class GroupOut(BaseModel):
    value: Any
    count: int
    mean: WireFloat | None
    min: WireFloat | None
    max: WireFloat | None


class GroupList(BaseModel):
    groups: list[GroupOut]


class ParamsIn(Strict):
    params: dict[str, ParamIn]


class TagsIn(Strict):
    tags: dict[str, str]


class MetricColumnsIn(Strict):
    key: str
    steps: list[Step]
    timestamps: list[Millis]
    values: list[WireFloat]


class MetricBatchIn(Strict):
    """Points of one or more metrics as columns. ``(client_id, seq)`` names the batch: a batch
    sent again with the same pair is acknowledged but not stored twice."""

    client_id: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=0, le=limits.MAX_INT64)
    metrics: list[MetricColumnsIn]


class IngestOut(BaseModel):
    points: int
    duplicate: bool


class HistoryOut(BaseModel):
    key: str
    total: int = Field(description="points in the requested step window")
    downsampled: bool
    next_offset: int | None
    steps: list[int]
    timestamps: list[int]
    values: list[WireFloat]


class DuplicateList(BaseModel):
    runs: list[RunOut]


class SimilarOut(BaseModel):
    run: RunOut
    distance: int = Field(description="params that differ or exist on one side only")


class SimilarList(BaseModel):
    runs: list[SimilarOut]


class NearestOut(BaseModel):
    run: RunOut | None
    distance: int | None


class RunRefOut(BaseModel):
    id: str
    name: str
    project: str
    user: str
    status: RunStatus
    start_time: int


class ChangeOut(BaseModel):
    before: Any
    after: Any


class MappingDiffOut(BaseModel):
    added: dict[str, Any]
    removed: dict[str, Any]
    changed: dict[str, ChangeOut]
    unchanged: int


class MetricChangeOut(BaseModel):
    before: MetricSummaryOut
    after: MetricSummaryOut
    last: WireFloat = Field(description="after - before")
    min: WireFloat | None
    max: WireFloat | None


class MetricsDiffOut(BaseModel):
    added: dict[str, MetricSummaryOut]
    removed: dict[str, MetricSummaryOut]
    changed: dict[str, MetricChangeOut]
    unchanged: int


class DiffOut(BaseModel):
    """What changed from ``baseline`` to ``run``: "added" is what the run has and the baseline
    lacks; "before" is the baseline's value."""

    run: RunRefOut
    baseline: RunRefOut
    distance: int
    params: MappingDiffOut
    metrics: MetricsDiffOut
    tags: MappingDiffOut
    notes: ChangeOut | None


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorOut(BaseModel):
    error: ErrorBody


class HealthOut(BaseModel):
    status: str
    version: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        400: "invalid input",
        404: "not found",
        409: "conflict",
        413: "payload too large",
        503: "store unavailable",
    }.items()
}
