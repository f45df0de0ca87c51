"""The "Models" section of bench.md: log_model, register_model and load_model of one small
scikit-learn model, Cairn beside MLflow, each through its own server.

Reads the JSON of bench/models_cairn.py and bench/models_mlflow.py (``results["models"]``).
Stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping

#: The issue's target: each call at least this many times faster than MLflow's.
MIN_RATIO = 5.0
CALLS = ("log_model", "register_model", "load_model")
MISSING, OK, NOT_OK = "—", "✔", "✘"


def _at(node: object, *path: str) -> object:
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _ms(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _format_ms(value: float | None) -> str:
    return MISSING if value is None else f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"


def models_table(models: Mapping[str, object]) -> list[str]:
    cairn, mlflow = models.get("cairn"), models.get("mlflow")
    lines = [
        "| call, median | Cairn | MLflow | Cairn / MLflow | target for Cairn | met |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for call in CALLS:
        ours, theirs = _ms(_at(cairn, "calls_ms", call, "value")), _ms(_at(mlflow, "calls_ms", call, "value"))
        ratio = theirs / ours if ours and theirs is not None else None
        met = MISSING if ratio is None else OK if ratio >= MIN_RATIO else NOT_OK
        lines.append(
            f"| `{call}` | {_format_ms(ours)} | {_format_ms(theirs)} "
            f"| {MISSING if ratio is None else f'{ratio:.1f}×'} | ≥ {MIN_RATIO:g}× MLflow | {met} |"
        )
    return lines


def models_notes(models: Mapping[str, object]) -> list[str]:
    notes = []
    for name, side in (("Cairn", models.get("cairn")), ("MLflow", models.get("mlflow"))):
        if not isinstance(side, Mapping):
            notes.append(f"- {name}: no results")
            continue
        calls = side.get("calls")
        if isinstance(calls, Mapping):
            for call in CALLS:
                every = _at(side, "calls_ms", call, "all_ms")
                notes.append(f"- {name} {side.get('version')}, `{call}`: `{calls.get(call)}`; every repeat: {every} ms")
        first = side.get("first_cycle_ms")
        if isinstance(first, Mapping):
            timed = ", ".join(f"`{call}` {_format_ms(_ms(first.get(call)))}" for call in CALLS)
            notes.append(f"- {name}: the warm-up cycle, each call's first in the process (not in the medians): {timed}")
        sklearn_load = _ms(_at(side, "sklearn_load_model_ms", "value"))
        if sklearn_load is not None:
            notes.append(f"- {name}: `mlflow.sklearn.load_model` of the same URI: {_format_ms(sklearn_load)}")
        machine = side.get("machine")
        argv = " ".join(str(arg) for arg in _at(side, "server", "argv") or [])
        before, after = _at(machine, "loadavg_1min_before"), _at(machine, "loadavg_1min_after")
        load = f"1-min load average {before} before, {after} after"
        notes.append(f"- {name}: server `{argv}`; model {side.get('model')}; {load}; took {side.get('bench_wall_s')} s")
    return notes


def models_markdown(models: Mapping[str, object]) -> list[str]:
    return [
        "## Models: log, register, load",
        "",
        "One small scikit-learn model trained on iris, logged with an input example of 5 rows, registered as the "
        "next version of `iris` and loaded back by `models:/iris/N`, through each tool's own server on loopback "
        "(SQLite, artifacts through the server) with its own client; median of the timed repeats after a "
        "warm-up. Cairn / MLflow: how many times faster Cairn is.",
        "",
        *models_table(models),
        "",
        "### How the model rows were measured",
        "",
        *models_notes(models),
        "",
    ]
