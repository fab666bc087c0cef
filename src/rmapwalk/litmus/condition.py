"""Final-state conditions and states, printed exactly as herd7 prints them.

* ``format_condition``: the ``Condition ...`` line: ``exists (0:r1=1 /\\ not ([x]=2))``.
  Memory locations print in brackets (``[x]=1``), array cells without (``x[1]=2``), a negation
  as ``not (...)``; ``/\\`` binds tighter than ``\\/``, and ``=>`` tighter than both (as in
  herd's grammar), so parentheses appear only where a weaker connective sits under a stronger one;
  ``true``/``false`` for the empty conjunction/disjunction.
* ``format_state``: one line of the ``States`` listing: ``0:r1=0; 1:r1=1; [x]=2;``.  Registers
  come first, by thread then name; then variables by name; then array cells.  Addresses print
  as the name of the variable they point to (``1:r2=x0;``).
* ``sort_states``: the order of the ``States`` listing: states compare location by location in
  the order above; an integer sorts before an address, integers numerically, addresses by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rmapwalk.litmus.ast import And, Atom, Condition, Const, Implies, Loc, LocEq, LocMem, LocReg, Not, Or, Prop

__all__ = [
    "Value",
    "eval_prop",
    "format_condition",
    "format_loc",
    "format_prop",
    "format_state",
    "format_value",
    "loc_sort_key",
    "prop_locations",
    "same_value",
    "sort_locs",
    "sort_states",
    "state_sort_key",
]

Value = int | str

_TOP, _AND, _OR, _IMPLIES = 0, 1, 2, 3


def _paren(above: int, here: int) -> bool:
    if above == _TOP:
        return False
    if above == _IMPLIES:
        return here != _IMPLIES
    if above == _AND:
        return here != _AND
    return here == _IMPLIES  # above is OR


def format_loc(loc: Loc, brackets: bool = True) -> str:
    """``0:r1``, ``[x]`` (``x`` without brackets), ``x[1]``."""
    if isinstance(loc, LocReg):
        return f"{loc.thread}:{loc.reg}"
    if loc.index is not None:
        return f"{loc.name}[{loc.index}]"
    return f"[{loc.name}]" if brackets else loc.name


def format_value(v: Value) -> str:
    return str(v)


def format_prop(p: Prop) -> str:
    """A proposition as herd prints it."""

    def pp(above: int, p: Prop) -> str:
        if isinstance(p, Atom):
            return f"{format_loc(p.loc)}={format_value(p.value)}"
        if isinstance(p, LocEq):
            return f"{format_loc(p.left)}={format_loc(p.right)}"
        if isinstance(p, Const):
            return "true" if p.value else "false"
        if isinstance(p, Not):
            return "not (" + pp(_TOP, p.prop) + ")"
        if isinstance(p, And):
            if not p.props:
                return "true"
            s = " /\\ ".join(pp(_AND, q) for q in p.props)
            return f"({s})" if _paren(above, _AND) else s
        if isinstance(p, Or):
            if not p.props:
                return "false"
            s = " \\/ ".join(pp(_OR, q) for q in p.props)
            return f"({s})" if _paren(above, _OR) else s
        if isinstance(p, Implies):
            s = pp(_IMPLIES, p.left) + " => " + pp(_IMPLIES, p.right)
            return f"({s})" if _paren(above, _IMPLIES) else s
        raise TypeError(f"not a proposition: {p!r}")

    return pp(_TOP, p)


def format_condition(cond: Condition) -> str:
    """``exists (...)``, ``~exists (...)`` or ``forall (...)`` as on herd's ``Condition`` line."""
    return f"{cond.quantifier} ({format_prop(cond.prop)})"


def eval_prop(prop: Prop, state: Mapping[Loc, Value]) -> bool:
    """Whether ``prop`` holds in ``state`` (which must give a value to every location it names)."""
    if isinstance(prop, Atom):
        return same_value(_get(state, prop.loc), prop.value)
    if isinstance(prop, LocEq):
        return same_value(_get(state, prop.left), _get(state, prop.right))
    if isinstance(prop, Const):
        return prop.value
    if isinstance(prop, Not):
        return not eval_prop(prop.prop, state)
    if isinstance(prop, And):
        return all(eval_prop(q, state) for q in prop.props)
    if isinstance(prop, Or):
        return any(eval_prop(q, state) for q in prop.props)
    if isinstance(prop, Implies):
        return (not eval_prop(prop.left, state)) or eval_prop(prop.right, state)
    raise TypeError(f"not a proposition: {prop!r}")


def same_value(a: Value, b: Value) -> bool:
    """Whether two final-state values are equal as herd compares them."""
    if isinstance(a, str) or isinstance(b, str):
        return a == b  # an address never equals an integer
    return int(a) == int(b)


def _get(state: Mapping[Loc, Value], loc: Loc) -> Value:
    try:
        return state[loc]
    except KeyError:
        raise KeyError(f"the state has no value for {format_loc(loc)}") from None


def prop_locations(prop: Prop | None) -> list[Loc]:
    """The locations a proposition reads, in order of appearance (each once)."""
    out: list[Loc] = []

    def walk(p: Prop | None) -> None:
        if p is None:
            return
        if isinstance(p, Atom):
            found = [p.loc]
        elif isinstance(p, LocEq):
            found = [p.left, p.right]
        elif isinstance(p, Not):
            walk(p.prop)
            return
        elif isinstance(p, And | Or):
            for q in p.props:
                walk(q)
            return
        elif isinstance(p, Implies):
            walk(p.left)
            walk(p.right)
            return
        else:
            return
        for loc in found:
            if loc not in out:
                out.append(loc)

    walk(prop)
    return out


def loc_sort_key(loc: Loc) -> tuple[int, int, str, int]:
    """herd's order of locations: registers (thread, name), then variables, then array cells."""
    if isinstance(loc, LocReg):
        return (0, loc.thread, loc.reg, 0)
    if isinstance(loc, LocMem) and loc.index is None:
        return (1, 0, loc.name, 0)
    return (2, 0, loc.name, loc.index or 0)


def sort_locs(locs: Iterable[Loc]) -> list[Loc]:
    return sorted(set(locs), key=loc_sort_key)


def value_sort_key(v: Value) -> tuple[int, int, str]:
    """herd orders integer values before symbolic ones (addresses), the latter by name."""
    if isinstance(v, str):
        return (1, 0, v)
    return (0, int(v), "")


def state_sort_key(state: Mapping[Loc, Value]) -> tuple[tuple[int, int, str], ...]:
    """The key that orders states as herd's ``States`` listing does."""
    return tuple(value_sort_key(state[loc]) for loc in sort_locs(state))


def sort_states(states: Iterable[Mapping[Loc, Value]]) -> list[Mapping[Loc, Value]]:
    return sorted(states, key=state_sort_key)


def format_state(state: Mapping[Loc, Value]) -> str:
    """One state line: ``0:r1=0; 1:r1=1; [x]=2;``."""
    return " ".join(f"{format_loc(loc)}={format_value(state[loc])};" for loc in sort_locs(state))
