"""The tracking entities, as plain frozen dataclasses shared by every layer.

Times are integers of milliseconds since the Unix epoch, as in MLflow, so that they sort and
compare exactly on every database and map 1:1 onto MLflow's wire format.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

#: A param value after typing: what a user's config may hold once flattened.
ParamValue = int | float | bool | str | None


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"

    @property
    def is_terminal(self) -> bool:
        return self is not RunStatus.RUNNING


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    name: str
    description: str
    created_at: int
    run_count: int = 0
    last_activity: int | None = None
    #: Deleted projects are left out of listings and take no new runs until restored.
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class MetricSummary:
    """What search and sort need of one metric of one run, without reading its history.

    ``min`` and ``max`` ignore NaN (they are None when every value was NaN); ``last`` is the
    value at the highest step (the latest logged among equal steps) and may be NaN or ±inf.
    """

    key: str
    last: float
    last_step: int
    last_timestamp: int
    min: float | None
    max: float | None
    count: int


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    project_id: str
    project: str
    name: str
    user: str
    status: RunStatus
    start_time: int
    end_time: int | None
    parent_id: str | None
    notes: str
    deleted: bool
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, MetricSummary] = field(default_factory=dict)
    #: SHA-256 over the run's normalised params (see :mod:`cairn.core.fingerprint`); None for
    #: a run stored before fingerprints existed.
    fingerprint: str | None = None

    @property
    def duration_ms(self) -> int | None:
        return None if self.end_time is None else self.end_time - self.start_time


@dataclass(frozen=True, slots=True)
class RunUpdate:
    """The fields of a run that may change after creation; None means "leave as is"."""

    status: RunStatus | None = None
    name: str | None = None
    notes: str | None = None
    end_time: int | None = None


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; ``next_page_token`` is None on the last page."""

    items: list[T]
    next_page_token: str | None = None


@dataclass(frozen=True, slots=True)
class RunGroup:
    """Runs sharing one value of a field: how many, and a metric's mean, min and max among
    those that logged it (None when none did)."""

    value: ParamValue
    count: int
    mean: float | None = None
    min: float | None = None
    max: float | None = None


class SimilarRun(NamedTuple):
    """An earlier run near another one, and its param distance: how many params differ or
    exist on one side only (0 for a run with equal params)."""

    run: Run
    distance: int


@dataclass(frozen=True, slots=True)
class IngestResult:
    """The answer to one metric batch: ``duplicate`` means it had already been stored."""

    points: int
    duplicate: bool = False
