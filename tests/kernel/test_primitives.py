"""The kernel primitives give the kernel's documented outcomes (issue: Linux primitives).

Each test is a small model; the broken variant must produce a violation of the right property,
with a trace that replays.
"""

from __future__ import annotations

import pytest

from rmapwalk.engine import Program, Result, explore
from rmapwalk.engine.replay import graph_to_replay, rebuild
from rmapwalk.engine.trace import render
from rmapwalk.kernel import READ_ONCE, WRITE_ONCE, smp_rmb, smp_wmb, spin_lock, spin_unlock
from rmapwalk.kernel.once import plain_read, plain_write
from rmapwalk.kernel.races import report_data_races
from rmapwalk.kernel.rcu import (
    call_rcu,
    init_rcu,
    rcu_assign_pointer,
    rcu_dereference,
    rcu_read_lock,
    rcu_read_unlock,
    synchronize_rcu,
)
from rmapwalk.kernel.slab import (
    SLAB_DESTROY_BY_RCU,
    SLAB_TYPESAFE_BY_RCU,
    kmem_cache_alloc,
    kmem_cache_create,
    kmem_cache_free,
)

MODELS = ["sc", "tso", "pso"]


def kinds(res: Result) -> set[str]:
    return {v.kind for v in res.violations}


def replays(prog: Program, res: Result) -> None:
    """Every kept violation rebuilds to the same execution and renders the same trace twice."""
    for v in res.violations:
        g = rebuild(prog, v.replay)
        assert graph_to_replay(g, res.model)["threads"] == v.replay["threads"]
        assert render(g, res.model) == render(rebuild(prog, v.replay), res.model)


def run(prog: Program, model: str) -> Result:
    res = explore(prog, model, keep_violations=5, check_redundancy=True)
    assert res.stats.redundant == 0
    replays(prog, res)
    return res


# 1. publish / subscribe ---------------------------------------------------------------------------
def pubsub(publish_with_release: bool) -> Program:
    p = Program("pubsub" + ("" if publish_with_release else "-plain"))
    data = p.var("obj.data")
    gp = p.var("gp")

    @p.thread
    def updater() -> None:
        WRITE_ONCE(data, 42)  # initialise the object ...
        if publish_with_release:
            rcu_assign_pointer(gp, data)  # ... then publish it
        else:
            WRITE_ONCE(gp, data)

    @p.thread
    def reader() -> None:
        rcu_read_lock()
        q = rcu_dereference(gp)
        if q:
            assert READ_ONCE(q) == 42, "reader saw an uninitialised object"
        rcu_read_unlock()

    return p


@pytest.mark.parametrize("model", MODELS)
def test_rcu_assign_pointer_publishes_initialised_objects(model: str) -> None:
    assert run(pubsub(True), model).verdict == "holds"


def test_plain_publication_is_caught_under_pso() -> None:
    res = run(pubsub(False), "pso")
    assert res.verdict == "violated" and kinds(res) == {"assertion"}
    assert "uninitialised" in res.violations[0].message
    assert run(pubsub(False), "tso").verdict == "holds"  # TSO keeps stores in order


# 2. and 3. removal, grace period, free ----------------------------------------------------------
def remove_then_free(how: str) -> Program:
    p = Program(f"remove-{how}")
    cache = kmem_cache_create(p, "foo", ["a"], capacity=2)
    (obj,) = cache.preallocate(p, 1)
    p.init[obj] = 1
    gp = p.var("gp", obj)

    @p.thread
    def reader() -> None:
        rcu_read_lock()
        q = rcu_dereference(gp)
        if q:
            READ_ONCE(cache.f(q, "a"))
        rcu_read_unlock()

    @p.thread
    def updater() -> None:
        old = READ_ONCE(gp)
        WRITE_ONCE(gp, 0)
        if how == "synchronize_rcu":
            synchronize_rcu()
            kmem_cache_free(cache, old)
        elif how == "call_rcu":
            call_rcu(old, lambda o: kmem_cache_free(cache, o))
        else:
            kmem_cache_free(cache, old)

    if how == "call_rcu":
        init_rcu(p, callbacks=1)
    return p


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("how", ["synchronize_rcu", "call_rcu"])
def test_freeing_after_a_grace_period_is_safe(how: str, model: str) -> None:
    res = run(remove_then_free(how), model)
    assert res.verdict == "holds", res.violations[:1]


