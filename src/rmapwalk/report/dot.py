"""A violation's execution graph in Graphviz syntax (``--dot FILE``).

Nodes are the events of the execution (the write and read halves of an RMW are two nodes),
grouped in one cluster per thread; the initial write of every location that is read or written
appears in a cluster of its own.  Edges, each labelled and coloured:

* ``po`` (black): program order, between consecutive events of a thread;
* ``rf`` (green): from a write to each read that takes its value;
* ``co`` (blue): coherence, from each write to the next write of the same location (``co`` is
  transitive: later writes follow through the chain);
* ``fr`` (orange, dashed): from-read, from a read to the write that follows, in ``co``, the one it
  read from (``fr`` = rf⁻¹;co, so it also reaches every later write through ``co``).

``dot -Tsvg FILE > graph.svg`` draws it.
"""

from __future__ import annotations

import os
from typing import Any

from rmapwalk.engine.events import F_COMPILER, OBSERVE
from rmapwalk.engine.graph import GF, GO, GR, GW, Ev, Graph
from rmapwalk.engine.trace import format_value

EDGE_STYLE = {
    "po": 'color="#333333", fontcolor="#333333"',
    "rf": 'color="#2e7d32", fontcolor="#2e7d32", penwidth=1.6, constraint=false',
    "co": 'color="#1565c0", fontcolor="#1565c0", constraint=false',
    "fr": 'color="#e65100", fontcolor="#e65100", style=dashed, constraint=false',
}


def _q(s: Any) -> str:
    """A Graphviz double-quoted string."""
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def node_id(e: Ev) -> str:
    return f"init_{int(e.loc)}" if e.tid < 0 else f"e{e.tid}_{e.idx}"


def _label(g: Graph, e: Ev) -> str:
    node = e.node
    name = g.prog.loc_name

    def fmt(v: Any) -> str:
        return format_value(g.prog, v)

    if e.tid < 0:
        return f"init {name(e.loc)} = {fmt(e.val)}"
    assert node is not None
    if e.kind == GR:
        rf = e.rf
        val = fmt(rf.val) if rf is not None else "?"
        text = f"{'R*' if e.rmw else 'R'} {name(e.loc)} = {val}"
    elif e.kind == GW:
        text = f"{'W*' if e.rmw else 'W'} {name(e.loc)} = {fmt(e.val)}"
    elif e.kind == GF:
        text = f"F {e.mode}" + (" (compiler)" if e.mode == F_COMPILER else "")
    elif e.kind == GO and node.kind == OBSERVE:
        text = f"{node.label} = {fmt(e.val)}"
    else:
        text = node.label
    lines = [text]
    if node.label and e.kind in (GR, GW, GF):
        lines.append(node.label)
    if node.src is not None:
        lines.append(f"{os.path.basename(node.src.file)}:{node.src.line}")
    return "\n".join(lines)


def edges(g: Graph) -> list[tuple[str, Ev, Ev]]:
    """The ``(kind, from, to)`` edges drawn: po, rf, co (successive) and fr (to the co-successor)."""
    out: list[tuple[str, Ev, Ev]] = []
    for evs in g.threads:
        for a, b in zip(evs, evs[1:], strict=False):
            out.append(("po", a, b))
    for evs in g.threads:
        for e in evs:
            if e.kind == GR and e.rf is not None:
                out.append(("rf", e.rf, e))
    for _loc, co in sorted(g.co.items()):
        for a, b in zip(co, co[1:], strict=False):
            out.append(("co", a, b))
    pos = {id(w): (loc, i) for loc, co in g.co.items() for i, w in enumerate(co)}
    for evs in g.threads:
        for e in evs:
            if e.kind != GR or e.rf is None or id(e.rf) not in pos:
                continue
            loc, i = pos[id(e.rf)]
            co = g.co[loc]
            if i + 1 < len(co):
                out.append(("fr", e, co[i + 1]))
    return out


def render_dot(g: Graph, model: str, *, kind: str = "", message: str = "") -> str:
    """The execution ``g`` as a Graphviz ``digraph``; ``kind``/``message`` title it."""
    title = f"{g.prog.name} ({model})"
    if kind:
        title += f": {kind}"
    lines = [
        f"digraph {_q(g.prog.name)} {{",
        f"  label={_q(title + (chr(10) + ' '.join(message.split()) if message else ''))};",
        "  labelloc=t; fontname=\"Helvetica\"; rankdir=TB; newrank=true;",
        '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Courier", fontsize=10];',
        "  edge [fontname=\"Helvetica\", fontsize=9];",
    ]
    used = sorted({loc for loc in g.co})
    if used:
        lines.append("  subgraph cluster_init {")
        lines.append('    label="initial values"; style=dashed; color="#999999";')
        for loc in used:
            init = g.co[loc][0]
            lines.append(f'    {node_id(init)} [label={_q(_label(g, init))}, fillcolor="#f2f2f2"];')
        lines.append("  }")
    for t, evs in enumerate(g.threads):
        name = g.prog.threads[t].name
        lines.append(f"  subgraph cluster_t{t} {{")
        lines.append(f'    label={_q(name)}; style=rounded; color="#555555";')
        for e in evs:
            fill = {GR: "#eef7ee", GW: "#e8f0fb", GF: "#f3eaf7"}.get(e.kind, "#ffffff")
            lines.append(f'    {node_id(e)} [label={_q(_label(g, e))}, fillcolor="{fill}"];')
        if not evs:
            lines.append(f'    t{t}_empty [label="(no events)", style=dotted];')
        lines.append("  }")
    for k, a, b in edges(g):
        lines.append(f"  {node_id(a)} -> {node_id(b)} [label={k}, {EDGE_STYLE[k]}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_from_replay(prog: Any, data: dict[str, Any], max_events: int) -> str:
    """The graph of a replay record (rebuilds the execution first)."""
    from rmapwalk.engine.replay import rebuild

    g = rebuild(prog, data, max_events)
    v = data.get("violation") or {}
    return render_dot(g, data["model"], kind=str(v.get("kind") or ""), message=str(v.get("message") or ""))
