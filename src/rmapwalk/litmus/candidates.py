"""Run a litmus test under a cat model by enumerating candidate executions, as herd7 does.

A candidate execution is one path per thread (``threads.thread_paths``), the
initial writes, a reads-from choice for every read (a write to the same location
storing the value the read returned), and for each *observed* location (one the
final condition or ``locations`` mentions) the write that is final in coherence
(herd's ``FW``).  The model decides the rest: LKMM generates coherence itself
(``with co from generate_cos(...)``), and the lock reads' reads-from (lock.cat);
for a model that does not generate coherence we enumerate it.  Every path
through the model's ``with`` choices that passes all its checks is one execution,
which is what herd counts in ``Positive``/``Negative``.

Nothing is pruned that the model would have to decide: the only candidates
skipped are those no model can see (a read of a value nobody writes), so the
counts equal herd's for any model written in cat.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from rmapwalk.cat import CatModel, Execution
from rmapwalk.litmus.ast import And, Atom, Const, Implies, LitmusTest, Loc, LocEq, LocMem, LocReg, Not, Or, Prop
from rmapwalk.litmus.threads import (
    FENCE,
    LF,
    LKR,
    LKW,
    READ,
    RL,
    RU,
    UL,
    WRITE,
    LitmusSemanticsError,
    Path,
    TEvent,
    Value,
    thread_paths,
)

MAX_DOMAIN_ROUNDS = 8

State = tuple[tuple[Loc, Value], ...]


@dataclass
class LitmusResult:
    """What a run of one litmus test found; enough to print herd's output and our JSON."""

    test: LitmusTest
    model: str
    states: dict[State, int] = field(default_factory=dict)  # final state -> executions ending in it
    positive: int = 0  # executions whose final state satisfies the condition's proposition
    negative: int = 0
    flags: set[str] = field(default_factory=set)
    cutoff: bool = False  # some path was cut by the loop unrolling bound
    candidates: int = 0  # candidate executions handed to the model (or explored by the engine)
    seconds: float = 0.0


# ----------------------------------------------------------------------------- locations


def shared_locations(test: LitmusTest) -> dict[str, Value]:
    """Every shared variable with its initial value (0 unless the init block says otherwise)."""
    locs: dict[str, Value] = {}
    for item in test.init:
        if item.thread is not None:
            continue
        if item.value is None:
            locs[item.target] = 0
        elif hasattr(item.value, "value"):
            locs[item.target] = item.value.value  # type: ignore[union-attr]
        else:
            locs[item.target] = item.value.name  # type: ignore[union-attr]
    for item in test.init:  # a variable whose address is stored somewhere is shared too
        if item.value is not None and not hasattr(item.value, "value"):
            locs.setdefault(item.value.name, 0)  # type: ignore[union-attr]
    for t in test.threads:
        for p in t.params:
            locs.setdefault(p.name, 0)
    for loc in observed_locations(test):
        if isinstance(loc, LocMem):
            locs.setdefault(loc.name, 0)
    return locs


def register_inits(test: LitmusTest) -> dict[int, dict[str, Value]]:
    regs: dict[int, dict[str, Value]] = {t.index: {} for t in test.threads}
    for item in test.init:
        if item.thread is None:
            continue
        v: Value = 0
        if item.value is not None:
            v = item.value.value if hasattr(item.value, "value") else item.value.name  # type: ignore[union-attr]
        regs.setdefault(item.thread, {})[item.target] = v
    return regs


def _prop_locs(p: Prop | None, out: list[Loc]) -> None:
    if p is None:
        return
    if isinstance(p, Atom):
        out.append(p.loc)
    elif isinstance(p, LocEq):
        out.extend((p.left, p.right))
    elif isinstance(p, Not):
        _prop_locs(p.prop, out)
    elif isinstance(p, And | Or):
        for q in p.props:
            _prop_locs(q, out)
    elif isinstance(p, Implies):
        _prop_locs(p.left, out)
        _prop_locs(p.right, out)


def observed_locations(test: LitmusTest) -> list[Loc]:
    """The locations of the final state: those of ``locations [...]`` and of the condition, once each."""
    out: list[Loc] = list(test.locations)
    _prop_locs(test.condition.prop, out)
    seen: dict[Loc, None] = {}
    for loc in out:
        seen.setdefault(loc, None)
    return list(seen)


def value_key(v: Value) -> tuple[int, int, str]:
    """herd orders integer values before symbolic ones (addresses), the latter by name."""
    return (0, v, "") if isinstance(v, int) else (1, 0, v)


def loc_key(loc: Loc) -> tuple[int, int, str, int]:
    """herd lists registers (by thread, then name) before memory locations (by name)."""
    if isinstance(loc, LocReg):
        return (0, loc.thread, loc.reg, 0)
    return (1, 0, loc.name, -1 if loc.index is None else loc.index)


def state_key(state: State) -> tuple[tuple[tuple[int, int, str], ...], ...]:
    return tuple((value_key(v),) for _, v in state)


# --------------------------------------------------------------------------------- conditions


