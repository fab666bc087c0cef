"""Load buffering through increments (kernel style: ``atomic_inc`` is a relaxed RMW): P1 may
read z=1 from P2's increment of z, po-after P2's increment of x, and write x=1 under it, while
P0's increment reads that write and P2's increment of x reads P0's.  LKMM allows it (no hb
cycle: nothing orders P2's two increments); the optimal load-buffering search misses three of
its twelve executions, the complete one finds them all (linux-kernel.cat agrees on 12)."""

from rmapwalk.engine import ONCE, RELAXED, Program, fetch_add, load, observe, store

p = Program("LB-inc")
x = p.var("x")
z = p.var("z", observe=False)


@p.thread
def P0() -> None:
    fetch_add(x, 1, RELAXED)


@p.thread
def P1() -> None:
    r0 = load(z, ONCE)
    if r0:
        store(x, 1, ONCE)
    else:
        r0 = load(x, ONCE)
    observe("r0", r0)


@p.thread
def P2() -> None:
    fetch_add(x, 1, RELAXED)
    fetch_add(z, 1, RELAXED)
