"""Store buffering: can both CPUs miss each other's store?

    P0: WRITE_ONCE(x, 1); r0 = READ_ONCE(y)
    P1: WRITE_ONCE(y, 1); r1 = READ_ONCE(x)

Forbidden outcome: r0 == 0 && r1 == 0.  SC forbids it; x86-TSO and PSO allow it (each store
waits in its CPU's store buffer while the load runs); ``smp_mb()`` between forbids it again.
"""

from rmapwalk.engine import Program, observe
from rmapwalk.kernel import READ_ONCE, WRITE_ONCE, smp_mb


def make(with_mb: bool) -> Program:
    p = Program("SB+mb" if with_mb else "SB")
    x, y = p.var("x"), p.var("y")

    @p.thread
    def P0() -> None:
        WRITE_ONCE(x, 1)
        if with_mb:
            smp_mb()
        observe("r0", READ_ONCE(y))

    @p.thread
    def P1() -> None:
        WRITE_ONCE(y, 1)
        if with_mb:
            smp_mb()
        observe("r1", READ_ONCE(x))

    p.forbid(lambda f: f["P0:r0"] == 0 and f["P1:r1"] == 0, "both loads missed the other store")
    return p


sb = make(with_mb=False)
sb_mb = make(with_mb=True)
