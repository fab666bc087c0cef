"""Flag lines of the engine under ``lkmm`` are herd7's: only the flags the kernel's model files
raise, and only from executions the test's ``filter`` keeps (a herd7 comparison on
paulmckrcu/litmus found the engine printing ``Flag deadlock``, ``Flag lock-misuse`` and a
``Flag data-race`` of filtered-out executions where herd7 prints none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmapwalk.litmus.runner import ModelSpec, run_test

LKMM = Path(__file__).resolve().parents[2].parent / "shared" / "lkmm"
CFG = LKMM / "model" / "linux-kernel.cfg"

pytestmark = pytest.mark.skipif(not CFG.is_file(), reason=f"the LKMM files are not at {LKMM} (../shared/lkmm)")

# P1's plain read races with P0's plain write only when P1 does not see the flag: the filter
# keeps the executions where it does, and those do not race
FILTERED_RACE = """C filtered-race

{}

P0(int *x, int *f)
{
\t*x = 1;
\tsmp_store_release(f, 1);
}

P1(int *x, int *f)
{
\tint r0;
\tint r1;
\tr0 = smp_load_acquire(f);
\tr1 = *x;
}

filter (1:r0=1)
exists (1:r1=0)
"""

# a thread that takes a lock it holds: no execution ends (herd7 prints no flag)
SELF_DEADLOCK = """C self-deadlock

{}

P0(int *x, spinlock_t *l)
{
\tspin_lock(l);
\tspin_lock(l);
\tWRITE_ONCE(*x, 1);
}

exists (x=1)
"""


@pytest.mark.parametrize("text", [FILTERED_RACE, SELF_DEADLOCK], ids=["filtered-race", "self-deadlock"])
def test_engine_flags_are_herd7_s(tmp_path: Path, text: str) -> None:
    path = tmp_path / "t.litmus"
    path.write_text(text)
    cat = run_test(str(path), ModelSpec(conf=str(CFG)))
    eng = run_test(str(path), ModelSpec(engine="lkmm"))
    assert set(cat.flags) == set()
    assert set(eng.flags) == set(cat.flags)
    assert dict(eng.states) == dict(cat.states)
    assert (eng.positive, eng.negative) == (cat.positive, cat.negative)


def test_without_the_filter_the_race_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "t.litmus"
    path.write_text(FILTERED_RACE.replace("filter (1:r0=1)\n", ""))
    cat = run_test(str(path), ModelSpec(conf=str(CFG)))
    eng = run_test(str(path), ModelSpec(engine="lkmm"))
    assert set(eng.flags) == set(cat.flags) == {"data-race"}
