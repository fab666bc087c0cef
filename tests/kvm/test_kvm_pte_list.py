"""pte-list add/remove/walk in one thread, against a reference written from the algorithm
descriptions (kvm-reference.md §2.1, §2.2 for 3.11; §3.5 for the series' head variant).

Each test runs the model functions inside a one-thread program (so every access is an event),
reads the final memory, and checks the exact chain layout, the walks, and that emptied descs went
back to the cache.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from rmapwalk.engine import Program, Result, explore, observe
from rmapwalk.kernel.nulls import NULLS_MARKER
from rmapwalk.kvm import KvmMmu, Switches
from rmapwalk.kvm.pte_list import (
    pte_list_add,
    pte_list_descs,
    pte_list_entries,
    pte_list_layout,
    pte_list_remove,
    pte_list_walk,
    pte_list_walk_lockless,
    rmap_walk,
)

Op = tuple[str, int]


def spte(k: int) -> int:
    """A fake spte pointer (even, never dereferenced by pte-list code)."""
    return 0x1000 + 2 * k


# -- the reference --------------------------------------------------------------------------------------------

class Ref:
    """A pte-list as Python data: ``single`` or a list of descs (packed entry lists)."""

    def __init__(self, algo: str, ext: int) -> None:
        self.algo, self.ext = algo, ext
        self.single: int | None = None
        self.descs: list[list[int]] = []

    def add(self, x: int) -> None:
        if self.single is None and not self.descs:
            self.single = x
        elif self.single is not None:
            v, self.single = self.single, None
            if self.ext >= 2:
                self.descs = [[v, x]]
            else:
                self.descs = [[v], [x]] if self.algo == "3.11" else [[x], [v]]
        elif self.algo == "3.11":
            # the first desc whose last slot is free, else append a desc at the tail
            for d in self.descs:
                if len(d) < self.ext:
                    d.append(x)
                    return
            self.descs.append([x])
        else:
            if len(self.descs[0]) < self.ext:
                self.descs[0].append(x)
            else:
                self.descs.insert(0, [x])

    def remove(self, x: int) -> None:
        if self.single is not None:
            assert self.single == x
            self.single = None
            return
        di, i = next((di, d.index(x)) for di, d in enumerate(self.descs) if x in d)
        src = self.descs[di] if self.algo == "3.11" else self.descs[0]  # which desc refills
        self.descs[di][i] = src[-1]
        src.pop()
        if not src:
            self.descs.remove(src)

    def layout(self) -> list[Any]:
        if self.single is not None:
            return [self.single]
        return [list(d) for d in self.descs]

    def entries(self) -> list[int]:
        if self.single is not None:
            return [self.single]
        return [s for d in self.descs for s in d]


# -- running the model ------------------------------------------------------------------------------------------

def final_of(res: Result) -> dict[str, Any]:
    assert res.verdict == "holds", res.violations[:1]
    assert len(res.outcomes) == 1 and res.stats.complete == 1
    return dict(next(iter(res.outcomes)))


def run_ops(sw: Switches, ops: list[Op], *, capacity: int = 6, build: list[Op] | None = None,
            lockless: bool = True) -> tuple[KvmMmu, dict[str, Any]]:
    """Run ``build`` at build time, then ``ops`` in one thread followed by a locked walk, a
    ``pte_list_walk`` and (if ``lockless``) a lockless walk; return the final state."""
    p = Program("pte_list")
    kvm = KvmMmu(p, sw, desc_capacity=capacity)
    head = kvm.memslots[0].rmap[1][0]
    kvm.observe_rmaps()

    def apply(op: Op) -> None:
        what, k = op
        if what == "add":
            pte_list_add(kvm, spte(k), head)
        else:
            pte_list_remove(kvm, spte(k), head)

    if build:
        with kvm.building():
            for op in build:
                apply(op)

    @p.thread
    def cpu0() -> None:
        for op in ops:
            apply(op)
        observe("walk", tuple(rmap_walk(kvm, head)))
        seen: list[int] = []
        pte_list_walk(kvm, head, seen.append)
        observe("pte_list_walk", tuple(seen))
        if lockless:
            visited: list[int] = []
            restarts = pte_list_walk_lockless(kvm, head, visited.append)
            observe("lockless", tuple(sorted(visited)))
            observe("restarts", restarts)

    return kvm, final_of(explore(p, "sc"))


def check(kvm: KvmMmu, final: dict[str, Any], ref: Ref, capacity: int = 6) -> None:
    head = kvm.memslots[0].rmap[1][0]
    mem = kvm.final_mem(final)
    layout = pte_list_layout(kvm, head, mem)
    expected = ref.layout()
    if len(expected) == 0 or ref.single is not None:
        assert layout == expected
    else:
        *descs, end = layout
        assert end == (NULLS_MARKER(int(head)) if kvm.sw.nulls == "on" else 0)
        for d in descs:  # used slots packed at the front
            n = sum(1 for s in d if s)
            assert all(d[:n]) and not any(d[n:]), d
        assert [[s for s in d if s] for d in descs] == expected
    assert pte_list_entries(kvm, head, mem) == ref.entries()
    assert list(final["cpu0:walk"]) == ref.entries()
    assert list(final["cpu0:pte_list_walk"]) == ref.entries()
    if "cpu0:lockless" in final:
        assert list(final["cpu0:lockless"]) == sorted(ref.entries())
        assert final["cpu0:restarts"] == 0
    # every desc not on the chain is back in the cache
    in_use = pte_list_descs(kvm, head, mem)
    free = kvm.free_descs(final)
    assert len(in_use) == len(ref.descs)
    assert sorted(free + tuple(in_use)) == sorted(kvm.desc_cache.objects)
    assert len(free) == capacity - len(ref.descs)


ALGOS = ["3.11", "head"]
EXTS = [1, 2, 3]


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("ext", EXTS)
@pytest.mark.parametrize("victims", list(itertools.permutations(range(5), 2)))
def test_add_five_remove_two(algo: str, ext: int, victims: tuple[int, int]) -> None:
    sw = Switches(pte_list=algo, pte_list_ext=ext)
    ops: list[Op] = [("add", k) for k in range(5)] + [("del", v) for v in victims]
    ref = Ref(algo, ext)
    for what, k in ops:
        ref.add(spte(k)) if what == "add" else ref.remove(spte(k))
    assert sorted(ref.entries()) == sorted(spte(k) for k in range(5) if k not in victims)
    kvm, final = run_ops(sw, ops, lockless=False)
    check(kvm, final, ref)


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("ext", EXTS)
@pytest.mark.parametrize("nulls", ["off", "on"])
@pytest.mark.parametrize("desc_init", ["3.11", "careful"])
def test_mixed_sequences_and_switches(algo: str, ext: int, nulls: str, desc_init: str) -> None:
    sw = Switches(pte_list=algo, pte_list_ext=ext, nulls=nulls, desc_init=desc_init,
                  rmap_access="plain" if ext == 2 else "marked",
                  publish={1: "rcu_assign_pointer", 2: "none", 3: "wmb"}[ext],
                  lockless_deref="rcu_dereference" if ext == 1 else "once",
                  walk_order="ascending" if ext == 2 else "bottom_up")
    ops: list[Op] = [("add", 0), ("add", 1), ("add", 2), ("del", 0), ("add", 3), ("add", 4), ("del", 2),
                     ("add", 5), ("del", 5), ("del", 1), ("add", 6)]
    ref = Ref(algo, ext)
    for what, k in ops:
        ref.add(spte(k)) if what == "add" else ref.remove(spte(k))
    kvm, final = run_ops(sw, ops)
    check(kvm, final, ref)


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("ext", EXTS)
def test_removing_everything_empties_the_head_and_frees_every_desc(algo: str, ext: int) -> None:
    for order in [(0, 1, 2, 3), (3, 2, 1, 0), (1, 3, 0, 2)]:
        sw = Switches(pte_list=algo, pte_list_ext=ext, nulls="on")
        ops: list[Op] = [("add", k) for k in range(4)] + [("del", k) for k in order]
        kvm, final = run_ops(sw, ops)
        ref = Ref(algo, ext)
        check(kvm, final, ref)
        assert final[kvm.memslots[0].rmap[1][0].name] == 0


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("ext", EXTS)
def test_building_at_build_time_gives_the_runtime_layout(algo: str, ext: int) -> None:
    """The same functions run on prog.init (kvm.building()) give the same chain as in a thread."""
    sw = Switches(pte_list=algo, pte_list_ext=ext, nulls="on")
    build: list[Op] = [("add", 0), ("add", 1), ("add", 2), ("add", 3), ("del", 1)]
    ref = Ref(algo, ext)
    for what, k in build + [("add", 4)]:
        ref.add(spte(k)) if what == "add" else ref.remove(spte(k))
    kvm, final = run_ops(sw, [("add", 4)], build=build)
    check(kvm, final, ref)
    kvm2, final2 = run_ops(sw, build + [("add", 4)])
    mem, mem2 = kvm.final_mem(final), kvm2.final_mem(final2)
    head = kvm.memslots[0].rmap[1][0]
    assert pte_list_layout(kvm, head, mem) == pte_list_layout(kvm2, head, mem2)


def test_3_11_appends_at_the_tail_and_head_variant_inserts_at_the_head() -> None:
    """The two algorithms differ where §2.1 and §3.5 say they do (ext=2, 5 entries)."""
    for algo, expected in [("3.11", [[0, 1], [2, 3], [4]]), ("head", [[4], [2, 3], [0, 1]])]:
        kvm, final = run_ops(Switches(pte_list=algo, pte_list_ext=2), [("add", k) for k in range(5)])
        layout = pte_list_layout(kvm, kvm.memslots[0].rmap[1][0], kvm.final_mem(final))
        assert [[s for s in d if s] for d in layout[:-1]] == [[spte(k) for k in d] for d in expected]
    # 3.11 refills from the same desc; the head variant from the head desc (2 is replaced by
    # 4, the head's only entry, and the emptied head is freed)
    for algo, expected in [("3.11", [[0, 1], [4]]), ("head", [[4], [0, 1]])]:
        ops: list[Op] = [("add", k) for k in range(5)] + [("del", 2), ("del", 3)]
        kvm, final = run_ops(Switches(pte_list=algo, pte_list_ext=2), ops)
        layout = pte_list_layout(kvm, kvm.memslots[0].rmap[1][0], kvm.final_mem(final))
        assert [[s for s in d if s] for d in layout[:-1]] == [[spte(k) for k in d] for d in expected]


def test_removing_a_missing_entry_is_a_bug() -> None:
    p = Program("bug")
    kvm = KvmMmu(p, Switches(pte_list_ext=2))
    head = kvm.memslots[0].rmap[1][0]

    @p.thread
    def cpu0() -> None:
        pte_list_add(kvm, spte(0), head)
        pte_list_add(kvm, spte(1), head)
        pte_list_remove(kvm, spte(2), head)

    res = explore(p, "sc")
    assert res.verdict == "violated" and {v.kind for v in res.violations} == {"BUG"}
    assert "not found" in res.violations[0].message


def test_desc_cache_exhaustion_is_a_model_error() -> None:
    from rmapwalk.engine import ModelError

    p = Program("exhausted")
    kvm = KvmMmu(p, Switches(pte_list_ext=1), desc_capacity=1)
    head = kvm.memslots[0].rmap[1][0]

    @p.thread
    def cpu0() -> None:
        pte_list_add(kvm, spte(0), head)
        pte_list_add(kvm, spte(1), head)

    with pytest.raises(ModelError, match="exhausted"):
        explore(p, "sc")
