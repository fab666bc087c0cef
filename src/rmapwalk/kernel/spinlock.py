"""Spinlocks (Linux ``include/linux/spinlock.h``), modelled as a lock word.

``spin_lock`` is an acquire cmpxchg of the word from 0 to the owner's CPU number + 1 that *waits*:
in executions where the lock is held the thread blocks there, and the engine explores the ones in
which the holder releases it first.  ``spin_unlock`` is a release store of 0.

Misuse is a violation (property ``lock misuse``) at the offending call: unlocking a lock this CPU
does not hold (including a second unlock), and taking a lock it already holds (which would spin
forever).  An execution in which every running CPU waits for a lock that nothing will release is
a ``deadlock`` (the engine detects it; e.g. ABBA lock order).
"""

from __future__ import annotations

from typing import Any

from rmapwalk.engine import mutation as _mut
from rmapwalk.engine.events import ACQUIRE, F_MB, NO_WRITE, ONCE, RELEASE
from rmapwalk.engine.ops import assume, conditional, fence, lkmm_events, load, rmw, store, thread_id, thread_local
from rmapwalk.engine.runtime import Violated
from rmapwalk.kernel.once import marked_mode


def _held() -> dict[int, str]:
    tls = thread_local()
    held: dict[int, str] | None = tls.get("spinlocks")
    if held is None:
        held = tls["spinlocks"] = {}
    return held


def _name(lock: Any) -> str:
    return str(lock) if hasattr(lock, "name") else f"lock@{int(lock)}"


def _after_unlock() -> None:
    """An unlock followed by a lock on the same CPU orders everything before the unlock before
    everything after the lock, whichever locks they are (LKMM's ``po-unlock-lock-po`` is in
    ``ppo``; ``MP+unlocklockonceonce+fencermbonceonce`` is forbidden).  A release store and an
    acquire RMW alone do not give that under PSO, so the first lock after an unlock fences.
    (LKMM itself needs no fence: it derives ``po-unlock-lock-po`` from the lock events.)"""
    tls = thread_local()
    if tls.get("unlocked_since_lock") and not lkmm_events():
        tls["unlocked_since_lock"] = False
        fence(F_MB, "spin_lock after spin_unlock")


def spin_lock(lock: int) -> None:
    """Take ``lock``, waiting while another CPU holds it (acquire ordering)."""
    held = _held()
    if lock in held:
        raise Violated("lock misuse", f"spin_lock({_name(lock)}) by the CPU that already holds it")
    if _mut.armed and _mut.lock_acquire("spin_lock", lock):
        return  # mutation: this critical section takes no lock
    _after_unlock()
    me = thread_id() + 1
    old = rmw(lock, conditional(lambda cur: me if cur == 0 else NO_WRITE), ACQUIRE, "spin_lock")
    assume(old == 0, f"spin_lock({_name(lock)})", kind="lock")
    held[lock] = "held"


def spin_trylock(lock: int) -> bool:
    """Take ``lock`` if it is free; return whether it was taken (acquire ordering on success)."""
    held = _held()
    if lock in held:
        raise Violated("lock misuse", f"spin_trylock({_name(lock)}) by the CPU that already holds it")
    if _mut.armed and _mut.lock_acquire("spin_trylock", lock):
        return True  # mutation: this critical section takes no lock
    _after_unlock()
    me = thread_id() + 1
    old = rmw(lock, conditional(lambda cur: me if cur == 0 else NO_WRITE), ACQUIRE, "spin_trylock")
    if old == 0:
        held[lock] = "held"
        return True
    return False


def spin_unlock(lock: int) -> None:
    """Release ``lock`` (release ordering)."""
    if _mut.armed and _mut.lock_release(lock):
        return  # mutation: the acquisition it ends was removed
    held = _held()
    if lock not in held:
        released = thread_local().setdefault("released", set())
        what = "a second spin_unlock" if lock in released else "spin_unlock of a lock not held"
        raise Violated("lock misuse", f"{what}: {_name(lock)}")
    del held[lock]
    thread_local().setdefault("released", set()).add(lock)
    thread_local()["unlocked_since_lock"] = True
    store(lock, 0, RELEASE, "spin_unlock")


def spin_is_locked(lock: int) -> bool:
    """Whether some CPU holds ``lock`` (a plain marked read: orders nothing)."""
    mode = ONCE
    if _mut.armed:
        mode = marked_mode("spin_is_locked", ONCE)
    return bool(load(lock, mode, "spin_is_locked"))
