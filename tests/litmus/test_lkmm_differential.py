"""Random litmus tests: the engine under ``lkmm`` and the official ``linux-kernel.cat`` agree exactly.

The same C text goes through two independent back ends: the engine (TruSt exploration with
dependency tracking, load-buffering revisits by dependency prefix, and LKMM written in Python,
``rmapwalk.engine.lkmm``) and herd-style candidate enumeration running the kernel's own model
files from ``../shared/lkmm/model`` through the cat interpreter.  The programs use marked and
plain accesses, address, data and control dependencies (with code after the join), fences,
acquire/release, RMWs, spinlocks and RCU; both back ends must give the same final states, the
same number of executions ending in each, and the same flags (``data-race``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmapwalk.litmus.runner import LB_SEARCHES, ModelSpec, run_test

LKMM = Path(__file__).resolve().parents[2].parent / "shared" / "lkmm"
CFG = LKMM / "model" / "linux-kernel.cfg"

pytestmark = pytest.mark.skipif(not CFG.is_file(), reason=f"the LKMM files are not at {LKMM} (../shared/lkmm)")

VARS = ("x", "y", "z")
VALUES = (1, 2)


@st.composite
def statement(draw: st.DrawFn, reg: str, prev: str | None) -> str:
    v = draw(st.sampled_from(VARS))
    w = draw(st.sampled_from(VARS))
    c = draw(st.sampled_from(VALUES))
    kinds = ["write", "read", "plainw", "plainr", "mb", "wmb", "rmb", "release", "acquire", "xchg",
             "cmpxchg", "inc", "ifread", "ifelse", "lock", "rcu", "sync", "publish", "deref", "rcuderef"]
    if prev is not None:
        kinds += ["data", "ctrl", "ctrljoin"]
    kind = draw(st.sampled_from(kinds))
    if kind == "write":
        return f"WRITE_ONCE(*{v}, {c});"
    if kind == "read":
        return f"{reg} = READ_ONCE(*{v});"
    if kind == "plainw":
        return f"*{v} = {c};"
    if kind == "plainr":
        return f"{reg} = *{v};"
    if kind in ("mb", "wmb", "rmb"):
        return f"smp_{kind}();"
    if kind == "release":
        return f"smp_store_release({v}, {c});"
    if kind == "acquire":
        return f"{reg} = smp_load_acquire({v});"
    if kind == "xchg":
        return f"{reg} = xchg_relaxed({v}, {c});" if draw(st.booleans()) else f"{reg} = xchg({v}, {c});"
    if kind == "cmpxchg":
        old = draw(st.sampled_from((0, *VALUES)))
        return f"{reg} = cmpxchg({v}, {old}, {c});"
    if kind == "inc":
        return f"atomic_inc({v});"
    if kind == "ifread":
        return f"{reg} = READ_ONCE(*{v}); if ({reg} == {c}) WRITE_ONCE(*{w}, {c});"
    if kind == "ifelse":
        return f"{reg} = READ_ONCE(*{v}); if ({reg}) {{ WRITE_ONCE(*{w}, 1); }} else {{ {reg} = READ_ONCE(*{w}); }}"
    if kind == "lock":
        return f"spin_lock(l); WRITE_ONCE(*{v}, {c}); spin_unlock(l);"
    if kind == "rcu":
        return f"rcu_read_lock(); {reg} = READ_ONCE(*{v}); rcu_read_unlock();"
    if kind == "sync":
        return "synchronize_rcu();"
    if kind == "publish":  # p points to x at first; a writer moves it
        return f"rcu_assign_pointer(*p, {v});" if draw(st.booleans()) else f"WRITE_ONCE(*p, {v});"
    if kind == "deref":  # an address dependency: the second read's address is the first's value
        return f"{reg} = READ_ONCE(*p); {reg} = READ_ONCE(*{reg});"
    if kind == "rcuderef":
        return f"rcu_read_lock(); {reg} = rcu_dereference(*p); {reg} = READ_ONCE(*{reg}); rcu_read_unlock();"
    assert prev is not None
    if kind == "data":
        return f"WRITE_ONCE(*{v}, {prev});"
    if kind == "ctrl":
        return f"if ({prev}) WRITE_ONCE(*{v}, {c});"
    return f"if ({prev} == {c}) {{ WRITE_ONCE(*{w}, 2); }} WRITE_ONCE(*{v}, {c});"


@st.composite
def litmus_text(draw: st.DrawFn) -> str:
    n_threads = draw(st.integers(2, 3))
    threads = []
    observed = []
    for t in range(n_threads):
        n = draw(st.integers(1, 3))
        body = []
        prev = None
        for i in range(n):
            reg = f"r{i}"
            s = draw(statement(reg, prev))
            body.append("\t" + s)
            if reg + " =" in s:
                observed.append(f"{t}:{reg}")
                prev = reg
        regs = "".join(f"\tint r{i};\n" for i in range(n))
        threads.append(f"P{t}(int *x, int *y, int *z, int *p, spinlock_t *l)\n{{\n{regs}" + "\n".join(body)
                       + "\n}\n")
    observed += ["x", "y"]
    cond = " /\\ ".join(f"{loc}={draw(st.sampled_from((0, *VALUES)))}" for loc in observed[:3])
    init = "{\n\tint *p=x;\n}\n\n"
    return "C random\n\n" + init + "\n".join(threads) + f"\nlocations [{'; '.join(observed)}]\nexists ({cond})\n"


def _run(text: str, spec: ModelSpec) -> object:
    fd, path = tempfile.mkstemp(suffix=".litmus")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return run_test(path, spec)
    finally:
        os.unlink(path)


#: how many random programs (the closing note of the LKMM issue reports this number)
EXAMPLES = int(os.environ.get("RMAPWALK_LKMM_EXAMPLES", "150"))
#: the default suite runs a fixed set of programs (reproducible in CI); RMAPWALK_LKMM_RANDOM=1
#: draws new ones each run (a longer campaign: RMAPWALK_LKMM_EXAMPLES=2000)
DERANDOMIZE = not os.environ.get("RMAPWALK_LKMM_RANDOM")


@settings(max_examples=EXAMPLES, deadline=None, derandomize=DERANDOMIZE, suppress_health_check=[HealthCheck.too_slow])
@given(litmus_text(), st.sampled_from(["lkmm"]))
def test_engine_lkmm_and_linux_kernel_cat_agree(text: str, model: str) -> None:
    cat = _run(text, ModelSpec(conf=str(CFG)))
    eng = _run(text, ModelSpec(engine=model))
    assert dict(eng.states) == dict(cat.states), text  # type: ignore[attr-defined]
    assert (eng.positive, eng.negative) == (cat.positive, cat.negative), text  # type: ignore[attr-defined]
    assert set(eng.flags) == set(cat.flags), text  # type: ignore[attr-defined]


def _prog(*threads: str, locs: str = "x; y") -> str:
    """A litmus program of the random campaign's shape from thread bodies (one string each)."""
    head = "(int *x, int *y, int *z, int *p, spinlock_t *l)\n{\n\tint r0;\n\tint r1;\n\tint r2;\n"
    ps = "".join(f"P{t}{head}{body}\n}}\n\n" for t, body in enumerate(threads))
    return f"C fixed\n\n{{\n\tint *p=x;\n}}\n\n{ps}locations [{locs}]\nexists (x=0)\n"


