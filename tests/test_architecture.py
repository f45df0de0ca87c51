"""Dependencies point down only (DESIGN.md, "Layers"): checked on the source, import by import."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import cairn

SRC = Path(cairn.__file__).parent
# What each layer may import of cairn (besides itself). ``cairn`` is the package root: it
# re-exports the SDK, so importing it means importing the client.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "store": {"core"},
    "blobs": {"core"},
    "service": {"core", "store", "blobs"},
    "server": {"core", "service", "store", "blobs", "settings"},
    "client": {"core", "service", "store", "blobs", "settings"},
    # Serving is a client of the registry (DESIGN.md): it reaches the store through the client.
    "serving": {"core", "service", "client", "settings"},
    "settings": set(),
    "cli": {"core", "store", "blobs", "service", "server", "client", "serving", "settings", "cairn"},
    # Framework integrations log through the SDK, as a user's script would.
    "integrations": {"core", "client", "settings"},
}
#: ``cairn.sklearn`` and the like: one-line modules re-exporting an integration, so that
#: ``from cairn.lightning import CairnLogger`` reads as the docs say. They are integrations.
INTEGRATION_SHIMS = {"sklearn", "xgboost", "lightgbm", "lightning", "keras", "transformers", "pytorch"}
IO_LIBRARIES = {
    "httpx",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "psycopg",
    "requests",
}
SQL_LIBRARIES = {"sqlalchemy", "alembic"}
#: The one client module that builds an embedded ``TrackingService`` over a store and a blob
#: store: the only one that may import ``store/``, ``blobs/`` or the service's implementation.
CLIENT_COMPOSITION_ROOT = "cairn.client.connect"
#: What the rest of the client may import of ``service/``: the interface it programs against,
#: who is acting, and what an upload sends.
CLIENT_SERVICE_SURFACE = {"cairn.service.interface", "cairn.service.policy", "cairn.service.uploads"}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "cairn.server.app"
    target: str  # what it imports, absolute, e.g. "cairn.core.errors"
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports_in(source: str, module: str, *, is_package: bool) -> list[Import]:
    """Every import in ``source``, with relative imports made absolute."""
    package = module if is_package else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(Import(module, alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            if target == "cairn":
                # ``from cairn import core`` imports a subpackage; ``from cairn import init``
                # imports from the root, which re-exports the SDK.
                for alias in node.names:
                    sub = (SRC / alias.name).is_dir() or (SRC / f"{alias.name}.py").is_file()
                    found.append(Import(module, f"cairn.{alias.name}" if sub else "cairn", node.lineno))
            else:
                found.append(Import(module, target, node.lineno))
    return found


def _imports() -> list[Import]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        found.extend(_imports_in(path.read_text(), _module_name(path), is_package=path.name == "__init__.py"))
    return found


IMPORTS = _imports()


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "cairn"
    return "integrations" if parts[1] in INTEGRATION_SHIMS else parts[1]


def test_the_walk_sees_the_codebase() -> None:
    modules = {imp.module for imp in IMPORTS}
    assert {
        "cairn.core.errors",
        "cairn.store.sql.store",
        "cairn.server.app",
        "cairn.client.http",
    } <= modules
    assert any(imp.target == "cairn.core.errors" for imp in IMPORTS)
    # Every layer the rules speak of exists, and no unknown one has appeared.
    layers = {_layer(m) for m in modules} - {"cairn", "__main__"}
    assert layers == set(ALLOWED), "a new top-level package needs a rule in ALLOWED"


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_point_down_only(layer: str) -> None:
    wrong = []
    for imp in IMPORTS:
        if _layer(imp.module) != layer or not (imp.target == "cairn" or imp.target.startswith("cairn.")):
            continue
        target = _layer(imp.target)
        if target != layer and target not in ALLOWED[layer]:
            wrong.append(f"{imp.module}:{imp.line} imports {imp.target}")
    assert not wrong, "\n".join(wrong)


def test_the_client_never_imports_the_server_or_the_cli() -> None:
    wrong = [
        f"{imp.module}:{imp.line} imports {imp.target}"
        for imp in IMPORTS
        if _layer(imp.module) == "client" and _layer(imp.target) in ("server", "cli")
    ]
    assert not wrong, "\n".join(wrong)


def _client_reaches_past_the_interface(imp: Import) -> bool:
    # Serving is a client too: it may use the service's interface, never its implementation.
    if _layer(imp.module) not in ("client", "serving") or imp.module == CLIENT_COMPOSITION_ROOT:
        return False
    layer = _layer(imp.target)
    return layer in ("store", "blobs") or (layer == "service" and imp.target not in CLIENT_SERVICE_SURFACE)


def test_the_client_reaches_store_and_blobs_only_through_its_composition_root() -> None:
    wrong = [
        f"{imp.module}:{imp.line} imports {imp.target}" for imp in IMPORTS if _client_reaches_past_the_interface(imp)
    ]
    assert not wrong, "\n".join(wrong) + f"\n(only {CLIENT_COMPOSITION_ROOT} may: move what is needed to core/)"
    # The root is where it says: it builds the embedded service (else this test guards nothing).
    root_imports = {imp.target for imp in IMPORTS if imp.module == CLIENT_COMPOSITION_ROOT}
    assert {"cairn.store.registry", "cairn.blobs.registry", "cairn.service.tracking"} <= root_imports


@pytest.mark.parametrize(
    ("module", "target", "wrong"),
    [
        ("cairn.client.duplicates", "cairn.store.sql.engine", True),  # how it was before issue 11
        ("cairn.client.http", "cairn.blobs.base", True),
        ("cairn.client.capture.recorder", "cairn.service.tracking", True),
        ("cairn.client.run", "cairn.service.interface", False),
        ("cairn.client.run", "cairn.core.display", False),
        (CLIENT_COMPOSITION_ROOT, "cairn.store.registry", False),
        ("cairn.cli.db", "cairn.store.sql.engine", False),  # the rule is the client's
    ],
)
def test_the_client_rule_tells_right_from_wrong(module: str, target: str, wrong: bool) -> None:
    assert _client_reaches_past_the_interface(Import(module, target, 1)) is wrong


def test_only_the_sql_store_imports_sqlalchemy_and_alembic() -> None:
    wrong = [
        f"{imp.module}:{imp.line} imports {imp.target}"
        for imp in IMPORTS
        if imp.target.split(".")[0] in SQL_LIBRARIES and not imp.module.startswith("cairn.store.sql")
    ]
    assert not wrong, "\n".join(wrong)
    assert any(imp.target.startswith("sqlalchemy") for imp in IMPORTS if imp.module.startswith("cairn.store.sql"))


def test_core_does_no_io() -> None:
    wrong = [
        f"{imp.module}:{imp.line} imports {imp.target}"
        for imp in IMPORTS
        if _layer(imp.module) == "core" and imp.target.split(".")[0] in IO_LIBRARIES
    ]
    assert not wrong, "\n".join(wrong)


def test_the_walker_resolves_every_form_of_import() -> None:
    source = (
        "import cairn.core.errors\n"
        "from cairn import __version__, core\n"
        "from ..store import base\n"
        "from . import sibling\n"
        "from .sibling import thing\n"
        "import numpy as np\n"
    )
    found = [imp.target for imp in _imports_in(source, "cairn.server.routes.runs", is_package=False)]
    assert found == [
        "cairn.core.errors",
        "cairn",
        "cairn.core",
        "cairn.server.store",
        "cairn.server.routes",
        "cairn.server.routes.sibling",
        "numpy",
    ]
    in_package = _imports_in("from . import x", "cairn.store", is_package=True)
    assert [imp.target for imp in in_package] == ["cairn.store"]
