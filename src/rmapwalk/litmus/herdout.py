"""herd7's output for one test, line for line, and our JSON Lines record.

The kernel's scripts (``tools/memory-model/scripts/judgelitmus.sh`` and friends)
read the ``Observation`` line and the ``Ok``/``No`` line; people read the states.
The format follows herd7's ``Top_herd.pp_stats``: ``Test NAME KIND``, ``States N``
and the states in herd's order, ``Ok``/``No`` (``Loop`` first when a loop was cut),
``Witnesses``, ``Positive: P Negative: N`` (swapped for ``~exists``, as herd does),
one ``Flag NAME`` per flag raised, ``Condition ...``, ``Observation NAME
Never|Sometimes|Always P N`` and ``Time NAME S``.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from rmapwalk.litmus.ast import LitmusTest
from rmapwalk.litmus.candidates import LitmusResult, State
from rmapwalk.litmus.condition import format_condition, format_state, state_sort_key

KIND = {"exists": "Allowed", "~exists": "Forbidden", "forall": "Required"}


class Counts(Protocol):
    """What herd's verdict lines are computed from (a cat run's or the engine's result)."""

    @property
    def test(self) -> LitmusTest: ...

    @property
    def positive(self) -> int: ...

    @property
    def negative(self) -> int: ...


def state_key(state: State) -> tuple[tuple[int, int, str], ...]:
    return state_sort_key(dict(state))


def condition_holds(res: Counts) -> bool:
    """herd's ``Ok``/``No``: exists -> some execution satisfies; ~exists -> none; forall -> all."""
    q = res.test.condition.quantifier
    if q == "exists":
        return res.positive > 0
    if q == "~exists":
        return res.positive == 0
    return res.negative == 0


def observation(res: Counts) -> str:
    """herd's ``Never``/``Sometimes``/``Always`` of the condition's proposition.

    Under speedcheck only the executions that decide the condition were counted, so (as herd7
    says) ``Always`` cannot be told from ``Sometimes`` for ``exists``, nor ``Never`` for ``forall``.
    """
    if getattr(res, "speedcheck", "false") != "false":
        if res.test.condition.quantifier == "forall":
            return "Always" if res.negative == 0 else "Sometimes"
        return "Never" if res.positive == 0 else "Sometimes"
    if res.positive == 0:
        return "Never"
    if res.negative == 0:
        return "Always"
    return "Sometimes"


def herd_lines(res: LitmusResult, *, time_line: bool = True) -> list[str]:
    test = res.test
    name = test.name
    lines = [f"Test {name} {KIND[test.condition.quantifier]}", f"States {len(res.states)}"]
    for state in sorted(res.states, key=state_key):
        lines.append(format_state(dict(state)))
    verdict = "Ok" if condition_holds(res) else "No"
    lines.append(("Loop " if res.cutoff else "") + verdict)
    lines.append("Witnesses")
    pos, neg = res.positive, res.negative
    if test.condition.quantifier == "~exists":
        pos, neg = neg, pos
    lines.append(f"Positive: {pos} Negative: {neg}")
    for flag in sorted(res.flags):
        lines.append(f"Flag {flag}")
    lines.append(f"Condition {format_condition(test.condition)}")
    lines.append(f"Observation {name} {observation(res)} {res.positive} {res.negative}")
    if time_line:
        lines.append(f"Time {name} {res.seconds:0.2f}")
    return lines


def json_record(res: LitmusResult) -> dict[str, Any]:
    """The JSON Lines record of one test; ``blocked`` only where the engine ran it."""
    rec = {
        "test": res.test.name,
        "file": res.test.file,
        "model": res.model,
        "verdict": observation(res),
        "ok": condition_holds(res),
        "states": len(res.states),
        "outcomes": [
            {str(loc): v for loc, v in state} | {"executions": n}
            for state, n in sorted(res.states.items(), key=lambda kv: state_key(kv[0]))
        ],
        "positive": res.positive,
        "negative": res.negative,
        "flags": sorted(res.flags),
        "executions": res.candidates,
    }
    if res.speedcheck != "false":
        rec["speedcheck"] = res.speedcheck
    if res.blocked is not None:
        rec["blocked"] = res.blocked
    rec["seconds"] = round(res.seconds, 4)
    return rec


def json_line(res: LitmusResult) -> str:
    return json.dumps(json_record(res), sort_keys=False)
