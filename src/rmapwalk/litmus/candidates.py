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
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rmapwalk.litmus.ast import (
    And,
    Atom,
    Call,
    If,
    Int,
    LitmusTest,
    Loc,
    LocMem,
    LocReg,
    Or,
    Prop,
    Stmt,
    Store,
    Var,
    While,
)
from rmapwalk.litmus.condition import (
    eval_prop,
    format_loc,
    loc_sort_key,
    prop_locations,
    same_value,
    value_sort_key,
)
from rmapwalk.litmus.threads import (
    FENCE,
    LF,
    LKR,
    LKW,
    READ,
    RL,
    RU,
    UL,
    UNROLL,
    WRITE,
    Entry,
    LitmusSemanticsError,
    Path,
    TEvent,
    Value,
    thread_paths,
)

if TYPE_CHECKING:
    from rmapwalk.cat import CatModel

MAX_DOMAIN_ROUNDS = 24

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
    pruned: int = 0  # candidates rejected before the model by its own coherence pre-check
    #: candidates dropped, as herd7 drops them, because some value read is justified only by a
    #: cycle of reads-from and data/address dependencies (out of thin air; see :func:`_thin_air`)
    thin_air: int = 0
    #: engine runs only: executions in which some thread waits forever (cut loops, lock waits)
    blocked: int | None = None
    seconds: float = 0.0
    #: herd7's ``-speedcheck``: ``"false"`` (every execution), ``"true"`` (only executions that
    #: decide the condition: the counts and states are of those) or ``"fast"`` (stop at the first)
    speedcheck: str = "false"


# ----------------------------------------------------------------------------- locations


def _init_value(v: Int | Var | None) -> Value:
    """An initialiser's value: an integer, or a variable's address (printed by name)."""
    if v is None:
        return 0
    return v.value if isinstance(v, Int) else v.name


def shared_locations(test: LitmusTest) -> dict[str, Value]:
    """Every shared variable with its initial value (0 unless the init block says otherwise)."""
    locs: dict[str, Value] = {}
    for item in test.init:
        if item.thread is not None:
            continue
        locs[item.target] = _init_value(item.value)
    for item in test.init:  # a variable whose address is stored somewhere is shared too
        if isinstance(item.value, Var):
            locs.setdefault(item.value.name, 0)
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
        regs.setdefault(item.thread, {})[item.target] = _init_value(item.value)
    return regs


def observed_locations(test: LitmusTest) -> list[Loc]:
    """The locations of the final state: those of ``locations [...]`` and of the condition, once each."""
    out: list[Loc] = [*test.locations, *prop_locations(test.condition.prop)]
    seen: dict[Loc, None] = {}
    for loc in out:
        seen.setdefault(loc, None)
    return list(seen)


# ----------------------------------------------------------------------------- value domains


def _sorted_values(vals: set[Value]) -> tuple[Value, ...]:
    return tuple(sorted(vals, key=value_sort_key))


_WRITING_OPS = frozenset({"__store", "__xchg", "__cmpxchg", "__atomic_op", "__atomic_op_return",
                          "__atomic_fetch_op", "__atomic_add_unless"})


def _static_writes(body: tuple[Stmt, ...]) -> int:
    """An upper bound on the memory writes one run of ``body`` makes (loops unrolled as in herd)."""
    n = 0

    def in_expr(node: object) -> int:
        k = 0
        if isinstance(node, Call) and node.name in _WRITING_OPS:
            k += 1
        if isinstance(node, tuple):
            return sum(in_expr(x) for x in node)
        if hasattr(node, "__dataclass_fields__"):
            for name in node.__dataclass_fields__:
                if name != "pos":
                    k += in_expr(getattr(node, name))
        return k

    for st in body:
        if isinstance(st, If):
            n += in_expr(st.cond) + _static_writes(st.then) + _static_writes(st.orelse)
        elif isinstance(st, While):
            n += (UNROLL + 1) * (in_expr(st.cond) + _static_writes(st.body))
        elif isinstance(st, Store):
            n += 1 + in_expr(st.addr) + in_expr(st.value)
        else:
            n += in_expr(st)
    return n


def program_constants(test: LitmusTest) -> set[Value]:
    """Every integer literal of the threads' code."""
    found: set[Value] = set()

    def walk(node: object) -> None:
        if isinstance(node, Int):
            found.add(node.value)
        elif isinstance(node, tuple):
            for x in node:
                walk(x)
        elif hasattr(node, "__dataclass_fields__"):
            for name in node.__dataclass_fields__:
                if name != "pos":
                    walk(getattr(node, name))

    for t in test.threads:
        walk(t.body)
    return found


