"""Litmus benchmark: the kernel's litmus suite under LKMM (cat), under the engine's own LKMM,
and under the engine's SC.

For every test of ``../shared/lkmm/tests``: seconds and candidate executions under
``linux-kernel.cfg``, seconds under the engine's ``lkmm`` (exploration with dependencies and
load buffering, the model in Python), and seconds under the engine's ``sc`` (the baseline
measured in the same run, so the ratios say what each LKMM costs over native SC exploration).
Prints a per-test table (the slowest first) and the folder totals.  Skips with a message when
``../shared/lkmm`` is absent.  Run by ``make bench``; ``--quick`` runs only ten tests.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rmapwalk.litmus.runner import ModelSpec, run_test  # noqa: E402

LKMM = ROOT.parent / "shared" / "lkmm"


def main() -> int:
    cfg = LKMM / "model" / "linux-kernel.cfg"
    tests = sorted((LKMM / "tests").glob("*.litmus"))
    if not cfg.is_file() or not tests:
        print(f"litmus benchmark skipped: no LKMM files at {LKMM}")
        return 0
    if "--quick" in sys.argv:
        tests = tests[:10]
    lkmm = ModelSpec(conf=str(cfg))
    sc = ModelSpec(engine="sc")
    eng = ModelSpec(engine="lkmm")
    t0 = time.perf_counter()
    run_test(str(tests[0]), lkmm)  # loads and compiles the model once (reported separately)
    load = time.perf_counter() - t0
    rows = []
    total_cat = total_sc = total_eng = 0.0
    for path in tests:
        t = time.perf_counter()
        res = run_test(str(path), lkmm)
        cat_s = time.perf_counter() - t
        t = time.perf_counter()
        run_test(str(path), sc)
        sc_s = time.perf_counter() - t
        t = time.perf_counter()
        run_test(str(path), eng)
        eng_s = time.perf_counter() - t
        total_cat += cat_s
        total_sc += sc_s
        total_eng += eng_s
        rows.append((path.stem, res.candidates, res.pruned, res.positive + res.negative, cat_s, sc_s, eng_s))
    rows.sort(key=lambda r: -r[4])
    times = sorted(r[4] for r in rows)
    median = times[len(times) // 2] if len(times) % 2 else (times[len(times) // 2 - 1] + times[len(times) // 2]) / 2
    print(f"litmus: {len(tests)} tests of {LKMM / 'tests'}; LKMM model load + first test {load:.2f} s")
    head = (f"{'test':44} {'cands':>6} {'pruned':>6} {'execs':>6} {'cat s':>7} {'eng s':>7} {'sc s':>6} "
            f"{'cat/sc':>6} {'eng/sc':>6}")
    print(head)
    print("-" * len(head))
    for name, cands, pruned, execs, cat_s, sc_s, eng_s in rows[:15]:
        ratio = cat_s / sc_s if sc_s > 0 else float("inf")
        eratio = eng_s / sc_s if sc_s > 0 else float("inf")
        print(f"{name[:44]:44} {cands:6d} {pruned:6d} {execs:6d} {cat_s:7.3f} {eng_s:7.3f} {sc_s:6.3f} "
              f"{ratio:5.1f}x {eratio:5.1f}x")
    if len(rows) > 15:
        print(f"... {len(rows) - 15} faster tests")
    print(f"folder: LKMM (cat) {total_cat:.2f} s (median {median:.3f} s, slowest {rows[0][4]:.2f} s: {rows[0][0]}),"
          f" engine LKMM {total_eng:.2f} s, engine SC {total_sc:.2f} s; cat/sc {total_cat / total_sc:.1f}x,"
          f" engine-lkmm/sc {total_eng / total_sc:.1f}x, engine-lkmm/cat {total_eng / total_cat:.2f}x")
    herd = shutil.which("herd7")
    if herd:
        t = time.perf_counter()
        for path in tests:
            subprocess.run([herd, "-conf", str(cfg), str(path)], capture_output=True, cwd=cfg.parent, check=False)
        herd_s = time.perf_counter() - t
        print(f"herd7 on the same tests: {herd_s:.2f} s; rmapwalk/herd7 = {total_cat / herd_s:.1f}x")
    else:
        print("herd7 is not on the PATH: no herd7 column")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
