"""The checks of a protected alias, evaluated for one review (docs/registry.md, "Reviews").

Pure: the service reads what the checks look at (the candidate version and its source run, the
version the alias points at, the Archived versions with the candidate's files) and hands it
here. A condition is evaluated by the query language's reference evaluator
(:mod:`cairn.core.query.evaluate`), the same meaning a run search has, on the candidate's source
run with the datasets its version records; it passes only when it is *true* (a metric the run
never logged makes it unknown, which fails). Every result says what it saw.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from cairn.core import display
from cairn.core.entities import Run
from cairn.core.limits import wire_float
from cairn.core.query.ast import And, Expr, Field, Not, Or, Source
from cairn.core.query.evaluate import evaluate, shown_value
from cairn.core.query.text import format_field
from cairn.core.registry import ModelVersion
from cairn.core.reviews import Check, CheckKind, CheckResult


def run_checks(
    checks: Sequence[Check],
    *,
    candidate: ModelVersion,
    run: Run | None,
    holder: ModelVersion | None,
    archived_duplicates: Sequence[int],
    now_ms: int,
) -> tuple[CheckResult, ...]:
    """Each check's result, in order. ``run`` is the candidate's source run (None if it is
    gone), ``holder`` the version the alias points at now, ``archived_duplicates`` the numbers
    of the model's Archived versions whose tree digest is the candidate's."""
    results = []
    for check in checks:
        if check.kind is CheckKind.CONDITION:
            results.append(_condition(check, candidate, run, now_ms))
        elif check.kind is CheckKind.SIGNATURE_UNCHANGED:
            results.append(_signature_unchanged(check, candidate, holder))
        else:
            results.append(_no_archived_duplicate(check, candidate, archived_duplicates))
    return tuple(results)


def _condition(check: Check, candidate: ModelVersion, run: Run | None, now_ms: int) -> CheckResult:
    assert check.condition is not None
    if run is None:
        return CheckResult(check.text, check.kind, False, {}, f"the source run {candidate.run_id} no longer exists")
    inputs = [{"name": d.name, "digest": d.digest, "context": d.context} for d in candidate.datasets]
    holds = evaluate(check.condition, run, now_ms, inputs)
    observed: dict[str, Any] = {}
    seen: list[str] = []
    for field in _fields(check.condition):
        text = format_field(field)
        if text in observed:
            continue
        if field.source is Source.DATASET:
            values = [entry[field.key] for entry in inputs]
            observed[text] = values
            seen.append(f"{text} = {', '.join(values) if values else display.MISSING}")
            continue
        value = shown_value(field, run)
        observed[text] = wire_float(value) if isinstance(value, float) else value
        seen.append(f"{text} is not logged" if value is None else f"{text} = {display.value(value, compact=False)}")
    message = ", ".join(seen)
    if holds is None:
        message += " (unknown, so not met)"
    return CheckResult(check.text, check.kind, holds is True, observed, message)


def _fields(expr: Expr) -> Iterator[Field]:
    """The fields a condition names, left to right."""
    if isinstance(expr, And | Or):
        yield from _fields(expr.left)
        yield from _fields(expr.right)
    elif isinstance(expr, Not):
        yield from _fields(expr.operand)
    else:
        yield expr.field


def _signature_unchanged(check: Check, candidate: ModelVersion, holder: ModelVersion | None) -> CheckResult:
    if holder is None:
        observed = {"candidate_version": candidate.version, "holder_version": None, "same": None}
        return CheckResult(check.text, check.kind, True, observed, "no version holds the alias yet")
    same = _same_signature(candidate.signature, holder.signature)
    observed = {"candidate_version": candidate.version, "holder_version": holder.version, "same": same}
    if same:
        return CheckResult(check.text, check.kind, True, observed, f"the same as version {holder.version}'s")
    changes = _signature_changes(holder.signature, candidate.signature)
    return CheckResult(check.text, check.kind, False, observed, f"differs from version {holder.version}'s: {changes}")


def _same_signature(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    return (None if a is None else dict(a)) == (None if b is None else dict(b))


def _signature_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str:
    """What differs, in a few words: columns added, removed or retyped, or the part that changed."""
    if before is None or after is None:
        return "one of them has no signature"
    parts = []
    for side in ("inputs", "outputs"):
        old, new = before.get(side), after.get(side)
        if old == new:
            continue
        if isinstance(old, list) and isinstance(new, list):
            old_types = {c.get("name"): c.get("type") for c in old if isinstance(c, Mapping)}
            new_types = {c.get("name"): c.get("type") for c in new if isinstance(c, Mapping)}
            changes = [f"+{n}" for n in new_types if n not in old_types]
            changes += [f"-{n}" for n in old_types if n not in new_types]
            changes += [
                f"{n} {old_types[n]} → {t}" for n, t in new_types.items() if n in old_types and old_types[n] != t
            ]
            parts.append(f"{side} {', '.join(str(c) for c in changes) or 'reordered'}")
        else:
            parts.append(f"{side} changed")
    return "; ".join(parts)


def _no_archived_duplicate(check: Check, candidate: ModelVersion, duplicates: Sequence[int]) -> CheckResult:
    observed = {"tree_digest": candidate.tree_digest, "archived_versions": sorted(duplicates)}
    if not duplicates:
        return CheckResult(check.text, check.kind, True, observed, "no Archived version has these files")
    listed = ", ".join(str(n) for n in sorted(duplicates))
    plural = "s" if len(duplicates) != 1 else ""
    return CheckResult(check.text, check.kind, False, observed, f"Archived version{plural} {listed} had the same files")
