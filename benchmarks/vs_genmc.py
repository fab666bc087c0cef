"""rmapwalk against GenMC on the synthetic benchmarks both run, in the same run, one core each.

For lastzero(15), indexer(15) and readers(13) (the issue's figures), runs GenMC on its own test
files (``genmc -rc11 -disable-mm-detector --disable-estimation -- -DN=N NAME/variants/NAME0.c``, as
GenMC's test script runs them, without the estimation pass) and rmapwalk on
``benchmarks/programs.py``'s versions of the same programs (``rmapwalk run`` under SC), alternately,
``--repeat`` times each, and prints the best of each: executions (which must be equal: the row
says so when they are not), GenMC's own verification time, rmapwalk's exploration time, both
whole processes (GenMC's includes compiling the C file with clang, rmapwalk's starting Python),
peak RSS, and the ratio GenMC/rmapwalk of whole processes (above 1: rmapwalk is faster).

GenMC is not a dependency: this needs ``genmc`` on the PATH (or ``--genmc``) and GenMC's source
tree for the test files (``--genmc-src`` or ``$GENMC_SRC``), and prints one line and exits 0
without them.

``python benchmarks/vs_genmc.py [--genmc PATH] [--genmc-src DIR] [--repeat 3] [NAME=N ...]``
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ("lastzero=15", "indexer=15", "readers=13")

#: what one rmapwalk process runs: the benchmark program, explored under SC, timed inside
_RMAPWALK = """
import sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {src!r})
from benchmarks.programs import PROGRAMS
from rmapwalk.engine.explore import Explorer, Options
prog = PROGRAMS[{name!r}]({n})
t = time.perf_counter()
r = Explorer(prog, "sc", Options(max_events=100000)).run()
print(r.stats.complete, r.stats.blocked, time.perf_counter() - t)
"""


def _whole(cmd: list[str], cwd: Path | None = None) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``cmd``: the process and its wall seconds."""
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    return r, time.perf_counter() - t


def run_genmc(genmc: str, tests: Path, name: str, n: int) -> tuple[int, float, float]:
    """(complete executions, GenMC's verification seconds, whole-process seconds)."""
    src = tests / name / "variants" / f"{name}0.c"
    r, whole = _whole([genmc, "-rc11", "-disable-mm-detector", "--disable-estimation", "--", f"-DN={n}",
                          str(src)], cwd=tests)
    m = re.search(r"complete executions explored: (\d+)", r.stdout + r.stderr)
    t = re.search(r"Total wall-clock time: ([\d.]+)s", r.stdout + r.stderr)
    if r.returncode != 0 or m is None or t is None:
        raise RuntimeError(f"genmc failed on {src}: {(r.stdout + r.stderr).strip().splitlines()[-1:]}")
    return int(m.group(1)), float(t.group(1)), whole


def run_rmapwalk(name: str, n: int) -> tuple[int, float, float]:
    """(complete executions, exploration seconds, whole-process seconds)."""
    code = _RMAPWALK.format(root=str(ROOT), src=str(ROOT / "src"), name=name, n=n)
    r, whole = _whole([sys.executable, "-c", code])
    if r.returncode != 0:
        raise RuntimeError(f"rmapwalk failed on {name}({n}): {r.stderr.strip().splitlines()[-1:]}")
    complete, _blocked, secs = r.stdout.split()
    return int(complete), float(secs), whole


def _peak_kib(cmd: list[str], cwd: Path | None = None) -> int:
    """Peak RSS of one run of ``cmd`` in KiB, read from GNU time when it is installed (else 0)."""
    gtime = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    if gtime is None:
        return 0
    r = subprocess.run([gtime, "-f", "%M", *cmd], cwd=cwd, capture_output=True, text=True, check=False)
    last = r.stderr.strip().splitlines()[-1:] or ["0"]
    return int(last[0]) if last[0].isdigit() else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genmc", default=shutil.which("genmc"))
    ap.add_argument("--genmc-src", default=os.environ.get("GENMC_SRC"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("benchmarks", nargs="*", default=list(DEFAULT), metavar="NAME=N")
    args = ap.parse_args()
    if not args.genmc or not args.genmc_src:
        print("vs GenMC skipped: needs genmc on the PATH (or --genmc) and GenMC's source tree (--genmc-src or "
              "$GENMC_SRC)")
        return 0
    tests = Path(args.genmc_src) / "tests" / "correct" / "synthetic"
    version = subprocess.run([args.genmc, "--version"], capture_output=True, text=True, check=False).stdout
    ver = next((ln.strip() for ln in version.splitlines() if "GenMC v" in ln), "GenMC")
    print(f"rmapwalk vs {ver}, same run, one core each, best of {args.repeat} (seconds; whole = the process)")
    head = (f"{'benchmark':14} {'execs':>8} {'genmc verify':>12} {'rmapwalk explore':>16} {'genmc whole':>11} "
            f"{'rmapwalk whole':>14} {'genmc MiB':>9} {'rmapwalk MiB':>12} {'genmc/rmapwalk':>14}")
    print(head)
    print("-" * len(head))
    for spec in args.benchmarks:
        name, _, n_s = spec.partition("=")
        n = int(n_s)
        g_best = (0, float("inf"), float("inf"))
        r_best = (0, float("inf"), float("inf"))
        for _ in range(args.repeat):  # (alternately: a machine's drift affects both alike)
            g = run_genmc(args.genmc, tests, name, n)
            r = run_rmapwalk(name, n)
            g_best = min(g_best, g, key=lambda x: x[2])
            r_best = min(r_best, r, key=lambda x: x[2])
        g_mem = _peak_kib([args.genmc, "-rc11", "-disable-mm-detector", "--disable-estimation", "--", f"-DN={n}",
                           str(tests / name / "variants" / f"{name}0.c")], cwd=tests)
        r_mem = _peak_kib([sys.executable, "-c", _RMAPWALK.format(root=str(ROOT), src=str(ROOT / "src"), name=name,
                                                                  n=n)])
        same = "" if g_best[0] == r_best[0] else f"  COUNTS DIFFER: genmc {g_best[0]}, rmapwalk {r_best[0]}"
        print(f"{f'{name}({n})':14} {r_best[0]:8d} {g_best[1]:12.2f} {r_best[1]:16.2f} {g_best[2]:11.2f} "
              f"{r_best[2]:14.2f} {g_mem / 1024:9.1f} {r_mem / 1024:12.1f} {g_best[2] / r_best[2]:13.2f}x{same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
