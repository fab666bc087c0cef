"""A final-state condition that looks up a register nobody observed."""

from rmapwalk.engine import Program, store

p = Program("badcond")
x = p.var("x")


@p.thread
def P0() -> None:
    store(x, 1)


p.forbid(lambda f: f["P0:nope"] == 1)  # line 14
