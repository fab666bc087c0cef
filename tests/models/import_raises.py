"""The model file itself raises while it is imported."""

from rmapwalk.engine import Program

p = Program("broken")
x = p.var("x")
y = p.var("x")  # line 7: the same location name twice
