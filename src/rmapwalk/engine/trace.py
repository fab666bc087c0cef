"""Readable traces: an execution graph laid out as steps, one column per thread.

The steps are an order the memory model allows: a topological order of the model's global
happens-before (po under SC; under TSO/PSO preserved program order, external reads-from,
coherence and from-read), ties broken by the order in which the explorer added the events.
Under TSO/PSO a write that other events of its thread overtake is shown twice: where it enters
the store buffer, and where it becomes visible to the other threads (the flush).
"""

from __future__ import annotations

import heapq
import os
from typing import Any

from rmapwalk.engine.events import F_COMPILER, OBSERVE, RMW
from rmapwalk.engine.graph import GF, GO, GR, GW, Ev, Graph
from rmapwalk.engine.models import MemoryModel, get_model


def format_value(prog: Any, v: Any) -> str:
    """A value as traces show it: addresses of known locations and objects by name."""
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, int):
        obj = prog.objects.get(v)
        if obj is not None:
            return f"&{obj}"
        tag = v & 3
        if tag and v - tag in prog.objects:  # a tagged pointer (an rmap head's desc or lock bit)
            return f"&{prog.objects[v - tag]}|{tag}"
        name = prog.names.get(v)
        if name is not None and v >= 1 << 16:
            return f"&{name}"
        return hex(v) if abs(v) >= 1 << 16 else repr(v)
    if isinstance(v, tuple):
        inner = ", ".join(format_value(prog, x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if callable(v):
        return getattr(v, "__qualname__", repr(v))
    return repr(v)


def _show_succ(g: Graph, model: MemoryModel, e: Ev) -> list[Ev]:
    """What must be shown after ``e``: the model's global order; under LKMM (not one global
    order: not multi-copy atomic) program order and reading from another CPU's write."""
    if not model.tracks_deps:
        return list(model._ghb_succ(g, e))
    out: list[Ev] = []
    if e.tid >= 0:
        for y in g.threads[e.tid][e.idx + 1:]:
            if y is not None and y.kind <= GW:
                out.append(y)
                break
    if e.kind == GW:
        out.extend(r for r in e.readers or () if r.tid != e.tid)
    return out


def linearize(g: Graph, model: MemoryModel, order: list[Any] | None = None) -> list[tuple[str, Ev]]:
    """Steps ``(what, event)`` with ``what`` in ``exec``, ``issue``, ``flush``.  ``order``: extra
    pairs of event refs ``(a, b)`` to show ``a`` before ``b`` where the model allows it (how a
    check's counterexample is shown: the free before the access it makes use-after-free)."""
    mem = [e for evs in g.threads for e in evs if e.kind <= GW]
    ids = {id(e) for e in mem}
    indeg: dict[int, int] = {id(e): 0 for e in mem}
    succs: dict[int, list[Ev]] = {}
    for e in mem + [co[0] for co in g.co.values()]:
        out = [y for y in _show_succ(g, model, e) if id(y) in ids]
        succs[id(e)] = out
        if e.tid >= 0:
            for y in out:
                indeg[id(y)] += 1
    base = {k: list(v) for k, v in succs.items()}
    base_indeg = dict(indeg)
    for a_ref, b_ref in order or ():
        a, b = g.ev(tuple(a_ref)), g.ev(tuple(b_ref))
        if id(a) in ids and id(b) in ids:
            succs[id(a)].append(b)
            indeg[id(b)] += 1
    # reads of the initial value have no predecessor but their own thread's
    order = _topo(mem, succs, indeg)
    if len(order) != len(mem):  # the hints made a cycle: drop them
        order = _topo(mem, base, base_indeg)
    if len(order) != len(mem):  # not consistent under this model: fall back to addition order
        order = sorted(mem, key=lambda e: e.stamp)
    pos = {id(e): i for i, e in enumerate(order)}
    steps: list[tuple[str, Ev]] = []
    emitted: set[int] = set()
    buffered = model.name != "sc"
    # non-memory events and store-buffer issues go just before their thread's next memory step
    for e in order:
        evs = g.threads[e.tid]
        for i in range(e.idx):
            x = evs[i]
            if id(x) in emitted:
                continue
            if x.kind <= GW:
                if x.kind == GW and buffered and pos[id(x)] > pos[id(e)]:
                    steps.append(("issue", x))
                    emitted.add(id(x))
                continue
            steps.append(("exec", x))
            emitted.add(id(x))
        if id(e) in emitted:
            steps.append(("flush", e))
        else:
            steps.append(("exec", e))
        emitted.add(id(e))
    for evs in g.threads:
        for x in evs:
            if id(x) not in emitted:
                steps.append(("exec", x))
                emitted.add(id(x))
    return steps


def _drained_by(g: Graph, w: Ev) -> str:
    """Name the fence (or atomic) after buffered write ``w`` that forces it out before a later
    read of its thread, if any."""
    evs = g.threads[w.tid]
    for x in evs[w.idx + 1 :]:
        node = x.node
        if node is None:
            continue
        if x.kind == GF and x.mode in ("mb", "wmb", "release"):
            return f", drained by {node.label}"
        if x.rmw:
            return f", drained by {node.label}"
    return ""


def _topo(mem: list[Ev], succs: dict[int, list[Ev]], indeg0: dict[int, int]) -> list[Ev]:
    """Topological order, ties broken by the order the explorer added events."""
    indeg = dict(indeg0)
    heap = [(e.stamp, e.tid, e.idx, e) for e in mem if indeg[id(e)] == 0]
    heapq.heapify(heap)
    order: list[Ev] = []
    while heap:
        _, _, _, e = heapq.heappop(heap)
        order.append(e)
        for y in succs[id(e)]:
            indeg[id(y)] -= 1
            if indeg[id(y)] == 0:
                heapq.heappush(heap, (y.stamp, y.tid, y.idx, y))
    return order


def describe(g: Graph, e: Ev, what: str, rowof: dict[int, int]) -> str:
    text = _describe(g, e, what, rowof)
    deps = e.node.deps if e.node is not None else None
    if deps and any(deps) and what != "flush" and e.kind <= GW:
        text += "  " + dependency_text(g, e, rowof)
    return text


def dependency_text(g: Graph, e: Ev, rowof: dict[int, int]) -> str:
    """``[addr #3, ctrl #1]``: the steps of the reads ``e``'s address, value or execution
    depends on (LKMM's addr, data and ctrl; recorded under the dependency-tracking models)."""
    assert e.node is not None and e.node.deps is not None
    reads = {x.node.depth: x for x in g.threads[e.tid]
             if x is not None and x.kind == GR and x.node is not None}
    parts = []
    for kind, ds in zip(("addr", "data", "ctrl"), e.node.deps, strict=True):
        steps = sorted(rowof[id(reads[d])] for d in ds if d in reads and id(reads[d]) in rowof)
        if steps:
            parts.append(f"{kind} " + " ".join(f"#{n}" for n in steps))
    return f"[{', '.join(parts)}]" if parts else ""


def _describe(g: Graph, e: Ev, what: str, rowof: dict[int, int]) -> str:
    node = e.node
    assert node is not None
    name = g.prog.loc_name
    label = node.label

    def fmt(v: Any) -> str:
        return format_value(g.prog, v)

    if e.kind == GR:
        rf = e.rf
        assert rf is not None
        src = "init" if rf.tid < 0 else f"#{rowof.get(id(rf), '?')}"
        if rf.tid == e.tid and rf.tid >= 0 and rowof.get(id(rf), 0) > rowof.get(id(e), 0):
            src = "own store buffer"
        if node.kind == RMW:
            evs = g.threads[e.tid]
            nxt = evs[e.idx + 1] if e.idx + 1 < len(evs) else None
            wrote = nxt if nxt is not None and nxt.rmw and nxt.kind == GW else None
            tail = f" -> wrote {fmt(wrote.val)}" if wrote is not None else " (no write)"
            return f"{label}({name(e.loc)}) read {fmt(rf.val)}{tail}  <- {src}"
        return f"{label}({name(e.loc)}) = {fmt(rf.val)}  <- {src}"
    if e.kind == GW:
        if e.rmw:
            return f"  ({label} write {name(e.loc)} = {fmt(e.val)})"
        if what == "issue":
            return f"{label}({name(e.loc)}, {fmt(e.val)}) -> store buffer"
        if what == "flush":
            why = _drained_by(g, e)
            return f"  flush {name(e.loc)} = {fmt(e.val)} (visible{why})"
        return f"{label}({name(e.loc)}, {fmt(e.val)})"
    if e.kind == GF:
        note = " (compiler only)" if e.mode == F_COMPILER else ""
        return f"{label}{note}"
    if e.kind == GO and node.kind == OBSERVE:
        return f"{label} = {fmt(e.val)}"
    if node.loc is not None and node.loc > 0:
        return f"{label}({name(node.loc)})"
    return label


def render(g: Graph, model: str | MemoryModel, title: str = "", show_src: bool = True,
           order: list[Any] | None = None) -> str:
    """The execution as a table: one row per step, one column per thread."""
    m = get_model(model) if isinstance(model, str) else model
    steps = [s for s in linearize(g, m, order) if not (s[1].kind == GW and s[1].rmw)]
    rowof: dict[int, int] = {}
    for i, (what, e) in enumerate(steps, 1):
        if what != "issue":
            rowof[id(e)] = i
        if e.kind == GR and e.rmw:
            w = g.threads[e.tid][e.idx + 1] if e.idx + 1 < len(g.threads[e.tid]) else None
            if w is not None and w.rmw and w.kind == GW:
                rowof[id(w)] = i
    names = [t.name for t in g.prog.threads]
    cells: list[list[str]] = []
    for i, (what, e) in enumerate(steps, 1):
        text = describe(g, e, what, rowof)
        if show_src and e.node is not None and e.node.src is not None and what != "flush":
            text += f"   [{os.path.basename(e.node.src.file)}:{e.node.src.line}]"
        row = [""] * len(names)
        row[e.tid] = text
        cells.append([str(i)] + row)
    # the end of each thread
    cells.append(["end"] + [_end_text(c) for c in g.cursor])
    header = ["#"] + names
    widths = [max(len(r[i]) for r in cells + [header]) for i in range(len(header))]
    lines = []
    if title:
        lines.append(title)
    lines.append(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    lines.append("-+-".join("-" * w for w in widths))
    for r in cells:
        lines.append(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _end_text(node: Any) -> str:
    from rmapwalk.engine.events import BLOCK, END, ERROR, LIMIT

    k = node.kind
    if k == END:
        return "returned" if node.value is None else f"returned {node.value!r}"
    if k == BLOCK:
        return f"BLOCKED: {node.label}"
    if k == ERROR:
        where = f" at {os.path.basename(node.src.file)}:{node.src.line}" if node.src else ""
        what = "EXCEPTION" if node.label == "exception" else "ASSERTION FAILED"
        return f"{what}{where}: {node.value}"
    if k == LIMIT:
        return "EVENT LIMIT (loop never ends?)"
    return "(stopped)"