@pytest.mark.parametrize("model", MODELS)
def test_freeing_at_once_is_a_use_after_free(model: str) -> None:
    res = run(remove_then_free("at once"), model)
    assert res.verdict == "violated"
    assert kinds(res) == {"use-after-free"}
    v = res.violations[0]
    assert "reader reads foo#0.a" in v.message and "kmem_cache_free" in v.message


def test_typesafe_by_rcu_readers_may_touch_freed_objects() -> None:
    p = remove_then_free("at once")
    p.lib["slab"]["caches"]["foo"].flags = SLAB_TYPESAFE_BY_RCU
    assert run(p, "sc").verdict == "holds"
    assert SLAB_DESTROY_BY_RCU == SLAB_TYPESAFE_BY_RCU


def test_typesafe_memory_outside_a_read_side_section_is_still_freed() -> None:
    p = Program("typesafe-no-rcu")
    cache = kmem_cache_create(p, "foo", ["a"], flags=SLAB_TYPESAFE_BY_RCU, capacity=2)
    (obj,) = cache.preallocate(p, 1)
    gp = p.var("gp", obj)

    @p.thread
    def reader() -> None:
        q = READ_ONCE(gp)  # no rcu_read_lock()
        if q:
            READ_ONCE(cache.f(q, "a"))

    @p.thread
    def updater() -> None:
        WRITE_ONCE(gp, 0)
        kmem_cache_free(cache, obj)

    res = run(p, "sc")
    assert kinds(res) == {"use-after-free"}


# 4. the SLAB_TYPESAFE_BY_RCU lookup of Documentation/RCU/rculist_nulls.rst ------------------------
def nulls_lookup(check_nulls: bool) -> Program:
    """Chain 0: X(key 1) -> Y(key 2) -> nulls(0).  A reader looks up key 2 (Y is in chain 0 from
    start to end).  Meanwhile X is removed, freed, reallocated and inserted into chain 1, so a
    reader standing on X follows X.next into chain 1 and ends on nulls(1)."""
    from rmapwalk.kernel.nulls import (
        INIT_HLIST_NULLS_HEAD,
        NEXT,
        NULLS_MARKER,
        PPREV,
        hlist_nulls_add_head_rcu,
        hlist_nulls_del_rcu,
        hlist_nulls_for_each_entry_rcu,
    )

    p = Program("rculist_nulls" + ("" if check_nulls else "-nocheck"))
    cache = kmem_cache_create(p, "obj", ["next", "pprev", "key"], flags=SLAB_TYPESAFE_BY_RCU, capacity=2)
    x, y = cache.preallocate(p, 2)
    head0 = INIT_HLIST_NULLS_HEAD(p, "chain[0]", 0)
    head1 = INIT_HLIST_NULLS_HEAD(p, "chain[1]", 1)
    p.init[int(head0)] = x
    p.init[x + NEXT], p.init[x + PPREV], p.init[cache.f(x, "key")] = y, int(head0), 1
    p.init[y + NEXT], p.init[y + PPREV], p.init[cache.f(y, "key")] = NULLS_MARKER(0), x + NEXT, 2

    @p.thread
    def reader() -> None:
        rcu_read_lock()
        found = False
        while not found:
            walk = hlist_nulls_for_each_entry_rcu(head0)
            for pos in walk:
                if READ_ONCE(cache.f(pos, "key")) == 2:
                    found = True
                    break
            if found or not check_nulls or walk.end == 0:
                break
            # the walk ended on another chain's marker: restart (rculist_nulls.rst)
        rcu_read_unlock()
        assert found, "lookup missed an object present all along"

    @p.thread
    def writer() -> None:
        hlist_nulls_del_rcu(x)
        kmem_cache_free(cache, x)
        z = kmem_cache_alloc(cache)  # reuses X at once
        WRITE_ONCE(cache.f(z, "key"), 3)
        hlist_nulls_add_head_rcu(z, head1)

    return p


@pytest.mark.parametrize("model", MODELS)
def test_nulls_check_and_restart_never_misses(model: str) -> None:
    res = run(nulls_lookup(True), model)
    assert res.verdict == "holds", res.violations[:1]


