"""SRCU under the engine's LKMM: LKMM's own events (a marked read of the srcu_struct, the index
stored back by the unlock, a grace-period event of the struct) and linux-kernel.cat's rules for
them -- sections paired by the index's data dependency, through registers and memory, so they
need not nest and may end on another CPU; grace periods ordered only against sections of their
own struct; ``smp_mb__after_srcu_read_unlock`` a full barrier only after an unlock; the bell
file's SRCU flags.

Each shape runs through the engine and through the official ``linux-kernel.cat`` (cat back end):
same states, same counts, same flags; the verdict is asserted too.  (The engine once modelled
SRCU as a reader count with full barriers, which forbade what LKMM allows: a herd7 comparison on
paulmckrcu/litmus's ``manual/kernel/C-srcu-*`` tests found it.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rmapwalk.litmus.candidates import LitmusResult
from rmapwalk.litmus.herdout import observation
from rmapwalk.litmus.runner import ModelSpec, run_test

LKMM = Path(__file__).resolve().parents[2].parent / "shared" / "lkmm"
CFG = LKMM / "model" / "linux-kernel.cfg"

pytestmark = pytest.mark.skipif(not CFG.is_file(), reason=f"the LKMM files are not at {LKMM} (../shared/lkmm)")

ARGS = "(int *x, int *y, int *m, struct srcu_struct *s, struct srcu_struct *t)"


def _test(name: str, cond: str, *bodies: str, locs: str = "") -> str:
    threads = "".join(f"P{i}{ARGS}\n{{\n{body}\n}}\n\n" for i, body in enumerate(bodies))
    where = f"locations [{locs}]\n" if locs else ""
    return f"C {name}\n\n{{}}\n\n{threads}{where}exists ({cond})\n"


WRITER = "\tWRITE_ONCE(*y, 1);\n\tsynchronize_srcu(s);\n\tWRITE_ONCE(*x, 1);"

#: (test, the verdict LKMM gives it, the flags it raises)
SHAPES = {
    # one section around both reads: the grace period cannot fall inside it
    "one-section": (_test("one-section", "0:r0=0 /\\ 0:r1=1",
                          "\tint i;\n\tint r0;\n\tint r1;\n\ti = srcu_read_lock(s);\n\tr0 = READ_ONCE(*y);\n"
                          "\tr1 = READ_ONCE(*x);\n\tsrcu_read_unlock(s, i);", WRITER), "Never", set()),
    # two overlapping sections, not nested: the first ends before the second read
    "overlapping": (_test("overlapping", "0:r0=0 /\\ 0:r1=1",
                          "\tint i;\n\tint j;\n\tint r0;\n\tint r1;\n\ti = srcu_read_lock(s);\n"
                          "\tr0 = READ_ONCE(*y);\n\tj = srcu_read_lock(s);\n\tsrcu_read_unlock(s, i);\n"
                          "\tr1 = READ_ONCE(*x);\n\tsrcu_read_unlock(s, j);", WRITER), "Sometimes", set()),
    # a grace period of another srcu_struct orders nothing against this section
    "other-struct": (_test("other-struct", "0:r0=0 /\\ 0:r1=1",
                           "\tint i;\n\tint r0;\n\tint r1;\n\ti = srcu_read_lock(t);\n\tr0 = READ_ONCE(*y);\n"
                           "\tr1 = READ_ONCE(*x);\n\tsrcu_read_unlock(t, i);", WRITER), "Sometimes", set()),
    # a section begun on one CPU and ended on another: the index travels through memory
    "down-up": (_test("down-up", "0:r0=0 /\\ 1:r1=1",
                      "\tint i;\n\tint r0;\n\ti = srcu_down_read(s);\n\tr0 = READ_ONCE(*y);\n"
                      "\tsmp_store_release(m, i + 1);",
                      "\tint k;\n\tint r1;\n\tk = smp_load_acquire(m);\n\tr1 = READ_ONCE(*x);\n"
                      "\tif (k)\n\t\tsrcu_up_read(s, k - 1);",
                      WRITER), "Sometimes", {"unmatched-srcu-lock"}),
    # two sections one after the other in one thread (the second lock reads the first
    # unlock's index: that carries no dependency from the first section into the second)
    "sequential": (_test("sequential", "0:r0=0 /\\ 0:r1=1",
                         "\tint i;\n\tint j;\n\tint r0;\n\tint r1;\n\ti = srcu_read_lock(s);\n"
                         "\tr0 = READ_ONCE(*y);\n\tsrcu_read_unlock(s, i);\n\tj = srcu_read_lock(s);\n"
                         "\tr1 = READ_ONCE(*x);\n\tsrcu_read_unlock(s, j);", WRITER), "Sometimes", set()),
    # store buffering: smp_mb__after_srcu_read_unlock() is a full barrier after an unlock ...
    "sb-after-unlock": (_test("sb-after-unlock", "0:r0=0 /\\ 1:r0=0",
                              "\tint i;\n\tint r0;\n\ti = srcu_read_lock(s);\n\tWRITE_ONCE(*x, 1);\n"
                              "\tsrcu_read_unlock(s, i);\n\tsmp_mb__after_srcu_read_unlock();\n"
                              "\tr0 = READ_ONCE(*y);",
                              "\tint r0;\n\tWRITE_ONCE(*y, 1);\n\tsmp_mb();\n\tr0 = READ_ONCE(*x);"),
                        "Never", set()),
    # ... and by itself orders nothing
    "sb-alone": (_test("sb-alone", "0:r0=0 /\\ 1:r0=0",
                       "\tint r0;\n\tWRITE_ONCE(*x, 1);\n\tsmp_mb__after_srcu_read_unlock();\n"
                       "\tr0 = READ_ONCE(*y);",
                       "\tint r0;\n\tWRITE_ONCE(*y, 1);\n\tsmp_mb();\n\tr0 = READ_ONCE(*x);"),
                 "Sometimes", set()),
    # synchronize_srcu() inside an RCU read-side critical section (herd's invalid-sleep)
    "srcu-gp-in-rcu": (_test("srcu-gp-in-rcu", "0:r0=1 /\\ 1:r1=1",
                             "\tint r0;\n\trcu_read_lock();\n\tr0 = READ_ONCE(*x);\n\tsynchronize_srcu(s);\n"
                             "\tWRITE_ONCE(*y, 1);\n\trcu_read_unlock();",
                             "\tint r1;\n\tr1 = READ_ONCE(*y);\n\tWRITE_ONCE(*x, 1);"),
                       "Sometimes", {"invalid-sleep"}),
    # one index unlocked twice: one lock matched by two unlocks
    "two-unlocks": (_test("two-unlocks", "0:r0=1",
                          "\tint i;\n\tint r0;\n\ti = srcu_read_lock(s);\n\tr0 = READ_ONCE(*x);\n"
                          "\tsrcu_read_unlock(s, i);\n\tsrcu_read_unlock(s, i);",
                          "\tWRITE_ONCE(*x, 1);"), "Sometimes", {"multiple-srcu-matches"}),
}


def test_a_grace_period_inside_a_section_raises_no_flag_as_herd7(tmp_path: Path) -> None:
    # herd7 flags nothing: LKMM just has no execution in which the grace period ends (the
    # engine's kernel primitive reports "rcu misuse", which herd's output has no line for)
    body = "\trcu_read_lock();\n\tr0 = READ_ONCE(*x);\n\tsynchronize_rcu();\n\tWRITE_ONCE(*y, 1);\n\trcu_read_unlock();"
    other = "\tint r0;\n\tr0 = READ_ONCE(*y);\n\tWRITE_ONCE(*x, 1);"
    text = _test("gp-in-section", "0:r0=1", "\tint r0;\n" + body, other)
    cat = _run(tmp_path, text, ModelSpec(conf=str(CFG)))
    eng = _run(tmp_path, text, ModelSpec(engine="lkmm"))
    assert set(eng.flags) == set(cat.flags) == set()
    assert dict(eng.states) == dict(cat.states)


def _run(tmp_path: Path, text: str, spec: ModelSpec) -> LitmusResult:
    path = tmp_path / "t.litmus"
    path.write_text(text)
    return run_test(str(path), spec)


@pytest.mark.parametrize("name", list(SHAPES))
def test_srcu_shapes_agree_with_linux_kernel_cat(tmp_path: Path, name: str) -> None:
    text, verdict, flags = SHAPES[name]
    cat = _run(tmp_path, text, ModelSpec(conf=str(CFG)))
    eng = _run(tmp_path, text, ModelSpec(engine="lkmm"))
    assert observation(cat) == verdict, (name, observation(cat))  # (what LKMM says of the shape)
    assert set(cat.flags) == flags
    assert dict(eng.states) == dict(cat.states)
    assert (eng.positive, eng.negative) == (cat.positive, cat.negative)
    assert set(eng.flags) == set(cat.flags)
