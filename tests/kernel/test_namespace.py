"""``rmapwalk.kernel`` is the kernel API in one namespace: every kernel-named primitive of the
submodules is exported under its kernel name, and ``__all__`` and docs/kernel-api.md agree."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import rmapwalk.kernel as kernel

KERNEL_DIR = Path(kernel.__file__).parent
DOC = Path(__file__).resolve().parents[2] / "docs" / "kernel-api.md"

#: public names of the submodules that are rmapwalk's own, not kernel names: they stay in their
#: submodule (docs/kernel-api.md, "Where things live", says so too)
NOT_EXPORTED = {
    "bitops": {"xchg_word"},  # an xchg of a bitmap word, labelled "xchg"
    "nulls": {"NEXT", "PPREV"},  # field offsets of a node
    "rcu": {"CALLBACK_THREAD"},  # the callback thread's name
    "slab": {"KMALLOC_CAPACITY", "check_use_after_free"},  # a default; a check the engine runs
    "races": {"check_data_races"},  # a check the engine runs
}

ORDERING_SUFFIXES = ("_relaxed", "_acquire", "_release")


def _is_public(name: str) -> bool:
    """Public, or a kernel ``__name`` (``__set_bit``), but not a dunder."""
    if name.startswith("__"):
        return not name.endswith("__")
    return not name.startswith("_")


def submodule_names() -> dict[str, set[str]]:
    """Each submodule's public top-level names (functions, classes, assigned names), by AST."""
    out: dict[str, set[str]] = {}
    for path in sorted(KERNEL_DIR.glob("*.py")):
        if path.name == "__init__.py":
            continue
        names: set[str] = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
        out[path.stem] = {n for n in names if _is_public(n)}
    return out


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:end if end >= 0 else len(text)]


def _table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[-| ]+\|$", line):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def doc_index() -> set[str]:
    """The names the "Where things live" table lists as exported by ``rmapwalk.kernel``."""
    rows = _table_rows(_section(DOC.read_text(encoding="utf-8"), "## Where things live"))
    assert rows and rows[0][1] == "names in `rmapwalk.kernel`"
    return {n for row in rows[1:] for n in re.findall(r"`([^`]+)`", row[1])}


def doc_signatures() -> set[str]:
    """The names (``spin_lock``, ``once.plain_read``, ``KmemCache.f``) that start the first
    column of every API table ("| signature | ...")."""
    text = DOC.read_text(encoding="utf-8")
    names: set[str] = set()
    table: list[str] = []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            table.append(line)
            continue
        rows = _table_rows("\n".join(table))
        table = []
        if not rows or rows[0][0] != "signature":
            continue
        for row in rows[1:]:
            for span in re.findall(r"`([^`]+)`", row[0]):
                m = re.match(r"([A-Za-z_][\w.]*)(?:\(|$| =)", span)
                if m is None:
                    continue
                name = m.group(1)
                if name.startswith("_") and not name.startswith("__"):
                    continue  # "`cmpxchg_relaxed` / `_acquire`": a suffix of the name before it
                names.add(name)
    return names


def _resolve(name: str) -> object:
    """``name`` from ``rmapwalk.kernel``; ``mod.name`` from a submodule; ``Class.attr`` an
    attribute (or dataclass field) of an exported class."""
    first, _, rest = name.partition(".")
    if not rest:
        return getattr(kernel, first)
    if (KERNEL_DIR / f"{first}.py").exists():
        return getattr(importlib.import_module(f"rmapwalk.kernel.{first}"), rest)
    cls = getattr(kernel, first)
    if rest in getattr(cls, "__dataclass_fields__", {}):
        return cls.__dataclass_fields__[rest]
    return getattr(cls, rest)


def test_all_has_no_duplicates_and_every_name_is_there() -> None:
    assert len(kernel.__all__) == len(set(kernel.__all__))
    missing = [n for n in kernel.__all__ if not hasattr(kernel, n)]
    assert missing == []


def test_every_kernel_name_of_the_submodules_is_exported() -> None:
    names = submodule_names()
    assert set(NOT_EXPORTED) <= set(names)
    exported = set(kernel.__all__)
    for mod, public in names.items():
        stale = NOT_EXPORTED.get(mod, set()) - public
        assert not stale, f"NOT_EXPORTED lists names {mod} no longer defines: {sorted(stale)}"
        missing = public - NOT_EXPORTED.get(mod, set()) - exported
        assert not missing, f"rmapwalk.kernel does not export {sorted(missing)} of rmapwalk.kernel.{mod}"
        sub = importlib.import_module(f"rmapwalk.kernel.{mod}")
        for n in public & exported:
            assert getattr(kernel, n) is getattr(sub, n), n
        assert not (NOT_EXPORTED.get(mod, set()) & exported)


def test_exports_are_what_the_docs_index_lists() -> None:
    index = doc_index()
    assert index - set(kernel.__all__) == set(), "documented as exported but not in __all__"
    assert set(kernel.__all__) - index == set(), "in __all__ but not in docs/kernel-api.md's index"


def test_every_export_is_documented_in_the_api_tables() -> None:
    """Each exported name (its unsuffixed form for the ordering variants) has a row of its own."""
    text = DOC.read_text(encoding="utf-8")
    body = text.replace(_section(text, "## Where things live"), "")
    spans = {m.group(0) for span in re.findall(r"`([^`]+)`", body) if (m := re.match(r"[A-Za-z_]\w*", span))}
    for name in kernel.__all__:
        base = name
        for sfx in ORDERING_SUFFIXES:
            if name.endswith(sfx):
                base = name.removesuffix(sfx)
        assert name in spans or base in spans, f"{name} is not described in docs/kernel-api.md"


def test_every_documented_signature_is_importable() -> None:
    sigs = doc_signatures()
    assert {"spin_lock", "rcu_dereference", "kmem_cache_alloc", "once.plain_read", "KmemCache.f"} <= sigs
    for name in sorted(sigs):
        try:
            _resolve(name)
        except AttributeError:
            pytest.fail(f"docs/kernel-api.md documents {name}, which rmapwalk.kernel does not have")


def test_one_import_line_gives_the_rcu_and_slab_families() -> None:
    from rmapwalk.kernel import (  # noqa: F401 - importing is the test
        SLAB_DESTROY_BY_RCU,
        SLAB_TYPESAFE_BY_RCU,
        call_rcu,
        hlist_nulls_for_each_entry_rcu,
        kfree,
        kmalloc,
        kmem_cache_alloc,
        rcu_assign_pointer,
        rcu_dereference,
        rcu_read_lock,
        rcu_read_unlock,
        synchronize_rcu,
    )
    from rmapwalk.kernel import test_bit as kernel_test_bit

    assert SLAB_DESTROY_BY_RCU == SLAB_TYPESAFE_BY_RCU
    assert kernel_test_bit.__test__ is False
