"""Spinlocks (Linux ``include/linux/spinlock.h``), modelled as a lock word.

``spin_lock`` is an acquire cmpxchg from 0 to 1 that *waits*: in executions where the lock is
held, the thread blocks there (the engine explores the executions where the holder releases it
and the waiter then takes it).  ``spin_unlock`` is a release store of 0.
"""

from __future__ import annotations

from rmapwalk.engine.events import ACQUIRE, NO_WRITE, RELEASE
from rmapwalk.engine.ops import assume, rmw, store


def spin_lock(lock: int) -> None:
    """Take ``lock``, waiting while another thread holds it (acquire ordering)."""
    old = rmw(lock, lambda cur: 1 if cur == 0 else NO_WRITE, ACQUIRE, "spin_lock")
    assume(old == 0, f"spin_lock({lock!r}): held by another thread")


def spin_unlock(lock: int) -> None:
    """Release ``lock`` (release ordering)."""
    store(lock, 0, RELEASE, "spin_unlock")
