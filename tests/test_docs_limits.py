"""docs/limits.md must name every limit in cairn.core.limits with its current value."""

from __future__ import annotations

import re
from pathlib import Path

from cairn.core import limits

DOC = (Path(__file__).parent.parent / "docs" / "limits.md").read_text()


def _documented_rows() -> dict[str, str]:
    rows = {}
    for line in DOC.splitlines():
        match = re.match(r"\| `([A-Z0-9_]+)`(?:, `([A-Z0-9_]+)`)? \| ([^|]+) \|", line)
        if match:
            for name in filter(None, match.group(1, 2)):
                rows[name] = match.group(3)
    return rows


def test_every_limit_is_documented_with_its_value() -> None:
    constants = {name: value for name, value in vars(limits).items() if name.isupper() and isinstance(value, int)}
    rows = _documented_rows()
    assert set(constants) == set(rows), "docs/limits.md and cairn.core.limits name different limits"
    for name, value in constants.items():
        if name in ("MIN_INT64", "MAX_INT64"):
            assert "2^63" in rows[name]
            assert value in (-(2**63), 2**63 - 1)
        else:
            assert rows[name].split()[0] == str(value), f"{name} is {value} in code but {rows[name]!r} in the docs"