def value_domains(test: LitmusTest, locs: Mapping[str, Value],
                  regs: Mapping[int, Mapping[str, Value]]) -> dict[str, tuple[Value, ...]]:
    """For each location, every value some write of the test can store there.

    A fixpoint over values tagged with the write *sites* (thread, source position,
    occurrence) they were computed through: a write whose value needs its own
    site is dropped, since each site writes once per execution.  Round k adds
    values made by chains of k writes; an execution has at most W writes (the sum
    over threads of the most writes a path makes), so W rounds are enough even
    when the plain fixpoint is infinite (a counter incremented in a loop of rounds).
    """
    # A value can justify itself through a branch (``if (READ_ONCE(*x) != 0) r = 1;``
    # stores 1 only if 1 was read): herd finds such executions by solving for the
    # read values, so a location whose values decide a branch also gets the
    # program's constants.  (Only those: seeding every location would multiply the
    # paths of every atomic counter for nothing.)
    constants = program_constants(test)
    # the writes the paths of this round made can grow next round (a branch taken only once a
    # value is known), so the bound is also taken from the code: every store it contains
    static_writes = sum(_static_writes(t.body) for t in test.threads)
    entries: dict[str, set[Entry]] = {loc: {Entry(v)} for loc, v in locs.items()}
    for rounds in range(1, MAX_DOMAIN_ROUNDS + 1):
        frozen = {loc: tuple(sorted(es, key=_entry_key)) for loc, es in entries.items()}
        grown = False
        most_writes = 0
        for t in test.threads:
            thread_most = 0
            for path in thread_paths(test, t, frozen, regs.get(t.index, {}), partial=True):  # type: ignore[arg-type]
                n_writes = 0
                seen: dict[object, int] = {}
                for ev in path.events:
                    if ev.kind != WRITE or ev.loc is None or ev.val is None:
                        continue
                    n_writes += 1
                    key = (t.index, ev.pos, ev.loc)
                    seen[key] = seen.get(key, 0) + 1
                    site = (*key, seen[key])
                    used: frozenset[object] = frozenset().union(
                        *(path.events[d].sites for d in ev.data if path.events[d].kind == READ))
                    if site in used:
                        continue
                    e = Entry(ev.val, used | {site})
                    es = entries.setdefault(ev.loc, {Entry(locs.get(ev.loc, 0))})
                    if e not in es:
                        es.add(e)
                        grown = True
                thread_most = max(thread_most, n_writes)
                for loc in path.tested:
                    es = entries.setdefault(loc, {Entry(locs.get(loc, 0))})
                    for c in constants:
                        if Entry(c) not in es:
                            es.add(Entry(c))
                            grown = True
            most_writes += thread_most
        if not grown or rounds >= max(most_writes, static_writes):
            return {loc: _sorted_values({e.value for e in es}) for loc, es in entries.items()}
    raise LitmusSemanticsError(test.condition.pos, f"more than {MAX_DOMAIN_ROUNDS} chained writes: too big")


def _entry_key(e: Entry) -> tuple[tuple[int, int, str], str]:
    return value_sort_key(e.value), repr(sorted(map(repr, e.sites)))


# ------------------------------------------------------------------------------- speedcheck

SPEEDCHECK_MODES = ("false", "true", "fast", "auto")

#: ``speedcheck="auto"`` decides the condition only (as ``"true"``) when the candidate executions
#: are estimated (:func:`candidate_estimate`) above this; a count, so the choice never depends
#: on the machine or its load
AUTO_SPEEDCHECK_CANDIDATES = 20_000
#: above that estimate, the candidates are counted (:func:`candidate_count`, over at most this
#: many combinations of thread paths: a second or two of counting) ...
AUTO_SPEEDCHECK_COMBOS = 200_000
#: ... and the test is run in full when candidates times events (what building and checking
#: them costs: about a minute here at this bound, where herd7 takes about as long) stay below
#: this.  Also counts: the choice never depends on the machine.
AUTO_SPEEDCHECK_WORK = 1_000_000


