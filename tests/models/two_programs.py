"""Two programs in one file: the CLI needs --program to choose."""

from rmapwalk.engine import Program, load, observe, store

first = Program("first")
a = first.var("a")


@first.thread
def W() -> None:
    store(a, 1)


@first.thread
def R() -> None:
    observe("r", load(a))


second = Program("second")
b = second.var("b")


@second.thread
def W2() -> None:
    store(b, 2)


second.require(lambda f: f["b"] == 2)
