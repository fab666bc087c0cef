"""Event kinds, access modes and fence strengths shared by every layer of the engine.

A thread's behaviour is a sequence of *events*.  Memory events (reads, writes, the two halves of a
read-modify-write) and fences go into execution graphs; the other kinds (observations, ends,
errors, blocks) only shape what a thread does next or how an execution ends.

Constants are small ints (not Enums) because the explorer tests them millions of times.
"""

from __future__ import annotations

from typing import Final

# -- node kinds of a thread's behaviour trie -----------------------------------------------------
READ: Final = 0  # value-returning: load
WRITE: Final = 1  # store
RMW: Final = 2  # value-returning: read-modify-write (cmpxchg, xchg, fetch-and-op)
FENCE: Final = 3  # memory barrier
OBSERVE: Final = 4  # record a register value for the final outcome (no memory effect)
END: Final = 5  # thread returned
ERROR: Final = 6  # the thread failed an assertion or raised an exception: a violation (label: property)
BLOCK: Final = 7  # assume() was false: the thread waits forever in this execution
LIMIT: Final = 8  # the thread exceeded the per-thread event bound (a loop that never ends)
ALLOC: Final = 10  # allocation of fresh locations (deterministic per thread)
FREE: Final = 11  # a free of allocated locations
SPECIAL: Final = 12  # layer-defined non-memory event (e.g. rcu_read_lock), kept for traces/checks

VALUE_KINDS: Final = frozenset({READ, RMW})
TERMINAL_KINDS: Final = frozenset({END, ERROR, BLOCK, LIMIT})

KIND_NAMES: Final = {
    READ: "R",
    WRITE: "W",
    RMW: "RMW",
    FENCE: "F",
    OBSERVE: "obs",
    END: "end",
    ERROR: "error",
    BLOCK: "block",
    LIMIT: "limit",
    ALLOC: "alloc",
    FREE: "free",
    SPECIAL: "special",
}

# -- access modes ----------------------------------------------------------------------------------
# Plain C accesses may be torn or fused by the compiler; marked ones (READ_ONCE and friends) may not.
# The distinction is what data-race reports are about.
PLAIN: Final = "plain"
ONCE: Final = "once"
ACQUIRE: Final = "acquire"
RELEASE: Final = "release"
#: rcu_dereference: a marked load whose dependent loads are ordered after it (address dependency)
CONSUME: Final = "consume"
RELAXED: Final = "relaxed"  # for RMWs: no ordering beyond atomicity
MB: Final = "mb"  # for RMWs: fully ordered (the kernel's value-returning atomics)

ACCESS_MODES: Final = frozenset({PLAIN, ONCE, ACQUIRE, RELEASE, CONSUME})
RMW_MODES: Final = frozenset({RELAXED, ACQUIRE, RELEASE, MB})

# -- fence kinds ---------------------------------------------------------------------------------
F_MB: Final = "mb"  # smp_mb: orders everything before against everything after
F_WMB: Final = "wmb"  # smp_wmb: stores before against stores after
F_RMB: Final = "rmb"  # smp_rmb: loads before against loads after
F_ACQUIRE: Final = "acquire"  # accesses before (loads) against everything after
F_RELEASE: Final = "release"  # everything before against stores after
F_COMPILER: Final = "compiler"  # barrier(): the compiler only; no hardware ordering

# LKMM's own fences, emitted only under the LKMM models (elsewhere the kernel layer emits the
# portable stand-ins: a full fence for the smp_mb__*() family, flags and waits for RCU)
F_BEFORE_ATOMIC: Final = "before-atomic"
F_AFTER_ATOMIC: Final = "after-atomic"
F_AFTER_SPINLOCK: Final = "after-spinlock"
F_AFTER_UNLOCK_LOCK: Final = "after-unlock-lock"
F_RCU_LOCK: Final = "rcu-lock"
F_RCU_UNLOCK: Final = "rcu-unlock"
F_SYNC_RCU: Final = "sync-rcu"
#: synchronize_srcu() under LKMM: a grace period of one srcu_struct (the fence's location)
F_SYNC_SRCU: Final = "sync-srcu"
#: smp_mb__after_srcu_read_unlock(): with the srcu_read_unlock() before it, a full barrier
F_AFTER_SRCU_READ_UNLOCK: Final = "after-srcu-read-unlock"

FENCE_KINDS: Final = frozenset({F_MB, F_WMB, F_RMB, F_ACQUIRE, F_RELEASE, F_COMPILER, F_BEFORE_ATOMIC,
                                F_AFTER_ATOMIC, F_AFTER_SPINLOCK, F_AFTER_UNLOCK_LOCK, F_RCU_LOCK,
                                F_RCU_UNLOCK, F_SYNC_RCU, F_SYNC_SRCU,
                                F_AFTER_SRCU_READ_UNLOCK})


class _NoWrite:
    """Returned by an RMW operation to say: this RMW writes nothing (a failed cmpxchg)."""

    _inst: _NoWrite | None = None

    def __new__(cls) -> _NoWrite:
        if cls._inst is None:
            cls._inst = super().__new__(cls)
        return cls._inst

    def __repr__(self) -> str:
        return "NO_WRITE"


NO_WRITE: Final = _NoWrite()
