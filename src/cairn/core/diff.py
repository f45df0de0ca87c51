"""What changed between two runs: a run and the baseline it is compared against.

:func:`diff_runs` is pure: it reads two :class:`~cairn.core.entities.Run` records and says which
params were added, removed or changed, how each metric moved (its last value, min and max),
which tags changed, and whether the notes did. "Added" means the run has it and the baseline
does not; "before" is the baseline's value, "after" the run's. Params compare as
:func:`~cairn.core.params.same_param_value` does (0.1 and 0.10, 1 and 1.0 are no change;
``True`` and ``1`` are).

Once runs capture their datasets, code and environment (issue 5), each becomes one more section
of :class:`RunDiff` beside ``params`` — ``datasets`` (inputs added, removed, or at another
digest), ``code`` (the snapshot's changed paths, as snapshots diff like commits) and
``environment`` (packages added, removed, upgraded) — and one more key of the wire format,
so clients that do not know a section ignore it.

:func:`snapshot_changes` compares two snapshot trees (path → digest) the way ``git diff
--name-status`` compares commits: the one rule ``cairn diff`` and the run page's Code tab share;
:func:`package_changes` compares two environments' pinned requirements, for ``cairn diff`` and
a model review's side-by-side (docs/registry.md, "Reviews").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from cairn.core.artifacts import Snapshot
from cairn.core.entities import MetricSummary, ParamValue, Run, RunStatus
from cairn.core.params import same_param_value

V = TypeVar("V")
FileStatus = Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class RunRef:
    """Which run a side of a diff is, in a few words."""

    id: str
    name: str
    project: str
    user: str
    status: RunStatus
    start_time: int

    @classmethod
    def of(cls, run: Run) -> RunRef:
        return cls(run.id, run.name, run.project, run.user, run.status, run.start_time)


@dataclass(frozen=True, slots=True)
class Change(Generic[V]):
    """A key both sides have, with different values: the baseline's, then the run's."""

    before: V
    after: V


@dataclass(frozen=True, slots=True)
class MappingDiff(Generic[V]):
    """Keys the run has and the baseline lacks (``added``), the reverse (``removed``), keys with
    another value (``changed``), and how many keys are the same on both sides."""

    added: dict[str, V] = field(default_factory=dict)
    removed: dict[str, V] = field(default_factory=dict)
    changed: dict[str, Change[V]] = field(default_factory=dict)
    unchanged: int = 0

    @property
    def count(self) -> int:
        """How many keys differ."""
        return len(self.added) + len(self.removed) + len(self.changed)


@dataclass(frozen=True, slots=True)
class MetricChange:
    """One metric both runs logged, with a different last value, min or max."""

    before: MetricSummary
    after: MetricSummary

    @property
    def last(self) -> float:
        """How much the last value moved (after − before); NaN when either is NaN."""
        return _delta(self.before.last, self.after.last)

    @property
    def min(self) -> float | None:
        """How much the minimum moved; None when a side has none (every value was NaN)."""
        return None if self.before.min is None or self.after.min is None else _delta(self.before.min, self.after.min)

    @property
    def max(self) -> float | None:
        return None if self.before.max is None or self.after.max is None else _delta(self.before.max, self.after.max)


@dataclass(frozen=True, slots=True)
class MetricsDiff:
    added: dict[str, MetricSummary] = field(default_factory=dict)
    removed: dict[str, MetricSummary] = field(default_factory=dict)
    changed: dict[str, MetricChange] = field(default_factory=dict)
    unchanged: int = 0

    @property
    def count(self) -> int:
        return len(self.added) + len(self.removed) + len(self.changed)


@dataclass(frozen=True, slots=True)
class RunDiff:
    """What changed from ``baseline`` to ``run``. ``notes`` is None when they are the same."""

    run: RunRef
    baseline: RunRef
    params: MappingDiff[ParamValue]
    metrics: MetricsDiff
    tags: MappingDiff[str]
    notes: Change[str] | None = None

    @property
    def distance(self) -> int:
        """The param distance: params that differ or that only one side has."""
        return self.params.count

    @property
    def empty(self) -> bool:
        """Whether nothing differs (the run and its baseline may still be two runs)."""
        return not (self.params.count or self.metrics.count or self.tags.count or self.notes)


def diff_runs(run: Run, baseline: Run) -> RunDiff:
    """What changed from ``baseline`` to ``run``."""
    return RunDiff(
        run=RunRef.of(run),
        baseline=RunRef.of(baseline),
        params=diff_mappings(baseline.params, run.params, same_param_value),
        metrics=_diff_metrics(baseline.metrics, run.metrics),
        tags=diff_mappings(baseline.tags, run.tags, _equal),
        notes=None if run.notes == baseline.notes else Change(baseline.notes, run.notes),
    )


def diff_mappings(before: Mapping[str, V], after: Mapping[str, V], same: Callable[[V, V], bool]) -> MappingDiff[V]:
    """Keys sorted; ``same`` says whether two values of a key are no change."""
    changed = {k: Change(before[k], after[k]) for k in sorted(before.keys() & after.keys())}
    unchanged = [k for k, c in changed.items() if same(c.before, c.after)]
    for key in unchanged:
        del changed[key]
    return MappingDiff(
        added={k: after[k] for k in sorted(after.keys() - before.keys())},
        removed={k: before[k] for k in sorted(before.keys() - after.keys())},
        changed=changed,
        unchanged=len(unchanged),
    )


def snapshot_changes(before: Snapshot | None, after: Snapshot | None) -> dict[str, FileStatus]:
    """path → how it changed from ``before`` to ``after``, sorted by path; a file whose digest is
    the same on both sides is left out. A missing side is an empty tree."""
    old = {f.path: f.digest for f in before.files} if before is not None else {}
    new = {f.path: f.digest for f in after.files} if after is not None else {}
    changes: dict[str, FileStatus] = {}
    for path in sorted(old.keys() | new.keys()):
        if path not in old:
            changes[path] = "added"
        elif path not in new:
            changes[path] = "removed"
        elif old[path] != new[path]:
            changes[path] = "changed"
    return changes


@dataclass(frozen=True, slots=True)
class PackageChange:
    """A package added (``before`` None), removed (``after`` None) or at another version."""

    name: str
    before: str | None
    after: str | None


def pinned_requirements(text: str) -> dict[str, str]:
    """package → version of a ``requirements.txt`` as the environment capture writes it
    (``name==version`` lines; a name without a pin maps to "")."""
    pinned = {}
    for line in text.splitlines():
        name, _, version = line.strip().partition("==")
        if name and not name.startswith("#"):
            pinned[name] = version
    return pinned


def package_changes(before: str | None, after: str | None) -> list[PackageChange]:
    """The packages whose pinned version differs between two ``requirements.txt`` texts (a
    missing one is empty), by name."""
    old = pinned_requirements(before or "")
    new = pinned_requirements(after or "")
    return [
        PackageChange(name, old.get(name), new.get(name))
        for name in sorted(old.keys() | new.keys())
        if old.get(name) != new.get(name)
    ]


def _diff_metrics(before: Mapping[str, MetricSummary], after: Mapping[str, MetricSummary]) -> MetricsDiff:
    shared = diff_mappings(before, after, _same_summary)
    return MetricsDiff(
        added=shared.added,
        removed=shared.removed,
        changed={k: MetricChange(c.before, c.after) for k, c in shared.changed.items()},
        unchanged=shared.unchanged,
    )


def _same_summary(a: MetricSummary, b: MetricSummary) -> bool:
    return _same_number(a.last, b.last) and _same_number(a.min, b.min) and _same_number(a.max, b.max)


def _same_number(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


def _delta(before: float, after: float) -> float:
    if math.isinf(before) and math.isinf(after) and before == after:
        return 0.0  # inf − inf would be NaN, but the value did not move
    return after - before


def _equal(a: str, b: str) -> bool:
    return a == b
