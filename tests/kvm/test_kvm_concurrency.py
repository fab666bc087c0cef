"""The rmap model under concurrency: its accesses are events, so the checker finds what the
locking (or its absence) allows.

* two vCPUs ``rmap_add`` to one gfn under ``mmu_lock``: both entries survive (SC, TSO); without
  the lock one is lost;
* a lockless walker (2013 series, §3.9) against a remover under ``mmu_lock``: with a type-stable
  desc cache and nulls it sees every entry present throughout and never touches freed memory;
  with a plain cache it reads a freed desc (use-after-free); without nulls, a desc reused in
  another rmap ends its walk early (R9); the 3.11 same-desc refill misses an entry for an
  ascending walker (R7); the head refill needs ``smp_wmb`` under PSO.
"""

from __future__ import annotations

import pytest

from rmapwalk.engine import Program, Result, explore, observe
from rmapwalk.engine.replay import rebuild
from rmapwalk.engine.trace import render
from rmapwalk.kernel import spin_lock, spin_unlock
from rmapwalk.kernel.races import report_data_races
from rmapwalk.kvm import KvmMmu, Switches, make_spte, rmap_add
from rmapwalk.kvm.pte_list import pte_list_add, pte_list_entries, pte_list_remove, pte_list_walk_lockless
from rmapwalk.kvm.rmap import gfn_to_rmap


def kinds(res: Result) -> set[str]:
    return {v.kind for v in res.violations}


def run(prog: Program, model: str) -> Result:
    res = explore(prog, model, keep_violations=3)
    for v in res.violations:  # every counterexample replays
        assert render(rebuild(prog, v.replay), model)
    return res


# -- two rmap_add()s on one gfn ----------------------------------------------------------------------------

def two_adders(locked: bool, sw: Switches, initial: int) -> Program:
    """vcpu0 and vcpu1 each map gfn 0 through an entry of one indirect shadow page (a guest page
    table that maps gfn 0 several times) and add it to gfn 0's rmap; ``initial`` entries are on the
    rmap from the start."""
    p = Program(f"rmap_add{'' if locked else '-nolock'}")
    kvm = KvmMmu(p, sw, npages=2, desc_capacity=3, sp_capacity=1)
    sp = kvm.prealloc_page(1, gfn=0, direct=False)
    sptes = [kvm.initial_sptep(sp, i) for i in range(initial + 2)]
    for s in sptes:
        kvm.set_initial(s, make_spte(pfn=0x10, writable=True))
    head = gfn_to_rmap(kvm, 0, 1)
    with kvm.building():
        for s in sptes[:initial]:
            rmap_add(kvm, s, 0)
    kvm.observe_rmaps()

    def vcpu(sptep: int) -> None:
        if locked:
            spin_lock(kvm.mmu_lock)
        rmap_add(kvm, sptep, 0)
        if locked:
            spin_unlock(kvm.mmu_lock)

    p.thread(vcpu, sptes[initial], name="vcpu0")
    p.thread(vcpu, sptes[initial + 1], name="vcpu1")
    want = sorted(sptes)
    p.require(lambda f: sorted(pte_list_entries(kvm, head, kvm.final_mem(f))) == want, "rmap lost an entry")
    return p


@pytest.mark.parametrize("model", ["sc", "tso"])
@pytest.mark.parametrize("algo", ["3.11", "head"])
@pytest.mark.parametrize("initial", [0, 1, 2])
def test_rmap_add_under_mmu_lock_keeps_both(model: str, algo: str, initial: int) -> None:
    res = run(two_adders(True, Switches(pte_list=algo, pte_list_ext=2), initial), model)
    assert res.verdict == "holds", res.violations[:1]
    assert res.stats.complete == 2  # one execution per lock order


@pytest.mark.parametrize("model", ["sc", "tso"])
@pytest.mark.parametrize("initial", [0, 1])
def test_rmap_add_without_the_lock_loses_an_entry(model: str, initial: int) -> None:
    res = run(two_adders(False, Switches(pte_list_ext=2), initial), model)
    assert res.verdict == "violated"
    assert "rmap lost an entry" in kinds(res)


