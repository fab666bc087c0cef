"""Await-aware exploration, measured: programs that wait, explored with it and without it.

Two tables, each row run twice in the same process (``Options.await_aware`` on, then off), so
that the ratio compares like with like:

* await-style models: a waiting loop over a value written several times in turn (``while
  READ_ONCE(x) != N: cpu_relax()``, one or more waiters), spinlocks with 2 to 4 CPUs, and a
  waiting loop whose value never comes (a spin no write ends: its blocked executions are the
  violation's, and stay);
* the KVM scenarios' configurations (``--kvm``, as ``rmapwalk review`` runs them) under SC.

Columns: complete executions (the same both ways: a failed wait is never a complete execution),
blocked executions and seconds with await-aware exploration, then without, and the speed-up.
The goal: 0 blocked where every wait ends; where one never ends (a violation), the violation still
found, with its blocked executions no more than without.

``python benchmarks/waiting.py [--kvm] [--models sc,...]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "src"))


def await_programs() -> list[tuple[str, Callable[[], Any]]]:
    from rmapwalk.examples import spinlock
    from rmapwalk.examples.waitloop import make as waiting_loop

    return [
        ("waitloop 3x1", lambda: waiting_loop(3, 1)),
        ("waitloop 5x1", lambda: waiting_loop(5, 1)),
        ("waitloop 3x2", lambda: waiting_loop(3, 2)),
        ("waitloop 4x2", lambda: waiting_loop(4, 2)),
        ("waitloop 3x3", lambda: waiting_loop(3, 3)),
        ("waitloop 5x3", lambda: waiting_loop(5, 3)),
        ("waitloop 4x4", lambda: waiting_loop(4, 4)),
        ("never 3x2", lambda: waiting_loop(3, 2, target=9)),
        ("spinlock 2", lambda: spinlock.make(2)),
        ("spinlock 3", lambda: spinlock.make(3)),
        ("spinlock 4", lambda: spinlock.make(4)),
        ("spinlock 5", lambda: spinlock.make(5)),
    ]


def both(make: Callable[[], Any], model: str) -> dict[str, Any]:
    """Explore ``make()`` under ``model`` with await-aware exploration and without it."""
    from rmapwalk.engine.explore import Explorer, Options

    row: dict[str, Any] = {}
    for tag, aware in (("on", True), ("off", False)):
        t0 = time.perf_counter()
        res = Explorer(make(), model, Options(keep_violations=1, await_aware=aware)).run()
        st = res.stats
        row[tag] = {"complete": st.complete, "blocked": st.blocked, "moot": st.moot,
                    "seconds": time.perf_counter() - t0, "verdict": res.verdict}
    return row


HEADER = (f"{'program':46} {'model':5} {'complete':>9} {'blocked':>8} {'moot':>8} {'seconds':>8} | "
          f"{'blocked':>9} {'seconds':>8} {'speed-up':>8} {'goal':>5}")


def print_row(name: str, model: str, row: dict[str, Any], waits_end: bool | None) -> bool:
    """One row; ``waits_end``: True if every wait of the program ends (goal: 0 blocked), False if
    some never does (goal: the violation found, fewer blocked than without), None: no goal."""
    on, off = row["on"], row["off"]
    if waits_end is None:
        ok = True
    elif waits_end:
        ok = on["blocked"] == 0
    else:
        ok = on["verdict"] == "violated" and on["blocked"] <= off["blocked"]
    ok = ok and on["complete"] == off["complete"]
    speed = off["seconds"] / on["seconds"] if on["seconds"] > 0 else 0.0
    print(f"{name[:46]:46} {model:5} {on['complete']:9} {on['blocked']:8} {on['moot']:8} {on['seconds']:8.2f} | "
          f"{off['blocked']:9} {off['seconds']:8.2f} {speed:7.1f}x {'ok' if ok else 'MISS':>5}", flush=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="sc,tso,pso,lkmm", help="models of the await-style table")
    ap.add_argument("--kvm", action="store_true", help="also the KVM scenarios' configurations under SC")
    args = ap.parse_args(argv)
    print("await-aware exploration: on (complete, blocked, moot, seconds) | off (blocked, seconds)")
    print(HEADER)
    print("-" * len(HEADER))
    misses = 0
    for name, make in await_programs():
        for model in args.models.split(","):
            misses += not print_row(name, model, both(make, model), waits_end=not name.startswith("never"))
    if args.kvm:
        from benchmarks.kvm_scenarios import configurations, setting_name
        from rmapwalk.kvm.scenarios import SCENARIOS

        print()
        print(HEADER)
        print("-" * len(HEADER))
        before = after = 0
        for scen, settings, model in configurations(None, ("sc",)):
            sc = SCENARIOS[scen]
            row = both(lambda sc=sc, settings=settings: sc.build(sc.switches(**settings)), model)
            before += row["off"]["blocked"]
            after += row["on"]["blocked"]
            # (a KVM wait that never ends is a finding of the scenario, not of the engine)
            print_row(f"{scen} {setting_name(settings)}", model, row, waits_end=None)
        print(f"KVM configurations under SC: {before} blocked executions without await-aware exploration, "
              f"{after} with it")
    print(f"{misses} await-style rows miss the goal (0 blocked where every wait ends, the violation where "
          "one never does, the same complete executions both ways)")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
