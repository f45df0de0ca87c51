"""What ``cairn.Api`` returns, ready for a notebook: lists that stay lists (index them, loop over
them, compare them), shown by Jupyter as a table (``_repr_html_``), and turned into a pandas
DataFrame by ``to_pandas()``.

Each kind of result says its columns once (:class:`Column`): the table shows them, with links
into the dashboard where a row has a page there, and the DataFrame holds their raw values
(times as datetimes, every param, metric and tag of a run as ``params.KEY``, ``metrics.KEY``
and ``tags.KEY`` columns, as MLflow's ``search_runs`` names them). Rendering and escaping are
:mod:`cairn.client.notebook_display`'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from cairn.client import notebook_display as nd
from cairn.core import display
from cairn.core.artifacts import Artifact, DatasetVersion, RunInput
from cairn.core.entities import Project, Run, RunGroup, SimilarRun
from cairn.core.events import Event
from cairn.core.headline import table_keys
from cairn.core.metrics import MetricHistory
from cairn.core.registry import ModelVersion, RegisteredModel

T = TypeVar("T")

#: Params and metrics a runs table shows as columns (all of them are in ``to_pandas()``).
RUN_TABLE_KEYS = 4
#: Points of a metric history shown at its start and at its end.
HISTORY_HEAD, HISTORY_TAIL = 10, 5


@dataclass(frozen=True, slots=True)
class Column(Generic[T]):
    """One column: its header, an item's raw value (the DataFrame's), and optionally what the
    table shows instead (a link, a formatted time) given the dashboard's address."""

    header: str
    value: Callable[[T], object]
    shown: Callable[[T, str], object] | None = None

    def cell(self, item: T, base: str) -> object:
        return self.shown(item, base) if self.shown is not None else self.value(item)


class Results(list[T]):
    """A list of what an ``Api`` call found; in a notebook, a table."""

    #: Rows the table shows; it counts the rest.
    rows_shown: ClassVar[int] = 50
    noun: ClassVar[str] = "item"

    def __init__(self, items: Iterable[T] = (), *, uri: str = "") -> None:
        super().__init__(items)
        #: The store the items came from: where the dashboard links point.
        self.uri = uri

    def columns(self) -> Sequence[Column[T]]:
        raise NotImplementedError

    def _repr_html_(self) -> str:
        if not self:
            return nd.table(("",), [], caption=f"no {self.noun}s")
        base = nd.dashboard_base(self.uri)
        columns = self.columns()
        shown = self[: self.rows_shown]
        return nd.table(
            [c.header for c in columns],
            ([c.cell(item, base) for c in columns] for item in shown),
            caption=display.plural(len(self), self.noun),
            more=len(self) - len(shown),
            more_note="to_pandas() has all of them",
        )

    def to_pandas(self) -> Any:
        """A pandas DataFrame with a row per item and a column per field."""
        pd = _pandas()
        columns = self.columns()
        return pd.DataFrame(
            {c.header: [c.value(item) for item in self] for c in columns}, columns=[c.header for c in columns]
        )

    to_dataframe = to_pandas


class Runs(Results[Run]):
    """Runs, as ``Api.runs`` finds them: in the table a few params and headline metrics (the
    last value), as the dashboard's runs table picks them; all of them in ``to_pandas()``."""

    noun = "run"

    def columns(self) -> Sequence[Column[Run]]:
        metrics, params = table_keys(
            {key for run in self for key in run.metrics}, {key for run in self for key in run.params}, RUN_TABLE_KEYS
        )
        return [
            *_run_columns(),
            *(Column(f"metrics.{key}", _metric_last(key)) for key in metrics),
            *(Column(f"params.{key}", _param(key)) for key in params),
        ]

    def to_pandas(self) -> Any:
        """A row per run: its attributes, then a column per param, metric (its last value) and
        tag, named ``params.KEY``, ``metrics.KEY`` and ``tags.KEY``."""
        pd = _pandas()
        frame: dict[str, list[object]] = {c.header: [c.value(run) for run in self] for c in _run_columns(full=True)}
        params = _spread([run.params for run in self], None)
        metrics = _spread([{k: m.last for k, m in run.metrics.items()} for run in self], np.nan)
        tags = _spread([run.tags for run in self], None)
        for prefix, columns in (("params", params), ("metrics", metrics), ("tags", tags)):
            frame.update((f"{prefix}.{key}", columns[key]) for key in sorted(columns))
        return pd.DataFrame(frame, columns=list(frame))

    to_dataframe = to_pandas


