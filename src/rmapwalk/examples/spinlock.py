"""A spinlock protecting a counter: two threads each increment it once under the lock.

The lock is a word taken by an acquire cmpxchg 0 -> 1 and released by a release store of 0; a
thread that finds it taken waits (``assume``: the engine explores the executions in which the
holder releases it first).  The final assertion: no increment was lost.
"""

from rmapwalk.engine import Program, assume
from rmapwalk.kernel import READ_ONCE, WRITE_ONCE, cmpxchg_acquire, smp_store_release


def my_spin_lock(lock: int) -> None:
    old = cmpxchg_acquire(lock, 0, 1)
    assume(old == 0, "lock held by the other thread")


def my_spin_unlock(lock: int) -> None:
    smp_store_release(lock, 0)


def make(nthreads: int = 2) -> Program:
    p = Program(f"spinlock-{nthreads}")
    lock, counter = p.var("lock"), p.var("counter")

    def worker() -> None:
        my_spin_lock(lock)
        WRITE_ONCE(counter, READ_ONCE(counter) + 1)
        my_spin_unlock(lock)

    for i in range(nthreads):
        p.thread(worker, name=f"cpu{i}")
    p.require(lambda f: f["counter"] == nthreads, "no increment lost")
    return p


spinlock = make(2)
