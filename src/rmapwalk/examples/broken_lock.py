"""A broken lock: "test, then set" with two separate accesses instead of one atomic cmpxchg.

    while (READ_ONCE(lock)) ;   // wait until free
    WRITE_ONCE(lock, 1);        // take it -- but the other CPU may have seen it free too

Both threads can pass the test before either sets the lock, so both enter the critical section;
the assertion inside it (nobody else is inside) fails, even under SC.
"""

from rmapwalk.engine import Program, assume
from rmapwalk.kernel import READ_ONCE, WRITE_ONCE, smp_store_release


def make() -> Program:
    p = Program("broken-lock")
    lock, inside = p.var("lock"), p.var("inside")

    def worker() -> None:
        assume(READ_ONCE(lock) == 0, "lock held")
        WRITE_ONCE(lock, 1)
        assert READ_ONCE(inside) == 0, "two CPUs inside the critical section"
        WRITE_ONCE(inside, 1)
        WRITE_ONCE(inside, 0)
        smp_store_release(lock, 0)

    p.thread(worker, name="cpu0")
    p.thread(worker, name="cpu1")
    return p


broken_lock = make()
