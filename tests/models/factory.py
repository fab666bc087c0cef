"""A model given by a function program() instead of a module-level Program."""

from rmapwalk.engine import Program, fetch_add


def program() -> Program:
    p = Program("counter")
    c = p.var("c")
    for i in range(2):
        p.thread(lambda: fetch_add(c, 1), name=f"T{i}")
    p.require(lambda f: f["c"] == 2, name="no lost update")
    return p
