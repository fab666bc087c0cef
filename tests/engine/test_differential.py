"""Differential testing: explore() against the brute-force operational machines of bruteforce.py.

Hypothesis generates small random programs as plain data (a list of instructions per thread),
which one deterministic interpreter turns into thread functions.  For every model the engine
must find exactly the brute force's set of complete outcomes, report blocked executions only
where the brute force finds some and always where a wait can never end, the same set of violated
properties, and visit no execution twice.  Under PSO the brute force
runs the variant the engine chose (``PSO_RELEASE_STORE``, ``PSO_FAILED_RMW``; the
``test_pso_choice_*`` tests show a program on which each choice matters).

The bottom of the file keeps the minimal reproducers of the engine bugs this file found.

``RMAPWALK_SLOW=1`` adds a larger, non-derandomized run (several minutes).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from bruteforce import BFResult, brute_force
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from rmapwalk.engine import (
    ONCE,
    RELEASE,
    Final,
    Program,
    assume,
    cmpxchg,
    explore,
    fence,
    fetch_add,
    load,
    observe,
    relax,
    store,
    xchg,
)

MODELS = ("sc", "tso", "pso")
LOC_NAMES = ("x", "y", "z")
LOAD_MODES = ("once", "plain", "acquire")
STORE_MODES = ("once", "plain", "release")
RMW_MODES = ("mb", "relaxed", "acquire", "release")
FENCE_KINDS = ("mb", "wmb", "rmb", "acquire", "release", "compiler")

# -- the program description --------------------------------------------------------------------
# Instructions (tuples; registers are named "r0", "r1", ... per thread, in definition order; an
# undefined register reads as 0):
#   ("ld", loc, mode, reg)                  reg = load(loc, mode); observe(reg)
#   ("st", loc, mode, src, const)           store(loc, (src or 0) + const, mode); src: reg or None
#   ("fence", kind)
#   ("cas", loc, old, new, mode, reg)       reg = cmpxchg(loc, old, new, mode); observe(reg)
#   ("xchg", loc, new, mode, reg)           reg = xchg(loc, new, mode); observe(reg)
#   ("fadd", loc, delta, mode, reg)         reg = fetch_add(loc, delta, mode); observe(reg)
#   ("if", reg, k, then, else)              branch on reg == k
#   ("assume", reg, k)                      assume(reg == k)
#   ("spin", loc, mode, k)                  while load(loc, mode) != k: relax()
#   ("assert", reg, k)                      assert reg != k
Instr = tuple[Any, ...]
Desc = dict[str, Any]  # {"nlocs": int, "threads": [[Instr]], "forbid": [(key, value)] | None}


def _run(instrs: list[Instr], locs: list[Any], regs: dict[str, Any]) -> None:
    for ins in instrs:
        op = ins[0]
        if op == "ld":
            _, loc, mode, reg = ins
            regs[reg] = v = load(locs[loc], mode)
            observe(reg, v)
        elif op == "st":
            _, loc, mode, src, const = ins
            base = regs.get(src, 0) if src is not None else 0
            store(locs[loc], base + const, mode)
        elif op == "fence":
            fence(ins[1])
        elif op == "cas":
            _, loc, old, new, mode, reg = ins
            regs[reg] = v = cmpxchg(locs[loc], old, new, mode)
            observe(reg, v)
        elif op == "xchg":
            _, loc, new, mode, reg = ins
            regs[reg] = v = xchg(locs[loc], new, mode)
            observe(reg, v)
        elif op == "fadd":
            _, loc, delta, mode, reg = ins
            regs[reg] = v = fetch_add(locs[loc], delta, mode)
            observe(reg, v)
        elif op == "if":
            _, reg, k, then, other = ins
            _run(then if regs.get(reg, 0) == k else other, locs, regs)
        elif op == "assume":
            assume(regs.get(ins[1], 0) == ins[2])
        elif op == "spin":  # a busy-wait loop, as kernel code writes one
            _, loc, mode, k = ins
            while load(locs[loc], mode) != k:
                relax()
        elif op == "assert":
            assert regs.get(ins[1], 0) != ins[2], f"{ins[1]} == {ins[2]}"
        else:  # pragma: no cover
            raise ValueError(op)


def _thread_fn(instrs: list[Instr], locs: list[Any]) -> None:
    _run(instrs, locs, {})


def build(desc: Desc) -> Program:
    """The program a description stands for."""
    p = Program("random")
    locs = [p.var(LOC_NAMES[i]) for i in range(desc["nlocs"])]
    for i, instrs in enumerate(desc["threads"]):
        p.thread(_thread_fn, instrs, locs, name=f"P{i}")
    forbid = desc.get("forbid")
    if forbid:
        p.forbid(lambda f: all(f.get(k) == v for k, v in forbid))
    return p


def show(desc: Desc) -> str:
    """A readable listing of a description (for failure messages)."""
    lines = [f"locations: {', '.join(LOC_NAMES[: desc['nlocs']])}"]

    def fmt(instrs: list[Instr], ind: str) -> None:
        for ins in instrs:
            if ins[0] == "if":
                lines.append(f"{ind}if {ins[1]} == {ins[2]}:")
                fmt(ins[3], ind + "    ")
                lines.append(f"{ind}else:")
                fmt(ins[4], ind + "    ")
            else:
                lines.append(f"{ind}{ins!r}")

    for i, instrs in enumerate(desc["threads"]):
        lines.append(f"P{i}:")
        fmt(instrs, "    ")
    if desc.get("forbid"):
        lines.append(f"forbid: {desc['forbid']!r}")
    return "\n".join(lines)


# -- strategies ---------------------------------------------------------------------------------
# A thread is either "mixed" (any instruction, branches, assume/assert) or litmus-style: a writer
# (stores and RMWs to distinct locations, fences between) or a reader (loads, fences between).
# The litmus styles make the classic shapes (MP, SB, 2+2W, WRC...) with a fence or release in
# some position frequent enough to be found.
def _reg(draw: Any) -> str:
    return f"r{draw(st.integers(0, 2))}"


@st.composite
def instruction(draw: Any, nlocs: int, depth: int, asserts: bool) -> Instr:
    kinds = ["ld", "ld", "st", "st", "st", "fence", "cas", "xchg", "fadd", "assume", "spin"]
    if asserts:
        kinds.append("assert")
    if depth == 0:
        kinds += ["if", "if"]
    kind = draw(st.sampled_from(kinds))
    loc = draw(st.integers(0, nlocs - 1))
    val = st.integers(0, 2)
    if kind == "ld":
        return ("ld", loc, draw(st.sampled_from(LOAD_MODES)), None)
    if kind == "st":
        src = draw(st.one_of(st.none(), st.just(_reg(draw))))
        return ("st", loc, draw(st.sampled_from(STORE_MODES)), src, draw(st.integers(0 if src else 1, 2)))
    if kind == "fence":
        return ("fence", draw(st.sampled_from(FENCE_KINDS)))
    mode = draw(st.sampled_from(RMW_MODES))
    if kind == "cas":
        return ("cas", loc, draw(val), draw(val), mode, None)
    if kind == "xchg":
        return ("xchg", loc, draw(val), mode, None)
    if kind == "fadd":
        return ("fadd", loc, draw(st.integers(1, 2)), mode, None)
    if kind == "spin":
        return ("spin", loc, draw(st.sampled_from(LOAD_MODES)), draw(st.integers(1, 2)))
    if kind in ("assume", "assert"):
        return (kind, _reg(draw), draw(val))
    # if
    sub = st.lists(instruction(nlocs, depth + 1, asserts), min_size=0, max_size=2)
    return ("if", _reg(draw), draw(val), draw(sub), draw(sub))


@st.composite
def writer_thread(draw: Any, nlocs: int, max_events: int) -> list[Instr]:
    """A litmus-style writer: stores (some release) and RMWs to locations taken in a random order,
    so that consecutive ones differ, with fences in between."""
    order = draw(st.permutations(range(nlocs)))
    out: list[Instr] = []
    k = 0
    for _ in range(draw(st.integers(2, max_events))):
        kind = draw(st.sampled_from(["st", "st", "st", "fence", "fence", "rmw"]))
        if kind == "fence":
            out.append(("fence", draw(st.sampled_from(FENCE_KINDS))))
            continue
        loc = order[k % nlocs]
        k += 1
        if kind == "st":
            out.append(("st", loc, draw(st.sampled_from(STORE_MODES)), None, draw(st.integers(1, 2))))
            continue
        mode = draw(st.sampled_from(RMW_MODES))
        op = draw(st.sampled_from(["cas", "xchg", "fadd"]))
        if op == "cas":
            out.append(("cas", loc, draw(st.integers(0, 1)), draw(st.integers(1, 2)), mode, None))
        elif op == "xchg":
            out.append(("xchg", loc, draw(st.integers(1, 2)), mode, None))
        else:
            out.append(("fadd", loc, 1, mode, None))
    return out


@st.composite
def reader_thread(draw: Any, nlocs: int, max_events: int) -> list[Instr]:
    """A litmus-style reader: loads of (mostly) different locations, fences in between."""
    order = draw(st.permutations(range(nlocs)))
    out: list[Instr] = []
    k = 0
    for _ in range(draw(st.integers(2, max_events))):
        if draw(st.integers(0, 3)) == 0:
            out.append(("fence", draw(st.sampled_from(FENCE_KINDS))))
            continue
        out.append(("ld", order[k % nlocs], draw(st.sampled_from(LOAD_MODES)), None))
        k += 1
    return out


def _name_regs(instrs: list[Instr], counter: list[int]) -> list[Instr]:
    """Give every value-returning instruction its own register name, in textual order."""
    out: list[Instr] = []
    for ins in instrs:
        if ins[0] in ("ld", "cas", "xchg", "fadd"):
            ins = ins[:-1] + (f"r{counter[0]}",)
            counter[0] += 1
        elif ins[0] == "if":
            ins = (ins[0], ins[1], ins[2], _name_regs(ins[3], counter), _name_regs(ins[4], counter))
        out.append(ins)
    return out


def _regs_of(instrs: list[Instr]) -> list[str]:
    out: list[str] = []
    for ins in instrs:
        if ins[0] in ("ld", "cas", "xchg", "fadd"):
            out.append(ins[-1])
        elif ins[0] == "if":
            out += _regs_of(ins[3]) + _regs_of(ins[4])
    return out


@st.composite
def program_desc(draw: Any, max_threads: int = 4, max_events: int = 4, asserts: bool = True) -> Desc:
    nlocs = draw(st.integers(2, 3))
    nthreads = draw(st.integers(2, max_threads))
    threads = []
    for _ in range(nthreads):
        style = draw(st.sampled_from(["mixed", "mixed", "writer", "reader"]))
        if style == "writer":
            instrs = draw(writer_thread(nlocs, max_events))
        elif style == "reader":
            instrs = draw(reader_thread(nlocs, max_events))
        else:
            instrs = draw(st.lists(instruction(nlocs, 0, asserts), min_size=1, max_size=max_events))
        threads.append(_name_regs(instrs, [0]))
    forbid = None
    if draw(st.booleans()):
        keys = [LOC_NAMES[i] for i in range(nlocs)]
        keys += [f"P{t}:{r}" for t, instrs in enumerate(threads) for r in _regs_of(instrs)]
        forbid = draw(st.lists(st.tuples(st.sampled_from(keys), st.integers(0, 2)), min_size=1, max_size=2))
    return {"nlocs": nlocs, "threads": threads, "forbid": forbid}


def _has(instrs: list[Instr], ops: tuple[str, ...]) -> bool:
    for ins in instrs:
        if ins[0] in ops:
            return True
        if ins[0] == "if" and (_has(ins[3], ops) or _has(ins[4], ops)):
            return True
    return False


# -- the check ------------------------------------------------------------------------------------
#: The PSO variant the engine implements (bruteforce.py's options).  The semantics this file was
#: written against (bruteforce.py's defaults) is {"release_store": "wmb", "failed_rmw": "ordered"};
#: the engine chose the kernel's weaker rules for both (models.py): a release store orders nothing
#: after it, and a failed cmpxchg orders nothing whatever its mode.  See test_pso_choice_* below.
PSO_RELEASE_STORE = "one-way"
PSO_FAILED_RMW = "load"


def engine_brute_force(prog: Program, model: str) -> BFResult:
    """The brute force, with the PSO variant the engine implements."""
    return brute_force(prog, model, release_store=PSO_RELEASE_STORE, failed_rmw=PSO_FAILED_RMW)


def check_against_brute_force(desc: Desc, models: tuple[str, ...] = MODELS, budget: int | None = None) -> None:
    """Compare explore() with the brute force on ``desc`` under each model.  With a ``budget``
    (of engine executions), a program that needs more is rejected (not counted as an example)."""
    for model in models:
        res = explore(build(desc), model, check_redundancy=True, keep_violations=50, max_executions=budget,
                      max_outcomes=None)
        if budget is not None and res.stats.executions >= budget:
            reject()
        bf = engine_brute_force(build(desc), model)
        got = set(res.outcomes)
        # the violated properties (only the first few violations are kept with their replays)
        kinds = {"assertion"} if res.stats.errors else set()
        kinds |= set(res.property_counts) - {"assertion", "forbidden outcome"}  # deadlocks and spins
        forbid = build(desc).conditions
        if any(c.kind == "forbid" and c.pred(Final(dict(o))) for o in got for c in forbid):
            kinds.add("forbidden outcome")
        ctx = f"model {model}\n{show(desc)}"
        diff = f"missing: {sorted(bf.outcomes - got)}\nextra: {sorted(got - bf.outcomes)}"
        blocked = res.stats.blocked > 0
        assert res.stats.redundant == 0, f"{ctx}\n{res.stats.redundant} redundant executions"
        assert res.incomplete_reason is None, ctx
        assert {v.kind for v in res.violations} <= kinds, ctx
        assert (res.verdict == "violated") == bool(kinds), ctx
        assert ("assertion" in kinds) == ("assertion" in bf.violations), f"{ctx}\n{kinds} vs {bf.violations}"
        assert got == bf.outcomes, f"{ctx}\n{diff}"
        # await-aware: the engine drops executions whose wait read a value a later write supersedes
        # (moot), so it reports blocked executions only where some exist, and must where a wait can
        # never end
        assert bf.stuck <= blocked <= bf.blocked, (
            f"{ctx}\nblocked: engine {res.stats.blocked}, brute force {bf.blocked} (stuck {bf.stuck})")
        assert kinds == bf.violations, f"{ctx}\nviolations: engine {kinds}, brute force {bf.violations}"


_COMMON: dict[str, Any] = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@settings(max_examples=1200, derandomize=True, **_COMMON)
@given(program_desc(max_threads=3, max_events=3, asserts=False))
def test_differential_3x3(desc: Desc) -> None:
    check_against_brute_force(desc)


@pytest.mark.slow  # (15-40 s: in CI's slow step, RMAPWALK_SLOW=1)
@settings(max_examples=250, derandomize=True, **_COMMON)
@given(program_desc(max_threads=4, max_events=4, asserts=False))
def test_differential_4x4(desc: Desc) -> None:
    check_against_brute_force(desc, budget=3000)


@settings(max_examples=400, derandomize=True, **_COMMON)
@given(program_desc(max_threads=3, max_events=3, asserts=True))
def test_differential_with_assertions(desc: Desc) -> None:
    check_against_brute_force(desc)


_SLOW = pytest.mark.skipif(not os.environ.get("RMAPWALK_SLOW"), reason="set RMAPWALK_SLOW=1 for the deep run")


@_SLOW
@settings(max_examples=3000, derandomize=False, **_COMMON)
@given(program_desc(max_threads=3, max_events=4, asserts=True))
def test_differential_deep_3x4(desc: Desc) -> None:
    check_against_brute_force(desc)


@_SLOW
@settings(max_examples=600, derandomize=False, **_COMMON)
@given(program_desc(max_threads=4, max_events=4, asserts=True))
def test_differential_deep_4x4(desc: Desc) -> None:
    check_against_brute_force(desc, budget=20000)


# -- regression tests: engine bugs this file found (minimal reproducers) ----------------------------
def _sb_relaxed_rmw(mode: str) -> Program:
    """SB under PSO with a relaxed RMW on a third location between P0's store and load.

    Operationally the RMW only waits for P0's buffered stores to z (there are none) and acts on
    memory; P0's store to x may still be buffered when P0 loads y, so r0=r1=0 is reachable.  The
    engine used to treat any successful RMW as a full fence for the stores before it.
    """
    p = Program(f"SB+xchg-{mode}-z+mb")
    x, y, z = p.var("x"), p.var("y"), p.var("z")

    def P0() -> None:
        store(x, 1, ONCE)
        xchg(z, 1, mode)
        observe("r0", load(y, ONCE))

    def P1() -> None:
        store(y, 1, ONCE)
        fence("mb")
        observe("r1", load(x, ONCE))

    p.thread(P0)
    p.thread(P1)
    return p


@pytest.mark.parametrize("mode", ["relaxed", "acquire"])
def test_regression_pso_relaxed_rmw_does_not_order_earlier_stores(mode: str) -> None:
    p = _sb_relaxed_rmw(mode)
    bf = engine_brute_force(p, "pso")
    assert (("P0:r0", 0), ("P1:r1", 0), ("x", 1), ("y", 1), ("z", 1)) in bf.outcomes
    assert set(explore(p, "pso").outcomes) == bf.outcomes


def _failed_cas_forwarding(mode: str) -> Program:
    """P0's cmpxchg on y fails (it reads P0's own 2).  Operationally it waits for the store y=2 to
    reach memory before reading, so P1 (which reads x=2, written after the cmpxchg) cannot store
    y=1 before y=2: final y=2 with P1:r=2 is unreachable.  The engine used to let the failed
    cmpxchg read y=2 from the store buffer (a failed RMW was a plain load) and allowed it."""
    p = Program(f"failed-cmpxchg-{mode}")
    x, y = p.var("x"), p.var("y")

    def P0() -> None:
        store(y, 2, ONCE)
        r = cmpxchg(y, 0, 0, mode)
        observe("r", r)
        store(x, r, ONCE)

    def P1() -> None:
        observe("r", load(x, ONCE))
        store(y, 1, ONCE)

    p.thread(P0)
    p.thread(P1)
    return p


@pytest.mark.parametrize("mode", ["relaxed", "acquire"])
def test_regression_pso_failed_cmpxchg_does_not_read_own_buffer(mode: str) -> None:
    p = _failed_cas_forwarding(mode)
    bf = engine_brute_force(p, "pso")
    assert (("P0:r", 2), ("P1:r", 2), ("x", 2), ("y", 2)) not in bf.outcomes
    assert set(explore(p, "pso").outcomes) == bf.outcomes


def _assert_then_store() -> Program:
    """P0 fails its assertion when it reads x=0; reading P1's x=1 completes, with a forbidden
    outcome.  The engine used to run P0 first, stop the execution at the failed assertion before P1
    had added its store, and so never revisit P0's read: it reported neither the outcome nor the
    forbidden-outcome violation."""
    p = Program("assert-cutoff")
    x = p.var("x")

    def P0() -> None:
        r = load(x, ONCE)
        observe("r", r)
        assert r != 0

    def P1() -> None:
        store(x, 1, ONCE)

    p.thread(P0)
    p.thread(P1)
    p.forbid(lambda f: f["P0:r"] == 1)
    return p


@pytest.mark.parametrize("model", MODELS)
def test_regression_assertion_does_not_cut_exploration(model: str) -> None:
    p = _assert_then_store()
    bf = engine_brute_force(p, model)
    assert bf.outcomes == {(("P0:r", 1), ("x", 1))}
    assert bf.violations == {"assertion", "forbidden outcome"}
    res = explore(p, model, keep_violations=10)
    assert set(res.outcomes) == bf.outcomes
    assert {v.kind for v in res.violations} == bf.violations


def test_regression_event_limit_does_not_hide_violation() -> None:
    """Same cut for the event limit: P0 spins while x == 0; the execution where it reads P1's x=1
    (a forbidden outcome) was never explored, and the verdict was 'incomplete', not 'violated'."""
    p = Program("limit-cutoff")
    x, y = p.var("x"), p.var("y")

    def P0() -> None:
        r = load(x, ONCE)
        observe("r", r)
        while r == 0:
            load(y, ONCE)

    def P1() -> None:
        store(x, 1, ONCE)

    p.thread(P0)
    p.thread(P1)
    p.forbid(lambda f: f["P0:r"] == 1)
    res = explore(p, "sc", max_events=10)
    assert res.verdict == "violated"



# -- the PSO choices: programs on which the two variants of each option differ ----------------------
def _mp_release_in_the_middle() -> Program:
    """x=1; store_release(y, 1); z=1 against a reader of z then x.  With a release store that is
    a wmb before the store, x=1 reaches memory before z=1: r0=1,r1=0 is unreachable.  With a
    one-way release (the LKMM's), z=1 may pass both earlier stores."""
    p = Program("MP+po-rel-po")
    x, y, z = p.var("x"), p.var("y"), p.var("z")

    def P0() -> None:
        store(x, 1, ONCE)
        store(y, 1, RELEASE)
        store(z, 1, ONCE)

    def P1() -> None:
        r0 = load(z, ONCE)
        r1 = load(x, ONCE)
        observe("r0", r0)
        observe("r1", r1)

    p.thread(P0)
    p.thread(P1)
    return p


def _failed_cmpxchg_after_store(mode: str) -> Program:
    """P0: x=1 then a cmpxchg of y that fails when it reads 0.  P1: y=1; mb; x=2.  r0=0 with
    final x=1 needs P0's x=1 to reach memory after the failed cmpxchg read y=0: impossible if a
    failed mb/release cmpxchg waits for the store buffer like a successful one."""
    p = Program(f"R+failed-cmpxchg-{mode}")
    x, y = p.var("x"), p.var("y")

    def P0() -> None:
        store(x, 1, ONCE)
        observe("r0", cmpxchg(y, 1, 0, mode))

    def P1() -> None:
        store(y, 1, ONCE)
        fence("mb")
        store(x, 2, ONCE)

    p.thread(P0)
    p.thread(P1)
    return p


def test_pso_choice_release_store() -> None:
    p = _mp_release_in_the_middle()
    weak = (("P1:r0", 1), ("P1:r1", 0), ("x", 1), ("y", 1), ("z", 1))
    assert weak not in brute_force(p, "pso", release_store="wmb").outcomes
    assert weak in brute_force(p, "pso", release_store="one-way").outcomes
    assert set(explore(p, "pso").outcomes) == engine_brute_force(p, "pso").outcomes


@pytest.mark.parametrize("mode", ["mb", "release"])
def test_pso_choice_failed_cmpxchg(mode: str) -> None:
    p = _failed_cmpxchg_after_store(mode)
    weak = (("P0:r0", 0), ("x", 1), ("y", 1))
    assert weak not in brute_force(p, "pso", failed_rmw="ordered").outcomes
    assert weak in brute_force(p, "pso", failed_rmw="load").outcomes
    assert set(explore(p, "pso").outcomes) == engine_brute_force(p, "pso").outcomes
    # TSO: a failed lock cmpxchg is still a locked instruction, a full barrier
    assert weak not in explore(p, "tso").outcomes
