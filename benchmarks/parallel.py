"""Speed-up of the split search (``--jobs``): 1 worker against 2 (or more), in the same run.

Each configuration runs in a fresh process, which prints one row: workers, executions, seconds,
executions per second, speed-up over the 1-worker row, work units, the share of the wall time the
workers spent exploring units, the CPU time of all processes (the cost of splitting, whatever the
machine's load), and the peak RSS of the coordinating process and of the largest worker process.
"1 worker" is the plain sequential explorer (``rmapwalk run`` without ``--jobs``), so the
speed-up includes every cost of splitting.  The default search, lastzero(16) under SC, takes
about 30 s sequentially on an idle machine here.

``python benchmarks/parallel.py [--program lastzero --param 16 --model sc] [--jobs 1,2] [--repeat 1]``
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


def _one(name: str, param: int, model: str, jobs: int) -> dict[str, Any]:
    from benchmarks.programs import PROGRAMS
    from rmapwalk.engine.explore import Explorer, Options
    from rmapwalk.engine.parallel import ParallelSearch
    from rmapwalk.engine.workunit import ProgramSource, SearchConfig

    prog = PROGRAMS[name](param)
    t0 = time.perf_counter()
    units = 1
    busy = 0.0
    if jobs == 1:
        res = Explorer(prog, model, Options()).run()
    else:
        fn = {"N-writers": "n_writers", "nwriters": "n_writers"}.get(name, name)
        cfg = SearchConfig(ProgramSource(module="benchmarks.programs", function=fn, args=(param,)), model)
        search = ParallelSearch(cfg, prog, jobs=jobs)
        res = search.run()
        units = search.units_done
        busy = search.busy_seconds
    wall = time.perf_counter() - t0
    return {
        "jobs": jobs,
        "executions": res.stats.executions,
        "complete": res.stats.complete,
        "verdict": res.verdict,
        "seconds": wall,
        "units": units,
        "busy": busy / (wall * jobs) if jobs > 1 and wall else 1.0,
        "cpu": _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN),
        "main_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 if jobs > 1 else 0.0,
    }


def _burn(n: int) -> float:
    t = time.perf_counter()
    x = 0
    for i in range(n):
        x += i
    return time.perf_counter() - t


def capacity(jobs: int = 2, n: int = 10_000_000) -> float:
    """How much faster ``jobs`` processes burn CPU than one, right now: the best speed-up this
    machine can give at its current load (1.0 when other work takes the other cores)."""
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    one = _burn(n)
    with ctx.Pool(jobs) as pool:
        t = time.perf_counter()
        pool.map(_burn, [n] * jobs)
        many = time.perf_counter() - t
    return jobs * one / many


def _cpu(who: int) -> float:
    ru = resource.getrusage(who)
    return ru.ru_utime + ru.ru_stime


def _child(conn: Any, name: str, param: int, model: str, jobs: int) -> None:
    conn.send(_one(name, param, model, jobs))
    conn.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--program", default="lastzero")
    ap.add_argument("--param", type=int, default=16)
    ap.add_argument("--model", default="sc")
    ap.add_argument("--jobs", default="1,2", help="comma-separated worker counts (1: the sequential explorer)")
    ap.add_argument("--repeat", type=int, default=1, help="run the whole series this many times")
    args = ap.parse_args(argv)
    series = [int(j) for j in args.jobs.split(",")]
    top = max(series)
    print(f"{args.program}({args.param}) under {args.model}; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.2f} at the start; a CPU burn runs {capacity(top):.2f}x "
          f"faster on {top} processes than on 1 now")
    header = (f"{'workers':>7} {'executions':>10} {'seconds':>8} {'exec/s':>8} {'speed-up':>8} {'units':>6} "
              f"{'busy':>5} {'CPU s':>7} {'main MiB':>8} {'worker MiB':>10}")
    print(header)
    print("-" * len(header))
    ctx = mp.get_context("spawn")
    for _ in range(args.repeat):
        base: float | None = None
        counts: set[int] = set()
        for jobs in series:
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(send, args.program, args.param, args.model, jobs))
            proc.start()
            row = recv.recv()
            proc.join()
            if jobs == 1 or base is None:
                base = base or row["seconds"]
            counts.add(row["executions"])
            speed = base / row["seconds"] if row["seconds"] else 0.0
            print(f"{row['jobs']:7} {row['executions']:10} {row['seconds']:8.2f} "
                  f"{row['executions'] / row['seconds']:8.0f} {speed:7.2f}x {row['units']:6} {100 * row['busy']:4.0f}% "
                  f"{row['cpu']:7.1f} "
                  f"{row['main_mib']:8.1f} {row['worker_mib']:10.1f}", flush=True)
        if len(counts) != 1:
            print(f"ERROR: the execution counts differ: {sorted(counts)}")
            return 1
    print(f"load average {os.getloadavg()[0]:.2f} at the end; CPU burn speed-up on {top} processes "
          f"{capacity(top):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
