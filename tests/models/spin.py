"""A thread that spins forever on a location nobody writes: over the event bound."""

from rmapwalk.engine import Program, load

p = Program("spin")
flag = p.var("flag")


@p.thread
def P0() -> None:
    while load(flag) == 0:
        pass
