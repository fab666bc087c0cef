"""The KVM scenarios as benchmarks: every configuration ``rmapwalk review`` runs (each setting of
each scenario's expected-verdict table), explored exhaustively under SC and PSO, one row each:
scenario, setting, model, verdict, executions (complete and blocked), seconds.

Then the LKMM table (issue 11): every configuration again under LKMM (and LKMM-alpha where a 2025
scenario's table names it), with executions, seconds and the ratio to the same configuration's
PSO time in the same run.  The goal: each under 60 s on one core.  The LKMM rows search load
buffering as the review does by default (``--lb-search complete``; ``optimal`` on request).  An LKMM row has a budget
(``--lkmm-budget``, the goal by default): a run that reaches it stops and its row says
INCOMPLETE with the executions reached (its ratio is then a lower bound, ``>``), so the table
always ends.  A scenario whose model fails under LKMM (a ModelError) says so in its row.  LKMM
verdicts may differ from the review's expectations while the KVM instrumentation is being fixed
for LKMM: the rows measure the exploration (every execution, the violations counted, not
stopping at the first).

The goal of issues 5 and 13: each under 60 s under SC and under 5 min under PSO on one core.
Every SC and PSO run is exhaustive (no bound): a row whose verdict is INCOMPLETE would say so,
and "holds" is only ever printed for a finished exploration.  Each configuration runs in a fresh
process (one core).

``python benchmarks/kvm_scenarios.py [--models sc,pso] [--lkmm-budget S | --no-lkmm] [SCENARIO ...]``;
``benchmarks/run.py`` calls :func:`main` after the engine table.
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
#: the models of the LKMM table (LKMM-alpha only where a 2025 scenario's table names it)
LKMM_MODELS = ("lkmm", "lkmm-alpha")
#: the goal per model, seconds
LIMITS = {"sc": 60.0, "tso": 60.0, "pso": 300.0, "lkmm": 60.0, "lkmm-alpha": 60.0}


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
            for m in models:
                out.append((name, st, m))
    return out


def lkmm_configurations(names: list[str] | None = None) -> list[tuple[str, dict[str, Any], str]]:
    """(scenario, setting, model) of the LKMM table: every setting under ``lkmm``, and under
    ``lkmm-alpha`` where the scenario's expected table names it."""
    from rmapwalk.kvm.scenarios import SCENARIOS

    out = []
    for name, st, _ in configurations(names, ("lkmm",)):
        out.append((name, st, "lkmm"))
        sc = SCENARIOS[name]
        if any(e.model == "lkmm-alpha" and dict(e.settings) == st for e in sc.expected):
            out.append((name, st, "lkmm-alpha"))
    return out


def setting_name(settings: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in settings.items()) or "base"


def run_config(cfg: tuple[str, dict[str, Any], str], budget: float | None, lb_search: str) -> dict[str, Any]:
    """Explore one configuration (keeping one violation: the benchmark measures the exploration,
    not the trace rendering), exhaustively or for at most ``budget`` seconds, LKMM with the
    ``lb_search`` load-buffering search; a model that fails gives a row with ``error`` set."""
    from rmapwalk.engine.explore import Explorer, Options
    from rmapwalk.engine.runtime import ModelError
    from rmapwalk.kvm.scenarios import SCENARIOS

    name, settings, model = cfg
    sc = SCENARIOS[name]
    prog = sc.build(sc.switches(**settings))
    t0 = time.perf_counter()
    row: dict[str, Any] = {"scenario": name, "setting": setting_name(settings), "model": model, "error": None}
    ex = Explorer(prog, model, Options(keep_violations=1, timeout=budget, lb_search=lb_search))
    try:
        res = ex.run()
    except ModelError as e:  # (the scenario's code fails under this model: say so, go on)
        st = ex.stats
        row.update(verdict="error", executions=st.executions, complete=st.complete, blocked=st.blocked,
                   incomplete=None, timed_out=False, seconds=time.perf_counter() - t0, error=str(e))
        return row
    seconds = time.perf_counter() - t0
    st = res.stats
    row.update(
        verdict=res.verdict if res.verdict != "violated" else "violated: " + ", ".join(
            p.split(" ")[0] if p[:1] == "I" and p[1:2].isdigit() else p for p in sorted(res.property_counts)),
        executions=st.executions,
        complete=st.complete,
        blocked=st.blocked,
        seconds=seconds,
        incomplete=res.incomplete_reason,
        timed_out=bool(res.incomplete_reason and "--timeout" in res.incomplete_reason),
    )
    return row