def wanted_final_values(test: LitmusTest, *, speedcheck: bool) -> dict[Loc, Value]:
    """The final values herd7 requires before it builds a candidate (``Mem.wanted_final_value``).

    The ``filter``'s top-level conjunction of ``loc=v`` atoms always (a candidate that breaks it is
    filtered out anyway), and with ``speedcheck`` the ``exists`` proposition's: an execution that
    breaks it cannot be a witness, which is all speedcheck looks for.  Two different values for one
    location are herd's "Incompatible constraint" error.
    """
    wanted: dict[Loc, Value] = {}

    def add(p: Prop) -> None:
        if isinstance(p, Atom):
            old = wanted.setdefault(p.loc, p.value)
            if not same_value(old, p.value):
                raise LitmusSemanticsError(
                    p.pos or test.condition.pos,
                    f"Incompatible constraint on location {format_loc(p.loc, brackets=False)} ({old} vs. {p.value})")
        elif isinstance(p, And):
            for q in p.props:
                add(q)
        elif isinstance(p, Or) and len(p.props) == 1:
            add(p.props[0])

    if speedcheck and test.condition.quantifier == "exists":
        add(test.condition.prop)
    if test.filter is not None:
        add(test.filter)
    return wanted


def relevant(test: LitmusTest, ok: bool) -> bool:
    """Whether an execution whose proposition is ``ok`` decides the condition (herd7's
    ``final_is_relevant``): a witness of ``exists``/``~exists`` satisfies it, one of ``forall``
    breaks it."""
    return ok if test.condition.quantifier != "forall" else not ok


def candidate_estimate(paths: Sequence[Sequence[Path]], observed_mem: Sequence[str]) -> int:
    """An upper bound of the candidates: path combinations times final-write choices.

    Each observed location's final write is one of the initial write and the most writes to it any
    path of each thread makes (reads-from choices among equal values are left out: rare in tests).
    """
    n = 1
    for ps in paths:
        n *= max(1, len(ps))
    for loc in observed_mem:
        writers = 1
        for ps in paths:
            writers += max((sum(1 for e in p.events if e.kind == WRITE and e.loc == loc) for p in ps), default=0)
        n *= writers
    return n


def candidate_count(paths: Sequence[Sequence[Path]], locs: Mapping[str, Value], observed_mem: Sequence[str],
                    cap: int) -> int | None:
    """The candidates :func:`run_cat` would build, as it builds them (each read's writes of its
    value, each observed location's final write), summed over the combinations of thread paths;
    None when there are more than ``cap`` combinations to sum over.  Coherence orders, pruning and
    thin-air filtering are not counted (what is left is the work before the model runs).

    :func:`candidate_estimate` multiplies the paths' counts, as if every read value had a write;
    in a test of atomic counters most combinations have none (C-atomic-00: 36,864 by the
    estimate, 144 here), and herd7 lists such tests in full."""
    combos = 1
    for ps in paths:
        combos *= len(ps)
        if combos > cap:
            return None
    shapes = [[(Counter((e.loc, e.val) for e in p.events if e.kind == WRITE and e.loc is not None),
                [(e.loc, e.val) for e in p.events if e.kind == READ]) for p in ps] for ps in paths]
    init: Counter[tuple[str | None, Value | None]] = Counter({(loc, v): 1 for loc, v in locs.items()})
    total = 0
    for combo in itertools.product(*shapes):
        written = init.copy()
        for w, _ in combo:
            written.update(w)
        n = 1
        for _, reads in combo:
            for key in reads:
                n *= written.get(key, 0)
            if not n:
                break
        if n:
            for loc in observed_mem:
                n *= sum(c for (wl, _), c in written.items() if wl == loc)
        total += n
    return total


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


def _value_needs(sk: _Skeleton) -> dict[int, list[int]]:
    """Per event whose value or location is computed from read values: those reads (its
    ``data`` and ``addr`` sources); empty when no event depends on a read."""
    needs: dict[int, list[int]] = {}
    for rel in (sk.relations["data"], sk.relations["addr"]):
        for r, targets in enumerate(rel):
            while targets:
                low = targets & -targets
                needs.setdefault(low.bit_length() - 1, []).append(r)
                targets ^= low
    return needs


def _thin_air(needs: Mapping[int, list[int]], source: Mapping[int, int]) -> bool:
    """Whether some value of the candidate is justified only by itself: a cycle of reads-from
    (a read needs the write it reads from) and dependencies (a write needs the reads its value or
    address is computed from; a read, those its address is).

    herd7 builds a candidate's values by solving one equation per read (its value is the value
    of the write it reads from) and per computed value; on such a cycle the equations have no
    unique solution, the candidate is not made concrete and herd drops it before the model sees
    it (``when_unsolved`` in herd/mem.ml: "this occurs with cyclic rfmaps"), whatever value the
    cycle could carry.  We enumerate read values from finite domains, so we would otherwise count
    such a cycle once per value of the domain that satisfies it (docs/litmus.md, "Out of thin
    air")."""
    succ: dict[int, set[int]] = {}
    for e in list(needs) + list(source):
        out = succ.setdefault(e, set())
        out.update(needs.get(e, ()))
        if e in source:
            out.add(source[e])
    return _has_cycle(succ)


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


