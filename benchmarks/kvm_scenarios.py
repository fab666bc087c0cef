"""The KVM scenarios as benchmarks: every configuration ``rmapwalk review`` runs (each setting of
each scenario's expected-verdict table), explored exhaustively under SC and PSO, and for the 2025
scenarios (lockless aging) also under LKMM (and LKMM-alpha where the scenario's table names it),
one row each: scenario, setting, model, verdict, executions (complete and blocked), seconds.

The goal of issues 5 and 13: each under 60 s under SC and under 5 min under PSO and LKMM on one
core.  Every run is exhaustive (no bound): a row whose verdict is INCOMPLETE would say so, and
"holds" is only ever printed for a finished exploration (under LKMM: of every execution but the
load-buffering ones, which the engine does not explore yet).  Each configuration runs in a fresh
process (one core).

``python benchmarks/kvm_scenarios.py [--models sc,pso] [SCENARIO ...]``; ``benchmarks/run.py``
calls :func:`main` after the engine table.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "src"))

MODELS = ("sc", "pso")
#: the models the 2025 scenarios add when their expected table names them
LKMM_MODELS = ("lkmm", "lkmm-alpha")
#: the goal per model, seconds
LIMITS = {"sc": 60.0, "tso": 60.0, "pso": 300.0, "lkmm": 300.0, "lkmm-alpha": 300.0}


def configurations(names: list[str] | None = None,
                   models: tuple[str, ...] = MODELS) -> list[tuple[str, dict[str, Any], str]]:
    """(scenario, setting, model) for every setting the review runs, in registry order."""
    from rmapwalk.kvm.scenarios import SCENARIOS
    from rmapwalk.review import settings_of

    out = []
    for name, sc in SCENARIOS.items():
        if names and name not in names:
            continue
        for st in settings_of(sc):
            named = {e.model for e in sc.expected if dict(e.settings) == st}
            extra = tuple(m for m in LKMM_MODELS if sc.review == "2025" and m in named and m not in models)
            for m in models + extra:
                out.append((name, st, m))
    return out


def run_config(cfg: tuple[str, dict[str, Any], str]) -> dict[str, Any]:
    """Explore one configuration exhaustively (keeping one violation: the benchmark measures the
    exploration, not the trace rendering)."""
    from rmapwalk.engine.explore import Explorer, Options
    from rmapwalk.kvm.scenarios import SCENARIOS

    name, settings, model = cfg
    sc = SCENARIOS[name]
    prog = sc.build(sc.switches(**settings))
    t0 = time.perf_counter()
    res = Explorer(prog, model, Options(keep_violations=1)).run()
    seconds = time.perf_counter() - t0
    st = res.stats
    return {
        "scenario": name,
        "setting": " ".join(f"{k}={v}" for k, v in settings.items()) or "base",
        "model": model,
        "verdict": res.verdict if res.verdict != "violated" else "violated: " + ", ".join(
            p.split(" ")[0] if p[:1] == "I" and p[1:2].isdigit() else p for p in sorted(res.property_counts)),
        "executions": st.executions,
        "complete": st.complete,
        "blocked": st.blocked,
        "seconds": seconds,
        "incomplete": res.incomplete_reason,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated memory models (default sc,pso)")
    ap.add_argument("names", nargs="*", help="only these scenarios")
    args = ap.parse_args(argv)
    models = tuple(m for m in args.models.split(",") if m)
    configs = configurations(args.names, models)
    header = (f"{'scenario':18} {'setting':64} {'model':10} {'verdict':30} {'executions':>10} {'blocked':>7} "
              f"{'seconds':>8} {'goal':>5}")
    print(header)
    print("-" * len(header))
    ctx = mp.get_context("spawn")
    over = 0
    total = 0.0
    for cfg in configs:
        with ctx.Pool(1) as pool:
            row = pool.apply(run_config, (cfg,))
        ok = row["incomplete"] is None and row["seconds"] <= LIMITS.get(row["model"], 60.0)
        over += not ok
        total += row["seconds"]
        verdict = row["verdict"] if row["incomplete"] is None else f"INCOMPLETE ({row['incomplete']})"
        print(f"{row['scenario']:18} {row['setting'][:64]:64} {row['model']:10} {verdict[:30]:30} "
              f"{row['executions']:10} {row['blocked']:7} {row['seconds']:8.2f} {'ok' if ok else 'OVER':>5}",
              flush=True)
    print(f"{len(configs)} configurations, {total:.1f} s; {over} over the goal "
          f"(SC {LIMITS['sc']:.0f} s, PSO and LKMM {LIMITS['pso']:.0f} s, exhaustive)")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
