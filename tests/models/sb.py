"""Store buffering: both loads reading 0 is forbidden under SC, allowed under TSO/PSO."""

from rmapwalk.engine import ONCE, Program, load, observe, store

p = Program("SB")
x = p.var("x")
y = p.var("y")


@p.thread
def P0() -> None:
    store(x, 1, ONCE)
    observe("r0", load(y, ONCE))


@p.thread
def P1() -> None:
    store(y, 1, ONCE)
    observe("r0", load(x, ONCE))


p.forbid(lambda f: f["P0:r0"] == 0 and f["P1:r0"] == 0)
