"""The kernel's litmus tests under SC, TSO, PSO and LKMM: verdicts consistent with the models.

* For every test: the final states under SC are among those under TSO, TSO's among PSO's, and
  PSO's among LKMM's (the kernel runs on such machines, so what they do LKMM must allow).
* A table of classic shapes with the verdict each model must give (SB allowed by TSO, not SC;
  MP allowed only once stores may be reordered; LB only under LKMM; IRIW needs non-multi-copy
  atomicity or read-read reordering ...).
* The litmus front end and a hand-written Python model of the same test give the same outcomes
  through the engine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rmapwalk.engine import Program, explore, observe
from rmapwalk.kernel import READ_ONCE, WRITE_ONCE, smp_load_acquire, smp_store_release
from rmapwalk.litmus.herdout import observation
from rmapwalk.litmus.runner import ModelSpec, run_test

LKMM = Path(__file__).resolve().parents[2].parent / "shared" / "lkmm"
CFG = LKMM / "model" / "linux-kernel.cfg"
TESTS = sorted((LKMM / "tests").glob("*.litmus")) if LKMM.is_dir() else []

needs_lkmm = pytest.mark.skipif(not CFG.is_file(), reason=f"the LKMM files are not at {LKMM} (../shared/lkmm)")

N, S = "Never", "Sometimes"
#: test -> verdict under (sc, tso, pso, weak, lkmm)
TABLE = {
    "SB+poonceonces": (N, S, S, S, S),
    "SB+fencembonceonces": (N, N, N, N, N),
    "R+poonceonces": (N, S, S, S, S),
    "MP+poonceonces": (N, N, S, S, S),
    "MP+fencewmbonceonce+fencermbonceonce": (N, N, N, N, N),
    "MP+pooncerelease+poacquireonce": (N, N, N, N, N),
    "C-2+2W+o-o+o-o": (N, N, S, S, S),
    "S+poonceonces": (N, N, S, S, S),
    "LB+poonceonces": (N, N, N, N, S),
    "IRIW+poonceonces+OnceOnce": (N, N, N, S, S),
    "IRIW+fencembonceonces+OnceOnce": (N, N, N, N, N),
    "WRC+poonceonces+Once": (N, N, N, S, S),
    "ISA2+poonceonces": (N, N, S, S, S),
    "MP+polocks": (N, N, N, N, N),
    "MP+unlocklockonceonce+fencermbonceonce": (N, N, N, N, N),
    "CoRR+poonceonce+Once": (N, N, N, N, N),
}
MODELS = ("sc", "tso", "pso", "weak")


def _run(path: Path, model: str):  # type: ignore[no-untyped-def]
    return run_test(str(path), ModelSpec(conf=str(CFG)) if model == "lkmm" else ModelSpec(engine=model))


@needs_lkmm
@pytest.mark.parametrize("name", sorted(TABLE))
def test_verdict_table(name: str) -> None:
    path = LKMM / "tests" / f"{name}.litmus"
    got = tuple(observation(_run(path, m)) for m in (*MODELS, "lkmm"))
    assert got == TABLE[name]


@needs_lkmm
@pytest.mark.parametrize("path", TESTS, ids=[p.name for p in TESTS])
def test_states_nest(path: Path) -> None:
    states = {m: set(_run(path, m).states) for m in ("sc", "tso", "pso", "lkmm")}
    assert states["sc"] <= states["tso"] <= states["pso"] <= states["lkmm"]


# -- the same tests written by hand against the engine ------------------------------------------


def _sb() -> Program:
    p = Program("SB")
    x, y = p.var("x"), p.var("y")

    @p.thread
    def P0() -> None:
        WRITE_ONCE(x, 1)
        observe("r0", READ_ONCE(y))

    @p.thread
    def P1() -> None:
        WRITE_ONCE(y, 1)
        observe("r0", READ_ONCE(x))

    return p


def _mp_release_acquire() -> Program:
    p = Program("MP")
    x, y = p.var("x"), p.var("y")

    @p.thread
    def P0() -> None:
        WRITE_ONCE(x, 1)
        smp_store_release(y, 1)

    @p.thread
    def P1() -> None:
        observe("r0", smp_load_acquire(y))
        observe("r1", READ_ONCE(x))

    return p


def _mp_plain_once() -> Program:
    p = Program("MP")
    x, y = p.var("x"), p.var("y")

    @p.thread
    def P0() -> None:
        WRITE_ONCE(x, 1)
        WRITE_ONCE(y, 1)

    @p.thread
    def P1() -> None:
        observe("r0", READ_ONCE(y))
        observe("r1", READ_ONCE(x))

    return p


HAND = {
    "SB+poonceonces": (_sb, {"P0:r0": (0, "r0"), "P1:r0": (1, "r0")}),
    "MP+pooncerelease+poacquireonce": (_mp_release_acquire, {"P1:r0": (1, "r0"), "P1:r1": (1, "r1")}),
    "MP+poonceonces": (_mp_plain_once, {"P1:r0": (1, "r0"), "P1:r1": (1, "r1")}),
}


@needs_lkmm
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", sorted(HAND))
def test_front_end_matches_hand_written_model(name: str, model: str) -> None:
    build, names = HAND[name]
    res = explore(build(), model)
    by_hand = set()
    for key in res.outcomes:
        final = dict(key)
        by_hand.add(tuple(sorted((f"{t}:{r}", final[k]) for k, (t, r) in names.items())))
    litmus = _run(LKMM / "tests" / f"{name}.litmus", model)
    from_litmus = {tuple(sorted((str(loc), v) for loc, v in state)) for state in litmus.states}
    assert by_hand == from_litmus
