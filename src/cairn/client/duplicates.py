""" "Already tried?": what ``cairn.init`` says when a config already ran.

Before a run is created, the SDK fingerprints its config (:mod:`cairn.core.fingerprint`) and
asks for finished runs of the project with the same fingerprint. This module turns what comes
back into the one line a person reads on stderr, and into the error ``on_duplicate="error"``
raises.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from cairn.client.connect import is_remote, resolve_uri
from cairn.core.clock import ago
from cairn.core.entities import Run
from cairn.core.errors import DuplicateRun, InvalidValue

OnDuplicate = Literal["warn", "skip", "error"]
ON_DUPLICATE: tuple[OnDuplicate, ...] = ("warn", "skip", "error")
#: How many earlier equal runs ``cairn.init`` asks for (and ``run.duplicates`` may hold).
LOOKUP_LIMIT = 5
#: Metrics shown for the earlier run, and the words that make a metric a headline, best first.
HEADLINE_METRICS = 3
_HEADLINE_WORDS = ("acc", "f1", "auc", "score", "loss", "error", "precision", "recall")


def check_on_duplicate(value: object) -> OnDuplicate:
    for choice in ON_DUPLICATE:
        if value == choice:
            return choice
    raise InvalidValue(f"on_duplicate must be one of {', '.join(ON_DUPLICATE)}; got {value!r}")


def describe(duplicates: Sequence[Run], target: str, *, uri: str | None) -> str:
    """One line about the newest earlier run: who ran it, when, a few last metric values, and
    where to look (``uri`` is what the caller passed to ``init``, None when it was not)."""
    first = duplicates[0]
    when = first.end_time if first.end_time is not None else first.start_time
    line = f'this config already ran in project "{first.project}": '
    line += f'run "{first.name}" by {first.user}, finished {ago(when, date_prefix="on ")}'
    metrics = headline(first)
    if metrics:
        line += f" ({metrics})"
    line += f"; see {link(first, target, uri=uri)}"
    if len(duplicates) > 1:
        more = len(duplicates) - 1
        line += f" (and {more} more earlier run{'s' if more > 1 else ''} with this config)"
    return line


def duplicate_error(duplicates: Sequence[Run], fingerprint: str, target: str, *, uri: str | None) -> DuplicateRun:
    first = duplicates[0]
    return DuplicateRun(
        describe(duplicates, target, uri=uri),
        details={"project": first.project, "fingerprint": fingerprint, "runs": [r.id for r in duplicates]},
    )


def link(run: Run, target: str, *, uri: str | None) -> str:
    """The run's page on a server; in embedded mode, the command that shows it."""
    if is_remote(target):
        return f"{target.rstrip('/')}/runs/{run.id}"
    command = f"cairn runs show {run.id}"
    if uri is not None and resolve_uri(None) != target:
        from cairn.store.sql.engine import redact  # only embedded mode gets here: SQL is loaded

        command += f" --uri {redact(target)}"
    return f"run {run.id} ({command})"


def headline(run: Run) -> str:
    """``acc=0.912 loss=0.288``: the last values of a few metrics, accuracy-like ones first."""
    keys = sorted(run.metrics, key=_headline_rank)[:HEADLINE_METRICS]
    return " ".join(f"{key}={_number(run.metrics[key].last)}" for key in keys)


def _headline_rank(key: str) -> tuple[int, int, str]:
    lowered = key.lower()
    word = next((i for i, w in enumerate(_HEADLINE_WORDS) if w in lowered), len(_HEADLINE_WORDS))
    held_out = 0 if any(split in lowered for split in ("val", "test", "eval")) else 1
    return word, held_out, key


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:.4g}"
