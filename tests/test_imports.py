"""The layers of the distribution, read from the source: ``catalogue`` at the bottom,
``reader`` on it, server, client and deploy only on those two, and no import cycle
between modules (lazy and type-checking imports count too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("catalogue", "reader", "client", "server", "deploy", "ingest", "retrieval", "cli")
#: What each package may import from the others.
ALLOWED = {
    "catalogue": set(),
    "reader": {"catalogue"},
    "client": {"catalogue", "reader"},
    "server": {"catalogue", "reader"},
    "deploy": {"catalogue", "reader"},
    "retrieval": {"catalogue"},
    "ingest": {"catalogue", "cli"},
    "cli": set(PACKAGES),
}
#: Third-party packages a notebook user's client must not need.
SERVER_ONLY = {"fastapi", "starlette", "granian", "morecantile", "hypercorn"}


def _imports(path: Path, package: str) -> set[str]:
    """Every module ``path`` imports, as ``package.module`` for leafcube's own ones."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name.removeprefix("leafcube.") for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                found.add(node.module.removeprefix("leafcube."))
                if node.module.startswith("leafcube."):
                    found |= {f"{node.module[9:]}.{a.name}" for a in node.names}
            elif node.level == 1:
                if node.module:
                    found.add(f"{package}.{node.module}")
                else:  # ``from . import x``: module x, or a name of the package's __init__
                    found |= {package} | {f"{package}.{a.name}" for a in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {
        f"{p}.{f.stem}": f
        for p in PACKAGES
        for f in (ROOT / p).glob("*.py")
        if f.stem != "__init__"
    }
    modules |= {p: ROOT / p / "__init__.py" for p in PACKAGES}
    graph = {}
    for name, path in modules.items():
        package = name.split(".")[0]
        graph[name] = {m for m in _imports(path, package) if m in modules and m != name}
    return graph


def test_packages_import_only_the_layers_below():
    wrong = []
    for module, targets in _graph().items():
        package = module.split(".")[0]
        for t in targets:
            other = t.split(".")[0]
            if other != package and other not in ALLOWED[package]:
                wrong.append(f"{module} imports {t}")
    assert not wrong


@pytest.mark.parametrize("package", ["catalogue", "reader", "client"])
def test_the_client_side_never_imports_the_server_stack(package):
    for path in (ROOT / package).glob("*.py"):
        top = {m.split(".")[0] for m in _imports(path, package)}
        assert not top & SERVER_ONLY, path


def test_no_import_cycles():
    # a package's __init__ re-exports its own modules: their imports of it are not cycles
    graph = {m: {t for t in ts if t != m.split(".")[0]} for m, ts in _graph().items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles
