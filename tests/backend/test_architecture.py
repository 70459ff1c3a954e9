"""The backend's layers import one way: every module imports on its own, and no layer imports back.

The rule (backend/README.md): resources → permissions → extensions → repositories → identity, errors.
Repositories import no extensions, permissions or resources; extensions import no permissions or
resources; identity imports none of them. An import cycle shows up as an ImportError only in the
import order that closes it, so each module is imported first in a fresh interpreter, and the graph
itself is checked for cycles.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import drift_backend

PACKAGE = "drift_backend"
PACKAGE_DIR = Path(drift_backend.__file__).resolve().parent


def module_names(package_dir: Path, package: str) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name), with its file."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join((package, *parts))] = path
    return modules


def import_graph(package_dir: Path, package: str) -> dict[str, set[str]]:
    """Which modules of the package each module imports (at any depth of its code, lazy imports too)."""
    modules = module_names(package_dir, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    # `from . import x` in a package's __init__ is relative to the package itself.
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    origin = ".".join([*base, node.module] if node.module else base)
                else:
                    origin = node.module or ""
                # `from package import module` imports that module; `from module import name` the module.
                # (A parent package is imported first anyway; counting it would make every module cyclic.)
                submodules = [f"{origin}.{alias.name}" for alias in node.names if f"{origin}.{alias.name}" in modules]
                names = [alias.name for alias in node.names if f"{origin}.{alias.name}" not in modules]
                targets = [*submodules, *([origin] if names else [])]
            else:
                continue
            graph[name] |= {target for target in targets if target in modules and target != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph as a list of nodes (first == last), or None."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for following in sorted(graph.get(node, ())):
            if following in on_path:
                return [*path[path.index(following):], following]
            if following not in done:
                cycle = visit(following)
                if cycle:
                    return cycle
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def layer(module: str) -> str:
    """The layer of a module: the first name below the package (`repositories`, `extensions`, …)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "app"


def layer_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    layers: dict[str, set[str]] = {}
    for module, imported in graph.items():
        layers.setdefault(layer(module), set()).update(
            layer(target) for target in imported if layer(target) != layer(module))
    return layers


GRAPH = import_graph(PACKAGE_DIR, PACKAGE)

# --- the helpers find what they should ------------------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_graph_resolves_relative_and_absolute_imports(tmp_path):
    _write(tmp_path, {
        "__init__.py": "from .repositories.users import Users\n",
        "identity.py": "import enum\n",
        "repositories/__init__.py": "from ..identity import Caller\n",
        "repositories/users.py": "from . import helper\nfrom .. import identity\n",
        "repositories/setup.py": "from . import users\n",
        "extensions/auth.py": "def lazy():\n    import pkg.repositories.users\n",
    })
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg"] == {"pkg.repositories.users"}
    assert graph["pkg.repositories"] == {"pkg.identity"}
    assert graph["pkg.repositories.users"] == {"pkg.repositories", "pkg.identity"}
    assert graph["pkg.repositories.setup"] == {"pkg.repositories.users"}
    assert graph["pkg.extensions.auth"] == {"pkg.repositories.users"}
    assert layer_graph(graph)["extensions"] == {"repositories"}


def test_a_cycle_is_found_and_a_tree_has_none():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_the_backends_graph_is_read():
    # The checks below would pass vacuously on an empty or unresolved graph.
    assert f"{PACKAGE}.repositories.experiments" in GRAPH
    assert f"{PACKAGE}.identity" in GRAPH[f"{PACKAGE}.repositories.users"]
    assert f"{PACKAGE}.repositories.users" in GRAPH[f"{PACKAGE}.extensions.auth"]


# --- the rule -------------------------------------------------------------------------------------------------


def test_no_module_imports_itself_back():
    assert find_cycle(GRAPH) is None


def test_extensions_permissions_and_repositories_import_in_one_direction():
    layers = layer_graph(GRAPH)
    core = {name: layers.get(name, set()) & {"extensions", "permissions", "repositories"}
            for name in ("extensions", "permissions", "repositories")}
    assert find_cycle(core) is None


@pytest.mark.parametrize(("importer", "forbidden"), [
    ("repositories", {"extensions", "permissions", "resources", "quotas", "commands", "app"}),
    ("extensions", {"permissions", "resources", "quotas", "commands", "app"}),
    ("identity", {"extensions", "permissions", "repositories", "resources", "settings"}),
    ("permissions", {"resources", "repositories"}),
    ("query_language", {"extensions", "permissions", "repositories", "resources"}),
])
def test_a_layer_does_not_import_the_layers_above_it(importer, forbidden):
    offending = sorted(f"{module} → {target}" for module, targets in GRAPH.items() if layer(module) == importer
                       for target in targets if layer(target) in forbidden)
    assert offending == []


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_every_module_imports_first_in_a_fresh_interpreter(module):
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
