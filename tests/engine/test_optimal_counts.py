"""Optimality: GenMC's synthetic benchmarks must give exactly GenMC's execution counts.

The explorer is TruSt-style optimal DPOR, so under SC it must visit exactly one execution per
(reads-from, coherence) class of complete executions, which is what GenMC reports for these
programs (``tests/correct/synthetic/*/expected.sc.mo.in``).  ``redundant == 0`` checks that no
class was visited twice; the count checks that none was missed.

Independently of the engine, a brute-force SC enumerator (:func:`sc_rf_co_classes`, below) checks
that the Python translations in ``benchmarks/programs.py`` have GenMC's counts, so that a failure
of the count test points at the engine, not at a translation.

Under TSO and PSO every SC execution is still an execution, so the counts can only grow.

``lastzero(15)`` (147456 executions) runs only with ``RMAPWALK_SLOW=1``.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from benchmarks.programs import KNOWN_COUNTS, PROGRAMS
from rmapwalk.engine import Program, explore
from rmapwalk.engine.events import END, NO_WRITE, READ, RMW, TERMINAL_KINDS, WRITE
from rmapwalk.engine.runtime import Node, ThreadBehaviour

SLOW = os.environ.get("RMAPWALK_SLOW") == "1"
_skip_slow = pytest.mark.skipif(not SLOW, reason="set RMAPWALK_SLOW=1 for the large benchmarks")
SLOW_CASES = {("lastzero", 15)}
_slow = pytest.mark.slow

#: the smallest published parameter of each benchmark (for the TSO/PSO runs)
SMALL: dict[str, int] = {}
for (_name, _n) in sorted(KNOWN_COUNTS):
    SMALL.setdefault(_name, _n)


def _case(name: str, n: int) -> Any:
    marks = [_slow, _skip_slow] if (name, n) in SLOW_CASES else []
    return pytest.param(name, n, KNOWN_COUNTS[(name, n)], id=f"{name}({n})", marks=marks)


# -- the engine against GenMC's counts -------------------------------------------------------------
@pytest.mark.parametrize(("name", "n", "expected"), [_case(name, n) for (name, n) in KNOWN_COUNTS])
def test_sc_count_matches_genmc(name: str, n: int, expected: int) -> None:
    res = explore(PROGRAMS[name](n), "sc", check_redundancy=True)
    assert res.stats.redundant == 0
    assert res.stats.blocked == 0
    assert res.stats.complete == expected, f"{name}({n}): GenMC explores {expected} executions"


@pytest.mark.parametrize("model", ["tso", "pso"])
@pytest.mark.parametrize("name", sorted(SMALL))
def test_weak_models_optimal_and_no_fewer(name: str, model: str) -> None:
    n = SMALL[name]
    sc = explore(PROGRAMS[name](n), "sc")
    res = explore(PROGRAMS[name](n), model, check_redundancy=True)
    assert res.stats.redundant == 0
    assert res.stats.complete >= KNOWN_COUNTS[(name, n)]
    assert res.stats.complete >= sc.stats.complete
    assert sc.outcome_set() <= res.outcome_set()


# -- the translations against GenMC's counts, without the engine's explorer -------------------------
def _skip(node: Node) -> Node:
    """The thread's next memory access (or its end), past fences and observations."""
    while node.kind not in (READ, RMW, WRITE) and node.kind not in TERMINAL_KINDS:
        assert node.next is not None
        node = node.next
    return node


def sc_rf_co_classes(prog: Program) -> tuple[int, int]:
    """Brute force: run every SC interleaving of ``prog`` and count the distinct (rf, co) of
    complete and of blocked executions.  No reduction beyond merging identical partial
    histories; only for small programs.  Events are named (thread, index of memory access)."""
    beh = [ThreadBehaviour(td, i, 1000) for i, td in enumerate(prog.threads)]
    nthreads = len(beh)
    # write: (tid, idx, value), the initial write of loc is (-1, loc, value)
    Co = tuple[tuple[int, tuple[tuple[int, int, Any], ...]], ...]
    State = tuple[tuple[Node, ...], tuple[int, ...], frozenset[Any], Co]
    complete: set[tuple[frozenset[Any], Co]] = set()
    blocked: set[tuple[frozenset[Any], Co]] = set()
    seen: set[Any] = set()
    stack: list[State] = [(tuple(_skip(b.root) for b in beh), (0,) * nthreads, frozenset(), ())]
    while stack:
        cur, cnt, rf, co = stack.pop()
        key = (tuple(id(c) for c in cur), rf, co)
        if key in seen:
            continue
        seen.add(key)
        cod = dict(co)
        moved = False
        for t in range(nthreads):
            node = cur[t]
            if node.kind in TERMINAL_KINDS:
                continue
            moved = True
            loc = node.loc
            writes = cod.get(loc, ())
            last = writes[-1] if writes else (-1, loc, prog.initial(loc))
            ncur, ncnt, nco, nrf = list(cur), list(cnt), dict(cod), rf
            if node.kind == WRITE:
                nco[loc] = writes + ((t, cnt[t], node.value),)
                assert node.next is not None
                ncur[t] = _skip(node.next)
                ncnt[t] += 1
            else:
                nrf = rf | {((t, cnt[t]), last[:2])}
                ncnt[t] += 1
                if node.kind == RMW:
                    assert node.op is not None
                    new = node.op(last[2])
                    if new is not NO_WRITE:
                        nco[loc] = writes + ((t, ncnt[t], new),)
                        ncnt[t] += 1
                ncur[t] = _skip(beh[t].child(node, last[2]))
            stack.append((tuple(ncur), tuple(ncnt), nrf, tuple(sorted(nco.items()))))
        if not moved:
            (complete if all(c.kind == END for c in cur) else blocked).add((rf, co))
    return len(complete), len(blocked)


def _indexer_colliding(n: int) -> Program:
    # indexer(12): only threads 0 and 11 ever compete for a slot (w = 11*i + tid is equal for
    # (tid 0, i+1) and (tid 11, i), and no probe reaches another thread's slot); the other ten
    # threads only add independent successful CASes.  Keep the two that matter.
    prog = PROGRAMS["indexer"](n)
    prog.threads = [prog.threads[0], prog.threads[11]]
    return prog


# lastzero(10) takes over a minute by brute force; indexer(12) is reduced to its colliding threads
_ORACLE_CASES = [
    pytest.param(name, n, id=f"{name}({n})")
    for (name, n) in KNOWN_COUNTS
    if (name, n) not in {("lastzero", 10), ("lastzero", 15)}
]


@pytest.mark.parametrize(("name", "n"), _ORACLE_CASES)
def test_translation_has_genmc_count(name: str, n: int) -> None:
    prog = _indexer_colliding(n) if name == "indexer" else PROGRAMS[name](n)
    assert sc_rf_co_classes(prog) == (KNOWN_COUNTS[(name, n)], 0)


def test_oracle_counts_rmw_races() -> None:
    # two fetch_adds: two coherence orders, each RMW reading the other's write or the initial 0
    assert sc_rf_co_classes(PROGRAMS["ainc"](2)) == (2, 0)