#: programs of the random campaign (shrunk) that the engine once got wrong, or that a tempting
#: change to the load-buffering revisits gets wrong (each comment says why)
FIXED = [
    # two RMWs on each of two locations (LB through RMWs): an RMW may read a write that another
    # RMW read when that RMW is in its (po | rf)-prefix but outside its dependency prefix (its
    # write revisits it, keeping the cycle); main counted 3 executions, cat 4
    _prog("\tatomic_inc(y);\n\tatomic_inc(z);", "\tatomic_inc(z);\n\tatomic_inc(y);", locs="y; z"),
    # ... but not when the other RMW is a spin_lock that would then find the lock held: its
    # thread waits, the events that made the cycle are gone, and the executions reached that
    # way are reached by the ordinary revisits too (11 counted instead of 9 without the check)
    _prog("\trcu_read_lock(); r1 = READ_ONCE(*y); rcu_read_unlock();",
          "\tspin_lock(l); WRITE_ONCE(*y, 1); spin_unlock(l);",
          "\tr0 = cmpxchg(y, 2, 2);\n\tspin_lock(l); WRITE_ONCE(*y, 1); spin_unlock(l);", locs="0:r1; 2:r0; y"),
    # a work item that dropped its graph (a thread no longer made a kept event) left the
    # graph's 'broken' mark set, and the level's later work items were dropped with it (locks:
    # main counted 5 executions, cat 4)
    _prog("\tr0 = READ_ONCE(*y);", "\tspin_lock(l); WRITE_ONCE(*z, 2); spin_unlock(l);",
          "\tspin_lock(l); WRITE_ONCE(*z, 1); spin_unlock(l);\n\tWRITE_ONCE(*y, 1);", locs="0:r0; y"),
    _prog("\tspin_lock(l); WRITE_ONCE(*y, 1); spin_unlock(l);\n\tspin_lock(l); WRITE_ONCE(*z, 2); spin_unlock(l);",
          "\trcu_read_lock(); r0 = READ_ONCE(*z); rcu_read_unlock();\n"
          "\tspin_lock(l); WRITE_ONCE(*y, 1); spin_unlock(l);",
          locs="1:r0; y"),
    # a write in a branch and the same write after the join, on one source line, are two
    # program points: a kept event is matched with its dependency shape (main counted 5
    # executions, cat 6) ...
    _prog("\tr0 = READ_ONCE(*x);\n\tif (r0 == 2) { WRITE_ONCE(*x, 2); } WRITE_ONCE(*z, 2);",
          "\tr0 = READ_ONCE(*z);\n\tif (r0 == 2) { WRITE_ONCE(*x, 2); } WRITE_ONCE(*x, 2);", locs="0:r0; 1:r0; x"),
    # ... and no execution is made twice
    _prog("\tr0 = READ_ONCE(*z); if (r0 == 2) WRITE_ONCE(*z, 2);", "\t*x = 2;",
          "\tr0 = READ_ONCE(*x);\n\tif (r0 == 2) { WRITE_ONCE(*z, 2); } WRITE_ONCE(*z, 2);", locs="0:r0; 2:r0; x; z"),
    # a write made again in its gap goes co-before its thread's kept later write
    _prog("\tr0 = READ_ONCE(*x);", "\tWRITE_ONCE(*x, 1);\n\tWRITE_ONCE(*x, 1);", "\tatomic_inc(x);", locs="0:r0; x"),
    # a deleted read po-before the revisiting write, with its thread's kept later RMW
    _prog("", "\tatomic_inc(y);", "\tr0 = READ_ONCE(*y);\n\tatomic_inc(y);", locs="2:r0; y"),
    # a three-thread LB cycle through a failed cmpxchg: the revisit of P1's cmpxchg by P0's
    # write deletes P1's write of x and P2's read of it, but keeps P2's later write of x, which
    # coherence put co-after the deleted write only because the deleted read read it; the
    # deleted write counts as added maximally all the same, and P2's read, made again in its
    # gap, reads P1's write again (cat: 2 executions with every r0 = 1, engine 1)
    _prog("\tr0 = READ_ONCE(*x); if (r0 == 1) WRITE_ONCE(*z, 1);", "\tr0 = cmpxchg(z, 0, 1);\n\tWRITE_ONCE(*x, 1);",
          "\tr0 = READ_ONCE(*x);\n\tWRITE_ONCE(*x, 1);", locs="0:r0; 1:r0; 2:r0; x"),
    # an RMW whose read makes the graph inconsistent (P2's atomic_inc reads P1's z, which P0's
    # successful, fully ordered cmpxchg also read: an hb cycle) still pushes its write's
    # revisits: the one of P0's cmpxchg, in that write's (po | rf)-prefix through the cycle,
    # makes it fail, and the execution is consistent (cat: 6 executions, engine 5)
    _prog("\tr0 = cmpxchg(z, 2, 2);\n\tr1 = xchg_relaxed(x, 2);",
          "\tr0 = READ_ONCE(*x); if (r0 == 2) WRITE_ONCE(*z, 2);", "\tatomic_inc(z);",
          locs="0:r0; 0:r1; 1:r0; x; z"),
    # two reads of one write in an LB cycle: P0's read of z and P1's failed cmpxchg both read
    # P2's z, which depends on P2's xchg reading P1's xchg, po-after the cmpxchg; the revisit of
    # either read keeps the other (in the write's (po | rf)-prefix, outside its dependency
    # prefix) with its old value, so the new graph pushes the write's revisits of the reads
    # kept so (cat: 8 executions, engine 7)
    _prog("\tr1 = READ_ONCE(*z); if (r1) { WRITE_ONCE(*x, 1); } else { r1 = READ_ONCE(*x); }",
          "\tr1 = cmpxchg(z, 2, 2);\n\tr2 = xchg_relaxed(y, 1);", "\tr1 = xchg(y, 2);\n\tWRITE_ONCE(*z, r1);",
          locs="0:r1; 1:r1; 1:r2; 2:r1; x; y"),
    # a deleted write whose coherence place is forced: P2's write of z, put before P1's by a
    # forward revisit so that P2's later read of z can read P1's; the revisit of P1's read of x
    # by P2's write of x (which depends on that read) deletes P2's write of z and keeps the
    # read, so the write made again can only go before what the read reads: it counts as added
    # maximally where no kept write lies between it and that place (cat: 9 executions, engine 7)
    _prog("", "\tr1 = READ_ONCE(*x); if (r1) { WRITE_ONCE(*x, 1); } else { r1 = READ_ONCE(*x); }\n"
              "\tWRITE_ONCE(*z, 1);",
          "\tWRITE_ONCE(*z, 2);\n\tr1 = READ_ONCE(*z); if (r1) { WRITE_ONCE(*x, 1); } else { r1 = READ_ONCE(*x); }",
          locs="1:r1; 2:r1; x; y"),
    # a load-buffering cycle through a read the revisit did not mark: P0's atomic_inc reads
    # P2's x by a revisit that was one (P1's read of x read P0's write), then P1's read of x
    # reads P2's x too (a forward choice); the first cycle is gone but the second is one, so
    # the execution is no duplicate of an ordinary one (cat: 1 execution more than the engine).
    # Once found, the revisit of P1's read pushed from the graph in which P0's atomic_inc reads
    # P2's x (a kept later read, which no later write revisits) restricted the graph to P2's
    # write, dropping the atomic_inc's write half (added after) and keeping its read: an RMW
    # with no write, counted once too many (cat 3, engine 4) until such writes were restored
    _prog("\tatomic_inc(x);", "\tr1 = READ_ONCE(*p); r1 = READ_ONCE(*r1);\n\tatomic_inc(y);",
          "\tr0 = READ_ONCE(*y); if (r0) { WRITE_ONCE(*x, 1); } else { r0 = READ_ONCE(*x); }",
          locs="0:r0; 1:r1; 2:r0; x; y"),
    # a random program kept whole: the load-buffering revisits pushed for kept later reads (the
    # fourth rule in docs/design.md) are made without TruSt's maximality check (with it, the
    # first KNOWN program missed one more outcome), so they can make an execution the ordinary
    # revisits make too, with no load-buffering cycle in it; every execution under load
    # buffering is counted once by the table of _finish, not only those with a cycle (cat 47
    # executions, engine 52 when the table held only cyclic ones)
    _prog("\tsmp_rmb();\n"
          "\tsmp_wmb();\n"
          "\trcu_read_lock(); r2 = rcu_dereference(*p); r2 = READ_ONCE(*r2); rcu_read_unlock();",
          "\tr0 = xchg(x, 1);\n"
          "\tsmp_store_release(x, 2);\n"
          "\tr2 = cmpxchg(x, 2, 1);",
          "\tr0 = READ_ONCE(*p); r0 = READ_ONCE(*r0);\n"
          "\tatomic_inc(x);",
          locs="0:r2; 1:r0; 1:r2; 2:r0; x; y"),
    # an LB cycle through an RMW's write: P1's read of x reads P0's atomic_inc, which reads P2's
    # write of x, which depends on P1's inc of y po-after the read.  P1's read is kept (with
    # the value of P1's own write, a forward choice) by the revisit of P0's atomic_inc by P2's
    # write; the RMW's new write half must still revisit it, without TruSt's maximality check
    # (a kept read no later write revisits), and the revisits pushed from the graph a revisit
    # made restrict it to what it held then, RMW write halves included (cat 5 executions with
    # 1:r1=2 x=2, engine 4; one with 1:r1=1 x=2 missed before that)
    _prog("\tatomic_inc(x);",
          "\tsmp_store_release(x, 2);\n\tr1 = READ_ONCE(*p); r1 = READ_ONCE(*r1);\n\tatomic_inc(y);",
          "\tr0 = READ_ONCE(*y); if (r0) { WRITE_ONCE(*x, 1); } else { r0 = READ_ONCE(*x); }",
          locs="0:r0; 1:r1; 2:r0; x; y"),
    # the read a load-buffering revisit changes may itself have been revisited by a write the
    # revisit deletes: P0's xchg reads P2's x (which needs P1's inc of y, po-after P1's read of
    # x), then P1's read reads P0's later write of x with P1's write of x between P0's two
    # (cat 3 executions with 0:r0=1 1:r1=1 x=1, engine 2): reached only by revisiting P0's
    # xchg, which read P1's write of x by a revisit, so that P1's write is made again last
    _prog("\tr0 = xchg_relaxed(x, 2);\n\tif (r0) WRITE_ONCE(*x, 1);",
          "\tsmp_store_release(x, 2);\n\tr1 = READ_ONCE(*p); r1 = READ_ONCE(*r1);\n\tatomic_inc(y);",
          "\tr0 = READ_ONCE(*y); if (r0) { WRITE_ONCE(*x, 1); } else { r0 = READ_ONCE(*x); }",
          locs="0:r0; 1:r1; 2:r0; x; y"),
    # from a fresh campaign (3,390 programs, 15 missed): an xchg whose write half its own
    # thread reads back (rfi), then a control dependency to a write another thread's LB cycle
    # needs.  An exchange writes what it writes whatever it read (an inc does not): the
    # revisit of the xchg by that cycle keeps its write half and is no value out of thin air
    # (cat 1 execution with 0:r0=1 0:r1=2, engine 0 while every RMW's write depended on its read)
    _prog("\tr0 = xchg_relaxed(y, 2);\n"
          "\tr1 = READ_ONCE(*y); if (r1) { WRITE_ONCE(*z, 1); } else { r1 = READ_ONCE(*z); }",
          "\tr0 = READ_ONCE(*z); if (r0) { WRITE_ONCE(*y, 1); } else { r0 = READ_ONCE(*y); }",
          "",
          locs="0:r0; 0:r1; 1:r0; 1:r1; x; y"),
    # ... but only the write half of the read the revisit changes stays: P2's xchg reads P0's
    # inc, which the revisit of P0's inc deletes and makes again, so P2's xchg goes with it (an
    # exchange whose write stayed without its read crashed the exploration)
    _prog("\tatomic_inc(y);\n"
          "\tr1 = READ_ONCE(*y); if (r1) { WRITE_ONCE(*z, 1); } else { r1 = READ_ONCE(*z); }",
          "\t*z = 1;\n\tr1 = READ_ONCE(*x);",
          "\tr0 = xchg_relaxed(y, 1);",
          locs="0:r1; 1:r1; 2:r0; x; y"),
    # LB through two unordered po pairs and a control dependency, marked accesses only: P0's
    # read of x reads P2's write, which needs P2 to read P1's z=2, written after P1 read P0's
    # z=1, written after P0's read of x.  The revisit keeps P1's write of z=2 and deletes the
    # read before it that put P0's z=1 co-before it; P0's deleted read of z (init) is then
    # maximal: a kept write placed by coherence through a deleted read does not count against
    # it (cat 12 executions, engine 11)
    _prog("\tr0 = READ_ONCE(*x);\n\tr1 = READ_ONCE(*z);\n\tWRITE_ONCE(*z, 1);",
          "\tr0 = READ_ONCE(*z);\n\tWRITE_ONCE(*z, 2);",
          "\tr0 = READ_ONCE(*z);\n\tif (r0 == 2) { WRITE_ONCE(*x, 2); }",
          locs="0:r0; 0:r1; 1:r0; 2:r0"),
    # the same with P1's pair an xchg (kept whole): P0's deleted read of z, made again before
    # P0's kept write of z, can read nothing co-after that write, so kept writes there do not
    # make its old choice (init) non-maximal (cat 12 executions, engine 11)
    _prog("\tr0 = READ_ONCE(*x);\n\tr1 = READ_ONCE(*z);\n\tWRITE_ONCE(*z, 1);",
          "\tr0 = xchg_relaxed(z, 2);",
          "\tr0 = smp_load_acquire(z);\n\tif (r0 == 2) { WRITE_ONCE(*x, 2); }",
          locs="0:r0; 0:r1; 1:r0; 2:r0"),
    # plain accesses in an LB cycle: P2's first read of x, deleted by the revisit of P0's read
    # of z, read a write co-before what its kept second read reads, not the latest; made again
    # its first choice is the latest write below that bound, so it counts as maximal (cat 3
    # executions with 2:r2=1 x=2, engine 0)
    _prog("\tr0 = READ_ONCE(*z);\n"
          "\t*x = 2;",
          "\tr1 = READ_ONCE(*x); if (r1) { WRITE_ONCE(*x, 1); } else { r1 = READ_ONCE(*x); }\n"
          "\t*x = 2;",
          "\tr1 = READ_ONCE(*x);\n"
          "\tr2 = READ_ONCE(*x); if (r2 == 1) WRITE_ONCE(*z, 1);",
          locs="0:r0; 1:r1; 2:r0; 2:r1; 2:r2; x; y"),
    # two increments racing in an LB cycle: P1's inc reads P2's z, P0's inc reads P1's, and P2
    # read P0's y, written after P0's inc (cat 6 executions with 2:r1=2, engine 5).  Made by
    # P1's write half revisiting P0's inc, from the graph where P0's inc read the initial z:
    # P2's z, between, is read by P1's kept inc (atomicity: P0's could never read it), and P0's
    # deleted write half sat where atomicity put it, right after what P0's inc read
    _prog("\tatomic_inc(z);\n\tWRITE_ONCE(*y, 2);",
          "\tatomic_inc(z);",
          "\tr1 = READ_ONCE(*y);\n\tWRITE_ONCE(*z, 1);",
          locs="2:r1; y; z"),
    # no RMW, no lock: P1's read of z, revisited by P2's write of z (po-after P2's read of P1's
    # release), changes P1's branch from a read of x to a write of x before the kept release.
    # P0's read of x was in P2's (po | rf)-prefix only through P1's deleted read of x: it stays
    # revisitable, and P1's new write of x revisits it (cat 36 executions, 6 reaching the
    # condition; engine 32, 4 while the whole old prefix was made non-revisitable)
    _prog("\tr0 = READ_ONCE(*x);\n\tsmp_store_release(x, 1);",
          "\tr0 = READ_ONCE(*z); if (r0) { WRITE_ONCE(*x, 1); } else { r0 = READ_ONCE(*x); }\n"
          "\tsmp_store_release(x, 2);",
          "\tr0 = READ_ONCE(*x);\n\tWRITE_ONCE(*z, 2);",
          locs="0:r0; 1:r0; 2:r0; x"),
    # atomic_inc, a release and two lock-protected writes (cat 2 executions with 1:r0=1
    # y=3, engine 1): the work item that gives P2's spin_lock the initial lock restricted the
    # graph first, and the restriction judged P2 by its old value (the lock held: P2 waits
    # before its kept unlock), marking the graph broken; the mark outlived the new value
    _prog("\tatomic_inc(y);\n"
          "\tsmp_store_release(z, 1);",
          "\tr0 = READ_ONCE(*z);\n"
          "\tspin_lock(l); WRITE_ONCE(*y, 2); spin_unlock(l);",
          "\tspin_lock(l); WRITE_ONCE(*x, 2); spin_unlock(l);",
          locs="1:r0; 1:r1; 2:r1; x; y"),

    # P0's atomic_inc reads P1's x written in its lock, P1's xchg reads P0's z written under a
    # control dependency on P0's read of P2's y (cat 1 execution, engine 0).  P0's inc, given
    # P1's write by a backward revisit, kept its place in the order of addition (before P1's
    # events), so a later revisit of P1's xchg kept the inc and deleted the write it read, and
    # found that write not maximal; a revisited read now counts as added at its revisit (TruSt)
    _prog("\tatomic_inc(x);\n\tr1 = READ_ONCE(*y); if (r1) { WRITE_ONCE(*z, 1); } else { r1 = READ_ONCE(*z); }",
          "\tr1 = xchg(z, 1);\n\tspin_lock(l); WRITE_ONCE(*x, 2); spin_unlock(l);", "\tatomic_inc(y);",
          locs="0:r1; 1:r1; x; y"),
    # a lock, an inc and a control dependency in an LB cycle (cat 18 executions, engine 16:
    # two of the co orders of x with 0:r0=1 2:r2=1 before revisited reads counted as added at
    # their revisit)
    _prog("\tr0 = READ_ONCE(*y); if (r0) { WRITE_ONCE(*z, 1); } else { r0 = READ_ONCE(*z); }\n"
          "\tatomic_inc(x);",
          "\tWRITE_ONCE(*x, 2);",
          "\tspin_lock(l); WRITE_ONCE(*y, 1); spin_unlock(l);\n"
          "\tatomic_inc(x);\n"
          "\tr2 = READ_ONCE(*y); if (r2) { WRITE_ONCE(*y, 1); } else { r2 = READ_ONCE(*y); }",
          locs="0:r0; 0:r2; 1:r1; 2:r2; x; y"),
    # a dependent load through a pointer P0 publishes: the second read of P2 reads x or y
    # depending on the first.  An execution's name listed the coherence order of every location
    # any branch had touched, empty ones included, so one execution had two names and was
    # counted twice once revisited reads were restamped (cat 15 executions, engine 19)
    _prog("\trcu_assign_pointer(*p, y);\n\tr1 = READ_ONCE(*p); r1 = READ_ONCE(*r1);",
          "\tr0 = READ_ONCE(*z);\n\tWRITE_ONCE(*y, 1);\n\tsmp_wmb();",
          "\trcu_read_lock(); r0 = rcu_dereference(*p); r0 = READ_ONCE(*r0); rcu_read_unlock();\n"
          "\tsmp_store_release(y, 2);",
          locs="0:r1; 1:r0; 2:r0; x; y"),
    # from a third fresh campaign: P0 reads P1's plain x, written after P1 read P0's y (an LB
    # cycle through a release).  Every graph that could make the revisit of P0's read deleted a
    # write of y that TruSt keeps (in the revisiting write's prefix, outside its dependency
    # prefix) and found it non-maximal (cat 6 executions, engine 5)
    _prog("\tr1 = READ_ONCE(*x);\n\tsmp_store_release(y, 2);",
          "\tsmp_store_release(y, 2);\n\trcu_read_lock(); r1 = READ_ONCE(*y); rcu_read_unlock();\n\t*x = 1;",
          locs="0:r0; 0:r1; 1:r1; x; y"),
    # from a fourth fresh campaign, the only program where the engine found an execution cat
    # forbids: P2's atomic_inc reads P1's cmpxchg, P2 reads its own increment back and writes x
    # under that value, and P1's atomic_inc of x, before its fully ordered cmpxchg, reads that
    # write.  herd's C front end makes the write of an RMW that computes its new value from the
    # old (atomic_inc, not cmpxchg or xchg) data-dependent on its read, so (data ; rfi) ; ctrl
    # orders P2's inc before its write of x: an hb cycle (cat 3 executions, engine 4)
    _prog("",
          "\tatomic_inc(x);\n\tr2 = cmpxchg(y, 0, 2);",
          "\tatomic_inc(y);\n\tr2 = READ_ONCE(*y); if (r2) { WRITE_ONCE(*x, 1); } else { r2 = READ_ONCE(*x); }",
          locs="0:r0; 1:r0; 1:r2; 2:r2; x; y"),
    # a fully ordered RMW between a marked and a plain write of one location: LKMM tags its read
    # and write Mb, so fencerel(Mb) -- a barrier -- separates the two: no mixed-accesses flag
    # (the engine flagged it: its barrier set had the smp_mb() fences only).  From a campaign
    # with seed 90210; the engine had the same executions and one flag more
    _prog("\tatomic_inc(y);\n\tr1 = xchg(z, 2);\n\t*y = 1;",
          "\tWRITE_ONCE(*x, 2);\n\tr0 = atomic_inc_return(z);\n\t*x = 1;",
          locs="0:r1; 1:r0; x; y"),
]

