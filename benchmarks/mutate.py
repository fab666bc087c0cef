"""``make bench``: the total time of ``rmapwalk mutate`` on the KVM model (and on the examples).

One row per run: subject, memory models, workers, runs unmutated (and how many hold), sites,
mutants (killed, surviving, not run, unknown), mutated runs, seconds in all.  The KVM row is the
run ``rmapwalk review --mutations`` makes for docs/review.md.

``python benchmarks/mutate.py [--jobs N] [--models sc,tso,pso,lkmm] [--quick]``
(``--quick``: the examples and the KVM scenario ``desc-reuse`` only)
"""

from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))


def main(argv: list[str] | None = None) -> int:
    from rmapwalk import mutate as mm
    from rmapwalk.engine.parallel import default_jobs
    from rmapwalk.kvm.mutation_notes import explain

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=0, help="worker processes (0: one per core)")
    ap.add_argument("--models", default=",".join(mm.DEFAULT_MODELS))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    jobs = args.jobs or default_jobs()
    models = [m for m in args.models.split(",") if m]
    examples = os.path.join(ROOT, "src", "rmapwalk", "examples")
    runs = [("examples/mp.py", lambda: mm.file_targets(os.path.join(examples, "mp.py"), models, ["mp"]), None),
            ("examples/sb.py", lambda: mm.file_targets(os.path.join(examples, "sb.py"), models, ["sb_mb"]), None),
            ("kvm" + (" --scenario desc-reuse" if args.quick else ""),
             lambda: mm.kvm_targets(models, ["desc-reuse"] if args.quick else ()), explain)]
    print(f"rmapwalk mutate; {os.cpu_count()} cores, {jobs} workers; load average {os.getloadavg()[0]:.2f}")
    header = (f"{'subject':<28} {'models':<16} {'runs':>5} {'hold':>5} {'sites':>5} {'mutants':>7} {'killed':>6} "
              f"{'survive':>7} {'not run':>7} {'unknown':>7} {'mutated':>7} {'seconds':>8}")
    print(header)
    print("-" * len(header))
    for name, targets, notes in runs:
        t0 = time.perf_counter()
        report = mm.mutate(targets(), name, jobs=jobs, explain=notes)
        seconds = time.perf_counter() - t0
        c = report.counts()
        held = sum(b.verdict == "holds" for b in report.baselines)
        mutated = sum(len(m.runs) for _, m in report.mutants())
        print(f"{name:<28} {','.join(models):<16} {len(report.baselines):5} {held:5} {len(report.sites):5} "
              f"{sum(c.values()):7} {c[mm.KILLED]:6} {c[mm.SURVIVES]:7} {c[mm.NOT_RUN]:7} {c[mm.UNKNOWN]:7} "
              f"{mutated:7} {seconds:8.1f}", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