def _run_in_fresh_process(cfg: tuple[str, dict[str, Any], str], budget: float | None = None,
                          lb_search: str = "optimal") -> dict[str, Any]:
    """:func:`run_config` in a fresh process (``lb_search`` matters to the LKMM rows only)."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(run_config, (cfg, budget, lb_search))


def lkmm_table(names: list[str] | None, budget: float, pso_seconds: dict[tuple[str, str], float],
               lb_search: str) -> int:
    """Print the LKMM table (see the module docstring); ``pso_seconds`` holds the PSO times
    measured in this run (the missing ones are measured here).  Returns how many rows missed
    the goal (over it, incomplete at the budget, or failed)."""
    configs = lkmm_configurations(names)
    header = (f"{'scenario':18} {'setting':56} {'model':10} {'verdict':30} {'executions':>10} {'seconds':>8} "
              f"{'PSO s':>7} {'x PSO':>7} {'goal':>5}")
    print(header)
    print("-" * len(header))
    over = 0
    total = 0.0
    for cfg in configs:
        key = (cfg[0], setting_name(cfg[1]))
        if key not in pso_seconds:
            pso_seconds[key] = _run_in_fresh_process((cfg[0], cfg[1], "pso"))["seconds"]
        row = _run_in_fresh_process(cfg, budget, lb_search)
        pso = pso_seconds[key]
        total += row["seconds"]
        if row["error"] is not None:
            verdict, ok, goal = f"error: {row['error']}", False, "ERR"
        elif row["timed_out"]:
            verdict, ok, goal = f"INCOMPLETE at {budget:.0f} s", False, "OVER"
        elif row["incomplete"] is not None:
            verdict, ok, goal = f"INCOMPLETE ({row['incomplete']})", False, "INC"
        else:
            ok = row["seconds"] <= LIMITS[row["model"]]
            verdict, goal = row["verdict"], "ok" if ok else "OVER"
        over += not ok
        bound = ">" if row["timed_out"] else ""
        ratio = f"{bound}{row['seconds'] / pso:.0f}" if pso > 0 and row["error"] is None else "-"
        print(f"{row['scenario']:18} {row['setting'][:56]:56} {row['model']:10} {verdict[:30]:30} "
              f"{row['executions']:10} {row['seconds']:8.2f} {pso:7.2f} {ratio:>7} {goal:>5}", flush=True)
    print(f"{len(configs)} LKMM configurations, {lb_search} load-buffering search, {total:.1f} s; {over} over "
          f"the goal ({LIMITS['lkmm']:.0f} s each; budget {budget:.0f} s a row)")
    return over


def main(argv: list[str] | None = None) -> int:
    from rmapwalk.engine.explore import DEFAULT_LB_SEARCH, LB_SEARCHES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated memory models (default sc,pso)")
    ap.add_argument("--lkmm-budget", type=float, default=LIMITS["lkmm"],
                    help="seconds an LKMM row may take before it stops as INCOMPLETE (default: the goal, 60)")
    ap.add_argument("--no-lkmm", action="store_true", help="skip the LKMM table")
    ap.add_argument("--lb-search", choices=LB_SEARCHES, default=DEFAULT_LB_SEARCH,
                    help=f"how the LKMM rows search load buffering (default: {DEFAULT_LB_SEARCH}, the review's)")
    ap.add_argument("--lkmm-only", action="store_true", help="only the LKMM table (with its PSO runs)")
    ap.add_argument("names", nargs="*", help="only these scenarios")
    args = ap.parse_args(argv)
    models = tuple(m for m in args.models.split(",") if m)
    pso_seconds: dict[tuple[str, str], float] = {}
    if args.lkmm_only:
        return 1 if lkmm_table(args.names, args.lkmm_budget, pso_seconds, args.lb_search) else 0
    configs = configurations(args.names, models)
    header = (f"{'scenario':18} {'setting':64} {'model':10} {'verdict':30} {'executions':>10} {'blocked':>7} "
              f"{'seconds':>8} {'goal':>5}")
    print(header)
    print("-" * len(header))
    over = 0
    total = 0.0
    for cfg in configs:
        row = _run_in_fresh_process(cfg)
        if row["model"] == "pso":
            pso_seconds[(row["scenario"], row["setting"])] = row["seconds"]
        ok = row["error"] is None and row["incomplete"] is None and row["seconds"] <= LIMITS.get(row["model"], 60.0)
        over += not ok
        total += row["seconds"]
        verdict = row["verdict"] if row["incomplete"] is None else f"INCOMPLETE ({row['incomplete']})"
        if row["error"] is not None:
            verdict = f"error: {row['error']}"
        print(f"{row['scenario']:18} {row['setting'][:64]:64} {row['model']:10} {verdict[:30]:30} "
              f"{row['executions']:10} {row['blocked']:7} {row['seconds']:8.2f} {'ok' if ok else 'OVER':>5}",
              flush=True)
    print(f"{len(configs)} configurations, {total:.1f} s; {over} over the goal "
          f"(SC {LIMITS['sc']:.0f} s, PSO {LIMITS['pso']:.0f} s, exhaustive)")
    if not args.no_lkmm:
        print()
        over += lkmm_table(args.names, args.lkmm_budget, pso_seconds, args.lb_search)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
