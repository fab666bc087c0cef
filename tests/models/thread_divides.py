"""A thread divides by a value it reads: where it reads 0 it raises ZeroDivisionError, a violation
(property "exception") that ends only that execution; the others go on."""

from rmapwalk.engine import Program, load, observe, store

p = Program("divides")
x = p.var("x")


@p.thread
def P0() -> None:
    store(x, 4)


@p.thread
def P1() -> None:
    v = load(x)
    observe("q", 100 / v)  # line 18