def eval_prop(p: Prop, state: Mapping[Loc, Value]) -> bool:
    if isinstance(p, Atom):
        return state.get(p.loc, 0) == p.value
    if isinstance(p, LocEq):
        return state.get(p.left, 0) == state.get(p.right, 0)
    if isinstance(p, Not):
        return not eval_prop(p.prop, state)
    if isinstance(p, And):
        return all(eval_prop(q, state) for q in p.props)
    if isinstance(p, Or):
        return any(eval_prop(q, state) for q in p.props)
    if isinstance(p, Implies):
        return (not eval_prop(p.left, state)) or eval_prop(p.right, state)
    if isinstance(p, Const):
        return p.value
    raise TypeError(p)


# ----------------------------------------------------------------------------- value domains


def _sorted_values(vals: set[Value]) -> tuple[Value, ...]:
    return tuple(sorted(vals, key=value_key))


def value_domains(test: LitmusTest, locs: Mapping[str, Value],
                  regs: Mapping[int, Mapping[str, Value]]) -> dict[str, tuple[Value, ...]]:
    """For each location, every value some write of the test can store there (a fixpoint)."""
    domains: dict[str, set[Value]] = {loc: {v} for loc, v in locs.items()}
    for _ in range(MAX_DOMAIN_ROUNDS):
        frozen = {loc: _sorted_values(vs) for loc, vs in domains.items()}
        grown = False
        for t in test.threads:
            for path in thread_paths(test, t, frozen, regs.get(t.index, {})):
                for ev in path.events:
                    if ev.kind == WRITE and ev.loc is not None and ev.val is not None:
                        vs = domains.setdefault(ev.loc, {locs.get(ev.loc, 0)})
                        if ev.val not in vs:
                            vs.add(ev.val)
                            grown = True
        if not grown:
            return {loc: _sorted_values(vs) for loc, vs in domains.items()}
    raise LitmusSemanticsError(test.condition.pos, "the values stored do not converge (unbounded arithmetic?)")


# ------------------------------------------------------------------------------- enumeration


@dataclass
class _Skeleton:
    """The events of one combination of thread paths, with everything but rf, co and FW."""

    events: list[TEvent]
    threads: list[int]  # -1 for initial writes
    init_of: dict[str, int]
    n: int
    sets: dict[str, int]
    relations: dict[str, list[int]]
    reads: list[int]  # reads that take their value from a write (lock reads excluded)
    writes_by_loc: dict[str, list[int]]


def _skeleton(locs: Mapping[str, Value], paths: Sequence[Path]) -> _Skeleton:
    events: list[TEvent] = []
    threads: list[int] = []
    init_of: dict[str, int] = {}
    for loc in sorted(locs):
        init_of[loc] = len(events)
        events.append(TEvent(WRITE, loc, locs[loc], frozenset()))
        threads.append(-1)
    offsets: list[int] = []
    for p in paths:
        offsets.append(len(events))
        events.extend(p.events)
        threads.extend([p.thread] * len(p.events))
    n = len(events)
    bit = [1 << i for i in range(n)]

    def mask(pred: object) -> int:
        m = 0
        for i, e in enumerate(events):
            if pred(e):  # type: ignore[operator]
                m |= bit[i]
        return m

    n_init = len(init_of)
    sets = {
        "R": mask(lambda e: e.kind == READ),
        "W": mask(lambda e: e.kind == WRITE),
        "F": mask(lambda e: e.kind == FENCE),
        "IW": (1 << n_init) - 1,
        "RMW": mask(lambda e: e.atomic),
        "LKR": mask(lambda e: e.kind == LKR),
        "LKW": mask(lambda e: e.kind == LKW),
        "UL": mask(lambda e: e.kind == UL),
        "LF": mask(lambda e: e.kind == LF),
        "RL": mask(lambda e: e.kind == RL),
        "RU": mask(lambda e: e.kind == RU),
    }
    sets["M"] = sets["R"] | sets["W"]

    po = [0] * n
    rmw = [0] * n
    addr = [0] * n
    data = [0] * n
    ctrl = [0] * n
    for p, off in zip(paths, offsets, strict=True):
        k = len(p.events)
        for j in range(k):
            i = off + j
            po[i] = sum(bit[off + m] for m in range(j + 1, k))
            e = p.events[j]
            if e.rmw is not None:
                rmw[i] = bit[off + e.rmw]
            mem = e.kind != FENCE
            for d in e.addr:
                addr[off + d] |= bit[i]
            for d in e.data:
                if e.kind == WRITE:
                    data[off + d] |= bit[i]
            if mem:
                for d in e.ctrl:
                    ctrl[off + d] |= bit[i]
    loc_rel = [0] * n
    by_loc: dict[str, int] = {}
    for i, e in enumerate(events):
        if e.loc is not None:
            by_loc[e.loc] = by_loc.get(e.loc, 0) | bit[i]
    for i, e in enumerate(events):
        if e.loc is not None:
            loc_rel[i] = by_loc[e.loc]
    by_thread: dict[int, int] = {}
    for i, t in enumerate(threads):
        if t >= 0:
            by_thread[t] = by_thread.get(t, 0) | bit[i]
    full = (1 << n) - 1
    int_rel = [by_thread[t] if t >= 0 else bit[i] for i, t in enumerate(threads)]
    ext = [full & ~int_rel[i] for i in range(n)]
    relations = {
        "po": po, "rmw": rmw, "addr": addr, "data": data, "ctrl": ctrl, "loc": loc_rel,
        "int": int_rel, "ext": ext, "id": [bit[i] for i in range(n)],
    }
    reads = [i for i, e in enumerate(events) if e.kind == READ]
    writes_by_loc: dict[str, list[int]] = {}
    for i, e in enumerate(events):
        if e.kind == WRITE and e.loc is not None:
            writes_by_loc.setdefault(e.loc, []).append(i)
    return _Skeleton(events, threads, init_of, n, sets, relations, reads, writes_by_loc)