def test_plain_rmap_accesses_race_only_without_the_lock() -> None:
    sw = Switches(rmap_access="plain", pte_list_ext=2)
    p = two_adders(True, sw, 1)
    report_data_races(p)
    assert run(p, "sc").verdict == "holds"
    q = two_adders(False, sw, 1)
    report_data_races(q)
    assert "data race" in kinds(run(q, "sc"))


# -- the lockless walker against a remover --------------------------------------------------------------------

A, B, C, E = 0x100, 0x102, 0x104, 0x106  # spte pointers (never dereferenced by the walker here)


def walker_vs_remover(sw: Switches, *, reuse: bool) -> Program:
    """gfn 0's rmap holds a and b in two descs (PTE_LIST_EXT = 1); gfn 1's holds e alone.

    The writer, under mmu_lock, removes a from gfn 0 (freeing a desc) and, if ``reuse``, adds c
    to gfn 1, which reuses the freed desc at once (LIFO slab) for gfn 1's new chain.  The reader
    walks gfn 0 locklessly and must see b, which is on gfn 0's rmap all along."""
    p = Program(f"lockless-walk[{sw.describe()}]{'+reuse' if reuse else ''}")
    kvm = KvmMmu(p, sw, npages=2, desc_capacity=3)
    h0, h1 = gfn_to_rmap(kvm, 0, 1), gfn_to_rmap(kvm, 1, 1)
    with kvm.building():
        pte_list_add(kvm, A, h0)
        pte_list_add(kvm, B, h0)
        pte_list_add(kvm, E, h1)

    @p.thread
    def reader() -> None:
        seen: list[int] = []
        observe("restarts", pte_list_walk_lockless(kvm, h0, seen.append))
        assert B in seen, "the lockless walk missed an entry present throughout"

    @p.thread
    def writer() -> None:
        spin_lock(kvm.mmu_lock)
        pte_list_remove(kvm, A, h0)
        if reuse:
            pte_list_add(kvm, C, h1)
        spin_unlock(kvm.mmu_lock)

    return p


SERIES = Switches(pte_list="head", pte_list_ext=1, desc_cache="typesafe_by_rcu", nulls="on", desc_init="careful")


@pytest.mark.parametrize("model", ["sc", "tso"])
@pytest.mark.parametrize("algo", ["head", "3.11"])
@pytest.mark.parametrize("reuse", [False, True])
def test_typesafe_descs_and_nulls_walk_safely(model: str, algo: str, reuse: bool) -> None:
    res = run(walker_vs_remover(SERIES.replace(pte_list=algo), reuse=reuse), model)
    assert res.verdict == "holds", res.violations[:1]
    assert res.stats.complete > 1


def test_a_plain_desc_cache_is_a_use_after_free() -> None:
    res = run(walker_vs_remover(SERIES.replace(desc_cache="plain"), reuse=False), "sc")
    assert res.verdict == "violated"
    assert kinds(res) == {"use-after-free"}
    assert "reader reads pte_list_desc#" in res.violations[0].message


def test_without_nulls_a_reused_desc_ends_the_walk_in_another_rmap() -> None:
    res = run(walker_vs_remover(SERIES.replace(nulls="off"), reuse=True), "sc")
    assert kinds(res) == {"assertion"}
    assert "missed" in res.violations[0].message
    assert run(walker_vs_remover(SERIES.replace(nulls="off"), reuse=False), "sc").verdict == "holds"


def test_nulls_restart_is_taken() -> None:
    """Some execution restarts the walk (the walker met gfn 1's marker)."""
    res = run(walker_vs_remover(SERIES, reuse=True), "sc")
    assert res.verdict == "holds"
    restarts = {dict(o)["reader:restarts"] for o in res.outcomes}
    assert 0 in restarts and max(restarts) >= 1


@pytest.mark.parametrize("model", ["sc", "tso", "pso"])
def test_zeroing_a_reused_desc_ends_the_walk_early(model: str) -> None:
    """desc_init=3.11 (kmem_cache_zalloc): a walker standing on the freed and reused desc reads
    the transient NULL ``more`` and stops before b (scenario desc-init); careful init holds."""
    broken = run(walker_vs_remover(SERIES.replace(desc_init="3.11", publish="wmb"), reuse=True), model)
    assert kinds(broken) == {"assertion"}
    assert run(walker_vs_remover(SERIES.replace(publish="wmb"), reuse=True), model).verdict == "holds"


