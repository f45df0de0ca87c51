"""What a query may name, for each kind of thing it selects: runs, registered models, model
versions (docs/query.md).

One lexer and one parser read every query; a vocabulary tells the parser which fields exist
and what their values are, so that ``alias = 'champion'`` is a field of a model version and an
unknown field of a run, and ``version > 'x'`` is refused as ``metrics.acc > 'x'`` is.

- ``attributes`` are the thing's own fields, each of a kind: ``text``, ``number``, ``time``
  (compared with a date or an age such as ``-7d``) or ``duration``.
- ``several`` are attributes holding any number of values for one thing (the aliases of a
  model or version): a condition holds when one of the values matches, its negation when none
  does, and they are never unknown, as dataset fields are for runs.
- ``sources`` say which keyed families it has: ``params.KEY``, ``metrics.KEY``, ``tags.KEY``,
  ``dataset.FIELD``.
- ``related`` names other things a field may reach through a prefix: a model version's source
  run is ``run``, so ``run.params.lr`` and ``run.metrics.acc.max`` are the run's fields,
  checked by the runs' vocabulary (and kept in :attr:`Field.scope`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cairn.core.query.ast import ATTRIBUTES, Field, Source

#: The families a keyed field starts with, as they are written.
_FAMILY_TEXT = {
    Source.PARAM: "params.KEY",
    Source.METRIC: "metrics.KEY (.min .max .count)",
    Source.TAG: "tags.KEY",
    Source.DATASET: "dataset.name/digest/context",
}


@dataclass(frozen=True)
class Vocabulary:
    #: What the query selects, in messages: "runs", "models", "model versions".
    things: str
    attributes: Mapping[str, str]
    sources: frozenset[Source]
    several: frozenset[str] = frozenset()
    related: Mapping[str, Vocabulary] = field(default_factory=dict)

    def of(self, field: Field) -> Vocabulary:
        """The vocabulary ``field`` was read with: this one, or a related thing's."""
        return self.related[field.scope] if field.scope else self

    def kind(self, field: Field) -> str:
        """The kind of an attribute's values: text, number, time or duration."""
        return self.of(field).attributes[field.key]

    def holds_several(self, field: Field) -> bool:
        return field.source is Source.ATTRIBUTE and field.key in self.of(field).several

    def help(self) -> str:
        """The fields, as an unknown field's message lists them."""
        named = [text for source, text in _FAMILY_TEXT.items() if source in self.sources]
        named += [f"{prefix}.FIELD (a field of its {prefix})" for prefix in self.related]
        return f"fields of {self.things} are {', '.join(named)}, or {', '.join(sorted(self.attributes))}"


RUNS = Vocabulary("runs", ATTRIBUTES, frozenset({Source.PARAM, Source.METRIC, Source.TAG, Source.DATASET}))

MODELS = Vocabulary(
    "models",
    {
        "name": "text",
        "description": "text",
        "created": "time",
        "updated": "time",
        "latest_version": "number",
        "alias": "text",
    },
    frozenset({Source.TAG}),
    several=frozenset({"alias"}),
)

VERSIONS = Vocabulary(
    "model versions",
    {
        "name": "text",
        "version": "number",
        "stage": "text",
        "flavor": "text",
        "description": "text",
        "user": "text",
        "created": "time",
        "updated": "time",
        "alias": "text",
    },
    frozenset({Source.TAG}),
    several=frozenset({"alias"}),
    related={"run": RUNS},
)
