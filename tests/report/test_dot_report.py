"""The --dot graph of a violation: parsed structurally, and drawn by Graphviz where installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field

import pytest

from rmapwalk.engine import Program, explore, observe
from rmapwalk.engine.replay import rebuild
from rmapwalk.kernel import READ_ONCE, WRITE_ONCE, cmpxchg
from rmapwalk.report.dot import dot_from_replay, edges, render_dot


def sb() -> Program:
    p = Program("SB")
    x, y = p.var("x"), p.var("y")

    @p.thread
    def P0() -> None:
        WRITE_ONCE(x, 1)
        observe("r0", READ_ONCE(y))

    @p.thread
    def P1() -> None:
        WRITE_ONCE(y, 1)
        observe("r1", READ_ONCE(x))

    p.forbid(lambda f: f["P0:r0"] == 0 and f["P1:r1"] == 0, "both loads missed the other store")
    return p


def coww() -> Program:
    """Three writers and a cmpxchg: co chains of length > 1 and an RMW."""
    p = Program("co3")
    x = p.var("x")

    @p.thread
    def A() -> None:
        WRITE_ONCE(x, 1)

    @p.thread
    def B() -> None:
        WRITE_ONCE(x, 2)

    @p.thread
    def C() -> None:
        observe("old", cmpxchg(x, 1, 3))
        observe("r", READ_ONCE(x))

    p.forbid(lambda f: f["x"] == 3 and f["C:r"] == 3, "cmpxchg won")
    return p


@dataclass
class Dot:
    name: str
    clusters: dict[str, list[str]] = field(default_factory=dict)
    cluster_labels: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, str] = field(default_factory=dict)
    edges: list[tuple[str, str, str, str]] = field(default_factory=list)  # (from, to, label, color)


_STR = r'"(?:[^"\\]|\\.)*"'


def parse_dot(text: str) -> Dot:
    """A parser for the subset of the DOT language the writer uses (checks balance and syntax)."""
    lines = [ln.strip() for ln in text.strip().splitlines()]
    m = re.fullmatch(rf"digraph ({_STR}) {{", lines[0])
    assert m, lines[0]
    dot = Dot(m.group(1)[1:-1])
    assert lines[-1] == "}"
    cluster: str | None = None
    for ln in lines[1:-1]:
        if m := re.fullmatch(r"subgraph (cluster_\w+) {", ln):
            assert cluster is None, "nested cluster"
            cluster = m.group(1)
            dot.clusters[cluster] = []
            continue
        if ln == "}":
            assert cluster is not None
            cluster = None
            continue
        if m := re.fullmatch(r"(\w+) -> (\w+) \[label=(\w+), color=\"(#[0-9a-f]{6})\".*\];", ln):
            dot.edges.append((m.group(1), m.group(2), m.group(3), m.group(4)))
            continue
        if m := re.fullmatch(rf"(\w+) \[label=({_STR})(, [\w]+=(?:{_STR}|\w+))*\];", ln):
            assert cluster is not None, f"node outside a cluster: {ln}"
            dot.nodes[m.group(1)] = m.group(2)[1:-1].replace("\\n", "\n")
            dot.clusters[cluster].append(m.group(1))
            continue
        if m := re.match(rf"label=({_STR});", ln):
            if cluster is not None:
                dot.cluster_labels[cluster] = m.group(1)[1:-1]
            continue
        assert re.fullmatch(r"(\w+(=(\"[^\"]*\"|[\w.#]+))?[;,]? ?)+|(node|edge) \[.*\];", ln), ln
    assert cluster is None
    for a, b, _, _ in dot.edges:
        assert a in dot.nodes and b in dot.nodes, (a, b)
    return dot


def test_sb_graph() -> None:
    prog = sb()
    res = explore(prog, "tso")
    text = dot_from_replay(prog, res.violations[0].replay, 1000)
    dot = parse_dot(text)
    assert dot.name == "SB"
    assert "both loads missed the other store" in text.splitlines()[1]
    # one cluster per thread (by name) plus the initial values
    assert dot.cluster_labels == {"cluster_init": "initial values", "cluster_t0": "P0", "cluster_t1": "P1"}
    assert len(dot.clusters["cluster_t0"]) == 3 and len(dot.clusters["cluster_init"]) == 2
    kinds = sorted(k for _, _, k, _ in dot.edges)
    assert kinds == ["co", "co", "fr", "fr", "po", "po", "po", "po", "rf", "rf"]
    colours = {k: c for _, _, k, c in dot.edges}
    assert len(set(colours.values())) == 4
    # rf from the initial values; fr from each read to the other thread's write
    for a, b, k, _ in dot.edges:
        if k == "rf":
            assert a.startswith("init_") and dot.nodes[b].startswith("R ")
        if k == "fr":
            assert dot.nodes[a].startswith("R ") and dot.nodes[b].startswith("W ")
            assert a[1] != b[1]  # e<tid>_...: different threads
    # each event with its source line
    assert all(re.search(r"test_dot_report\.py:\d+$", dot.nodes[n]) for n in dot.clusters["cluster_t0"])


def test_co_chain_and_rmw() -> None:
    prog = coww()
    res = explore(prog, "sc")
    assert res.verdict == "violated"
    g = rebuild(prog, res.violations[0].replay)
    dot = parse_dot(render_dot(g, "sc", kind="cmpxchg won"))
    co = [(a, b) for a, b, k, _ in dot.edges if k == "co"]
    # co is drawn as a chain from the initial write through every write of x
    writes = [n for n, label in dot.nodes.items() if label.startswith(("W ", "W* ", "init "))]
    assert len(co) == len(writes) - 1
    starts = {a for a, _ in co}
    ends = {b for _, b in co}
    assert starts - ends == {next(n for n in writes if n.startswith("init_"))}
    assert any(label.startswith("R* ") for label in dot.nodes.values())  # the cmpxchg's read half
    assert any(label.startswith("W* x = 3") for label in dot.nodes.values())
    fr = [(a, b) for a, b, k, _ in dot.edges if k == "fr"]
    assert len(fr) == sum(1 for kind, r, _ in edges(g) if kind == "rf" and g.co[r.loc][-1] is not r)


def test_graphviz_draws_it() -> None:
    exe = shutil.which("dot")
    if exe is None:
        pytest.skip("Graphviz `dot` is not installed (Debian package graphviz)")
    prog = sb()
    res = explore(prog, "tso")
    text = dot_from_replay(prog, res.violations[0].replay, 1000)
    out = subprocess.run([exe, "-Tsvg"], input=text, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "<svg" in out.stdout and "both loads missed the other store" in out.stdout
    assert out.stdout.count('class="cluster"') == 3
    assert out.stdout.count('class="edge"') == 10
