"""Message passing: a writer publishes data, then a flag; a reader sees the flag, then reads data.

    P0: WRITE_ONCE(data, 42); smp_wmb(); WRITE_ONCE(flag, 1)
    P1: r0 = READ_ONCE(flag); smp_rmb(); r1 = READ_ONCE(data)

Forbidden: r0 == 1 && r1 != 42.  Without ``smp_wmb`` PSO lets the flag become visible before the
data.  (``smp_rmb`` is needed on weaker CPUs, but SC, TSO and PSO never reorder two loads, so
removing only it changes nothing under these three models.)
"""

from rmapwalk.engine import Program, observe
from rmapwalk.kernel import READ_ONCE, WRITE_ONCE, smp_rmb, smp_wmb


def make(wmb: bool = True, rmb: bool = True) -> Program:
    p = Program("MP" + ("+wmb" if wmb else "") + ("+rmb" if rmb else ""))
    data, flag = p.var("data"), p.var("flag")

    @p.thread
    def writer() -> None:
        WRITE_ONCE(data, 42)
        if wmb:
            smp_wmb()
        WRITE_ONCE(flag, 1)

    @p.thread
    def reader() -> None:
        r0 = READ_ONCE(flag)
        if rmb:
            smp_rmb()
        r1 = READ_ONCE(data)
        observe("r0", r0)
        observe("r1", r1)

    p.forbid(lambda f: f["reader:r0"] == 1 and f["reader:r1"] != 42, "flag seen but data stale")
    return p


mp = make(wmb=True, rmb=True)
mp_no_wmb = make(wmb=False, rmb=True)
