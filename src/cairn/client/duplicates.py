""" "Already tried?": what ``cairn.init`` says when a config already ran.

Before a run is created, the SDK fingerprints its config (:mod:`cairn.core.fingerprint`) and
asks for finished runs of the project with the same fingerprint. This module turns what comes
back into the one line a person reads on stderr, and into the error ``on_duplicate="error"``
raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from cairn.client.connect import is_remote, resolve_uri
from cairn.core.addresses import redact
from cairn.core.clock import now_ms
from cairn.core.display import ago, number, plural
from cairn.core.entities import Run
from cairn.core.errors import DuplicateRun, InvalidValue
from cairn.core.headline import by_headline

OnDuplicate = Literal["warn", "skip", "error"]
ON_DUPLICATE: tuple[OnDuplicate, ...] = ("warn", "skip", "error")
#: How many earlier equal runs ``cairn.init`` asks for (and ``run.duplicates`` may hold).
LOOKUP_LIMIT = 5
#: Metrics shown for the earlier run (:func:`cairn.core.headline.by_headline` picks them).
HEADLINE_METRICS = 3


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
    line += f'run "{first.name}" by {first.user}, finished {ago(when, now=now_ms(), zone=None, date_prefix="on ")}'
    metrics = headline(first)
    if metrics:
        line += f" ({metrics})"
    line += f"; see {link(first, target, uri=uri)}"
    if len(duplicates) > 1:
        more = len(duplicates) - 1
        line += f" (and {plural(more, 'more earlier run')} with this config)"
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
        command += f" --uri {redact(target)}"
    return f"run {run.id} ({command})"


def headline(run: Run) -> str:
    """``val/acc=0.875 train/loss=0.25``: the last values of a run's headline metrics."""
    keys = by_headline(run.metrics)[:HEADLINE_METRICS]
    return " ".join(f"{key}={number(run.metrics[key].last)}" for key in keys)
