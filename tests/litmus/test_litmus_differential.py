"""Random litmus tests: the engine and candidate enumeration under the same model agree exactly.

The same C text goes through two independent back ends: the engine (TruSt exploration,
its native SC/TSO) and herd-style candidate enumeration with SC and TSO written in cat
(``models/*.cat``).  Both count one execution per consistent (reads-from, coherence)
graph, so the final states *and* how many executions end in each must be equal.  This
checks the parser, the macro expansion, the thread semantics (values, RMWs, branches),
the cat interpreter and the engine against each other.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmapwalk.cat import load_model
from rmapwalk.litmus.candidates import run_cat
from rmapwalk.litmus.engine_bridge import run_engine_result
from rmapwalk.litmus.macros import BUILTIN, expand
from rmapwalk.litmus.parser import parse_litmus

MODELS = Path(__file__).parent / "models"
VARS = ("x", "y")
VALUES = (1, 2)


@st.composite
def statement(draw: st.DrawFn, reg: str) -> str:
    v = draw(st.sampled_from(VARS))
    c = draw(st.sampled_from(VALUES))
    kind = draw(st.sampled_from(["write", "read", "mb", "release", "acquire", "xchg", "cmpxchg", "ifread"]))
    if kind == "write":
        return f"WRITE_ONCE(*{v}, {c});"
    if kind == "read":
        return f"{reg} = READ_ONCE(*{v});"
    if kind == "mb":
        return "smp_mb();"
    if kind == "release":
        return f"smp_store_release({v}, {c});"
    if kind == "acquire":
        return f"{reg} = smp_load_acquire({v});"
    if kind == "xchg":
        return f"{reg} = xchg({v}, {c});"
    if kind == "cmpxchg":
        old = draw(st.sampled_from((0, *VALUES)))
        return f"{reg} = cmpxchg({v}, {old}, {c});"
    w = draw(st.sampled_from(VARS))
    return f"{reg} = READ_ONCE(*{v}); if ({reg} == {c}) WRITE_ONCE(*{w}, {c});"


@st.composite
def litmus_text(draw: st.DrawFn) -> str:
    n_threads = draw(st.integers(2, 3))
    threads = []
    observed = []
    for t in range(n_threads):
        n = draw(st.integers(1, 3))
        body = []
        for i in range(n):
            reg = f"r{i}"
            s = draw(statement(reg))
            body.append("\t" + s)
            if reg + " =" in s:
                observed.append(f"{t}:{reg}")
        regs = "".join(f"\tint r{i};\n" for i in range(n))
        threads.append(f"P{t}(int *x, int *y)\n{{\n{regs}" + "\n".join(body) + "\n}\n")
    observed.append("x")
    cond = " /\\ ".join(f"{loc}={draw(st.sampled_from((0, *VALUES)))}" for loc in observed[:3])
    return "C random\n\n{}\n\n" + "\n".join(threads) + f"\nlocations [{'; '.join(observed)}]\nexists ({cond})\n"


def _states(res: object) -> dict[object, int]:
    return dict(res.states)  # type: ignore[attr-defined]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(litmus_text(), st.sampled_from(["sc", "tso"]))
def test_engine_and_cat_enumeration_agree(text: str, model: str) -> None:
    test = expand(parse_litmus(text, "random.litmus"), BUILTIN)
    cat = run_cat(test, load_model(MODELS / f"{model}.cat"), model)
    eng = run_engine_result(test, model)
    assert _states(cat) == _states(eng), text
    assert (cat.positive, cat.negative) == (eng.positive, eng.negative), text
