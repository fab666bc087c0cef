"""Memory barriers (Linux ``Documentation/memory-barriers.txt``).

Under SC they do nothing; under x86-TSO only ``smp_mb`` (mfence) matters; under PSO ``smp_wmb``
orders stores against stores too.  ``barrier()`` constrains only the compiler.
"""

from __future__ import annotations

from rmapwalk.engine import mutation as _mut
from rmapwalk.engine.events import (
    F_AFTER_ATOMIC,
    F_AFTER_SPINLOCK,
    F_AFTER_SRCU_READ_UNLOCK,
    F_AFTER_UNLOCK_LOCK,
    F_BEFORE_ATOMIC,
    F_MB,
)
from rmapwalk.engine.ops import fence, lkmm_events


def _removed(label: str, kind: str) -> bool:
    """Whether a mutation removes this barrier (see :mod:`rmapwalk.engine.mutation`)."""
    return _mut.at(label, _mut.BARRIER, kind) == _mut.REMOVED


def smp_mb() -> None:
    """Full barrier: every access before it is ordered before every access after it."""
    if _mut.armed and _removed("smp_mb", "mb"):
        return
    fence("mb", "smp_mb")


def smp_wmb() -> None:
    """Store barrier: stores before it become visible before stores after it."""
    if _mut.armed and _removed("smp_wmb", "wmb"):
        return
    fence("wmb", "smp_wmb")


def smp_rmb() -> None:
    """Load barrier: loads before it are performed before loads after it."""
    if _mut.armed and _removed("smp_rmb", "rmb"):
        return
    fence("rmb", "smp_rmb")


def barrier() -> None:
    """Compiler barrier only: no hardware ordering."""
    if _mut.armed and _removed("barrier", "compiler"):
        return
    fence("compiler", "barrier")


def _lkmm_fence(kind: str, label: str) -> None:
    # LKMM gives these fences their own, narrower meaning; the other models have no such
    # event, and a full barrier is what every architecture's implementation gives at least
    if _mut.armed and _removed(label, kind):
        return
    fence(kind if lkmm_events() else F_MB, label)


def smp_mb__before_atomic() -> None:
    """Makes a following non-value-returning atomic fully ordered (under LKMM: orders what
    precedes it against the atomic and what follows the atomic; elsewhere a full barrier)."""
    _lkmm_fence(F_BEFORE_ATOMIC, "smp_mb__before_atomic")


def smp_mb__after_atomic() -> None:
    """Makes a preceding non-value-returning atomic fully ordered (a full barrier outside LKMM)."""
    _lkmm_fence(F_AFTER_ATOMIC, "smp_mb__after_atomic")


def smp_mb__after_spinlock() -> None:
    """Makes the preceding spin_lock() a full barrier (a full barrier outside LKMM)."""
    _lkmm_fence(F_AFTER_SPINLOCK, "smp_mb__after_spinlock")


def smp_mb__after_unlock_lock() -> None:
    """Makes a preceding unlock+lock pair a full barrier (a full barrier outside LKMM)."""
    _lkmm_fence(F_AFTER_UNLOCK_LOCK, "smp_mb__after_unlock_lock")


def smp_mb__after_srcu_read_unlock() -> None:
    """Makes the preceding srcu_read_unlock() a full barrier; by itself it orders nothing under
    LKMM (a full barrier outside LKMM)."""
    _lkmm_fence(F_AFTER_SRCU_READ_UNLOCK, "smp_mb__after_srcu_read_unlock")
