"""A counter incremented with a plain load and store: updates get lost (two violating runs)."""

from rmapwalk.engine import Program, load, store

p = Program("lost-update")
c = p.var("c")


def inc() -> None:
    v = load(c)
    store(c, v + 1)


p.thread(inc, name="A")
p.thread(inc, name="B")
p.require(lambda f: f["c"] == 2, name="no lost update")
