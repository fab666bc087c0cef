"""RCU chains: load-buffering cycles through 4 to 19 threads, the shape of the ``auto/`` tests of
Paul McKenney's litmus corpus that herd7 does not finish in 30 s.

Thread i reads x_i and writes x_{i+1}, after ``synchronize_rcu()`` (G) or inside a read-side
critical section (R); the ``exists`` clause asks for the whole cycle, which RCU forbids exactly
when the cycle has at least as many G as R.  A chain of n threads has 2^n candidate executions.

Each row runs the chain under LKMM (cat back end): every execution (``--speedcheck false``, the
baseline, only while it stays under about a minute) and the default ``auto`` (above 20,000
candidates only the executions that decide the condition, as herd7 ``-speedcheck true``), with
the verdict checked against RCU's rule.  Prints seconds and the ratio.  Skips without
``../shared/lkmm``.  ``--quick``: up to 12 threads.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rmapwalk.litmus.herdout import observation  # noqa: E402
from rmapwalk.litmus.runner import ModelSpec, run_test  # noqa: E402

CFG = ROOT.parent / "shared" / "lkmm" / "model" / "linux-kernel.cfg"
FULL_UP_TO = 12  # threads: 2^12 candidates; beyond, a full run takes minutes


def rcu_chain(kinds: str) -> str:
    """The litmus text of the chain whose threads are ``kinds`` (a string of G and R)."""
    n = len(kinds)
    parts = [f"C chain-{kinds}\n\n{{\n}}\n"]
    for i, k in enumerate(kinds):
        a, b = f"x{i}", f"x{(i + 1) % n}"
        if k == "G":
            body = f"\tint r1 = READ_ONCE(*{a});\n\tsynchronize_rcu();\n\tWRITE_ONCE(*{b}, 1);\n"
        else:
            body = f"\trcu_read_lock();\n\tint r1 = READ_ONCE(*{a});\n\tWRITE_ONCE(*{b}, 1);\n\trcu_read_unlock();\n"
        parts.append(f"P{i}(int *{a}, int *{b})\n{{\n{body}}}\n")
    cond = " /\\ ".join(f"{i}:r1=1" for i in range(n))
    parts.append(f"exists ({cond})\n")
    return "\n".join(parts)


def expected(kinds: str) -> str:
    return "Never" if kinds.count("G") >= kinds.count("R") else "Sometimes"


def main() -> int:
    if not CFG.is_file():
        print(f"RCU-chain benchmark skipped: no LKMM model at {CFG}")
        return 0
    sizes = [4, 8, 12] if "--quick" in sys.argv else [4, 8, 12, 16, 19]
    spec = ModelSpec(conf=str(CFG))
    print("RCU chains under LKMM (cat): all executions vs auto (speedcheck above 20,000 candidates)")
    print(f"{'threads':>7} {'chain':20} {'verdict':9} {'full s':>8} {'execs':>7} {'auto s':>8} {'mode':>5} "
          f"{'full/auto':>9}")
    with tempfile.TemporaryDirectory(prefix="rmapwalk-chains-") as tmp:
        warm = Path(tmp) / "warm.litmus"
        warm.write_text(rcu_chain("GR"))
        run_test(str(warm), spec)
        for n in sizes:
            for kinds in (("GR" * n)[:n], ("RRG" * n)[:n]):
                path = Path(tmp) / f"chain-{kinds}.litmus"
                path.write_text(rcu_chain(kinds))
                full_s: float | None = None
                execs = ""
                if n <= FULL_UP_TO:
                    t = time.perf_counter()
                    full = run_test(str(path), spec, speedcheck="false")
                    full_s = time.perf_counter() - t
                    execs = str(full.positive + full.negative)
                    assert observation(full) == expected(kinds), kinds
                t = time.perf_counter()
                res = run_test(str(path), spec, speedcheck="auto")
                auto_s = time.perf_counter() - t
                got = observation(res)
                assert got == expected(kinds), (kinds, got)
                ratio = f"{full_s / auto_s:8.1f}x" if full_s is not None and auto_s > 0 else "        -"
                full_txt = f"{full_s:8.2f}" if full_s is not None else "       -"
                print(f"{n:7d} {kinds[:20]:20} {got:9} {full_txt} {execs:>7} {auto_s:8.3f} {res.speedcheck:>5} "
                      f"{ratio:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
