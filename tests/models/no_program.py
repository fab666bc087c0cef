"""A Python file that defines no rmapwalk Program."""

X = 1