def _po_loc_pairs(sk: _Skeleton) -> dict[str, list[tuple[int, int]]]:
    """Per location, the pairs (a, b) of plain reads/writes with a po-before b in one thread."""
    pairs: dict[str, list[tuple[int, int]]] = {}
    for a, ea in enumerate(sk.events):
        if ea.kind not in (READ, WRITE) or sk.threads[a] < 0 or ea.loc is None:
            continue
        for b in range(a + 1, sk.n):
            eb = sk.events[b]
            if sk.threads[b] != sk.threads[a]:
                break
            if eb.loc == ea.loc and eb.kind in (READ, WRITE):
                pairs.setdefault(ea.loc, []).append((a, b))
    return pairs


def _cobase_acyclic(sk: _Skeleton, pairs: Mapping[str, list[tuple[int, int]]], source: Mapping[int, int],
                    fw: Mapping[str, int]) -> bool:
    """herd's ``ConsCo`` check of cos-opt.cat (``acyclic cobase``) on the base relations.

    ``cobase`` orders the writes of a location as the program forces them
    (po-loc between writes, and what reads-from reveals: a write read before a
    po-later write, a write overwritten before a po-later read, two po-ordered
    reads of different writes), plus initial-first and final-last.  A candidate
    whose cobase is cyclic has no coherence order and the model rejects it.
    """
    for loc, ws in sk.writes_by_loc.items():
        succ: dict[int, set[int]] = {w: set() for w in ws}
        init = sk.init_of.get(loc)
        if init is not None:
            succ[init].update(w for w in ws if w != init)
        last = fw.get(loc)
        if last is not None:
            for w in ws:
                if w != last:
                    succ[w].add(last)
        for a, b in pairs.get(loc, ()):
            ka, kb = sk.events[a].kind, sk.events[b].kind
            if ka == WRITE and kb == WRITE:
                succ[a].add(b)
            elif ka == READ and kb == WRITE:
                succ[source[a]].add(b)
            elif ka == WRITE and kb == READ:
                if source[b] != a:
                    succ[a].add(source[b])
            elif source[a] != source[b]:
                succ[source[a]].add(source[b])
        if _has_cycle(succ):
            return False
    return True


def _has_cycle(succ: Mapping[int, set[int]]) -> bool:
    """Whether the graph ``succ`` (node -> successors; a node with none may be left out) has a
    cycle: an iterative depth-first search."""
    state: dict[int, int] = {}  # 1 on the DFS stack, 2 done
    for root in succ:
        if root in state:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return True
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ.get(nxt, ()))))
    return False


