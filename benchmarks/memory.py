"""Memory against executions and distinct outcomes: ``rmapwalk run --json`` on ``lastzero(N)``
under SC for N = 10..14, each in a fresh process, once with the outcome table bounded (the
default: the ``DEFAULT_MAX_OUTCOMES`` least distinct outcomes tabled, the executions reaching
the others counted) and once tabling every outcome (``--all-outcomes``).  Prints complete
executions, distinct outcomes, tabled outcomes, peak RSS (``getrusage`` maxrss of the process)
and seconds.  The distinct outcomes of lastzero double with each N; with the bound, peak memory
stays flat.

``python benchmarks/memory.py [--max N] [--quick]`` (``--quick``: N = 10..12; ``--max 16`` adds the
long runs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# one `rmapwalk run --json` in this process, its output to a file; prints the peak RSS
CHILD = r"""
import contextlib, resource, sys
sys.path[:0] = [ROOT + "/src"]
from rmapwalk.cli import main
out = sys.argv.pop()
with open(out, "w") as f, contextlib.redirect_stdout(f):
    try:
        main(sys.argv[1:], prog_name="rmapwalk")
    except SystemExit:
        pass
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
""".replace("ROOT", repr(ROOT))

MODEL = "import sys\nsys.path.insert(0, {root!r})\nfrom benchmarks.programs import lastzero\nprog = lastzero({n})\n"


def measure(n: int, bounded: bool, tmp: str) -> dict[str, float]:
    model = os.path.join(tmp, f"lastzero{n}.py")
    with open(model, "w") as f:
        f.write(MODEL.format(root=ROOT, n=n))
    out = os.path.join(tmp, "out.json")
    args = ["run", model, "--json", "--quiet", *([] if bounded else ["--all-outcomes"])]
    proc = subprocess.run([sys.executable, "-c", CHILD, *args, out], capture_output=True, text=True, check=True)
    with open(out) as f:
        d = json.load(f)
    return {"rss_mib": float(proc.stdout.split()[-1]), "executions": d["executions"], "tabled": len(d["outcomes"]),
            "untabled": d["outcomes_untabled"], "seconds": d["seconds"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max", type=int, default=14)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    top = 12 if args.quick else args.max
    print("memory: rmapwalk run --json on lastzero(N) under SC, peak RSS of a fresh process; bounded = the default "
          "outcome table, all = --all-outcomes")
    head = (f"{'N':>3} {'executions':>10} {'outcomes':>8} | {'bounded MiB':>11} {'tabled':>6} {'s':>6} | "
            f"{'all MiB':>8} {'s':>6}")
    print(head)
    print("-" * len(head))
    with tempfile.TemporaryDirectory(prefix="rmapwalk-bench-mem-") as tmp:
        for n in range(10, top + 1):
            b = measure(n, True, tmp)
            a = measure(n, False, tmp)
            print(f"{n:3d} {int(a['executions']):10d} {int(a['tabled']):8d} | {b['rss_mib']:11.1f} "
                  f"{int(b['tabled']):6d} {b['seconds']:6.1f} | {a['rss_mib']:8.1f} {a['seconds']:6.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
