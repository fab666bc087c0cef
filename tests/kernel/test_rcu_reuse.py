"""An object removed from an RCU-protected pointer, freed by a ``call_rcu`` callback and reused by
another thread: what RCU promises a reader that still holds the old pointer, under every model.

The shape (``remove_free_reuse``): ``gp`` points to ``foo#0`` (field ``a`` = 1).  ``reader``:
``rcu_read_lock(); q = rcu_dereference(gp); if (q) v = q->a; rcu_read_unlock()``.  ``updater``:
``WRITE_ONCE(gp, NULL); call_rcu(old, free)``.  ``reuser``: ``o = kmem_cache_alloc(); o->a = 2``
(the cache has one object, so ``o`` is ``foo#0`` once the callback has freed it).  A reader that
got the pointer started its section before the removal, so the grace period waits for it: it
cannot see ``a == 2``, and (with a marked read) does not race with the reuse.

Under LKMM the checks also run on executions that stop inside the section (the assertion fails
there): the section must count as ending after what it did, or no grace period would wait for it.

With a *plain* read of ``q->a``, LKMM (``tools/memory-model``, and so ``--model lkmm``) reports a
data race with the reuser's write: a plain read is ordered before later events only through a
marked access or a non-rw fence after it in its own thread (``r-post-bounded``), and neither
``rcu_read_unlock()`` nor the grace period's rcu-fence counts there; the rcu-fence bounds a plain
access only against accesses after the grace period *in the grace period's thread*.  The kernel
relies on more: ``rcu_read_unlock()`` is a compiler barrier, the grace period ends only after
every CPU passed a quiescent state (full barriers), and the allocator's own locking orders the
callback's free before the next allocation.  The tests pin LKMM's verdict (it is the model's).
"""

from __future__ import annotations

import pytest

from rmapwalk.engine import Program, Result, explore
from rmapwalk.kernel import READ_ONCE, WRITE_ONCE
from rmapwalk.kernel.once import plain_read, plain_write
from rmapwalk.kernel.races import report_data_races
from rmapwalk.kernel.rcu import (
    call_rcu,
    init_rcu,
    rcu_dereference,
    rcu_read_lock,
    rcu_read_unlock,
    synchronize_rcu,
)
from rmapwalk.kernel.slab import kmem_cache_alloc, kmem_cache_create, kmem_cache_free

MODELS = ["sc", "tso", "pso", "lkmm", "lkmm-alpha"]


def remove_free_reuse(read: str = "marked", write: str = "plain", check: str = "inside",
                      free: str = "call_rcu") -> Program:
    """The shape of the module doc.  ``read``/``write``: the reader's read and the reuser's
    write of ``a``, ``marked`` or ``plain``; ``check``: the reader asserts ``a == 1`` ``inside``
    its section or ``after`` it; ``free``: ``call_rcu`` (callback thread), ``synchronize_rcu``
    (the updater waits, then frees) or ``at once`` (no grace period)."""
    p = Program(f"remove-{free}-reuse[{read} read, {write} write, check {check}]")
    cache = kmem_cache_create(p, "foo", ["a"], capacity=1)
    (obj,) = cache.preallocate(p, 1)
    p.init[cache.f(obj, "a")] = 1
    gp = p.var("gp", obj)

    @p.thread
    def reader() -> None:
        rcu_read_lock()
        q = rcu_dereference(gp)
        v = 1
        if q:
            v = (READ_ONCE if read == "marked" else plain_read)(cache.f(q, "a"))
            if check == "inside":
                assert v == 1, f"stale read: the reader saw the reused object (a = {v})"
        rcu_read_unlock()
        if check == "after":
            assert v == 1, f"stale read: the reader saw the reused object (a = {v})"

    @p.thread
    def updater() -> None:
        old = READ_ONCE(gp)
        WRITE_ONCE(gp, 0)
        if free == "call_rcu":
            call_rcu(old, lambda o: kmem_cache_free(cache, o))
            return
        if free == "synchronize_rcu":
            synchronize_rcu()
        kmem_cache_free(cache, old)

    @p.thread
    def reuser() -> None:
        o = kmem_cache_alloc(cache)
        if o:
            (WRITE_ONCE if write == "marked" else plain_write)(cache.f(o, "a"), 2)

    if free == "call_rcu":
        init_rcu(p, callbacks=1)
    report_data_races(p)
    return p


def run(prog: Program, model: str) -> Result:
    res = explore(prog, model, keep_violations=5, check_redundancy=True)
    assert res.incomplete_reason is None
    assert res.stats.redundant == 0
    return res


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("check", ["inside", "after"])
@pytest.mark.parametrize("write", ["marked", "plain"])
def test_a_reader_that_got_the_pointer_never_sees_the_reused_object(model: str, check: str, write: str) -> None:
    res = run(remove_free_reuse("marked", write, check), model)
    assert res.verdict == "holds", [v.message for v in res.violations]
    assert res.stats.executions > 1  # (the reuse does happen in some executions)


@pytest.mark.parametrize("model", MODELS)
def test_the_grace_period_is_what_protects_the_reader(model: str) -> None:
    """The same shape freeing at once: the reader may see the reused object."""
    res = run(remove_free_reuse("marked", "plain", free="at once"), model)
    kinds = {v.kind for v in res.violations}
    assert "assertion" in kinds or "use-after-free" in kinds, kinds


@pytest.mark.parametrize("model", ["sc", "tso", "pso"])
def test_a_plain_read_in_the_section_is_protected_operationally(model: str) -> None:
    assert run(remove_free_reuse("plain", "plain"), model).verdict == "holds"


@pytest.mark.parametrize("free", ["call_rcu", "synchronize_rcu"])
@pytest.mark.parametrize("write", ["marked", "plain"])
def test_lkmm_bounds_a_plain_read_in_the_section_only_within_the_grace_periods_thread(write: str, free: str) -> None:
    """LKMM's own verdict (see the module doc): the reuse on a third thread races with the
    reader's plain read, whether the grace period is the callback's or the updater's."""
    res = run(remove_free_reuse("plain", write, "after", free), "lkmm")
    races = [v.message for v in res.violations if v.kind == "data race"]
    assert races and all("reader's plain read" in m and "reuser's" in m for m in races), races


def test_lkmm_bounds_a_plain_read_against_a_write_after_the_grace_period_in_its_thread() -> None:
    p = Program("remove-synchronize_rcu-write")
    a = p.var("a", 1)
    gp = p.var("gp", 1)

    @p.thread
    def reader() -> None:
        rcu_read_lock()
        if rcu_dereference(gp):
            assert plain_read(a) == 1, "stale read"
        rcu_read_unlock()

    @p.thread
    def updater() -> None:
        WRITE_ONCE(gp, 0)
        synchronize_rcu()
        plain_write(a, 2)

    report_data_races(p)
    assert run(p, "lkmm").verdict == "holds"
