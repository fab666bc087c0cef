"""Data races: two accesses to one location from different CPUs, at least one a write and at
least one plain (not ``READ_ONCE``/``WRITE_ONCE``/atomic), that nothing orders (under the LKMM
models, LKMM's own definition: ``rmapwalk.engine.lkmm``): neither happens
before the other through the program order the memory model keeps and reads-from
(``rmapwalk.engine.analysis.Reach.hb``).  Such a pair lets the compiler tear, fuse or invent
accesses (Linux ``tools/memory-model/Documentation/explanation.txt``, "plain accesses and data
races").  ``report_data_races(prog)`` turns the check on for a program (property ``data race``).
"""

from __future__ import annotations

from rmapwalk.engine.analysis import Reach
from rmapwalk.engine.events import PLAIN
from rmapwalk.engine.graph import GR, GW, Ev, Graph
from rmapwalk.engine.models import MemoryModel
from rmapwalk.engine.program import Program


def report_data_races(prog: Program) -> None:
    if check_data_races not in prog.checks:
        prog.checks.append(check_data_races)


def _show(g: Graph, e: Ev) -> str:
    node = e.node
    what = "write" if e.kind == GW else "read"
    kind = "plain" if e.mode == PLAIN and not e.rmw else "marked"
    where = f" at {node.src}" if node is not None and node.src else ""
    return f"{g.prog.threads[e.tid].name}'s {kind} {what}{where}"


def check_data_races(g: Graph, model: MemoryModel) -> list[tuple[str, str]]:
    lkmm_races = getattr(model, "data_races", None)
    if lkmm_races is not None:  # the model has its own definition (LKMM's, herd's Flag data-race)
        out: list[tuple[str, str]] = []
        for a, b in lkmm_races(g)[:1]:
            out.append(("data race", f"on {g.prog.loc_name(a.loc)}: {_show(g, a)} and {_show(g, b)} race "
                                     "(LKMM: neither is bounded by the other)"))
        for a, b in model.mixed_accesses(g)[:1]:  # type: ignore[attr-defined]
            out.append(("mixed accesses", f"on {g.prog.loc_name(a.loc)}: {_show(g, a)} and {_show(g, b)} "
                                          "with no barrier between them"))
        return out
    by_loc: dict[int, list[Ev]] = {}
    plain_locs = set()
    for evs in g.threads:
        for e in evs:
            if e.kind == GR or e.kind == GW:
                by_loc.setdefault(e.loc, []).append(e)
                if e.mode == PLAIN and not e.rmw:
                    plain_locs.add(e.loc)
    if not plain_locs:
        return []
    hb: Reach | None = None
    for loc in sorted(plain_locs):
        acc = by_loc[loc]
        for i, a in enumerate(acc):
            for b in acc[i + 1:]:
                if a.tid == b.tid or (a.kind == GR and b.kind == GR):
                    continue
                if (a.mode != PLAIN or a.rmw) and (b.mode != PLAIN or b.rmw):
                    continue
                if hb is None:
                    hb = Reach.hb(g, model)
                if hb(a, b) or hb(b, a):
                    continue
                return [("data race", f"on {g.prog.loc_name(loc)}: {_show(g, a)} and {_show(g, b)} are unordered")]
    return []
