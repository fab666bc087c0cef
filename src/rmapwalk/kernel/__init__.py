"""Linux concurrency primitives on top of the engine, with the kernel's names and semantics.

Model code written with these reads like kernel C: ``READ_ONCE(x)``, ``smp_wmb()``,
``cmpxchg(p, old, new)``.  Every call is one or more engine events.
"""

from rmapwalk.kernel.atomic import (
    atomic_add,
    atomic_add_return,
    atomic_cmpxchg,
    atomic_dec,
    atomic_dec_return,
    atomic_fetch_add,
    atomic_fetch_add_acquire,
    atomic_fetch_add_relaxed,
    atomic_fetch_add_release,
    atomic_inc,
    atomic_inc_return,
    atomic_read,
    atomic_set,
    atomic_sub,
    atomic_sub_return,
    atomic_xchg,
    cmpxchg,
    cmpxchg_acquire,
    cmpxchg_relaxed,
    cmpxchg_release,
    xchg,
    xchg_acquire,
    xchg_relaxed,
    xchg_release,
)
from rmapwalk.kernel.atomic_long import (
    atomic_long_read,
    atomic_long_set,
    atomic_long_set_release,
    atomic_long_try_cmpxchg,
    atomic_long_try_cmpxchg_acquire,
    atomic_long_try_cmpxchg_relaxed,
    cmpxchg64,
)
from rmapwalk.kernel.barriers import (
    barrier,
    smp_mb,
    smp_mb__after_atomic,
    smp_mb__before_atomic,
    smp_rmb,
    smp_wmb,
)
from rmapwalk.kernel.once import READ_ONCE, WRITE_ONCE, plain_read, plain_write, smp_load_acquire, smp_store_release
from rmapwalk.kernel.spinlock import spin_is_locked, spin_lock, spin_trylock, spin_unlock

__all__ = [
    "READ_ONCE", "WRITE_ONCE", "atomic_add", "atomic_add_return", "atomic_cmpxchg", "atomic_dec",
    "atomic_dec_return", "atomic_fetch_add", "atomic_fetch_add_acquire", "atomic_fetch_add_relaxed",
    "atomic_fetch_add_release", "atomic_inc", "atomic_inc_return", "atomic_read", "atomic_set",
    "atomic_sub", "atomic_sub_return", "atomic_xchg", "barrier", "cmpxchg", "cmpxchg_acquire",
    "cmpxchg_relaxed", "cmpxchg_release", "smp_load_acquire", "smp_mb", "smp_mb__after_atomic",
    "smp_mb__before_atomic", "smp_rmb", "smp_store_release", "smp_wmb", "spin_lock", "spin_unlock",
    "plain_read", "plain_write", "spin_is_locked", "spin_trylock",
    "xchg", "xchg_acquire", "xchg_relaxed", "xchg_release",
    # atomic_long_t and cmpxchg64 (rmapwalk.kernel.atomic_long)
    "atomic_long_read", "atomic_long_set", "atomic_long_set_release", "atomic_long_try_cmpxchg",
    "atomic_long_try_cmpxchg_acquire", "atomic_long_try_cmpxchg_relaxed", "cmpxchg64",
]
