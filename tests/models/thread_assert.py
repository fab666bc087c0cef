"""A thread's own assert fails in some execution: a violation (property "assertion")."""

from rmapwalk.engine import Program, load, store

p = Program("asserts")
x = p.var("x")


@p.thread
def P0() -> None:
    store(x, 1)


@p.thread
def P1() -> None:
    v = load(x)
    assert v == 0, f"P1 saw x = {v}"  # line 17
