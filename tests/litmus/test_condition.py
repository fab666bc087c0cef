"""Conditions and states printed as herd7 prints them, checked against herd's own output."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from rmapwalk.litmus.ast import And, Atom, Condition, Const, Implies, LocEq, LocMem, LocReg, Not, Or
from rmapwalk.litmus.condition import (
    eval_prop,
    format_condition,
    format_prop,
    format_state,
    prop_locations,
    sort_states,
)
from rmapwalk.litmus.parser import parse_file, parse_prop

LKMM = Path(__file__).parents[2].parent / "shared" / "lkmm"
TESTS = sorted((LKMM / "tests").glob("*.litmus")) if (LKMM / "tests").is_dir() else []
needs_lkmm = pytest.mark.skipif(not TESTS, reason=f"LKMM litmus tests not found in {LKMM}")


def herd_output(path: Path) -> list[str]:
    return (path.parent / (path.name + ".expected")).read_text().splitlines()


def herd_states(lines: list[str]) -> list[str]:
    i = next(i for i, line in enumerate(lines) if line.startswith("States "))
    n = int(lines[i].split()[1])
    return lines[i + 1 : i + 1 + n]


def parse_state(line: str) -> dict[object, int | str]:
    """A herd state line back into a mapping (the test's own small reader)."""
    out: dict[object, int | str] = {}
    for item in line.split(";"):
        item = item.strip()
        if not item:
            continue
        loc, value = item.split("=")
        m = re.fullmatch(r"(\d+):(\w+)", loc)
        key: object
        if m:
            key = LocReg(int(m.group(1)), m.group(2))
        elif loc.startswith("["):
            key = LocMem(loc[1:-1])
        else:
            m2 = re.fullmatch(r"(\w+)\[(\d+)\]", loc)
            assert m2, loc
            key = LocMem(m2.group(1), int(m2.group(2)))
        out[key] = int(value) if re.fullmatch(r"-?\d+", value) else value
    return out


@needs_lkmm
@pytest.mark.parametrize("path", TESTS, ids=[p.stem for p in TESTS])
def test_condition_line_as_herd(path: Path) -> None:
    lines = herd_output(path)
    cond_line = next(line for line in lines if line.startswith("Condition "))
    assert "Condition " + format_condition(parse_file(path).condition) == cond_line


@needs_lkmm
@pytest.mark.parametrize("path", TESTS, ids=[p.stem for p in TESTS])
def test_states_as_herd(path: Path) -> None:
    lines = herd_states(herd_output(path))
    states = [parse_state(line) for line in lines]
    assert [format_state(s) for s in states] == lines  # type: ignore[arg-type]
    shuffled = list(states)
    random.Random(7).shuffle(shuffled)
    assert [format_state(s) for s in sort_states(shuffled)] == lines  # type: ignore[arg-type]
    # the condition evaluates on every state, and herd's positive count agrees when each state is
    # one execution (true of these outputs only when Positive+Negative == States)
    test = parse_file(path)
    witnesses = next(line for line in herd_output(path) if line.startswith("Positive: "))
    pos, neg = int(witnesses.split()[1]), int(witnesses.split()[3])
    sat = sum(1 for s in states if eval_prop(test.condition.prop, s))  # type: ignore[arg-type]
    if pos + neg == len(states):
        assert sat == pos


def test_printer_connectives() -> None:
    a, b, c = (Atom(LocReg(0, "r0"), 1), Atom(LocMem("x"), 2), Atom(LocReg(1, "r1"), "y"))
    assert format_prop(And((a, b, c))) == "0:r0=1 /\\ [x]=2 /\\ 1:r1=y"
    assert format_prop(And((Or((a, b)), c))) == "(0:r0=1 \\/ [x]=2) /\\ 1:r1=y"
    assert format_prop(Or((And((a, b)), c))) == "0:r0=1 /\\ [x]=2 \\/ 1:r1=y"
    assert format_prop(Implies(a, And((b, c)))) == "0:r0=1 => ([x]=2 /\\ 1:r1=y)"
    assert format_prop(And((Implies(a, b), c))) == "(0:r0=1 => [x]=2) /\\ 1:r1=y"
    assert format_prop(Implies(Implies(a, b), c)) == "0:r0=1 => [x]=2 => 1:r1=y"
    assert format_prop(Not(Or((a, b)))) == "not (0:r0=1 \\/ [x]=2)"
    assert format_prop(Not(a)) == "not (0:r0=1)"
    assert format_prop(Const(True)) == "true" and format_prop(Const(False)) == "false"
    assert format_prop(And(())) == "true" and format_prop(Or(())) == "false"
    assert format_prop(Atom(LocMem("a", 1), -2)) == "a[1]=-2"
    assert format_prop(LocEq(LocMem("x"), LocReg(0, "r1"))) == "[x]=0:r1"
    assert format_condition(Condition("~exists", b)) == "~exists ([x]=2)"
    assert format_condition(Condition("forall", Or((a, b)))) == "forall (0:r0=1 \\/ [x]=2)"


def test_parse_then_print() -> None:
    for text, printed in [
        ("0:r1=1 /\\ ~x=2", "0:r1=1 /\\ not ([x]=2)"),
        ("a=1 \\/ b=1 /\\ c=1", "[a]=1 \\/ [b]=1 /\\ [c]=1"),
        ("(a=1 \\/ b=1) /\\ c=1", "([a]=1 \\/ [b]=1) /\\ [c]=1"),
        ("a=1 /\\ b=1 => c=1", "[a]=1 /\\ ([b]=1 => [c]=1)"),  # => binds tighter than /\ in herd
        ("not (a=1) \\/ true", "not ([a]=1) \\/ true"),
        ("x != 1", "not ([x]=1)"),
        ("[x]=y", "[x]=y"),
    ]:
        assert format_prop(parse_prop(text)) == printed


def test_eval_prop() -> None:
    st = {LocReg(0, "r1"): 1, LocMem("x"): 2, LocMem("p"): "x", LocReg(1, "r2"): "x"}
    assert eval_prop(parse_prop("0:r1=1 /\\ x=2"), st)
    assert not eval_prop(parse_prop("0:r1=1 /\\ ~x=2"), st)
    assert eval_prop(parse_prop("p=x /\\ 1:r2=x /\\ [p]=1:r2"), st)
    assert not eval_prop(parse_prop("p=0"), st)  # an address is not an integer
    assert eval_prop(parse_prop("x=3 => false"), st)
    assert not eval_prop(parse_prop("x=2 => false"), st)
    assert eval_prop(parse_prop("false \\/ true"), st)
    with pytest.raises(KeyError):
        eval_prop(parse_prop("y=1"), st)


def test_state_lines() -> None:
    st = {LocMem("y"): 1, LocReg(1, "r1"): 0, LocMem("a", 1): 3, LocReg(0, "r2"): "x0", LocReg(0, "r10"): -1}
    assert format_state(st) == "0:r10=-1; 0:r2=x0; 1:r1=0; [y]=1; a[1]=3;"
    s1 = {LocReg(0, "r"): "a"}
    s2 = {LocReg(0, "r"): 5}
    s3 = {LocReg(0, "r"): -1}
    assert sort_states([s1, s2, s3]) == [s3, s2, s1]  # integers before addresses


def test_prop_locations() -> None:
    p = parse_prop("0:r1=1 /\\ (x=2 \\/ not (0:r1=3)) /\\ [y]=0:r2")
    assert prop_locations(p) == [LocReg(0, "r1"), LocMem("x"), LocMem("y"), LocReg(0, "r2")]
