"""The package's import graph: no cycles, imports only point down the layers, private stays private.

Every module under src/modelreg is read with ``ast`` (nothing is imported), and every
``import`` counts: at module level, inside functions and under ``TYPE_CHECKING``, with
relative imports resolved. The layers (docs/architecture.md):

    core (src/modelreg/*.py, standard library only) <- stores/ ; server/ ; client/ ; importing/ ; cli/

stores, server, client and importing import only the core (and themselves); the CLI imports the
core, the client and importing, and the server only as the public package ``modelreg.server``,
lazily, inside its ``serve`` command. The package root re-exports ``import_mlflow`` from the
public package ``modelreg.importing`` (which imports MLflow lazily, so ``import modelreg`` stays
standard library only). The composition roots (``urls``, ``__main__``)
reach the outer layers by dotted names loaded with importlib, never by an import.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_LINES = 500
OUTER = ("stores", "server", "client", "importing", "cli")
ALLOWED = {  # layer -> the layers it may import
    "core": {"core"},
    "stores": {"core", "stores"},
    "server": {"core", "server"},
    "client": {"core", "client"},
    "importing": {"core", "importing"},
    "cli": {"core", "client", "importing", "cli"},
}
COMPOSITION_ROOTS = {"modelreg.urls", "modelreg.__main__"}


@dataclass(frozen=True)
class Edge:
    """One imported module (or one name from it) as written in ``source``."""

    source: str  # the importing module
    package: str  # the package it belongs to (itself, for a package's __init__)
    target: str  # the module imported (a submodule when ``from pkg import sub`` names one)
    names: tuple[str, ...]  # names taken with ``from target import ...``; () for ``import target``
    function: str | None  # the enclosing function, None at module level
    line: int
    typing_only: bool = False  # under ``if TYPE_CHECKING:``: not run, but still a dependency

    def __str__(self) -> str:
        what = f"from {self.target} import {', '.join(self.names)}" if self.names else f"import {self.target}"
        where = f" (in {self.function})" if self.function else ""
        return f"{self.source}:{self.line}: {what}{where}" + (" [TYPE_CHECKING]" if self.typing_only else "")


def module_name(path: Path, root: Path) -> str:
    """``modelreg.stores.sqlite`` for src/modelreg/stores/sqlite.py, ``modelreg.cli`` for its __init__."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` under ``root``, by dotted name."""
    return {module_name(path, root): path for path in sorted((root / package).rglob("*.py"))}


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _enclosing(tree: ast.AST) -> Iterator[tuple[ast.AST, str | None, bool]]:
    """Every node, the function it is in (None at module or class level), and whether only type checkers run it."""
    stack: list[tuple[ast.AST, str | None, bool]] = [(tree, None, False)]
    while stack:
        node, function, typing_only = stack.pop()
        yield node, function, typing_only
        inner = node.name if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend((child, inner, True) for child in node.body)
            stack.extend((child, inner, typing_only) for child in node.orelse)
        else:
            stack.extend((child, inner, typing_only) for child in ast.iter_child_nodes(node))


def imports(name: str, path: Path, known: set[str]) -> list[Edge]:
    """The import edges of one module, relative imports resolved against its package."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    edges = []
    for node, function, typing in _enclosing(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            edges += [Edge(name, package, alias.name, (), function, node.lineno, typing) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            plain = []
            for alias in node.names:
                if f"{target}.{alias.name}" in known:  # 'from . import semver' imports the submodule
                    edges.append(Edge(name, package, f"{target}.{alias.name}", (), function, node.lineno, typing))
                else:
                    plain.append(alias.name)
            if plain:
                edges.append(Edge(name, package, target, tuple(plain), function, node.lineno, typing))
    return edges


def graph(root: Path, package: str) -> list[Edge]:
    """Every import edge of every module of ``package``."""
    found = modules(root, package)
    return [edge for name, path in found.items() for edge in imports(name, path, set(found))]


def layer(module: str) -> str:
    """``core`` for the modules at the top of the package, else the subpackage's name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in OUTER else "core"


def internal(edge: Edge, package: str = "modelreg") -> bool:
    return edge.target == package or edge.target.startswith(package + ".")


