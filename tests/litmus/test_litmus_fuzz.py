"""Malformed litmus text never produces a traceback: one ``FILE:LINE:COL: message`` line, exit 2.

Hypothesis mutates real tests (deletes, duplicates and swaps tokens, truncates, inserts
junk) and also throws arbitrary text at the front end; every outcome must be either a
normal run or a ``LitmusInputError``/``LitmusError`` whose text is one line naming the file.
The CLI is checked the same way on a few mutants.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmapwalk.cli import main
from rmapwalk.litmus.macros import BUILTIN, expand
from rmapwalk.litmus.parser import LitmusError, parse_litmus
from rmapwalk.litmus.runner import LitmusInputError, ModelSpec, run_test

SEED = """C MP+pooncerelease+poacquireonce

{
\tint x = 0;
\tint *p = &x;
}

P0(int *x, int *y, spinlock_t *s)
{
\tWRITE_ONCE(*x, 1);
\tspin_lock(s);
\tsmp_store_release(y, 1);
\tspin_unlock(s);
}

P1(int *x, int *y)
{
\tint r0;
\tint r1;

\tr0 = smp_load_acquire(y);
\tif (r0 == 1) { r1 = READ_ONCE(*x); } else { r1 = cmpxchg(x, 0, 2); }
}

locations [x;]
exists (1:r0=1 /\\ 1:r1=0)
"""

TOKENS = re.findall(r"\w+|[^\w\s]|\s+", SEED)
POSITION = re.compile(r"^[^:\n]+\.litmus:\d+:\d+: \S")


def check_text(text: str, tmp: Path) -> None:
    path = tmp / "fuzz.litmus"
    path.write_text(text)
    try:
        expand(parse_litmus(text, str(path)), BUILTIN)
    except LitmusError as e:
        msg = str(e)
        assert "\n" not in msg and POSITION.match(msg), msg
        return
    try:
        run_test(str(path), ModelSpec(engine="sc"))
    except LitmusInputError as e:
        assert "\n" not in str(e) and str(e).startswith(str(path)), str(e)


@st.composite
def mutant(draw: st.DrawFn) -> str:
    toks = list(TOKENS)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(toks) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "junk", "truncate"]))
        if op == "delete":
            del toks[i]
        elif op == "duplicate":
            toks.insert(i, toks[i])
        elif op == "swap" and i + 1 < len(toks):
            toks[i], toks[i + 1] = toks[i + 1], toks[i]
        elif op == "junk":
            toks.insert(i, draw(st.sampled_from(["{", "}", "(", ")", ";", "*", "&", "P9", "exists", "(*", "0x", "\\/",
                                                 "1:r9", "foo(", "\"", "[", "]", "==", "->", "\x00"])))
        elif op == "truncate":
            toks = toks[:i]
        if not toks:
            toks = [""]
    return "".join(toks)


#: no deadline and no "too slow" health check: whether these pass does not depend on the machine's speed
_UNTIMED: dict[str, Any] = {"deadline": None,
                            "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}


@settings(max_examples=150, **_UNTIMED)
@given(mutant())
def test_mutated_tests_never_crash(tmp_path: Path, text: str) -> None:
    check_text(text, tmp_path)


@settings(max_examples=100, **_UNTIMED)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(tmp_path: Path, text: str) -> None:
    check_text(text, tmp_path)


def test_cli_reports_one_line_and_continues(tmp_path: Path) -> None:
    bad = tmp_path / "bad.litmus"
    bad.write_text(SEED.replace("smp_load_acquire(y);", "smp_load_acquire(y"))
    good = tmp_path / "good.litmus"
    good.write_text(SEED)
    res = CliRunner().invoke(main, ["litmus", str(bad), str(good)])
    assert res.exit_code == 2
    assert "Test MP+pooncerelease+poacquireonce" in res.stdout
    err = [ln for ln in res.stderr.splitlines() if ln]
    assert len(err) == 1 and re.search(r"bad\.litmus:\d+:\d+: ", err[0]), res.stderr
    assert "Traceback" not in res.output
