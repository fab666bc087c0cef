"""No import circles between the modules of ``rmapwalk``, and every module imports on its own.

The scan reads ``src/rmapwalk`` with :mod:`ast`.  A *module-level* import is any import statement
that runs when the module is imported, including those under ``if TYPE_CHECKING:`` (a circle
through annotations is still a circle for the reader and for type checkers).  An import inside a
function is *lazy*: it runs when the function is first called.  Lazy imports are allowed, but
those that close a circle are listed below, each with its reason, so that a new one is a decision.

Edges are to the module an import names: ``from a.b import c`` is an edge to ``a.b.c`` when that
is a module, else to ``a.b``.  The implicit import of a parent package (importing ``a.b.c`` runs
``a/b/__init__.py`` first) is not counted: a package's ``__init__`` re-exporting its own
submodules is the usual layout, not a circle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import rmapwalk

SRC = Path(rmapwalk.__file__).resolve().parent
ROOT = SRC.parent

#: lazy imports that close a circle: (importer, imported) -> why the import is lazy
LAZY_CIRCLES = {
    **{("rmapwalk.kvm.scenarios", f"rmapwalk.kvm.scenarios.{m}"):
       "the scenario registry loads its scenario modules on first use; they import the registry's "
       "Scenario and expect"
       for m in ("aging", "flush", "indirect", "large_spte", "lost_dirty", "protections", "seed", "track_bits",
                 "zapping")},
    ("rmapwalk.kvm.pte_list", "rmapwalk.kvm.pte_list_615"):
        "the 3.11 pte-list hands its operations to 6.15's when the pte_list switch says 6.15, and the "
        "6.15 model is built on the 3.11 modules (memslot, mmu_page) that import pte_list",
    ("rmapwalk.review", "rmapwalk.review_2025"):
        "the review runs the 2025 section, whose text and layout live in review_2025, which types "
        "its arguments with review's Run",
}


def module_files() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _targets(node: ast.Import | ast.ImportFrom, package: str, mods: dict[str, Path]) -> list[str]:
    """The modules an import statement in ``package`` names."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        parts = package.split(".")
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([base] if base else []))
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]


def _imports(tree: ast.AST, package: str, mods: dict[str, Path], module_level: bool,
             out: list[tuple[str, bool]]) -> None:
    """Append (imported module, at module level?) for every import under ``tree``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.extend((t, module_level) for t in _targets(node, package, mods))
        else:
            inner = module_level and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            _imports(node, package, mods, inner, out)


def import_edges(mods: dict[str, Path]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Per module, the ``rmapwalk`` modules it imports at module level, and lazily."""
    top: dict[str, set[str]] = {m: set() for m in mods}
    lazy: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: list[tuple[str, bool]] = []
        _imports(ast.parse(path.read_text(encoding="utf-8")), package, mods, True, found)
        for target, module_level in found:
            if target in mods and target != name:
                (top if module_level else lazy)[name].add(target)
    return top, lazy


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for w in graph[todo.pop()]:
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def test_the_scan_sees_the_package() -> None:
    mods = module_files()
    assert {"rmapwalk", "rmapwalk.cli", "rmapwalk.cat.interp", "rmapwalk.kvm.pte_list"} <= set(mods)
    top, lazy = import_edges(mods)
    assert "rmapwalk.cat.context" in top["rmapwalk.cat.interp"]
    assert "rmapwalk.kvm.scenarios.flush" in lazy["rmapwalk.kvm.scenarios"]


def test_no_module_level_import_circle() -> None:
    top, _ = import_edges(module_files())
    assert circles(top) == []


def test_lazy_imports_that_close_a_circle_are_the_known_ones() -> None:
    top, lazy = import_edges(module_files())
    closing = {(a, b) for a, bs in lazy.items() for b in bs if a in reachable(top, b)}
    assert closing == set(LAZY_CIRCLES)


def test_circle_finder_finds_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_imports_first() -> None:
    """Each module imported first, with no other rmapwalk module loaded (one fresh interpreter;
    the rmapwalk modules are dropped from ``sys.modules`` between imports)."""
    names = sorted(module_files())
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    for k in [k for k in sys.modules if k == 'rmapwalk' or k.startswith('rmapwalk.')]:\n"
        "        del sys.modules[k]\n"
        "    importlib.import_module(name)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