#: programs the optimal load-buffering search gets wrong (see docs/design.md on load buffering):
#: each misses executions under ``lb_search="optimal"``, none counts one too many; the complete
#: search, the litmus front end's default, agrees with cat on every one
KNOWN = [
    # two exchanges of y in an LB cycle through a control dependency: P2's xchg reads P1's y,
    # written under P1's read of P2's z (written after the xchg), and P0's xchg reads P2's
    # (cat 8 executions, engine 7).  One of 9 misses in a fourth fresh campaign of 3,328
    _prog("\tr1 = xchg_relaxed(y, 1);",
          "\tr0 = READ_ONCE(*z); if (r0 == 1) WRITE_ONCE(*z, 1);\n"
          "\tif (r0 == 2) { WRITE_ONCE(*y, 2); } WRITE_ONCE(*x, 2);",
          "\tr0 = xchg_relaxed(y, 1);\n\t*z = 2;",
          locs="0:r1; 1:r0; 2:r0; 2:r2; x; y"),
    # three increments of x in an LB cycle, marked accesses only: P1's inc comes first in x's
    # coherence, P0's two follow, P2 reads P0's last and writes z, which P1 read before its inc
    # (cat 48 executions, engine 46: the two with 1:r0=1 2:r0=3 and P1's inc first).  P0's read
    # of z after its incs is needed for the miss.  Shrunk from one of 3 misses in a campaign of
    # 3,000 programs (`make campaign PROGRAMS=3000 SEED=777`)
    _prog("\tatomic_inc(x);\n\tatomic_inc(x);\n\tr2 = READ_ONCE(*z);",
          "\tr0 = READ_ONCE(*z);\n\tatomic_inc(x);",
          "\tr0 = READ_ONCE(*x);\n\tWRITE_ONCE(*z, 1);",
          locs="0:r2; 1:r0; 2:r0; x"),
    # the smallest miss yet (5 events): LB through an acquire, with a third write of y.  P0's
    # acquire reads P2's x and P2 reads P0's y (cat 12 executions, engine 10: both coherence
    # orders of y with 0:r1=1 2:r0=2 are missed).  Only a load-buffering revisit of P0's read by
    # P2's write makes that cycle, from a graph where P2 reads y=2; where y=2 is co-last, P1's
    # y=1 came before it by a coherence alternative (not added maximally) and the revisit
    # deletes it; where y=1 is co-last, P2 read y=2 by a reads-from alternative, and a deleted
    # read of the writer's prefix must have been added maximally (see _maximal_masks).  Each
    # graph leaves the revisit to the other.  Shrunk from a random SRCU campaign (session 12).
    _prog("\tr1 = smp_load_acquire(x);\n\tWRITE_ONCE(*y, 2);",
          "\tWRITE_ONCE(*y, 1);",
          "\tr0 = READ_ONCE(*y);\n\tWRITE_ONCE(*x, 1);",
          locs="0:r1; 2:r0; x; y"),
    # an ordinary revisit that TruSt's maximality rule leaves to another graph, whose own
    # load-buffering revisits then differ: P1 reads P2's z=1 (an inc po-after P2's inc of x) and
    # writes x=1 under it, P0's inc reads that, P2's inc of x reads P0's (cat 12 executions,
    # optimal search 9: 1:r0=1 with x=2 once and x=3 twice).  The revisit of P1's read of z by
    # P2's inc of z comes from the graph where P1's read of x took P0's write, which is not
    # maximal (P2's inc of x came after it); the maximal graph's revisit keeps other flags, and
    # its load-buffering revisits of the two incs of x are never made.  From a campaign of
    # 3,000 programs (seed 777, session 13)
    _prog("\tatomic_inc(x);",
          "\tr0 = READ_ONCE(*z); if (r0) { WRITE_ONCE(*x, 1); } else { r0 = READ_ONCE(*x); }",
          "\tatomic_inc(x);\n\tatomic_inc(z);",
          locs="1:r0; x; y"),
]