def run_cat(test: LitmusTest, model: CatModel, model_name: str, *, prune: bool = True,
            speedcheck: str = "false") -> LitmusResult:
    """Every candidate execution of ``test`` checked by ``model``; herd's counts and states.

    ``speedcheck`` is herd7's ``-speedcheck``: with ``"true"`` only the candidates that can decide
    the condition are built (an ``exists`` conjunction's ``loc=v`` atoms fix those reads' and final
    writes' values) and only the executions that decide it are counted, so the verdict is exact
    and the counts are of those executions; ``"fast"`` also stops at the first; ``"auto"`` is
    ``"false"`` unless :func:`candidate_estimate` is above :data:`AUTO_SPEEDCHECK_CANDIDATES` and
    the counted candidates times the events of a candidate are above :data:`AUTO_SPEEDCHECK_WORK`
    (or there are more than :data:`AUTO_SPEEDCHECK_COMBOS` path combinations to count).

    With ``prune`` (and a model that runs cos-opt.cat's ``ConsCo`` check, as LKMM
    does through lock.cat), candidates whose reads-from already makes coherence
    impossible are not handed to the model: ``ConsCo`` would reject them on every
    path, and the models that include it (LKMM) only ever enlarge ``rf``, ``W``
    and ``co0`` before it, so a cycle among the base relations is a cycle there.
    """
    from rmapwalk.cat.context import Execution

    prune = prune and "ConsCo" in getattr(model, "checks", ())
    started = time.perf_counter()
    res = LitmusResult(test, model_name)
    for item in test.init:
        if item.array is not None:
            raise LitmusSemanticsError(item.pos, f"arrays ('{item.target}') are not supported under cat models; "
                                                 "use --model sc|tso|pso|weak")
    for loc in observed_locations(test):
        if isinstance(loc, LocMem) and loc.index is not None:
            raise LitmusSemanticsError(test.condition.pos, f"array element {loc} is not supported under cat models")
    locs = shared_locations(test)
    regs = register_inits(test)
    domains = value_domains(test, locs, regs)
    observed = observed_locations(test)
    filter_locs = prop_locations(test.filter)
    valued = list(dict.fromkeys([*observed, *filter_locs]))  # final values needed; only ``observed`` are shown
    shown = sorted(observed, key=loc_sort_key)  # a state lists its locations in herd's order
    observed_mem = sorted({loc.name for loc in valued if isinstance(loc, LocMem)})
    all_paths: list[list[Path]] = []
    for t in test.threads:
        ps = []
        for p in thread_paths(test, t, domains, regs.get(t.index, {})):
            if p.cutoff:
                res.cutoff = True
            else:
                ps.append(p)
        all_paths.append(ps)
    if speedcheck not in SPEEDCHECK_MODES:
        raise ValueError(f"speedcheck must be one of {SPEEDCHECK_MODES}, not {speedcheck!r}")
    if speedcheck == "auto":
        big = candidate_estimate(all_paths, observed_mem) > AUTO_SPEEDCHECK_CANDIDATES
        if big:  # (the estimate is loose: count them where that is cheap)
            count = candidate_count(all_paths, locs, observed_mem, AUTO_SPEEDCHECK_COMBOS)
            events = len(locs) + sum(max((len(p.events) for p in ps), default=0) for ps in all_paths)
            big = count is None or count * events > AUTO_SPEEDCHECK_WORK
        speedcheck = "true" if big else "false"
    res.speedcheck = speedcheck
    wanted = wanted_final_values(test, speedcheck=speedcheck != "false")
    if wanted:
        # a path whose final register breaks a wanted value is never relevant: drop it before the
        # product (for the kernel's RCU chains this is what takes 2^19 candidates down to one)
        for t, ps in zip(test.threads, all_paths, strict=True):
            want = {loc.reg: v for loc, v in wanted.items() if isinstance(loc, LocReg) and loc.thread == t.index}
            if want:
                init = regs.get(t.index, {})
                ps[:] = [p for p in ps
                         if all(same_value(p.regs.get(r, init.get(r, 0)), v) for r, v in want.items())]
    cond = test.condition.prop
    stop = False
    for combo in itertools.product(*all_paths):
        if stop:
            break
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
        fw_choices = [[w for w in sk.writes_by_loc.get(loc, [])
                       if LocMem(loc) not in wanted or same_value(sk.events[w].val or 0, wanted[LocMem(loc)])]
                      for loc in observed_mem]
        pairs = _po_loc_pairs(sk) if prune else {}
        needs = _value_needs(sk)
        for rf_pick in itertools.product(*rf_choices):
            source = dict(zip(sk.reads, rf_pick, strict=True))
            if needs and _thin_air(needs, source):
                res.thin_air += 1
                continue
            rf = [0] * sk.n
            for r, w in zip(sk.reads, rf_pick, strict=True):
                rf[w] |= 1 << r
            for fw_pick in itertools.product(*fw_choices):
                fw = dict(zip(observed_mem, fw_pick, strict=True))
                if prune and not _cobase_acyclic(sk, pairs, source, fw):
                    res.pruned += 1
                    continue
                final: dict[Loc, Value] = {}
                for loc in valued:
                    if isinstance(loc, LocReg):
                        final[loc] = reg_values.get(loc, 0)
                    else:
                        last = fw.get(loc.name)
                        fv = sk.events[last].val if last is not None else None
                        final[loc] = fv if fv is not None else locs.get(loc.name, 0)
                if test.filter is not None and not eval_prop(test.filter, final):
                    continue
                ok = eval_prop(cond, final)
                if speedcheck != "false" and not relevant(test, ok):
                    continue
                state: State = tuple((loc, final[loc]) for loc in shown)
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
                        if speedcheck == "fast":
                            stop = True
                            break
                    if stop:
                        break
                if stop:
                    break
            if stop:
                break
    res.seconds = time.perf_counter() - started
    return res
