"""Saving an execution as plain data and rebuilding exactly the same execution from it.

The data is small: for each thread, how many events it executed and which write each of its
reads read from; for each location, the coherence order of its writes.  Thread code is
deterministic given its read values, so re-running the program with these choices rebuilds the
same graph, which the memory model then re-checks.
"""

from __future__ import annotations

from typing import Any

from rmapwalk.engine.events import NO_WRITE, READ, RMW, TERMINAL_KINDS, WRITE
from rmapwalk.engine.graph import GR, Ev, Graph
from rmapwalk.engine.models import get_model
from rmapwalk.engine.program import Program
from rmapwalk.engine.runtime import ThreadBehaviour
from rmapwalk.engine.values import decode_value, encode_value

FORMAT = "rmapwalk-replay/1"


def _read_ahead(g: Graph, prog: Program, lengths: list[int], rfs: list[list[tuple[int, int]]], rpos: list[int],
                values: list[Any], ahead: list[tuple[Ev, tuple[int, int], Any]]) -> bool:
    """Every thread waits for a write not rebuilt yet (a load-buffering cycle): let the first
    such read take its recorded value now (it is checked against the write later)."""
    for t, evs in enumerate(g.threads):
        vals = values[t]
        if len(evs) >= lengths[t] or vals is None:
            continue
        node = g.cursor[t]
        if node.kind != READ and node.kind != RMW:
            continue
        ref = rfs[t][rpos[t]]
        val = decode_value(vals[rpos[t]])
        rpos[t] += 1
        init = g.co_list(node.loc)[0]
        r = g.add_read(t, node, init)  # (its real write is linked once rebuilt)
        ahead.append((r, ref, val))
        if node.kind == RMW:
            # the write half is what the RMW makes of the recorded value; its place in co is
            # set with every other write's from the recorded coherence order
            wval = node.op(val)  # type: ignore[misc]
            if wval is not NO_WRITE:
                g.add_rmw_write(r, wval)
        g.cursor[t] = g.beh[t].child(node, val)
        return True
    return False


class ReplayError(Exception):
    """The replay data does not describe an execution of this program."""


def graph_to_replay(g: Graph, model: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format": FORMAT,
        "program": g.prog.name,
        "model": model,
        "threads": [
            {
                "events": len(evs),
                "rf": [list(e.rf.ref) for e in evs if e.kind == GR],  # type: ignore[union-attr]
            }
            for evs in g.threads
        ],
        "co": [[loc, [list(w.ref) for w in co[1:]]] for loc, co in sorted(g.co.items())],
    }
    if g.lb:
        # Under load buffering a read may read a write its own thread's later events lead to:
        # the values read let each thread be rebuilt on its own (see rebuild).
        try:
            for t, evs in zip(data["threads"], g.threads, strict=True):
                t["values"] = [encode_value(e.rf.val) for e in evs if e.kind == GR]  # type: ignore[union-attr]
        except ValueError:
            for t in data["threads"]:
                t.pop("values", None)
    return data


def rebuild(prog: Program, data: dict[str, Any], max_events: int = 100000) -> Graph:
    """Recreate the execution graph described by ``data`` (see :func:`graph_to_replay`)."""
    if data.get("format") != FORMAT:
        raise ReplayError(f"not an rmapwalk replay (format {data.get('format')!r})")
    threads = data["threads"]
    if len(threads) != len(prog.threads):
        raise ReplayError(f"replay has {len(threads)} threads, program {prog.name!r} has {len(prog.threads)}")
    model = get_model(data["model"])
    beh = [ThreadBehaviour(td, i, max_events, prog, model.tracks_deps, lkmm_events=model.lkmm_events)
           for i, td in enumerate(prog.threads)]
    g = Graph(prog, beh)
    lengths = [int(t["events"]) for t in threads]
    rfs = [[tuple(x) for x in t["rf"]] for t in threads]
    values = [t.get("values") for t in threads]
    rpos = [0] * len(threads)
    #: reads made with their recorded value before their write was rebuilt: (read, ref, value)
    ahead: list[tuple[Ev, tuple[int, int], Any]] = []
    progress = True
    while progress:
        progress = False
        for t in range(len(threads)):
            evs = g.threads[t]
            while len(evs) < lengths[t]:
                node = g.cursor[t]
                k = node.kind
                if k in TERMINAL_KINDS:
                    raise ReplayError(f"thread {prog.threads[t].name} ends before event {len(evs)}")
                if k == READ or k == RMW:
                    if rpos[t] >= len(rfs[t]):
                        raise ReplayError(f"thread {prog.threads[t].name}: more reads than recorded")
                    ref = rfs[t][rpos[t]]
                    if ref[0] >= 0 and ref[1] >= len(g.threads[ref[0]]):
                        break  # its write is not there yet: run other threads first
                    w = g.ev(ref)
                    if ref[0] >= 0 and w.loc != node.loc:
                        raise ReplayError(f"read of thread {prog.threads[t].name} reads another location")
                    rpos[t] += 1
                    r = g.add_read(t, node, w)
                    if k == RMW:
                        val = g.rmw_value(r)
                        if val is not NO_WRITE:
                            g.add_rmw_write(r, val)
                    g.advance(t)
                elif k == WRITE:
                    g.add_plain(t, node)
                    g.co_list(node.loc).append(evs[-1])
                    g.cursor[t] = node.next  # type: ignore[assignment]
                else:
                    g.add_plain(t, node)
                    g.cursor[t] = node.next  # type: ignore[assignment]
                progress = True
        if not progress and any(values):
            progress = _read_ahead(g, prog, lengths, rfs, rpos, values, ahead)
    for r, ref, val in ahead:  # the writes they read are rebuilt now
        try:
            w = g.ev(ref)
        except IndexError:
            raise ReplayError("replay data names a write that never happens") from None
        if w.loc != r.loc or w.kind != r.rf.kind or w.val != val:  # type: ignore[union-attr]
            raise ReplayError(f"a read of thread {prog.threads[r.tid].name} does not read what was recorded")
        g.set_rf(r, w)
    for t, evs in enumerate(g.threads):
        if len(evs) != lengths[t]:
            raise ReplayError("replay data is cyclic: some read reads a write that never happens")
    for loc, refs in data["co"]:
        co = g.co_list(int(loc))
        writes: list[Ev] = [g.ev(tuple(r)) for r in refs]
        if sorted(map(id, writes)) != sorted(map(id, co[1:])):
            raise ReplayError(f"coherence order of location {loc} does not match the program's writes")
        co[1:] = writes
    if not model.consistent(g):
        raise ReplayError(f"the recorded execution is not consistent under {model.name}")
    return g
