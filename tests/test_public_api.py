"""``cairn.__all__`` is the public surface: sorted, complete, and every name resolves."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import cairn


def _names_bound_in_init() -> set[str]:
    """Every name ``cairn/__init__.py`` binds at module level, by reading its source."""
    tree = ast.parse(Path(cairn.__file__).read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom | ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def test_all_is_sorted_and_unique() -> None:
    assert list(cairn.__all__) == sorted(cairn.__all__)
    assert len(cairn.__all__) == len(set(cairn.__all__))


def test_all_is_complete() -> None:
    bound = _names_bound_in_init() - {"__all__", "annotations"}
    public = {name for name in bound if not name.startswith("_")} | {"__version__"}
    assert public == set(cairn.__all__)


def test_every_name_resolves_to_cairn_code() -> None:
    for name in cairn.__all__:
        value = getattr(cairn, name)
        assert value is not None, name
        if name == "__version__":
            assert isinstance(value, str) and value.count(".") >= 2
            continue
        assert not inspect.ismodule(value), name
        assert value.__module__.startswith("cairn."), name


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from cairn import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(cairn.__all__)


def test_the_sdk_entry_points() -> None:
    assert callable(cairn.init)
    assert inspect.isclass(cairn.Api) and inspect.isclass(cairn.Run)
    assert issubclass(cairn.ParamConflict, cairn.CairnError)
    assert issubclass(cairn.RunNotActive, cairn.CairnError)
    assert issubclass(cairn.NotFound, cairn.CairnError)


def test_the_review_flow_is_public() -> None:
    # What the "done" flow needs from Python: protect, open, approve (a colleague), merge.
    for name in ("protect_alias", "open_review", "approve_review", "merge_review", "register_model", "load_model"):
        assert callable(getattr(cairn, name)), name
        assert (getattr(cairn, name).__doc__ or "").strip(), name