@pytest.mark.parametrize("model", MODELS)
def test_without_the_nulls_check_a_lookup_misses(model: str) -> None:
    res = run(nulls_lookup(False), model)
    assert res.verdict == "violated"
    assert kinds(res) == {"assertion"}
    assert "missed" in res.violations[0].message


# 5. spinlock-protected counter ----------------------------------------------------------------------
def counter(locked: bool) -> Program:
    p = Program("counter" + ("" if locked else "-nolock"))
    lock, c = p.var("lock"), p.var("c")

    def cpu() -> None:
        if locked:
            spin_lock(lock)
        WRITE_ONCE(c, READ_ONCE(c) + 1)
        if locked:
            spin_unlock(lock)

    p.thread(cpu, name="cpu0")
    p.thread(cpu, name="cpu1")
    p.require(lambda f: f["c"] == 2, "lost update")
    return p


@pytest.mark.parametrize("model", MODELS)
def test_spinlock_counter(model: str) -> None:
    assert run(counter(True), model).verdict == "holds"
    res = run(counter(False), model)
    assert kinds(res) == {"lost update"}


# 6. message passing with smp_wmb / smp_rmb ------------------------------------------------------------
def mp(wmb: bool, rmb: bool) -> Program:
    p = Program(f"MP{'+wmb' if wmb else ''}{'+rmb' if rmb else ''}")
    data, flag = p.var("data"), p.var("flag")

    @p.thread
    def P0() -> None:
        WRITE_ONCE(data, 1)
        if wmb:
            smp_wmb()
        WRITE_ONCE(flag, 1)

    @p.thread
    def P1() -> None:
        if READ_ONCE(flag):
            if rmb:
                smp_rmb()
            assert READ_ONCE(data) == 1, "flag seen, data stale"

    return p


def test_message_passing_fences() -> None:
    assert run(mp(True, True), "pso").verdict == "holds"
    assert kinds(run(mp(False, True), "pso")) == {"assertion"}
    # PSO never reorders two loads, so smp_rmb() is not needed there; the weaker model is where
    # removing it shows
    assert run(mp(True, False), "pso").verdict == "holds"
    assert run(mp(True, True), "weak").verdict == "holds"
    assert kinds(run(mp(True, False), "weak")) == {"assertion"}
    assert kinds(run(mp(False, True), "weak")) == {"assertion"}


@pytest.mark.parametrize("model", ["sc", "tso", "pso", "weak"])
def test_rcu_dereference_orders_the_dependent_load(model: str) -> None:
    assert run(pubsub(True), model).verdict == "holds"


def pubsub_two(deref: str, rmb: bool) -> Program:
    """The publisher also sets ``ready`` before publishing; the reader loads ``ready`` after the
    pointer without any dependency on it."""
    p = Program(f"pubsub-two-{deref}{'+rmb' if rmb else ''}")
    data, ready, gp = p.var("obj.data"), p.var("ready"), p.var("gp")

    @p.thread
    def updater() -> None:
        WRITE_ONCE(data, 42)
        WRITE_ONCE(ready, 1)
        rcu_assign_pointer(gp, data)

    @p.thread
    def reader() -> None:
        rcu_read_lock()
        q = rcu_dereference(gp) if deref == "rcu_dereference" else READ_ONCE(gp)
        if q:
            if rmb:
                smp_rmb()
            assert READ_ONCE(q) == 42, "reader saw an uninitialised object"
            assert READ_ONCE(ready) == 1, "an independent load was satisfied early"
        rcu_read_unlock()

    return p


@pytest.mark.parametrize("deref", ["rcu_dereference", "READ_ONCE"])
def test_weak_orders_only_what_depends_on_the_pointer(deref: str) -> None:
    # the load through the pointer is ordered by its address dependency, whatever primitive
    # loaded the pointer (every CPU but Alpha: lkmm-alpha); the independent load is not, as
    # on Arm, until an smp_rmb() orders it
    res = run(pubsub_two(deref, False), "weak")
    assert {v.message for v in res.violations} == {"an independent load was satisfied early"}
    assert run(pubsub_two(deref, True), "weak").verdict == "holds"
    assert run(pubsub_two(deref, False), "pso").verdict == "holds"  # PSO keeps loads in order