def one_desc_remover(sw: Switches) -> Program:
    """R7: one desc [a, b, c]; the writer removes a; 3.11 refills slot 0 from slot 2 of the same
    desc.  A walker going upward that has passed slot 0 and reaches slot 2 after the clear misses
    c, which was on the rmap all along."""
    p = Program(f"R7[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=1, desc_capacity=1)
    h0 = gfn_to_rmap(kvm, 0, 1)
    with kvm.building():
        for s in (A, B, C):
            pte_list_add(kvm, s, h0)

    @p.thread
    def reader() -> None:
        seen: list[int] = []
        pte_list_walk_lockless(kvm, h0, seen.append)
        assert B in seen and C in seen, "the lockless walk missed an entry present throughout"

    @p.thread
    def writer() -> None:
        spin_lock(kvm.mmu_lock)
        pte_list_remove(kvm, A, h0)
        spin_unlock(kvm.mmu_lock)

    return p


def test_r7_ascending_walk_misses_the_moved_entry() -> None:
    sw = Switches(pte_list_ext=3, desc_cache="typesafe_by_rcu", nulls="on")
    res = run(one_desc_remover(sw.replace(walk_order="ascending")), "sc")
    assert kinds(res) == {"assertion"}
    for model in ["sc", "tso"]:
        assert run(one_desc_remover(sw), model).verdict == "holds"


def test_head_refill_needs_wmb_under_pso() -> None:
    """PSO may make the clear of the head's slot visible before the moved entry's new copy."""
    broken = run(walker_vs_remover(SERIES, reuse=False), "pso")
    assert broken.verdict == "violated" and kinds(broken) == {"assertion"}
    fixed = run(walker_vs_remover(SERIES.replace(publish="wmb"), reuse=False), "pso")
    assert fixed.verdict == "holds", fixed.violations[:1]


def walker_vs_writer_script(sw: Switches, ops: list[tuple[str, str, int]]) -> Program:
    """gfn 0: a, b, f; gfn 1: e.  The writer runs ``ops`` under mmu_lock (adds and removes on
    both rmaps, so freed descs are reused across rmaps); the reader must see b and f."""
    p = Program(f"walker-vs-script[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=2, desc_capacity=6)
    heads = [gfn_to_rmap(kvm, 0, 1), gfn_to_rmap(kvm, 1, 1)]
    F, D = 0x108, 0x10A
    named = {"a": A, "b": B, "c": C, "d": D, "e": E, "f": F}
    with kvm.building():
        for s in (A, B, F):
            pte_list_add(kvm, s, heads[0])
        pte_list_add(kvm, E, heads[1])

    @p.thread
    def reader() -> None:
        seen: list[int] = []
        pte_list_walk_lockless(kvm, heads[0], seen.append)
        assert B in seen and F in seen, "the lockless walk missed an entry present throughout"

    @p.thread
    def writer() -> None:
        spin_lock(kvm.mmu_lock)
        for op, name, gfn in ops:
            fn = pte_list_add if op == "add" else pte_list_remove
            fn(kvm, named[name], heads[gfn])
        spin_unlock(kvm.mmu_lock)

    return p


SCRIPT = [("del", "a", 0), ("add", "c", 1), ("add", "d", 0), ("del", "e", 1)]


@pytest.mark.parametrize("model", ["sc", "tso", "pso"])
@pytest.mark.parametrize("ext", [1, 2])
def test_series_walker_sees_every_entry_present_throughout(model: str, ext: int) -> None:
    """The series' design (head pte-list, bottom-up walker, type-stable descs, nulls, careful
    desc init; smp_wmb where PSO needs it) keeps invariant I5 against a writer that moves, frees
    and reuses descs."""
    sw = SERIES.replace(pte_list_ext=ext, publish="wmb" if model == "pso" else "none")
    res = run(walker_vs_writer_script(sw, SCRIPT), model)
    assert res.verdict == "holds", res.violations[:1]


def test_3_11_refill_misses_an_entry_of_the_script_for_an_ascending_walker() -> None:
    sw = SERIES.replace(pte_list="3.11", pte_list_ext=2, walk_order="ascending")
    assert kinds(run(walker_vs_writer_script(sw, SCRIPT), "sc")) == {"assertion"}
    assert run(walker_vs_writer_script(sw.replace(walk_order="bottom_up"), SCRIPT), "sc").verdict == "holds"
