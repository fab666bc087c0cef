"""The operations thread code uses to reach shared memory.  Each call is one event.

These are the engine's own, model-neutral primitives; :mod:`rmapwalk.kernel` builds the Linux
names (``READ_ONCE``, ``smp_mb``, ``cmpxchg``...) on top of them.  Every call returns what the
operation returns in the execution being explored: ``load(x)`` is simply the value read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rmapwalk.engine import mutation as _mut
from rmapwalk.engine import runtime as _rt
from rmapwalk.engine.deps import plain
from rmapwalk.engine.events import (
    ACCESS_MODES,
    FENCE,
    FENCE_KINDS,
    FREE,
    MB,
    NO_WRITE,
    PLAIN,
    READ,
    RMW,
    RMW_MODES,
    SPECIAL,
    WRITE,
)
from rmapwalk.engine.runtime import ModelError

#: the property of an execution in which thread code accessed address 0 (the kernel's oops)
NULL_DEREF = "NULL pointer dereference"


def _check_loc(loc: object) -> int:
    """``loc`` as a location.  Address 0 is a NULL pointer dereference by the thread, a
    violation of its execution (a pointer read as NULL, e.g. a racy read of a field being
    reinitialised); anything else that is no location is a broken model."""
    if isinstance(loc, int) and not isinstance(loc, bool) and loc == 0:
        raise _rt.Violated(NULL_DEREF, "access to address 0")
    if not isinstance(loc, int) or isinstance(loc, bool) or loc <= 0:
        raise ModelError(f"not a shared location: {loc!r}")
    return loc


def load(loc: int, mode: str = PLAIN, label: str = "load") -> Any:
    """Read ``loc``; ``mode`` is ``plain``, ``once`` or ``acquire``."""
    rec = _rt.current()
    if rec.pos < rec.npath:
        return rec.value_op(READ, loc, mode, None, label)
    _check_loc(loc)
    if mode not in ACCESS_MODES or mode == "release":
        raise ModelError(f"{label}: bad mode {mode!r} for a load")
    if _mut.armed and mode != PLAIN:
        mode = _weaker_access(_mut.engine_op(_mut.ACCESS, mode, label), mode)
    return rec.value_op(READ, loc, mode, None, label)


def store(loc: int, value: Any, mode: str = PLAIN, label: str = "store") -> None:
    """Write ``value`` to ``loc``; ``mode`` is ``plain``, ``once`` or ``release``."""
    rec = _rt.current()
    if rec.pos < rec.npath:
        rec.depth += 1
        return
    _check_loc(loc)
    if mode not in ACCESS_MODES or mode == "acquire" or mode == "consume":
        raise ModelError(f"{label}: bad mode {mode!r} for a store")
    try:
        hash(value)
    except TypeError:
        raise ModelError(f"{label}: stored value {value!r} is not hashable") from None
    if _mut.armed and mode != PLAIN:
        mode = _weaker_access(_mut.engine_op(_mut.ACCESS, mode, label), mode)
    rec.plain_op(WRITE, loc, value, mode, label)


def rmw(loc: int, op: Callable[[Any], Any], mode: str = MB, label: str = "rmw",
        operands: tuple[Any, ...] = ()) -> Any:
    """Atomically read ``loc``, write ``op(old)`` unless it is ``NO_WRITE``; return ``old``.

    ``mode``: ``mb`` (fully ordered, the kernel's value-returning atomics), ``relaxed``,
    ``acquire`` or ``release``.  ``operands``: the values ``op`` computes the write from
    (its data dependencies under a dependency-tracking model; ``op`` sees them as plain values).
    """
    rec = _rt.current()
    if _mut.armed:  # (also while replaying the prefix: a non-atomic mutant has other events)
        w = _mut.engine_op(_mut.RMW, mode, label)
        if w == _mut.TO_RELAXED:
            mode = "relaxed"
        elif w == _mut.NON_ATOMIC:
            return _non_atomic(loc, op, label, operands)
    if rec.pos < rec.npath:
        return rec.value_op(RMW, loc, mode, op, label)
    _check_loc(loc)
    if mode not in RMW_MODES:
        raise ModelError(f"{label}: bad mode {mode!r} for a read-modify-write")
    return rec.value_op(RMW, loc, mode, op, label, operands)


def _weaker_access(weakening: str | None, mode: str) -> str:
    return mode if weakening is None else PLAIN if weakening == _mut.TO_PLAIN else "once"


def _non_atomic(loc: int, op: Callable[[Any], Any], label: str, operands: tuple[Any, ...]) -> Any:
    """An RMW mutated into a marked load and, if it writes, a marked store."""
    from rmapwalk.engine.deps import with_deps

    old = load(loc, "once", label)
    new = op(old)
    if new is not NO_WRITE:
        store(loc, with_deps(new, *operands), "once", label)
    return old


def cmpxchg(loc: int, old: Any, new: Any, mode: str = MB, label: str = "cmpxchg") -> Any:
    """Compare-and-exchange: write ``new`` if ``loc`` holds ``old``; return what was read.

    A failed cmpxchg is only a read (and, as in the kernel, orders nothing).
    """
    o, n = plain(old), plain(new)
    return rmw(loc, conditional(lambda cur: n if cur == o else NO_WRITE), mode, label, (new,))


def constant(new: Any) -> Callable[[Any], Any]:
    """The operation of an exchange: it writes ``new`` whatever it read.  Its write half then
    does not depend on the value read (under load buffering a revisit of the read keeps it)."""

    def op(_cur: Any) -> Any:
        return new

    op.reads_old = False  # type: ignore[attr-defined]
    op.data_from_old = False  # type: ignore[attr-defined]
    return op


def conditional(op: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Mark an RMW operation that writes a value given in advance when the old value allows it
    (a compare-and-exchange, a lock): whether it writes depends on the value read, what it
    writes does not.  Other operations compute the new value from the old one (an increment),
    which LKMM counts as a data dependency from the read half to the write half (as herd's C
    front end does for ``atomic_inc`` and the like, and not for ``cmpxchg`` or ``xchg``)."""
    op.data_from_old = False  # type: ignore[attr-defined]
    return op


def xchg(loc: int, new: Any, mode: str = MB, label: str = "xchg") -> Any:
    """Atomically replace the value of ``loc`` with ``new``; return the old value."""
    return rmw(loc, constant(plain(new)), mode, label, (new,))


def fetch_add(loc: int, delta: int, mode: str = MB, label: str = "fetch_add") -> Any:
    """Atomically add ``delta`` to ``loc``; return the old value."""
    d = plain(delta)
    return rmw(loc, lambda cur: cur + d, mode, label, (delta,))


def fence(kind: str = "mb", label: str | None = None, loc: int = -1) -> None:
    """A memory barrier of ``kind``: mb, wmb, rmb, acquire, release or compiler (or one of
    LKMM's special events, :data:`FENCE_KINDS`).  ``loc``: the object a fence is about
    (``synchronize_srcu``'s srcu_struct); -1 for a barrier of no location."""
    rec = _rt.current()
    label = label or f"fence({kind})"
    if _mut.armed and _mut.engine_op(_mut.BARRIER, kind, label) == _mut.REMOVED:
        return  # (also while replaying the prefix: the mutant has no such event)
    if rec.pos < rec.npath:
        rec.depth += 1
        return
    if kind not in FENCE_KINDS:
        raise ModelError(f"unknown fence kind {kind!r}")
    rec.plain_op(FENCE, loc, None, kind, label)


def assume(cond: object, why: str = "assume", kind: str = "assume") -> None:
    """Continue only in executions where ``cond`` holds; elsewhere the thread blocks.

    This keeps spin loops finite: ``v = load(x); assume(v == 1)`` replaces
    ``while load(x) != 1: pass``.  An execution in which a thread stays blocked is counted as
    *blocked*, apart from complete ones.  ``kind`` says what the thread waits for; ``"lock"``
    waits take part in deadlock detection.
    """
    _rt.current().assume(bool(cond), why, kind)


def relax(why: str = "spin loop") -> None:
    """The pause in a busy-wait loop (the kernel's ``cpu_relax()``): written in every pass, it
    lets the engine end a pass that changed nothing -- the thread then blocks as a spin (see
    ``_Recorder.relax``) instead of unrolling the loop until the event bound.  ``why`` names the
    wait in a report of a spin that never ends."""
    _rt.current().relax(why)


def await_value(
    loc: int, pred: Callable[[Any], bool], mode: str = "once", label: str = "await"
) -> Any:
    """Spin until ``pred(load(loc))``: one load, then block unless the value satisfies ``pred``."""
    v = load(loc, mode, label)
    assume(pred(v), f"{label}: waiting on {loc!r}")
    return v


def observe(name: str, value: Any) -> None:
    """Record register ``name`` = ``value`` in this thread's part of the final state."""
    _rt.current().observe(name, value)


def alloc(nfields: int = 1, label: str = "alloc") -> int:
    """Fresh shared memory of ``nfields`` consecutive locations; returns the first address.

    Addresses depend only on the allocating thread's own history, so they are the same in every
    execution with that history.  All fields start at 0.
    """
    return _rt.current().alloc(nfields, label)


def free(addr: int, label: str = "free") -> None:
    """Record that the memory at ``addr`` is freed (checked by higher layers)."""
    rec = _rt.current()
    if rec.pos < rec.npath:
        rec.depth += 1
        return
    rec.plain_op(FREE, _check_loc(addr), None, "", label)


def tracks_deps() -> bool:
    """Whether the running thread's values carry their dependencies (``lkmm``, ``lkmm-alpha``,
    ``weak``): interpreters then need not mark dependent loads themselves."""
    return _rt.current().track_deps


def lkmm_events() -> bool:
    """Whether the running thread is explored under a model with LKMM's own kernel events
    (``lkmm``, ``lkmm-alpha``): RCU read-side sections and grace periods, the lock-related
    barriers.  Library code emits those instead of its portable stand-ins."""
    return _rt.current().lkmm_events


def thread_local() -> dict[str, Any]:
    """This thread's private Python state for library code (rebuilt on every re-run)."""
    return _rt.current().tls


def program() -> Any:
    """The program the running thread belongs to."""
    prog = _rt.current().prog
    if prog is None:
        raise ModelError("this thread was started without its program")
    return prog


def thread_id() -> int:
    """The index of the running thread in its program."""
    return _rt.current().tid


def special(label: str, value: Any = None) -> None:
    """A layer-defined marker event with no memory effect (shown in traces, seen by checks)."""
    rec = _rt.current()
    if rec.pos < rec.npath:
        rec.depth += 1
        return
    rec.plain_op(SPECIAL, -1, value, "", label)


__all__ = [
    "NO_WRITE",
    "alloc",
    "assume",
    "await_value",
    "cmpxchg",
    "fence",
    "fetch_add",
    "free",
    "lkmm_events",
    "load",
    "observe",
    "program",
    "rmw",
    "special",
    "store",
    "thread_id",
    "thread_local",
    "tracks_deps",
    "xchg",
]
