"""The runs table's columns: query-language fields, read off a run and labelled for a header.

A column is named by the same text a query uses (``params.lr``, ``metrics.val/accuracy``,
``tags.team``, ``duration``), so a column header can sort with ``order_by`` unchanged and a
saved view stores its columns as plain field texts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cairn.core.entities import Run
from cairn.core.errors import InvalidQuery
from cairn.core.headline import table_keys
from cairn.core.query.ast import Aggregate, Field, Source
from cairn.core.query.evaluate import shown_value
from cairn.core.query.parser import parse_field
from cairn.core.query.text import field_text

#: Attribute columns a user may pick, in the order the picker lists them.
ATTRIBUTE_COLUMNS = ("name", "status", "user", "created", "ended", "duration", "id", "parent")
DEFAULT_ATTRIBUTES = ("name", "status", "user", "created", "duration")


@dataclass(frozen=True, slots=True)
class Column:
    field: str  # the query-language text
    parsed: Field

    @classmethod
    def parse(cls, text: str) -> Column:
        """Raises InvalidQuery for a field the query language does not know."""
        parsed = parse_field(text.strip())
        if parsed.source is Source.DATASET:
            raise InvalidQuery.at("a column shows a param, a metric, a tag or an attribute", text, 0)
        return cls(text.strip(), parsed)

    @property
    def source(self) -> Source:
        return self.parsed.source

    @property
    def key(self) -> str:
        return self.parsed.key

    @property
    def aggregate(self) -> Aggregate:
        return self.parsed.aggregate

    @property
    def label(self) -> str:
        if self.source is Source.ATTRIBUTE:
            return self.key
        if self.source is Source.METRIC and self.aggregate is not Aggregate.LAST:
            return f"{self.key} ({self.aggregate.value})"
        return self.key

    @property
    def group(self) -> str:
        return "attribute" if self.source is Source.ATTRIBUTE else self.source.value

    @property
    def numeric(self) -> bool:
        return self.source is Source.METRIC or self.key in ("duration",)

    def value(self, run: Run) -> Any:
        """What the query language reads for this field (None where the run has none)."""
        return shown_value(self.parsed, run)


def parse_columns(texts: Iterable[str]) -> tuple[list[Column], list[str]]:
    """The columns that parse, and a message for each that does not (shown, then dropped)."""
    columns: list[Column] = []
    problems: list[str] = []
    seen: set[str] = set()
    for text in texts:
        if not text.strip() or text.strip() in seen:
            continue
        try:
            column = Column.parse(text)
        except InvalidQuery as exc:
            problems.append(f"column {text!r}: {exc.message}")
            continue
        seen.add(column.field)
        columns.append(column)
    return columns, problems


def default_columns(params: Sequence[str], metrics: Sequence[str]) -> list[str]:
    """What a project's table shows before anyone chooses: the main attributes, then the metrics
    and params :func:`~cairn.core.headline.table_keys` picks (up to four of each)."""
    chosen_metrics, chosen_params = table_keys(metrics, params, 4)
    return [
        *DEFAULT_ATTRIBUTES,
        *(field_text("metrics", key) for key in chosen_metrics),
        *(field_text("params", key) for key in chosen_params),
    ]
