"""RCU (Linux ``Documentation/RCU/whatisRCU.rst``): read-side critical sections, grace periods,
``call_rcu`` callbacks, and the publish/subscribe pointer accesses.

Under the LKMM models (``--model lkmm``/``lkmm-alpha``) these are LKMM's own events:
``rcu_read_lock``/``rcu_read_unlock`` are Rcu-lock/Rcu-unlock fences, ``synchronize_rcu`` a
Sync-rcu fence (a grace period), and the RCU axiom of the model does the rest; a ``call_rcu``
callback runs after such a grace period on the callback thread, which reads the queued callback
with an acquire load and then executes the Sync-rcu fence: every marked store before
``call_rcu()`` (the removal, the release store that queues the callback) precedes the grace
period, so a section that read a value the removal overwrote ends before the grace period ends,
and the callback (e.g. ``kmem_cache_free``, a fully ordered RMW on the freelist) and whatever
reads from it (the next ``kmem_cache_alloc`` of the object, on any thread, and that thread's
later accesses) come after the section.  A section an execution leaves open (a violation inside
it) counts as ending after what it did (``engine.lkmm``).  LKMM bounds a *plain* access of a
section only through marked accesses or fences after it in its own thread, or through accesses
after the grace period in the grace period's own thread: a plain read in the section and a write
to the object by the thread that reallocated it after the callback freed it are a data race in
LKMM's terms (``tools/memory-model`` gives the same verdict), where the kernel relies on
``rcu_read_unlock()`` being a compiler barrier and on the grace period's end waiting for every
CPU's quiescent state.  Under SC, TSO, PSO and ``weak`` the model is operational:

* each thread has a reader flag; the outermost ``rcu_read_lock()`` sets it and executes a full
  barrier (standing for the quiescent-state machinery: on a real kernel the grace-period code
  learns a CPU is in a critical section through barriers the CPU executed outside it);
  the outermost ``rcu_read_unlock()`` clears it with a release store, so every access of the
  section is done before a grace period can see the section end;
* ``synchronize_rcu()`` executes a full barrier, then waits, CPU by CPU, until it sees that CPU
  outside any read-side critical section, then executes a full barrier.  A section that began
  before the grace period therefore ends before ``synchronize_rcu()`` returns, and one that
  begins after it sees everything done before the grace period;
* ``call_rcu(head, func)`` queues ``func(head)``; callbacks run on a thread of their own that
  ``init_rcu(program, callbacks=N)`` adds to the program, each after a grace period that starts
  after its ``call_rcu``.  ``rcu_barrier()`` waits for every queued callback to have run.

Misuse (property ``rcu misuse``): ``synchronize_rcu()`` or ``rcu_barrier()`` inside a read-side
critical section (it would wait for itself forever), and ``rcu_read_unlock()`` without a lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rmapwalk.engine import mutation as _mut
from rmapwalk.engine.events import ACQUIRE, CONSUME, F_RCU_LOCK, F_RCU_UNLOCK, F_SYNC_RCU, ONCE, RELAXED, RELEASE
from rmapwalk.engine.ops import assume, fence, lkmm_events, load, program, rmw, store, thread_id, thread_local
from rmapwalk.engine.program import Loc, Program
from rmapwalk.engine.runtime import ModelError, Violated
from rmapwalk.kernel.once import marked_mode

CALLBACK_THREAD = "rcu_callbacks"


def _flag(prog: Program, tid: int) -> Loc:
    return prog.named(f"rcu_reader[{prog.threads[tid].name}]")


def rcu_read_lock() -> None:
    """Enter a read-side critical section (they nest)."""
    if _mut.armed and _mut.section_enter("rcu_read_lock"):
        return  # mutation: no section
    tls = thread_local()
    n = tls.get("rcu_nesting", 0)
    if lkmm_events():
        fence(F_RCU_LOCK, "rcu_read_lock")
    elif n == 0:
        store(_flag(program(), thread_id()), 1, ONCE, "rcu_read_lock")
        fence("mb", "(rcu_read_lock: quiescent-state barrier)")
    tls["rcu_nesting"] = n + 1


def rcu_read_unlock() -> None:
    """Leave a read-side critical section."""
    if _mut.armed and _mut.section_exit():
        return  # mutation: it ends a section that was removed
    tls = thread_local()
    n = tls.get("rcu_nesting", 0)
    if n == 0:
        raise Violated("rcu misuse", "rcu_read_unlock() outside any RCU read-side critical section")
    if lkmm_events():
        fence(F_RCU_UNLOCK, "rcu_read_unlock")
    elif n == 1:
        store(_flag(program(), thread_id()), 0, RELEASE, "rcu_read_unlock")
    tls["rcu_nesting"] = n - 1


def rcu_read_lock_held() -> bool:
    return bool(thread_local().get("rcu_nesting", 0))


def _wait_for_readers(what: str) -> None:
    if lkmm_events():  # LKMM's grace period: the rcu axiom orders it against every section
        fence(F_SYNC_RCU, what)
        return
    prog = program()
    me = thread_id()
    fence("mb", f"({what}: grace period starts)")
    for t, td in enumerate(prog.threads):
        if t == me or td.name == CALLBACK_THREAD:
            continue
        v = load(_flag(prog, t), ONCE, what)
        assume(v == 0, f"{what}: {td.name} is in an RCU read-side critical section", kind="rcu")
    fence("mb", f"({what}: grace period ends)")


def synchronize_rcu() -> None:
    """Wait until every read-side critical section that began before this call has ended."""
    if thread_local().get("rcu_nesting", 0):
        raise Violated("rcu misuse", "synchronize_rcu() inside an RCU read-side critical section")
    if _mut.armed and _mut.at("synchronize_rcu", _mut.GRACE) == _mut.REMOVED:
        return  # mutation: no grace period
    _wait_for_readers("synchronize_rcu")


synchronize_rcu_expedited = synchronize_rcu


def rcu_dereference(p: int) -> Any:
    """Load an RCU-protected pointer (a marked load; its dependent loads are ordered after it)."""
    if _mut.armed:
        return load(p, marked_mode("rcu_dereference", CONSUME), "rcu_dereference")
    return load(p, CONSUME, "rcu_dereference")


def rcu_assign_pointer(p: int, v: Any) -> None:
    """Publish pointer ``v`` in ``p``: a release store, so the pointed-to object's
    initialisation is visible to whoever sees the pointer."""
    if _mut.armed:
        store(p, v, marked_mode("rcu_assign_pointer", RELEASE), "rcu_assign_pointer")
        return
    store(p, v, RELEASE, "rcu_assign_pointer")


def init_rcu(prog: Program, callbacks: int = 2) -> None:
    """Give ``prog`` room for ``callbacks`` ``call_rcu()`` calls and the thread that runs them.

    Call it after adding the program's own threads (the callback thread is added last)."""
    if "rcu_callbacks" in prog.lib:
        raise ValueError("init_rcu() called twice")
    prog.lib["rcu_callbacks"] = callbacks
    prog.named("rcu.queued", 0)
    for i in range(callbacks):
        prog.named(f"rcu.callback[{i}]")
        prog.named(f"rcu.done[{i}]")
    prog.thread(_callback_thread, callbacks, name=CALLBACK_THREAD)