def cycles(edges: list[Edge], package: str = "modelreg") -> list[list[str]]:
    """Strongly connected groups of more than one module (or a module importing itself), Tarjan's way."""
    succ: dict[str, set[str]] = {}
    for edge in edges:
        if internal(edge, package):
            succ.setdefault(edge.source, set()).add(edge.target)
            succ.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(succ[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1 or node in succ[node]:
                found.append(sorted(group))

    for node in sorted(succ):
        if node not in index:
            visit(node)
    return found


def upward(edges: list[Edge]) -> list[Edge]:
    """Imports that point up or sideways between layers (see the module docstring)."""
    bad = []
    for edge in edges:
        if not internal(edge):
            continue
        source, target = layer(edge.source), layer(edge.target)
        if target in ALLOWED[source]:
            continue
        # The CLI's one way into the server: its public package, lazily, in the serve command.
        if source == "cli" and edge.target == "modelreg.server" and edge.function == "serve":
            continue
        # The package root re-exports the importer's public package (its own imports of MLflow are lazy).
        if edge.source == "modelreg" and edge.target == "modelreg.importing" and edge.function is None:
            continue
        bad.append(edge)
    return bad


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_reaches(edges: list[Edge]) -> list[Edge]:
    """Imports of an underscore module of another package, or of an underscore name from another module.

    A public name of a core ``_module`` (``from .._checks import str_arg``) is fine: the core
    is shared by every layer.
    """
    bad = []
    for edge in edges:
        if not internal(edge):
            continue
        if any(_private(n) for n in edge.names):
            bad.append(edge)
            continue
        target_package, _, leaf = edge.target.rpartition(".")
        if _private(leaf) and target_package != edge.package and layer(edge.target) != "core":
            bad.append(edge)
    return bad


def non_stdlib_in_core(edges: list[Edge]) -> list[Edge]:
    """Imports by core modules of anything but the standard library and the core itself."""
    return [
        edge for edge in edges
        if layer(edge.source) == "core" and not internal(edge)
        and edge.target.partition(".")[0] not in sys.stdlib_module_names
    ]  # fmt: skip


def dynamic_imports(root: Path, package: str) -> set[str]:
    """Modules of the core that load modules by name (``import_module``, ``__import__``)."""
    found = set()
    for name, path in modules(root, package).items():
        if layer(name) != "core":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if called in ("import_module", "__import__"):
                    found.add(name)
    return found


def long_modules(root: Path, package: str) -> list[str]:
    """Modules of ``MAX_LINES`` lines or more."""
    out = []
    for name, path in modules(root, package).items():
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count >= MAX_LINES:
            out.append(f"{name}: {count} lines")
    return out


EDGES = graph(SRC, "modelreg")


def _listing(items: Iterable[object]) -> str:
    return "\n".join(map(str, items))


# -- the package ---------------------------------------------------------------------------


def test_the_package_has_no_import_cycles() -> None:
    found = cycles(EDGES)
    within = [e for group in found for e in EDGES if e.source in group and e.target in group]
    assert found == [], "import cycles (imports under TYPE_CHECKING and in functions count):\n" + _listing(within)


def test_imports_only_point_down_the_layers() -> None:
    found = upward(EDGES)
    assert found == [], "imports against the layering:\n" + _listing(found)


def test_no_module_imports_another_packages_private_module_or_a_private_name() -> None:
    found = private_reaches(EDGES)
    assert found == [], "private names or modules reached from outside:\n" + _listing(found)


def test_the_core_imports_only_the_standard_library() -> None:
    found = non_stdlib_in_core(EDGES)
    assert found == [], "third-party imports in the core:\n" + _listing(found)


def test_only_the_composition_roots_load_modules_by_name_in_the_core() -> None:
    assert dynamic_imports(SRC, "modelreg") <= COMPOSITION_ROOTS


def test_every_module_is_under_500_lines() -> None:
    assert long_modules(SRC, "modelreg") == []


def test_the_scan_sees_every_module() -> None:
    names = set(modules(SRC, "modelreg"))
    assert {"modelreg", "modelreg.semver", "modelreg.stores.sqlite", "modelreg.cli", "modelreg.__main__"} <= names
    assert len(EDGES) > 100


# -- the checks themselves, on a small package written for the purpose -------------------


def _package(tmp_path: Path, files: dict[str, str]) -> list[Edge]:
    for rel, text in files.items():
        path = tmp_path / "modelreg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return graph(tmp_path, "modelreg")


def test_the_scan_resolves_relative_and_function_level_imports(tmp_path: Path) -> None:
    edges = _package(tmp_path, {
        "__init__.py": "from . import semver\n",
        "semver.py": "import json\n",
        "stores/__init__.py": "",
        "stores/sqlite.py": "from ..semver import parse\ndef f():\n    from . import _durable\n",
        "stores/_durable.py": "",
    })  # fmt: skip
    assert {(e.source, e.target, e.names, e.function) for e in edges} == {  # one package per module
        ("modelreg", "modelreg.semver", (), None),
        ("modelreg.semver", "json", (), None),
        ("modelreg.stores.sqlite", "modelreg.semver", ("parse",), None),
        ("modelreg.stores.sqlite", "modelreg.stores._durable", (), "f"),
    }


def test_a_type_checking_import_is_marked_and_counts(tmp_path: Path) -> None:
    edges = _package(tmp_path, {
        "__init__.py": "",
        "client/__init__.py": "from ._events import EventStream\n",
        "client/_events.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import RegistryClient\n",
    })  # fmt: skip
    assert [e.typing_only for e in edges if e.target == "modelreg.client"] == [True]
    assert cycles(edges) == [["modelreg.client", "modelreg.client._events"]]


def test_a_lazy_import_back_is_a_cycle(tmp_path: Path) -> None:
    edges = _package(tmp_path, {
        "__init__.py": "",
        "server/__init__.py": "",
        "server/app.py": "from .routes import table\n",
        "server/routes.py": "def handler():\n    from .app import App\n",
    })  # fmt: skip
    assert cycles(edges) == [["modelreg.server.app", "modelreg.server.routes"]]


@pytest.mark.parametrize(("rel", "text", "allowed"), [
    ("cli/_tokens.py", "from ..server.auth import add_token\n", False),  # server internals
    ("cli/_serve.py", "from ..server import serve\n", False),  # the server, but at import time
    ("cli/_serve.py", "def serve():\n    from ..server import serve\n", True),  # lazily, in serve
    ("cli/_serve.py", "def other():\n    from ..server import serve\n", False),
    ("client/x.py", "from ..server import serve\n", False),
    ("server/x.py", "from ..stores.sqlite import SqliteRegistry\n", False),
    ("server/x.py", "from .._checks import str_arg\n", True),
    ("cli/x.py", "from ..client import RegistryClient\n", True),
    ("semver.py", "def f():\n    from .stores import sqlite\n", False),  # the core reaching up, lazily
    ("__init__.py", "from .importing import import_mlflow\n", True),  # the root re-exports the importer
    ("metadata.py", "from .importing import import_mlflow\n", False),  # but no other core module reaches it
    ("importing/x.py", "from ..client import RegistryClient\n", False),  # it writes through the interface only
    ("cli/x.py", "from ..importing import import_mlflow\n", True),
])
def test_layer_rules(tmp_path: Path, rel: str, text: str, allowed: bool) -> None:
    edges = _package(tmp_path, {"__init__.py": "", rel: text, "stores/sqlite.py": "", "_checks.py": ""})
    assert (upward(edges) == []) is allowed


@pytest.mark.parametrize(("rel", "text", "allowed"), [
    ("client/x.py", "from .._config import TOKEN\n", True),  # a public name of a core _module
    ("client/x.py", "from .._base import _metadata_arg\n", False),  # a private name
    ("_range.py", "from ._version import _NUM\n", False),  # a private name, even next door
    ("cli/x.py", "from ..stores import _durable\n", False),  # another package's private module
    ("cli/x.py", "from ..stores._durable import DurableRegistry\n", False),
    ("stores/sqlite.py", "from ._durable import DurableRegistry\n", True),  # its own package
    ("cli/x.py", "from .. import __version__\n", True),
])
def test_private_rules(tmp_path: Path, rel: str, text: str, allowed: bool) -> None:
    files = {"__init__.py": "", "_config.py": "", "_base.py": "", "_version.py": "", "stores/_durable.py": ""}
    edges = _package(tmp_path, {**files, rel: text})
    assert (private_reaches(edges) == []) is allowed


def test_a_third_party_import_in_the_core_is_found(tmp_path: Path) -> None:
    edges = _package(tmp_path, {"__init__.py": "", "metadata.py": "import re\ndef f():\n    import yaml\n"})
    assert [str(e) for e in non_stdlib_in_core(edges)] == ["modelreg.metadata:3: import yaml (in f)"]