# 7. data races ----------------------------------------------------------------------------------------
def racy(writer: str) -> Program:
    p = Program(f"race-{writer}")
    x, lock = p.var("x"), p.var("lock")
    report_data_races(p)

    @p.thread
    def P0() -> None:
        if writer == "locked":
            spin_lock(lock)
            plain_write(x, 1)
            spin_unlock(lock)
        elif writer == "plain":
            plain_write(x, 1)
        else:
            WRITE_ONCE(x, 1)

    @p.thread
    def P1() -> None:
        if writer == "locked":
            spin_lock(lock)
            READ_ONCE(x)
            spin_unlock(lock)
        else:
            READ_ONCE(x)

    return p


@pytest.mark.parametrize("model", MODELS)
def test_data_races(model: str) -> None:
    res = run(racy("plain"), model)
    assert kinds(res) == {"data race"}
    assert "P0's plain write" in res.violations[0].message and "P1's marked read" in res.violations[0].message
    assert run(racy("once"), model).verdict == "holds"
    assert run(racy("locked"), model).verdict == "holds"


def test_plain_reads_of_a_plain_variable_written_before_the_lock_is_taken_race() -> None:
    p = Program("race-mp")
    x, y = p.var("x"), p.var("y")
    report_data_races(p)

    @p.thread
    def P0() -> None:
        plain_write(x, 1)
        WRITE_ONCE(y, 1)

    @p.thread
    def P1() -> None:
        if READ_ONCE(y):
            plain_read(x)

    assert run(p, "sc").verdict == "holds"  # po + rf order them under SC
    assert kinds(run(p, "pso")) == {"data race"}  # PSO may let y overtake x


# 8. deadlock and RCU misuse ----------------------------------------------------------------------
def abba() -> Program:
    p = Program("ABBA")
    a, b = p.var("A"), p.var("B")

    @p.thread
    def cpu0() -> None:
        spin_lock(a)
        spin_lock(b)
        spin_unlock(b)
        spin_unlock(a)

    @p.thread
    def cpu1() -> None:
        spin_lock(b)
        spin_lock(a)
        spin_unlock(a)
        spin_unlock(b)

    return p


@pytest.mark.parametrize("model", MODELS)
def test_abba_deadlock(model: str) -> None:
    res = run(abba(), model)
    assert kinds(res) == {"deadlock"}
    assert res.stats.complete == 2  # either CPU takes both locks first
    text = render(rebuild(abba(), res.violations[0].replay), model)
    assert "BLOCKED: spin_lock(A)" in text and "BLOCKED: spin_lock(B)" in text


def test_lock_misuse() -> None:
    p = Program("misuse")
    a = p.var("A")

    @p.thread
    def cpu0() -> None:
        spin_lock(a)
        spin_unlock(a)
        spin_unlock(a)

    res = run(p, "sc")
    assert kinds(res) == {"lock misuse"} and "second spin_unlock" in res.violations[0].message

    q = Program("misuse2")
    b = q.var("B")
    q.thread(lambda: spin_unlock(b), name="cpu0")
    assert "not held" in run(q, "sc").violations[0].message


def test_synchronize_rcu_inside_a_read_side_section() -> None:
    p = Program("sync-in-cs")

    @p.thread
    def cpu0() -> None:
        rcu_read_lock()
        synchronize_rcu()
        rcu_read_unlock()

    p.thread(lambda: None, name="cpu1")
    res = run(p, "sc")
    assert kinds(res) == {"rcu misuse"}
    assert "synchronize_rcu() inside" in res.violations[0].message


def test_double_free() -> None:
    p = Program("double-free")
    cache = kmem_cache_create(p, "foo", ["a"], capacity=2)
    (obj,) = cache.preallocate(p, 1)

    @p.thread
    def cpu0() -> None:
        kmem_cache_free(cache, obj)
        kmem_cache_free(cache, obj)

    assert kinds(run(p, "sc")) == {"double free"}


def test_freed_object_is_reused_at_once() -> None:
    p = Program("reuse")
    cache = kmem_cache_create(p, "foo", ["a"], capacity=2)
    (obj,) = cache.preallocate(p, 1)
    got = p.var("got")

    @p.thread
    def cpu0() -> None:
        kmem_cache_free(cache, obj)
        WRITE_ONCE(got, kmem_cache_alloc(cache))

    res = run(p, "sc")
    assert {dict(o)["got"] for o in res.outcomes} == {obj}