class SimilarRuns(Results[SimilarRun]):
    noun = "similar run"

    def columns(self) -> Sequence[Column[SimilarRun]]:
        return [
            Column("distance", lambda s: s.distance),
            *(Column(c.header, _of_run(c.value), _of_run_shown(c.shown)) for c in _run_columns()),
        ]


class RunGroups(Results[RunGroup]):
    noun = "group"

    def columns(self) -> Sequence[Column[RunGroup]]:
        return [
            Column("value", lambda g: g.value),
            Column("runs", lambda g: g.count),
            Column("mean", lambda g: g.mean),
            Column("min", lambda g: g.min),
            Column("max", lambda g: g.max),
        ]


class Projects(Results[Project]):
    noun = "project"

    def columns(self) -> Sequence[Column[Project]]:
        return [
            Column("name", lambda p: p.name, lambda p, base: nd.link(nd.project_url(base, p.name), p.name)),
            Column("runs", lambda p: p.run_count),
            Column("last activity", lambda p: _time(p.last_activity), lambda p, _: _shown_time(p.last_activity)),
            Column("description", lambda p: p.description),
        ]


class RegisteredModels(Results[RegisteredModel]):
    noun = "model"

    def columns(self) -> Sequence[Column[RegisteredModel]]:
        return [
            Column("name", lambda m: m.name, lambda m, base: nd.link(nd.model_url(base, m.name), m.name)),
            Column("latest version", lambda m: m.latest_version),
            Column("aliases", lambda m: dict(m.aliases), lambda m, _: _pairs(m.aliases)),
            Column("updated", lambda m: _time(m.updated_at), lambda m, _: _shown_time(m.updated_at)),
            Column("description", lambda m: m.description),
        ]


class ModelVersions(Results[ModelVersion]):
    noun = "model version"

    def columns(self) -> Sequence[Column[ModelVersion]]:
        return [
            Column("model", lambda v: v.model, lambda v, base: nd.link(nd.model_url(base, v.model), v.model)),
            Column(
                "version",
                lambda v: v.version,
                lambda v, base: nd.link(nd.model_url(base, v.model, v.version), v.version),
            ),
            Column("stage", lambda v: v.stage.value),
            Column("aliases", lambda v: list(v.aliases), lambda v, _: ", ".join(v.aliases)),
            Column("flavor", lambda v: v.flavor),
            Column("run", lambda v: v.run_id, lambda v, base: nd.link(nd.run_url(base, v.run_id), v.run_id)),
            Column("created", lambda v: _time(v.created_at), lambda v, _: _shown_time(v.created_at)),
            Column("created by", lambda v: v.created_by),
        ]


class Artifacts(Results[Artifact]):
    noun = "artifact"

    def columns(self) -> Sequence[Column[Artifact]]:
        return [
            Column("path", lambda a: a.path),
            Column("size", lambda a: a.size, lambda a, _: display.size(a.size)),
            Column("kind", lambda a: a.kind),
            Column("digest", lambda a: a.digest, lambda a, _: a.digest[:12]),
        ]


class DatasetVersions(Results[DatasetVersion]):
    noun = "dataset version"

    def columns(self) -> Sequence[Column[DatasetVersion]]:
        return [
            Column("name", lambda d: d.name),
            Column("digest", lambda d: d.digest, lambda d, _: d.digest[:12]),
            Column("rows", lambda d: d.rows),
            Column("columns", lambda d: d.columns),
            Column("source", lambda d: d.source_uri),
            Column("created", lambda d: _time(d.created_at), lambda d, _: _shown_time(d.created_at)),
            Column("used by", lambda d: len(d.used_by), lambda d, _: display.plural(len(d.used_by), "run")),
        ]


class RunInputs(Results[RunInput]):
    noun = "input"

    def columns(self) -> Sequence[Column[RunInput]]:
        return [
            Column("context", lambda i: i.context),
            Column("dataset", lambda i: i.dataset.name),
            Column("digest", lambda i: i.dataset.digest, lambda i, _: i.dataset.digest[:12]),
            Column("rows", lambda i: i.dataset.rows),
            Column("columns", lambda i: i.dataset.columns),
            Column("source", lambda i: i.dataset.source_uri),
        ]


class Events(Results[Event]):
    noun = "event"

    def columns(self) -> Sequence[Column[Event]]:
        return [
            Column("time", lambda e: _time(e.created_at), lambda e, _: _shown_time(e.created_at)),
            Column("type", lambda e: str(e.type)),
            Column("subject", lambda e: e.subject),
            Column("actor", lambda e: e.actor),
        ]


