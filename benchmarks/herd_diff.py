"""herd7 differential: rmapwalk's litmus output against herd7's, test by test.

For every ``.litmus`` file named (folders searched recursively, in sorted order) herd7 runs once
(``herd7 -conf linux-kernel.cfg FILE`` from the configuration's folder, as the kernel's scripts
run it) and rmapwalk once per back end: ``cat`` is ``rmapwalk litmus --no-time --conf CFG FILE``
(the cat model interpreted), ``lkmm`` is ``rmapwalk litmus --no-time --model lkmm FILE`` (the
engine's own LKMM).  Every process has the same timeout and is killed with its process group
when it overruns.

herd7's output is normalised by dropping its ``Time`` and ``Hash=`` lines (rmapwalk prints
neither with ``--no-time``); nothing else is rewritten, so ``same`` means byte-for-byte identical
stdout otherwise.  Each test and back end falls in exactly one class:

* ``same``: identical after normalising;
* ``verdict-same``: the Observation line's verdict (Never/Sometimes/Always) and the set of final
  states agree, other lines differ (counts, header, Flag lines, state order...: listed);
* ``DIFFERENT``: the verdict or the state set differs (or rmapwalk printed no Observation);
* ``herd-fail``: herd7 failed (non-zero exit, timeout, or no Observation line: it reports user
  errors on stderr with status 0), rmapwalk succeeded; rmapwalk's output is not judged;
* ``rw-fail``: herd7 succeeded, rmapwalk exited non-zero or timed out;
* ``both-fail``: both failed.

Prints progress on stderr and a summary per back end (class counts, summed wall seconds of herd7
and of rmapwalk, every DIFFERENT and rw-fail test with a one-line reason); ``--out`` writes JSON
Lines, one object per test and back end, as tests finish.  Exits 1 if any test is DIFFERENT or
rw-fail, else 0; exits 0 with one line when herd7 cannot be found.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CFG = ROOT.parent / "shared" / "lkmm" / "model" / "linux-kernel.cfg"
BACKENDS = ("cat", "lkmm")
CLASSES = ("same", "verdict-same", "DIFFERENT", "herd-fail", "rw-fail", "both-fail")


@dataclass
class Run:
    """One finished (or killed) process: exit status (None on timeout), outputs, wall seconds."""

    rc: int | None
    out: str
    err: str
    secs: float

    @property
    def timed_out(self) -> bool:
        return self.rc is None


@dataclass
class Parsed:
    """What a herd-style output says: its verdict word, its final states, in printed order."""

    verdict: str | None
    states: list[str]


def _run(argv: list[str], timeout: float, cwd: str | None = None) -> Run:
    """Run ``argv`` in its own session; on timeout kill that process group (nothing else)."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        rc = None
    secs = time.perf_counter() - t
    return Run(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), secs)


def _command() -> list[str]:
    """The ``rmapwalk`` script next to this Python if there is one, else ``python -m rmapwalk.cli``
    (as benchmarks/litmus.py starts it)."""
    script = Path(sys.executable).with_name("rmapwalk")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "rmapwalk.cli"]


def normalise(out: str) -> list[str]:
    """herd7's stdout without its ``Time`` and ``Hash=`` lines, as a list of lines."""
    return [ln for ln in out.splitlines() if not ln.startswith(("Time ", "Hash="))]


def parse(lines: list[str]) -> Parsed:
    """The Observation verdict and the ``States N`` block of a herd-style output."""
    verdict = None
    states: list[str] = []
    for i, ln in enumerate(lines):
        parts = ln.split()
        if len(parts) >= 2 and parts[0] == "States" and parts[1].isdigit() and not states:
            states = lines[i + 1:i + 1 + int(parts[1])]
        elif parts and parts[0] == "Observation" and len(parts) >= 5:
            verdict = parts[-3]
    return Parsed(verdict, states)


def _state_key(line: str) -> tuple[str, ...]:
    """A state line as the sorted tuple of its assignments (spacing and order do not matter)."""
    return tuple(sorted(a.strip() for a in line.split(";") if a.strip()))


