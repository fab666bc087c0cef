"""A thread whose code raises: a violation (property "exception"), with the line."""

from rmapwalk.engine import Program, load, store

p = Program("raises")
x = p.var("x")


@p.thread
def P0() -> None:
    store(x, 1)


@p.thread
def P1() -> None:
    if load(x) == 1:
        raise ValueError("boom")  # line 17