class History(MetricHistory):
    """A metric's points (:class:`~cairn.core.metrics.MetricHistory`); in a notebook, a table
    of its first and last points; ``to_pandas()`` has a row per point."""

    __slots__ = ()

    @classmethod
    def of(cls, history: MetricHistory) -> History:
        return cls(
            key=history.key,
            steps=history.steps,
            timestamps=history.timestamps,
            values=history.values,
            total=history.total,
            downsampled=history.downsampled,
            next_offset=history.next_offset,
        )

    def _repr_html_(self) -> str:
        count = len(self)
        cut = count > HISTORY_HEAD + HISTORY_TAIL
        shown = [*range(HISTORY_HEAD), *range(count - HISTORY_TAIL, count)] if cut else list(range(count))
        rows: list[list[object]] = []
        for index in shown:
            if cut and index == count - HISTORY_TAIL:
                rows.append(["…", f"{count - HISTORY_HEAD - HISTORY_TAIL:,} more points", ""])
            step, ms, value = int(self.steps[index]), int(self.timestamps[index]), float(self.values[index])
            rows.append([step, _shown_time(ms), display.number(value)])
        what = display.plural(count, "point") + (f" (an envelope of {self.total:,})" if self.downsampled else "")
        return nd.table(("step", "time", "value"), rows, caption=f"{self.key}: {what}")

    def to_pandas(self) -> Any:
        """A row per point: ``step``, ``timestamp`` (a UTC datetime) and ``value``."""
        pd = _pandas()
        return pd.DataFrame(
            {
                "step": self.steps,
                "timestamp": pd.to_datetime(self.timestamps, unit="ms", utc=True),
                "value": self.values,
            }
        )

    to_dataframe = to_pandas


# -- columns of a run -------------------------------------------------------------------------


def _run_columns(*, full: bool = False) -> list[Column[Run]]:
    columns: list[Column[Run]] = [
        Column("id", lambda r: r.id, lambda r, base: nd.link(nd.run_url(base, r.id), r.id[:8], title=r.id)),
        Column("name", lambda r: r.name),
        Column("status", lambda r: r.status.value),
        Column("user", lambda r: r.user),
        Column("started", lambda r: _time(r.start_time), lambda r, _: _shown_time(r.start_time)),
        Column("duration", lambda r: _timedelta(r.duration_ms), lambda r, _: display.duration(r.duration_ms)),
    ]
    if full:
        columns[1:1] = [Column("project", lambda r: r.project)]
        columns += [
            Column("ended", lambda r: _time(r.end_time)),
            Column("parent", lambda r: r.parent_id),
            Column("deleted", lambda r: r.deleted),
        ]
    return columns


def _metric_last(key: str) -> Callable[[Run], object]:
    return lambda run: run.metrics[key].last if key in run.metrics else None


def _param(key: str) -> Callable[[Run], object]:
    return lambda run: run.params.get(key)


def _spread(maps: Sequence[Mapping[str, object]], missing: object) -> dict[str, list[object]]:
    """A column per key of ``maps``, a row per map, ``missing`` where a map lacks the key: one
    pass over what the maps hold (10,000 runs of 50 keys would be 500,000 lookups by key)."""
    columns: dict[str, list[object]] = {}
    for row, mapping in enumerate(maps):
        for key, value in mapping.items():
            column = columns.get(key)
            if column is None:
                column = columns[key] = [missing] * len(maps)
            column[row] = value
    return columns


def _of_run(value: Callable[[Run], object]) -> Callable[[SimilarRun], object]:
    return lambda similar: value(similar.run)


def _of_run_shown(shown: Callable[[Run, str], object] | None) -> Callable[[SimilarRun, str], object] | None:
    if shown is None:
        return None
    return lambda similar, base: shown(similar.run, base)


# -- values -----------------------------------------------------------------------------------


def _time(ms: int | None) -> dt.datetime | None:
    """A time for a DataFrame: an aware UTC datetime (pandas makes it a datetime64 column)."""
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def _timedelta(ms: int | None) -> dt.timedelta | None:
    return None if ms is None else dt.timedelta(milliseconds=ms)


def _shown_time(ms: int | None) -> str:
    # The notebook runs on the reader's machine: its local zone, as the CLI shows times.
    return display.timestamp(ms, None)


def _pairs(mapping: Any) -> str:
    return ", ".join(f"{key}: {value}" for key, value in mapping.items())


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError("to_pandas() needs pandas: pip install pandas") from None
    return pandas
