"""atomic_long_t operations (kernel.atomic_long) and the slab layer's use-after-free check under
the LKMM models (program order orders a plain access only through the marked accesses and
fences that bound it: LKMM.object_order)."""

from __future__ import annotations

import pytest

from rmapwalk.engine import Program, explore
from rmapwalk.engine.ops import observe
from rmapwalk.kernel import (
    READ_ONCE,
    WRITE_ONCE,
    atomic_long_read,
    atomic_long_set,
    atomic_long_set_release,
    atomic_long_try_cmpxchg,
    atomic_long_try_cmpxchg_acquire,
    atomic_long_try_cmpxchg_relaxed,
    cmpxchg64,
)
from rmapwalk.kernel.once import plain_read, plain_write
from rmapwalk.kernel.slab import kmem_cache_alloc, kmem_cache_create, kmem_cache_free


def test_try_cmpxchg_returns_success_and_the_value_found() -> None:
    p = Program("try_cmpxchg")
    v = p.var("v", 5)

    @p.thread
    def t() -> None:
        observe("a", atomic_long_try_cmpxchg(v, 5, 6))
        observe("b", atomic_long_try_cmpxchg_acquire(v, 5, 7))
        observe("c", atomic_long_try_cmpxchg_relaxed(v, 6, 8))
        observe("d", cmpxchg64(v, 8, 9))
        observe("e", atomic_long_read(v))

    res = explore(p, "sc")
    (final, _), = res.outcomes.items()
    f = dict(final)
    assert (f["t:a"], f["t:b"], f["t:c"], f["t:d"], f["t:e"]) == ((True, 5), (False, 6), (True, 6), 8, 9)


def mp(lock: str, unlock: str) -> Program:
    """Message passing through a lock word: P0 fills data then 'unlocks' the flag word with
    ``unlock``; P1 'locks' it with ``lock`` and reads data."""
    p = Program(f"mp-{lock}-{unlock}")
    data, flag = p.var("data"), p.var("flag")
    store = {"release": atomic_long_set_release, "once": atomic_long_set}[unlock]
    take = {"acquire": atomic_long_try_cmpxchg_acquire, "relaxed": atomic_long_try_cmpxchg_relaxed,
            "full": atomic_long_try_cmpxchg}[lock]

    @p.thread
    def P0() -> None:
        WRITE_ONCE(data, 1)
        store(flag, 1)

    @p.thread
    def P1() -> None:
        ok, _ = take(flag, 1, 3)
        observe("r0", 1 if ok else 0)
        observe("r1", READ_ONCE(data))

    p.forbid(lambda f: f["P1:r0"] == 1 and f["P1:r1"] == 0, "stale data")
    return p


@pytest.mark.parametrize(("lock", "unlock", "model", "verdict"), [
    ("acquire", "release", "pso", "holds"),
    ("acquire", "release", "lkmm", "holds"),
    ("full", "once", "tso", "holds"),
    ("full", "once", "pso", "violated"),   # the unlock needs the release
    ("relaxed", "release", "pso", "holds"),  # PSO keeps loads in order
    ("relaxed", "release", "lkmm", "violated"),  # LKMM does not (no dependency here)
])
def test_atomic_long_orderings(lock: str, unlock: str, model: str, verdict: str) -> None:
    assert explore(mp(lock, unlock), model).verdict == verdict


def uaf_program(sync: bool) -> Program:
    """P0 reads a field of an object (plain) and hands it back to P1 through a release store
    (``sync``) or a plain marked store; P1 waits for the hand-back and frees the object."""
    p = Program(f"uaf-{sync}")
    cache = kmem_cache_create(p, "objs", ["f"], capacity=1)
    obj = cache.preallocate(p, 1)[0]
    done = p.var("done")

    @p.thread
    def P0() -> None:
        plain_read(cache.f(obj, "f"))
        (atomic_long_set_release if sync else atomic_long_set)(done, 1)

    @p.thread
    def P1() -> None:
        plain_write(cache.f(obj, "f"), 0)  # its own access, before its own free: never a UAF
        if atomic_long_try_cmpxchg_acquire(done, 1, 2)[0]:
            kmem_cache_free(cache, obj)
            kmem_cache_alloc(cache)

    return p


@pytest.mark.parametrize("model", ["sc", "pso", "lkmm"])
def test_use_after_free_is_ordered_by_the_model(model: str) -> None:
    assert explore(uaf_program(True), model).verdict == "holds"
    unsync = explore(uaf_program(False), model)
    # without the release, P0's plain read may be performed after the free (PSO keeps the load
    # before the later store, so only LKMM reorders it)
    assert unsync.verdict == ("violated" if model == "lkmm" else "holds")
    if model == "lkmm":
        assert set(unsync.property_counts) == {"use-after-free"}