def call_rcu(head: Any, func: Callable[[Any], None]) -> None:
    """Run ``func(head)`` after a grace period, on the RCU callback thread."""
    if _mut.armed and _mut.at("call_rcu", _mut.GRACE) == _mut.REMOVED:
        func(head)  # mutation: no grace period, the callback runs at once
        return
    prog = program()
    n = prog.lib.get("rcu_callbacks")
    if n is None:
        raise ModelError("call_rcu() needs init_rcu(program, callbacks=N) when the program is built")
    i = rmw(prog.named("rcu.queued"), lambda c: c + 1, RELAXED, "call_rcu")
    if i >= n:
        raise ModelError(f"more than {n} call_rcu() calls: give init_rcu() more callbacks")
    store(prog.named(f"rcu.callback[{i}]"), (func, head), RELEASE, "call_rcu")


def _callback_thread(n: int) -> None:
    prog = program()
    for i in range(n):
        cb = load(prog.named(f"rcu.callback[{i}]"), ACQUIRE, "rcu callback")
        if cb == 0:
            continue  # not queued (yet): in this execution it runs after the program's end
        func, head = cb
        _wait_for_readers("rcu grace period")
        func(head)
        store(prog.named(f"rcu.done[{i}]"), 1, RELEASE, "rcu callback done")


def rcu_barrier() -> None:
    """Wait until every callback queued so far has run."""
    if thread_local().get("rcu_nesting", 0):
        raise Violated("rcu misuse", "rcu_barrier() inside an RCU read-side critical section")
    prog = program()
    if "rcu_callbacks" not in prog.lib:
        return
    queued = load(prog.named("rcu.queued"), ACQUIRE, "rcu_barrier")
    for i in range(min(queued, prog.lib["rcu_callbacks"])):
        done = load(prog.named(f"rcu.done[{i}]"), ACQUIRE, "rcu_barrier")
        assume(done == 1, f"rcu_barrier: callback {i} has not run", kind="rcu")
