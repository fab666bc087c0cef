"""The two load-buffering searches of ``--model lkmm`` side by side: ``optimal`` (TruSt's
maximality rule, which can miss executions) and ``complete`` (every revisit; docs/design.md,
"The complete search").

Rows, each run under both searches in this process, one after the other:

- the kernel's 79 litmus tests (``../shared/lkmm/tests``) through the engine, and the programs the
  differential test keeps (``FIXED`` and ``KNOWN`` of ``tests/litmus/test_lkmm_differential.py``);
- KVM scenarios under LKMM, cheap to heavy.

Each row prints the executions each search finds, its CPU seconds, and the ratio complete /
optimal (the cost of exactness).  A row where the complete search finds fewer executions than the
optimal one would be a bug: the script then exits 1.  ``--quick``: the litmus rows and the two
cheapest KVM rows.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from rmapwalk.engine.explore import Explorer, Options  # noqa: E402
from rmapwalk.litmus.runner import ModelSpec, run_test  # noqa: E402

LKMM = ROOT.parent / "shared" / "lkmm"
KVM_ROWS = [
    ("sp-rcu", "sp_free=typesafe_slab"),
    ("spt-reuse", "leaf_check=by_value"),
    ("rcu-accessors", "publish=wmb"),
    ("large-spte", "large_wp=zap fast_pf_large=allow"),
    ("large-spte", "large_wp=readonly fast_pf_large=forbid"),
]


def _timed(fn: Callable[[], int]) -> tuple[int, float]:
    t0 = time.process_time()
    n = fn()
    return n, time.process_time() - t0


def litmus_rows() -> list[tuple[str, Callable[[str], int]]]:
    rows: list[tuple[str, Callable[[str], int]]] = []
    tests = sorted((LKMM / "tests").glob("*.litmus"))
    if tests:
        def folder(search: str) -> int:
            spec = ModelSpec(engine="lkmm", lb_search=search)
            return sum(sum(run_test(str(t), spec).states.values()) for t in tests)

        rows.append((f"litmus: {len(tests)} kernel tests", folder))
    try:
        from tests.litmus.test_lkmm_differential import FIXED, KNOWN, _run
    except ImportError:  # (no dev extra: Hypothesis)
        return rows

    def programs(search: str) -> int:
        spec = ModelSpec(engine="lkmm", lb_search=search)
        return sum(sum(_run(t, spec).states.values()) for t in (*FIXED, *KNOWN))  # type: ignore[attr-defined]

    rows.append((f"litmus: {len(FIXED) + len(KNOWN)} differential programs", programs))
    return rows


def kvm_row(scenario: str, sets: str) -> tuple[str, Callable[[str], int]]:
    from rmapwalk.cli.kvm import find_scenario, kvm_switches, parse_sets

    sc = find_scenario(scenario)
    sw = kvm_switches(sc, None, parse_sets(sets.split()))

    def run(search: str) -> int:
        res: Any = Explorer(sc.build(sw), "lkmm", Options(lb_search=search)).run()
        return int(res.stats.complete)

    return f"kvm: {scenario} {sets}", run


def main() -> int:
    if not LKMM.is_dir():
        print(f"load-buffering search benchmark skipped: no LKMM files at {LKMM}")
        return 0
    quick = "--quick" in sys.argv
    rows = litmus_rows() + [kvm_row(s, k) for s, k in (KVM_ROWS[:2] if quick else KVM_ROWS)]
    print("LKMM's load-buffering searches: executions found and CPU seconds (one process, same run)")
    print(f"{'row':58} {'optimal':>8} {'s':>7} {'complete':>8} {'s':>7} {'ratio':>6}")
    bad = 0
    for name, fn in rows:
        n_opt, s_opt = _timed(lambda fn=fn: fn("optimal"))  # type: ignore[misc]
        n_full, s_full = _timed(lambda fn=fn: fn("complete"))  # type: ignore[misc]
        flag = "" if n_full >= n_opt else "  FEWER: a bug"
        bad += n_full < n_opt
        print(f"{name[:58]:58} {n_opt:8} {s_opt:7.2f} {n_full:8} {s_full:7.2f} {s_full / max(s_opt, 1e-9):5.1f}x{flag}",
              flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
