"""Litmus benchmark: the kernel's litmus suite under LKMM (cat), under the engine's own LKMM,
and under the engine's SC.

For every test of ``../shared/lkmm/tests``: seconds and candidate executions under
``linux-kernel.cfg``, seconds under the engine's ``lkmm`` (exploration with dependencies and
load buffering, the model in Python), and seconds under the engine's ``sc`` (the baseline
measured in the same run, so the ratios say what each LKMM costs over native SC exploration).
Prints a per-test table (the slowest first) and the folder totals.

Then the start-up row: the kernel's scripts run one process per test, so the folder is also run
that way (``rmapwalk litmus --conf linux-kernel.cfg TEST`` and ``--model lkmm``, one process per
test), with an empty cache (the first process compiles the model, every test is parsed) and with
the warm cache a second pass finds, and with ``rmapwalk serve`` answering them (the client only
starts Python and forwards its arguments), against the one-process totals above; and the ten
slowest tests one process each.  herd7 is timed the same way when it is on the PATH.

Skips with a message when ``../shared/lkmm`` is absent.  Run by ``make bench``; ``--quick`` runs
only ten tests.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
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
    herd_s = None
    if herd:
        t = time.perf_counter()
        for path in tests:
            subprocess.run([herd, "-conf", str(cfg), str(path)], capture_output=True, cwd=cfg.parent, check=False)
        herd_s = time.perf_counter() - t
        print(f"herd7 on the same tests: {herd_s:.2f} s; rmapwalk/herd7 = {total_cat / herd_s:.1f}x")
    else:
        print("herd7 is not on the PATH: no herd7 column")
    per_process(tests, cfg, total_cat, total_eng, herd_s)
    return 0


def _command() -> list[str]:
    """How the kernel's scripts would start rmapwalk: the installed ``rmapwalk`` script next to this
    Python if there is one, else ``python -m rmapwalk.cli``."""
    script = Path(sys.executable).with_name("rmapwalk")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "rmapwalk.cli"]


def per_process(tests: list[Path], cfg: Path, one_cat: float, one_eng: float, herd_s: float | None) -> None:
    """One process per test, cold cache then warm, for the cat back end and the engine's lkmm.

    The sources are byte-compiled first, as an installed package's are (with
    PYTHONDONTWRITEBYTECODE set, every process would otherwise compile them again)."""
    cmd = _command()
    compile_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], capture_output=True,
                   env=compile_env, check=False)
    with tempfile.TemporaryDirectory(prefix="rmapwalk-bench-cache-") as cache_dir:
        env = {**os.environ, "RMAPWALK_CACHE_DIR": cache_dir, "PYTHONPATH": str(ROOT / "src")}
        totals: dict[tuple[str, str], tuple[float, float]] = {}
        warm_cat: list[tuple[float, float, str]] = []
        for back, args in (("cat", ["--conf", str(cfg)]), ("lkmm", ["--model", "lkmm"])):
            for temp in ("cold", "warm"):
                runs = _one_process_each(cmd, args, tests, env)
                totals[back, temp] = (sum(r[0] for r in runs), sum(r[1] for r in runs))
                if back == "cat" and temp == "warm":
                    warm_cat.extend((dt, cpu, path.stem) for dt, cpu, path, _ in runs)
                if back == "cat" and temp == "warm":  # the cold lkmm pass starts from no parsed tests too
                    for entry in Path(cache_dir).glob("litmus-test-*"):
                        entry.unlink()
        served = _served(tests, cfg, cmd, env, cache_dir)
    n = len(tests)
    print(f"one process per test ({' '.join(cmd[-1:])} litmus ... TEST, {n} processes; cold: empty cache, warm: "
          "model and tests cached; wall seconds, and CPU seconds, which a loaded machine does not inflate):")
    for back, one in (("cat", one_cat), ("lkmm", one_eng)):
        label = "LKMM (cat)" if back == "cat" else "engine LKMM"
        (cold, cold_cpu), (warm, warm_cpu) = totals[back, "cold"], totals[back, "warm"]
        print(f"  {label:12} cold {cold:6.2f} s ({cold / n:.3f} s/test, CPU {cold_cpu / n:.3f}), "
              f"warm {warm:6.2f} s ({warm / n:.3f} s/test, CPU {warm_cpu / n:.3f}); one process {one:.2f} s")
    for back, (wall, cpu) in served.items():
        label = "LKMM (cat)" if back.startswith("cat") else "engine LKMM"
        how = "started by the first client" if "auto" in back else "served by `rmapwalk serve`"
        warm = totals[back.split(",")[0], "warm"][0]
        print(f"  {label:12} {how}: {wall:6.2f} s ({wall / n:.3f} s/test, client CPU "
              f"{cpu / n:.3f}); {warm / wall:.1f}x faster than warm")
    if herd_s is not None:
        print(f"  herd7        {herd_s:6.2f} s ({herd_s / n:.3f} s/test); "
              f"rmapwalk warm cat/herd7 = {totals['cat', 'warm'][0] / herd_s:.2f}x, "
              f"served cat/herd7 = {served['cat'][0] / herd_s:.2f}x, "
              f"served engine/herd7 = {served['lkmm'][0] / herd_s:.2f}x, "
              f"RMAPWALK_SERVER=auto cat/herd7 = {served['cat, RMAPWALK_SERVER=auto'][0] / herd_s:.2f}x")
    warm_cat.sort(reverse=True)
    print("  slowest ten (LKMM cat, warm, one process each; wall/CPU s): "
          + ", ".join(f"{name} {dt:.3f}/{cpu:.3f}" for dt, cpu, name in warm_cat[:10]))


def _served(tests: list[Path], cfg: Path, cmd: list[str], env: dict[str, str],
            tmp: str) -> dict[str, tuple[float, float]]:
    """The same processes with ``$RMAPWALK_SERVER`` naming a running ``rmapwalk serve`` (started
    first, its start-up not counted: it is paid once for any number of tests)."""
    sock = os.path.join(tmp, "serve.sock")
    proc = subprocess.Popen([*cmd, "serve", "--socket", sock], env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    proc.stderr.readline()  # the server says where it listens once it does
    out: dict[str, tuple[float, float]] = {}
    try:
        senv = {**env, "RMAPWALK_SERVER": sock}
        for back, args in (("cat", ["--conf", str(cfg)]), ("lkmm", ["--model", "lkmm"])):
            subprocess.run([*cmd, "litmus", *args, str(tests[0])], capture_output=True, env=senv, check=False)
            runs = _one_process_each(cmd, args, tests, senv)
            for _, _, path, r in runs:
                assert b"Observation" in r.stdout, (path, r.stderr)
            out[back] = (sum(r[0] for r in runs), sum(r[1] for r in runs))
    finally:
        proc.terminate()
        proc.wait()
    # RMAPWALK_SERVER=auto: no server at first; the first process starts one (its cost counted)
    run_dir = os.path.join(tmp, "auto")
    os.mkdir(run_dir)
    aenv = {**env, "RMAPWALK_SERVER": "auto", "XDG_RUNTIME_DIR": run_dir, "RMAPWALK_SERVER_IDLE": "2"}
    runs = _one_process_each(cmd, ["--conf", str(cfg)], tests, aenv)
    out["cat, RMAPWALK_SERVER=auto"] = (sum(r[0] for r in runs), sum(r[1] for r in runs))
    sock = os.path.join(run_dir, f"rmapwalk-{os.getuid()}", "server.sock")
    deadline = time.monotonic() + 60
    while os.path.exists(sock) and time.monotonic() < deadline:  # (it exits once idle)
        time.sleep(0.1)
    return out


def _one_process_each(cmd: list[str], args: list[str], tests: list[Path], env: dict[str, str]
                      ) -> list[tuple[float, float, Path, subprocess.CompletedProcess[bytes]]]:
    """``rmapwalk litmus ARGS TEST`` once per test: (wall s, CPU s, test, the process) each."""
    out = []
    for path in tests:
        c, t = _children_cpu(), time.perf_counter()
        r = subprocess.run([*cmd, "litmus", *args, str(path)], capture_output=True, env=env, check=False)
        out.append((time.perf_counter() - t, _children_cpu() - c, path, r))
    return out


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


if __name__ == "__main__":
    raise SystemExit(main())
