"""Out-of-thin-air candidates: plain reads whose values flow, through an arithmetic expression,
into a WRITE_ONCE that the other thread reads back (the OOTA family).

The finding (docs/litmus.md, "Out of thin air"): herd7 counts fewer executions than our cat back
end used to, with the same verdict and data-race flag, and herd7 is right for the LKMM as it is
defined, that is linux-kernel.cat *run by herd7*:

* ``linux-kernel.cat`` alone does not forbid the extra candidates.  They are cycles
  ``r1 = *x`` -data-> ``WRITE_ONCE(*y, r1 + 0)`` -rf-> ``r2 = READ_ONCE(*y)`` -data-> ``*x = r2``
  -rf-> ``r1 = *x``; two of the four accesses are plain, and ``hb`` (``acyclic hb``) only relates
  ``[Marked]`` events (``let hb = [Marked] ; (ppo | rfe | ((prop \\ id) & int)) ; [Marked]``), so
  no axiom sees the cycle; the model only flags the data race on ``x``.
* But a candidate is an execution only if its values are determined: herd7 gives every read a
  variable, equal to the value of the write it reads from, and solves these equations per
  reads-from choice.  On the cycle above they reduce to ``r1 = r1 + 0``: no unique solution, so
  herd7 never makes the candidate concrete and drops it before the model runs (``when_unsolved``
  in herd/mem.ml: "This system in fact has no solution ... This occurs with cyclic rfmaps").  Its
  value is out of thin air: nothing but the cycle itself justifies it, whatever it is.
* Our cat back end gives each read a value from a finite domain first, then the reads-from that
  matches it, so such a cycle used to be counted once per domain value that satisfies it (with
  the initial value 0 alone, once; with another write of 1 to ``y``, once more per coherence
  choice).  It now drops them as herd7 does (``LitmusResult.thin_air`` counts them), and the
  engine's LKMM, whose load-buffering revisits never let a read depend on itself, already agreed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rmapwalk.litmus.runner import ModelSpec, run_test

LKMM = Path(__file__).resolve().parents[2].parent / "shared" / "lkmm"
CFG = LKMM / "model" / "linux-kernel.cfg"
needs_lkmm = pytest.mark.skipif(not CFG.is_file(), reason=f"the LKMM files are not at {LKMM} (../shared/lkmm)")

OOTA = """C OOTA+plain
{}
P0(int *x, int *y) { int r1; r1 = *x; WRITE_ONCE(*y, r1 + 0); }
P1(int *x, int *y) { int r2; r2 = READ_ONCE(*y); *x = r2; }
%s
exists (0:r1=1 /\\ 1:r2=1)
"""
WRITER = "P2(int *y) { WRITE_ONCE(*y, 1); }"


@needs_lkmm
@pytest.mark.parametrize(("extra", "executions", "positive", "dropped"), [("", 3, 0, 1), (WRITER, 10, 2, 2)])
def test_thin_air_cycles_are_not_executions(tmp_path: Path, extra: str, executions: int, positive: int,
                                            dropped: int) -> None:
    f = tmp_path / "oota.litmus"
    f.write_text(OOTA % extra)
    cat = run_test(str(f), ModelSpec(conf=str(CFG)))
    engine = run_test(str(f), ModelSpec(engine="lkmm"))
    for r in (cat, engine):
        assert (r.positive + r.negative, r.positive) == (executions, positive)
        assert "data-race" in r.flags
    assert cat.states == engine.states
    # the candidates (reads-from choices) herd7 never makes concrete: the cycle with each value it
    # could carry; with the writer, each of the two had two coherence orders: 14 executions before
    assert cat.thin_air == dropped


@needs_lkmm
def test_marked_dependency_cycles_were_already_forbidden_by_hb() -> None:
    """In an all-marked LB+data test the same cycles are dropped before the model, which would
    have rejected them anyway (``ppo`` holds the data dependencies, ``acyclic hb``): the counts
    stay herd's (the .expected file)."""
    path = LKMM / "tests" / "C-LB+o-data-o+o-data-o+o-data-o.litmus"
    r = run_test(str(path), ModelSpec(conf=str(CFG)))
    expected = (LKMM / "tests" / (path.name + ".expected")).read_text()
    assert f"Positive: {r.positive} Negative: {r.negative}" in expected
    assert r.thin_air > 0