def _coherence_orders(sk: _Skeleton, fw: Mapping[str, int]) -> Iterator[list[int]]:
    """All coherence orders (init first; FW last where chosen), for models that do not generate co."""
    per_loc: list[list[list[int]]] = []
    for loc, ws in sk.writes_by_loc.items():
        init = sk.init_of.get(loc)
        rest = [w for w in ws if w != init]
        orders = []
        for perm in itertools.permutations(rest):
            if loc in fw and fw[loc] != init and perm and perm[-1] != fw[loc]:
                continue
            if loc in fw and fw[loc] == init and rest:
                continue
            orders.append(([init] if init is not None else []) + list(perm))
        per_loc.append(orders)
    for combo in itertools.product(*per_loc):
        co = [0] * sk.n
        for order in combo:
            for a_i, a in enumerate(order):
                for b in order[a_i + 1:]:
                    co[a] |= 1 << b
        yield co


def run_cat(test: LitmusTest, model: CatModel, model_name: str) -> LitmusResult:
    """Every candidate execution of ``test`` checked by ``model``; herd's counts and states."""
    started = time.perf_counter()
    res = LitmusResult(test, model_name)
    locs = shared_locations(test)
    regs = register_inits(test)
    domains = value_domains(test, locs, regs)
    observed = observed_locations(test)
    observed_mem = sorted({loc.name for loc in observed if isinstance(loc, LocMem)})
    all_paths: list[list[Path]] = []
    for t in test.threads:
        ps = []
        for p in thread_paths(test, t, domains, regs.get(t.index, {})):
            if p.cutoff:
                res.cutoff = True
            else:
                ps.append(p)
        all_paths.append(ps)
    cond = test.condition.prop
    for combo in itertools.product(*all_paths):
        sk = _skeleton(locs, combo)
        reg_values: dict[Loc, Value] = {}
        for p in combo:
            for name, v in p.regs.items():
                reg_values[LocReg(p.thread, name)] = v
        for t in test.threads:
            for name, v in regs.get(t.index, {}).items():
                reg_values.setdefault(LocReg(t.index, name), v)
        rf_choices: list[list[int]] = []
        for r in sk.reads:
            e = sk.events[r]
            rf_choices.append([w for w in sk.writes_by_loc.get(e.loc or "", []) if sk.events[w].val == e.val])
        fw_choices = [sk.writes_by_loc.get(loc, []) for loc in observed_mem]
        for rf_pick in itertools.product(*rf_choices):
            rf = [0] * sk.n
            for r, w in zip(sk.reads, rf_pick, strict=True):
                rf[w] |= 1 << r
            for fw_pick in itertools.product(*fw_choices):
                fw = dict(zip(observed_mem, fw_pick, strict=True))
                final: dict[Loc, Value] = {}
                for loc in observed:
                    if isinstance(loc, LocReg):
                        final[loc] = reg_values.get(loc, 0)
                    else:
                        w = fw.get(loc.name)
                        final[loc] = sk.events[w].val if w is not None else locs.get(loc.name, 0)  # type: ignore[assignment]
                if test.filter is not None and not eval_prop(test.filter, final):
                    continue
                state: State = tuple(sorted(final.items(), key=lambda kv: loc_key(kv[0])))
                ok = eval_prop(cond, final)
                fw_mask = 0
                for w in fw.values():
                    fw_mask |= 1 << w
                sets = dict(sk.sets)
                sets["FW"] = fw_mask
                relations: dict[str, Sequence[int]] = dict(sk.relations)
                relations["rf"] = rf
                cos: Iterator[list[int] | None] = (
                    iter([None]) if model.generates_co else _coherence_orders(sk, fw))
                for co in cos:
                    if co is not None:
                        relations["co"] = co
                    ex = Execution(
                        n=sk.n, sets=sets, annotations=[e.tags for e in sk.events], relations=relations,
                        loc=[e.loc for e in sk.events], val=[e.val for e in sk.events])
                    res.candidates += 1
                    for outcome in model.run(ex):
                        if not outcome.allowed:
                            continue
                        res.states[state] = res.states.get(state, 0) + 1
                        if ok:
                            res.positive += 1
                        else:
                            res.negative += 1
                        res.flags |= outcome.flags
    res.seconds = time.perf_counter() - started
    return res
