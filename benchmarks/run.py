"""``make bench``: exhaustive runs of the standard stateless-model-checking benchmarks.

Each configuration runs in a fresh process (so its peak memory is its own) and prints one row:
benchmark, parameter, memory model, complete and blocked executions, seconds, executions per
second, peak RSS, and the engine's overhead factor: time per explored execution divided by the
time to run the same thread code once, sequentially, on a plain dict (measured in the same run).

Then (unless ``--no-kvm`` or benchmark names are given) the KVM scenario tables of
``benchmarks/kvm_scenarios.py``: every configuration of ``rmapwalk review``, exhaustively under SC
and PSO, with executions and seconds; then each under LKMM (a budget of 60 s a row), with its
ratio to PSO.  Then ``benchmarks/waiting.py``: await-aware exploration on and off, on waiting
programs and (unless ``--no-kvm``) on the KVM scenarios' blocked counts.

``python benchmarks/run.py [--quick] [--no-kvm] [NAME ...]``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "src"))

# (benchmark, parameter, model); the lastzero pair shows memory does not grow with executions
CONFIGS: list[tuple[str, int, str]] = [
    ("readers", 8, "sc"),
    ("readers", 8, "lkmm"),
    ("readers", 13, "sc"),
    ("lastzero", 10, "sc"),
    ("lastzero", 10, "tso"),
    ("lastzero", 10, "pso"),
    ("lastzero", 10, "lkmm"),
    ("lastzero", 15, "sc"),
    ("casrot", 4, "sc"),
    ("wcas", 4, "sc"),
    ("casw", 3, "sc"),
    ("ainc", 4, "sc"),
    ("binc", 3, "sc"),
    ("nwriters", 4, "sc"),
    ("indexer", 12, "sc"),
]
QUICK = {("lastzero", 15, "sc"), ("readers", 13, "sc")}


def _sequential_seconds(prog: Any) -> float:
    from rmapwalk.engine.direct import run_sequential

    n = 0
    t0 = time.perf_counter()
    while True:
        run_sequential(prog)
        n += 1
        dt = time.perf_counter() - t0
        if dt > 0.2 and n >= 10:
            return dt / n


def _one(cfg: tuple[str, int, str]) -> dict[str, Any]:
    from benchmarks.programs import PROGRAMS
    from rmapwalk.engine.explore import Explorer, Options

    name, param, model = cfg
    prog = PROGRAMS[name](param)
    seq = _sequential_seconds(prog)
    res = Explorer(PROGRAMS[name](param), model, Options()).run()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    st = res.stats
    per_exec = st.seconds / max(1, st.executions)
    return {
        "benchmark": name,
        "param": param,
        "model": model,
        "complete": st.complete,
        "blocked": st.blocked,
        "seconds": st.seconds,
        "exec_per_s": st.executions / st.seconds if st.seconds else 0.0,
        "peak_mib": peak_kib / 1024,
        "overhead": per_exec / seq if seq else 0.0,
        "verdict": res.verdict,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the largest configurations")
    ap.add_argument("--no-kvm", action="store_true", help="skip the KVM scenario table")
    ap.add_argument("names", nargs="*", help="only these benchmarks (skips the KVM scenario table)")
    args = ap.parse_args(argv)
    from benchmarks.programs import PROGRAMS

    configs = [c for c in CONFIGS if (not args.names or c[0] in args.names) and not (args.quick and c in QUICK)]
    header = (
        f"{'benchmark':10} {'param':>5} {'model':5} {'complete':>9} {'blocked':>7} {'seconds':>8} "
        f"{'exec/s':>8} {'peak MiB':>8} {'overhead':>9}"
    )
    print(header)
    print("-" * len(header))
    ctx = mp.get_context("spawn")
    for cfg in configs:
        if cfg[0] not in PROGRAMS:
            print(f"{cfg[0]:10} (no such program in benchmarks/programs.py)")
            continue
        with ctx.Pool(1) as pool:
            row = pool.apply(_one, (cfg,))
        print(
            f"{row['benchmark']:10} {row['param']:5} {row['model']:5} {row['complete']:9} {row['blocked']:7} "
            f"{row['seconds']:8.2f} {row['exec_per_s']:8.0f} {row['peak_mib']:8.1f} {row['overhead']:8.0f}x",
            flush=True,
        )
    if not args.names and not args.no_kvm:
        # the KVM scenarios: every configuration the review runs, exhaustively under SC and PSO
        from benchmarks import kvm_scenarios

        print()
        kvm_scenarios.main([])
    if not args.names:
        # await-aware exploration on and off: waiting programs, and the KVM scenarios' blocked counts
        from benchmarks import waiting

        print()
        waiting.main([] if args.no_kvm else ["--kvm"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