def _first_line(text: str, prefer_error: bool = False) -> str:
    """The first non-empty line of ``text`` (with ``prefer_error``, the first naming an error)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if prefer_error:
        for ln in lines:
            if "error" in ln.lower():
                return ln[:300]
    return lines[0][:300] if lines else ""


def _failure(run: Run, timeout: float, herd: bool) -> str | None:
    """Why a run failed, or None if it succeeded."""
    if run.timed_out:
        return f"timeout after {timeout:g} s"
    if run.rc != 0:
        line = _first_line(run.err, prefer_error=herd)
        if line.startswith("Traceback"):  # a Python crash: its last line says what it was
            line = [ln.strip() for ln in run.err.splitlines() if ln.strip()][-1][:300]
        return f"exit {run.rc}: {line or '(no stderr)'}"
    if herd and not any(ln.startswith("Observation ") for ln in run.out.splitlines()):
        return f"no Observation line (exit 0): {_first_line(run.err, prefer_error=True) or '(no stderr)'}"
    return None


def _diff(a: list[str], b: list[str]) -> tuple[list[str], list[str]]:
    """The lines of ``a`` and of ``b`` that a line diff does not match."""
    only_a: list[str] = []
    only_b: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            only_a.extend(a[i1:i2])
            only_b.extend(b[j1:j2])
    return only_a, only_b


def compare(herd: Run, rw: Run, timeout: float) -> dict[str, Any]:
    """Classify one back end's run of a test against herd7's run of it (see the module doc)."""
    herd_fail = _failure(herd, timeout, herd=True)
    rw_fail = _failure(rw, timeout, herd=False)
    rec: dict[str, Any] = {"herd_s": round(herd.secs, 3), "rw_s": round(rw.secs, 3),
                           "herd_rc": herd.rc, "rw_rc": rw.rc}
    if herd_fail or rw_fail:
        cls = "both-fail" if herd_fail and rw_fail else "herd-fail" if herd_fail else "rw-fail"
        rec.update({"class": cls, "reason": "; ".join(
            f"{who}: {why}" for who, why in (("herd7", herd_fail), ("rmapwalk", rw_fail)) if why)})
        if herd_fail:
            rec["herd_error"] = herd_fail
        if rw_fail:
            rec["rw_error"] = rw_fail
            rec["rw_stderr"] = rw.err[-2000:]
        if not rw_fail:
            rec["rw_verdict"] = parse(rw.out.splitlines()).verdict
        return rec
    h, r = normalise(herd.out), rw.out.splitlines()
    if h == r:
        rec.update({"class": "same", "reason": ""})
        return rec
    ph, pr = parse(h), parse(r)
    h_only, r_only = _diff(h, r)
    rec.update({"herd_lines": h_only, "rw_lines": r_only})
    hs, rs = {_state_key(s) for s in ph.states}, {_state_key(s) for s in pr.states}
    notes = []
    if ph.verdict != pr.verdict:
        notes.append(f"verdict {ph.verdict} (herd7) vs {pr.verdict} (rmapwalk)")
    if hs != rs:
        notes.append(f"states: {len(rs - hs)} only rmapwalk, {len(hs - rs)} only herd7")
    if notes:
        rec.update({"class": "DIFFERENT", "reason": "; ".join(notes), "herd_out": h, "rw_out": r,
                    "states_only_herd": sorted("; ".join(s) + ";" for s in hs - rs),
                    "states_only_rw": sorted("; ".join(s) + ";" for s in rs - hs)})
        return rec
    what = []
    if ph.states != pr.states:
        what.append("state order" if [_state_key(s) for s in ph.states] != [_state_key(s) for s in pr.states]
                    else "state spacing")
    others = {ln.split(" ", 1)[0] for ln in h_only + r_only if ln not in ph.states and ln not in pr.states}
    what.extend(sorted(others))
    rec.update({"class": "verdict-same", "reason": "differs: " + ", ".join(what) if what else "",
                "herd_out": h, "rw_out": r})
    return rec


def run_test(path: str, herd: str, cfg: str, backends: tuple[str, ...], timeout: float) -> list[dict[str, Any]]:
    """herd7 once and rmapwalk once per back end on one test: one record per back end."""
    herd_run = _run([herd, "-conf", Path(cfg).name, path], timeout, cwd=str(Path(cfg).parent))
    cmd = _command()
    out = []
    for back in backends:
        args = ["--conf", cfg] if back == "cat" else ["--model", "lkmm"]
        rw = _run([*cmd, "litmus", "--no-time", *args, path], timeout)
        rec = {"test": path, "backend": back, **compare(herd_run, rw, timeout)}
        out.append(rec)
    return out


def collect(paths: list[str]) -> list[Path]:
    """The ``.litmus`` files named: files as given, folders searched recursively, each sorted."""
    seen: set[Path] = set()
    files: list[Path] = []
    for p in map(Path, paths):
        found = sorted(p.rglob("*.litmus")) if p.is_dir() else [p]
        for f in found:
            f = f.resolve()
            if f not in seen:
                seen.add(f)
                files.append(f)
    return files


def summary(recs: list[dict[str, Any]], backends: tuple[str, ...], total: int, file: TextIO) -> int:
    """Print the per-back-end table and the DIFFERENT / rw-fail lists; the exit status."""
    print(f"\nherd_diff: {total} tests requested, {len({r['test'] for r in recs})} finished", file=file)
    head = f"{'back end':9}" + "".join(f"{c:>13}" for c in CLASSES) + f"{'herd7 s':>10}{'rmapwalk s':>12}"
    print(head, file=file)
    print("-" * len(head), file=file)
    bad = 0
    for back in backends:
        rs = [r for r in recs if r["backend"] == back]
        counts = {c: sum(r["class"] == c for r in rs) for c in CLASSES}
        hs, ws = sum(r["herd_s"] for r in rs), sum(r["rw_s"] for r in rs)
        print(f"{back:9}" + "".join(f"{counts[c]:13d}" for c in CLASSES) + f"{hs:10.1f}{ws:12.1f}", file=file)
        ok = [r for r in rs if r["class"] in ("same", "verdict-same", "DIFFERENT")]
        if ok:
            print(f"{'':9}tests both tools ran ({len(ok)}): herd7 {sum(r['herd_s'] for r in ok):.1f} s, "
                  f"rmapwalk {sum(r['rw_s'] for r in ok):.1f} s", file=file)
        bad += counts["DIFFERENT"] + counts["rw-fail"]
    for cls in ("DIFFERENT", "rw-fail"):
        hits = sorted((r for r in recs if r["class"] == cls), key=lambda r: (r["test"], r["backend"]))
        if hits:
            print(f"\n{cls} ({len(hits)}):", file=file)
            for r in hits:
                print(f"  [{r['backend']}] {r['test']}: {r['reason']}", file=file)
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    ap.add_argument("paths", nargs="+", metavar="PATH", help=".litmus files or folders (recursive)")
    ap.add_argument("--herd", help="herd7 executable (default: herd7 on the PATH)")
    ap.add_argument("--conf", default=str(DEFAULT_CFG), help="herd7 configuration (default: %(default)s)")
    ap.add_argument("--backend", choices=("cat", "lkmm", "both"), default="both")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per process (default 30)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--limit", type=int, help="only the first N tests (after --every)")
    ap.add_argument("--every", type=int, default=1, metavar="K",
                    help="only every K-th test in sorted order (the 1st, K+1-th, ...)")
    ap.add_argument("--out", help="write JSON Lines here, one object per test and back end")
    a = ap.parse_args(argv)
    herd = a.herd or shutil.which("herd7")
    if not herd or not Path(herd).is_file():
        print(f"herd_diff skipped: herd7 not found ({a.herd or 'not on the PATH'})")
        return 0
    cfg = Path(a.conf).resolve()
    if not cfg.is_file():
        print(f"herd_diff: no configuration file {cfg}", file=sys.stderr)
        return 2
    backends = BACKENDS if a.backend == "both" else (a.backend,)
    tests = collect(a.paths)[::max(1, a.every)]
    if a.limit is not None:
        tests = tests[:a.limit]
    if not tests:
        print("herd_diff: no .litmus files found", file=sys.stderr)
        return 2
    out = open(a.out, "w") if a.out else None  # kept open while tests finish
    recs: list[dict[str, Any]] = []
    tty = sys.stderr.isatty()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill PID` ends with a partial summary
    pool = ProcessPoolExecutor(max_workers=max(1, a.jobs))
    pending: set[Future[list[dict[str, Any]]]] = set()
    try:
        pending = {pool.submit(run_test, str(t), herd, str(cfg), backends, a.timeout) for t in tests}
        done_n = 0
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                rs = fut.result()
                recs.extend(rs)
                done_n += 1
                if out:
                    for r in rs:
                        out.write(json.dumps(r) + "\n")
                    out.flush()
                flagged = [f"{r['backend']}:{r['class']}" for r in rs if r["class"] in ("DIFFERENT", "rw-fail")]
                if tty:
                    print(f"\r{done_n}/{len(tests)}", end="", file=sys.stderr, flush=True)
                if flagged:
                    print(f"{'' if not tty else chr(10)}{done_n}/{len(tests)} {rs[0]['test']}: {' '.join(flagged)}",
                          file=sys.stderr, flush=True)
                elif not tty and (done_n % 25 == 0 or done_n == len(tests)):
                    print(f"{done_n}/{len(tests)}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("\nherd_diff: interrupted, partial results", file=sys.stderr)
        for fut in pending:
            fut.cancel()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if out:
            out.close()
    order = {str(t): i for i, t in enumerate(tests)}
    recs.sort(key=lambda r: (order.get(r["test"], 0), r["backend"]))
    return summary(recs, backends, len(tests), sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main())