# bitops and atomics ---------------------------------------------------------------------------------
@pytest.mark.parametrize("atomic", [True, False])
def test_set_bit_is_atomic_and___set_bit_is_not(atomic: bool) -> None:
    from rmapwalk.kernel import bitops

    p = Program("bits")
    word = p.var("bitmap[0]")
    setter = bitops.set_bit if atomic else bitops.__set_bit
    p.thread(lambda: setter(1, word), name="cpu0")
    p.thread(lambda: setter(2, word), name="cpu1")
    p.require(lambda f: f["bitmap[0]"] == 0b110, "a bit was lost")
    res = run(p, "sc")
    assert res.verdict == ("holds" if atomic else "violated")


def test_test_and_clear_bit_harvests_each_bit_once() -> None:
    from rmapwalk.kernel import bitops

    p = Program("harvest")
    word = p.var("bitmap[0]", 0b1)
    got = p.array("got", 2)
    for i in range(2):
        p.thread(lambda i=i: WRITE_ONCE(got[i], int(bitops.test_and_clear_bit(0, word))), name=f"cpu{i}")
    p.require(lambda f: f["got[0]"] + f["got[1]"] == 1, "bit harvested twice or never")
    assert run(p, "pso").verdict == "holds"
    assert bitops.BITS_PER_LONG == 64


def test_atomic_ordering_variants() -> None:
    from rmapwalk.kernel import atomic

    p = Program("variants")
    v = p.var("v")
    out = p.var("out")

    @p.thread
    def cpu0() -> None:
        a = atomic.atomic_inc_return_relaxed(v)
        b = atomic.atomic_fetch_sub_acquire(1, v)
        c = atomic.atomic_cmpxchg_release(v, 0, 5)
        d = atomic.atomic_dec_and_test(v)
        WRITE_ONCE(out, (a, b, c, d))

    res = run(p, "pso")
    assert {dict(o)["out"] for o in res.outcomes} == {(1, 1, 0, False)}
    assert {dict(o)["v"] for o in res.outcomes} == {4}


# RCU nesting and rcu_barrier -----------------------------------------------------------------------
def test_nested_read_side_sections_end_at_the_outermost_unlock() -> None:
    p = remove_then_free("synchronize_rcu")
    inner = p.threads[0].fn

    def reader() -> None:
        rcu_read_lock()
        inner()  # a whole (nested) section inside
        rcu_read_unlock()

    p.threads[0].fn = reader
    assert run(p, "tso").verdict == "holds"


def test_rcu_read_unlock_without_lock_is_misuse() -> None:
    p = Program("unbalanced")
    p.thread(rcu_read_unlock, name="cpu0")
    assert kinds(run(p, "sc")) == {"rcu misuse"}


@pytest.mark.parametrize("barrier", [True, False])
def test_rcu_barrier_waits_for_queued_callbacks(barrier: bool) -> None:
    from rmapwalk.kernel.rcu import rcu_barrier

    p = Program("rcu_barrier" + ("" if barrier else "-none"))
    done = p.var("done")

    @p.thread
    def cpu0() -> None:
        call_rcu(1, lambda head: WRITE_ONCE(done, head))
        if barrier:
            rcu_barrier()
            assert READ_ONCE(done) == 1, "callback has not run after rcu_barrier()"
        else:
            assert READ_ONCE(done) == 1, "callback has not run"

    init_rcu(p, callbacks=1)
    res = run(p, "pso")
    assert res.verdict == ("holds" if barrier else "violated")


def test_kernel_violations_are_named_in_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from click.testing import CliRunner

    from rmapwalk.cli import main

    model = tmp_path / "uaf.py"
    model.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(__import__('os').path.dirname(__file__))!r})\n"
        "from test_primitives import remove_then_free\n"
        "prog = remove_then_free('at once')\n"
    )
    out = CliRunner().invoke(main, ["run", str(model), "--json", "--replay-dir", str(tmp_path)])
    assert out.exit_code == 1
    data = json.loads(out.output)
    assert data["violations"][0]["property"] == "use-after-free"
    assert "kmem_cache_free" in data["violations"][0]["trace"]