def _agree(text: str, lb_search: str = "complete") -> None:
    cat = _run(text, ModelSpec(conf=str(CFG)))
    eng = _run(text, ModelSpec(engine="lkmm", lb_search=lb_search))
    assert dict(eng.states) == dict(cat.states), text  # type: ignore[attr-defined]
    assert (eng.positive, eng.negative) == (cat.positive, cat.negative), text  # type: ignore[attr-defined]
    assert set(eng.flags) == set(cat.flags), text  # type: ignore[attr-defined]


@pytest.mark.parametrize("lb_search", LB_SEARCHES)
@pytest.mark.parametrize("text", FIXED, ids=[f"fixed{i}" for i in range(len(FIXED))])
def test_fixed_programs_agree(text: str, lb_search: str) -> None:
    _agree(text, lb_search)


@pytest.mark.parametrize("text", KNOWN, ids=[f"known{i}" for i in range(len(KNOWN))])
def test_complete_search_agrees_where_the_optimal_one_misses(text: str) -> None:
    _agree(text, "complete")


@pytest.mark.xfail(strict=True, reason="the optimal load-buffering search misses executions (see KNOWN)")
@pytest.mark.parametrize("text", KNOWN, ids=[f"known{i}" for i in range(len(KNOWN))])
def test_optimal_search_misses_known_programs(text: str) -> None:
    _agree(text, "optimal")


@pytest.mark.parametrize("text", KNOWN, ids=[f"known{i}" for i in range(len(KNOWN))])
def test_optimal_search_finds_a_subset(text: str) -> None:
    """What the optimal search misses it misses whole: every execution it counts the complete
    one counts too, each once."""
    opt = _run(text, ModelSpec(engine="lkmm", lb_search="optimal"))
    full = _run(text, ModelSpec(engine="lkmm", lb_search="complete"))
    assert all(n <= full.states.get(s, 0) for s, n in opt.states.items()), text  # type: ignore[attr-defined]
    assert sum(opt.states.values()) < sum(full.states.values()), text  # type: ignore[attr-defined]


def test_lb_search_names_agree() -> None:
    """The litmus runner and the pytest plugin name the engine's searches, and its front ends'
    default, without importing it (start-up)."""
    from rmapwalk.engine.explore import DEFAULT_LB_SEARCH
    from rmapwalk.engine.explore import LB_SEARCHES as ENGINE_LB_SEARCHES
    from rmapwalk.pytest_plugin import CheckSettings

    assert LB_SEARCHES == ENGINE_LB_SEARCHES
    assert ModelSpec().lb_search == CheckSettings().lb_search == DEFAULT_LB_SEARCH
