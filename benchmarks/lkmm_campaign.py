"""A differential campaign: the engine under ``lkmm`` against the official ``linux-kernel.cat``.

Draws ``--programs`` distinct random litmus programs with Hypothesis (the strategy of
``tests/litmus/test_lkmm_differential.py``: marked and plain accesses, the three dependencies,
fences, acquire/release, RMWs, spinlocks, RCU) from ``--seed``, runs each through both back ends
and counts the programs on which they disagree: ``miss`` (the engine lacks a final state or an
execution cat has), ``EXTRA`` (the engine has one cat forbids: the worse kind), ``flags`` (the
same executions, other flags: ``data-race``, ``mixed-accesses``), ``error``.
Each disagreeing program is written to ``--out`` for shrinking and for the test's ``FIXED`` or
``KNOWN`` lists.  The same seed draws the same programs (for one Hypothesis version), so a
campaign reported in a note can be run again::

    make campaign PROGRAMS=3000 SEED=4242

Needs the ``dev`` extra (Hypothesis) and ``../shared/lkmm``.  Not part of ``make bench``: it
measures exactness, not speed (it prints the seconds each back end took, for scale).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import importlib.util
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEST = ROOT / "tests" / "litmus" / "test_lkmm_differential.py"


def _test_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lkmm_differential", TEST)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def draw(n: int, seed: int, mod: ModuleType) -> list[str]:
    """``n`` distinct programs drawn from ``seed`` (in the order first drawn) with the strategy
    of the test module ``mod``."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed

    out: dict[str, None] = {}

    # (Hypothesis stops after max_examples draws, duplicates included: ask for more, keep n)
    @hseed(seed)
    @settings(max_examples=3 * n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(mod.litmus_text())
    def collect(text: str) -> None:
        if len(out) < n:
            out[text] = None

    collect()
    return list(out)


_MOD: ModuleType | None = None


def judge(text: str) -> tuple[str, float, float, str]:
    """(``agree``/``miss``/``EXTRA``/``flags``/``error``, cat seconds, engine seconds, detail)."""
    global _MOD
    if _MOD is None:
        _MOD = _test_module()
    from rmapwalk.litmus.runner import ModelSpec

    t0 = time.perf_counter()
    cat: Any = _MOD._run(text, ModelSpec(conf=str(_MOD.CFG)))
    t1 = time.perf_counter()
    try:
        eng: Any = _MOD._run(text, ModelSpec(engine="lkmm"))
    except Exception as e:  # (a crash is a finding, not the end of the campaign)
        return "error", t1 - t0, time.perf_counter() - t1, f"{type(e).__name__}: {e}"[:300]
    t2 = time.perf_counter()
    if dict(eng.states) == dict(cat.states) and (eng.positive, eng.negative) == (cat.positive, cat.negative) \
            and set(eng.flags) == set(cat.flags):
        return "agree", t1 - t0, t2 - t1, ""
    extra = {s: n for s, n in eng.states.items() if n > cat.states.get(s, 0)}
    if extra:
        return "EXTRA", t1 - t0, t2 - t1, f"{len(extra)} final states counted more often than cat does"
    if set(eng.flags) != set(cat.flags) and dict(eng.states) == dict(cat.states):
        return "flags", t1 - t0, t2 - t1, f"flags {sorted(eng.flags)} vs cat {sorted(cat.flags)}"
    return "miss", t1 - t0, t2 - t1, f"{sum(cat.states.values()) - sum(eng.states.values())} executions missed"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--programs", type=int, default=500, help="distinct programs to draw (default 500)")
    ap.add_argument("--seed", type=int, default=4242, help="Hypothesis seed (default 4242)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: one per core)")
    ap.add_argument("--out", type=Path, default=Path("lkmm-campaign"),
                    help="where disagreeing programs are written (default ./lkmm-campaign)")
    args = ap.parse_args()
    if not TEST.is_file():
        print(f"{TEST}: not found (run from a clone of rmapwalk)", file=sys.stderr)
        return 2
    mod = _test_module()
    if not Path(mod.CFG).is_file():
        print(f"{mod.CFG}: not found (the campaign needs ../shared/lkmm beside the clone)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    texts = draw(args.programs, args.seed, mod)
    print(f"{len(texts)} distinct programs from seed {args.seed} ({time.perf_counter() - t0:.1f} s to draw)",
          flush=True)
    counts: dict[str, int] = {}
    cat_s = eng_s = 0.0
    args.out.mkdir(parents=True, exist_ok=True)
    with cf.ProcessPoolExecutor(max(1, args.jobs)) as pool:
        for i, (verdict, cs, es, detail) in enumerate(pool.map(judge, texts, chunksize=8)):
            counts[verdict] = counts.get(verdict, 0) + 1
            cat_s += cs
            eng_s += es
            if verdict != "agree":
                path = args.out / f"seed{args.seed}-{i:05d}-{verdict.lower()}.litmus"
                path.write_text(texts[i], encoding="utf-8")
                print(f"{verdict:5} program {i}: {detail} ({path})", flush=True)
    bad = len(texts) - counts.get("agree", 0)
    print(f"{len(texts)} programs, seed {args.seed}: {counts.get('agree', 0)} agree, {counts.get('miss', 0)} miss, "
          f"{counts.get('EXTRA', 0)} extra, {counts.get('flags', 0)} flags, {counts.get('error', 0)} error; "
          f"cat {cat_s:.1f} s, engine {eng_s:.1f} s "
          f"(ratio {eng_s / cat_s if cat_s else 0:.2f}), {time.perf_counter() - t0:.1f} s wall")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
