"""Which metric charts a page has, and how they are grouped; ``static/charts.js`` draws them."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChartGroup:
    name: str  # the prefix before the first "/", or "" for keys without one
    keys: list[str]


def chart_groups(keys: Iterable[str]) -> list[ChartGroup]:
    """Metric keys grouped by prefix (``train/``, ``val/``…), unprefixed keys first."""
    ordered = sorted(keys, key=lambda k: ("/" in k, k))
    return [
        ChartGroup(prefix, list(group))
        for prefix, group in itertools.groupby(ordered, key=lambda k: k.split("/", 1)[0] if "/" in k else "")
    ]
