"""herd7's ``-speedcheck``: only the executions that decide the condition.

Checked against full runs: on every test of the kernel's suite the verdict and the witness
count agree, and on RCU chains far beyond full enumeration (2^19 candidates) the verdict
follows RCU's rule (a cycle is forbidden when it has at least as many grace periods as
read-side critical sections).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.rcu_chains import rcu_chain
from rmapwalk.litmus.candidates import AUTO_SPEEDCHECK_CANDIDATES, AUTO_SPEEDCHECK_COMBOS
from rmapwalk.litmus.herdout import condition_holds, observation
from rmapwalk.litmus.runner import LitmusInputError, ModelSpec, run_test

SHARED = Path(__file__).resolve().parents[3] / "shared" / "lkmm"
CFG = SHARED / "model" / "linux-kernel.cfg"
TESTS = sorted((SHARED / "tests").glob("*.litmus")) if SHARED.is_dir() else []
needs_lkmm = pytest.mark.skipif(not CFG.is_file(), reason=f"no LKMM model at {CFG}")


def _write(tmp_path: Path, text: str, name: str = "t.litmus") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@needs_lkmm
@pytest.mark.parametrize("path", TESTS, ids=[p.stem for p in TESTS])
def test_speedcheck_agrees_with_the_full_run_on_the_kernel_suite(path: Path) -> None:
    spec = ModelSpec(conf=str(CFG))
    full = run_test(str(path), spec)
    fast = run_test(str(path), spec, speedcheck="true")
    assert fast.speedcheck == "true"
    # the witnesses are counted exactly; the other side is not counted at all
    quant = full.test.condition.quantifier
    if quant == "forall":
        assert (fast.negative, fast.positive) == (full.negative, 0)
    else:
        assert (fast.positive, fast.negative) == (full.positive, 0)
    want = {"Always": "Sometimes"} if quant != "forall" else {"Never": "Sometimes"}
    assert observation(fast) == want.get(observation(full), observation(full))
    assert condition_holds(fast) == condition_holds(full)  # herd's Ok/No
    assert fast.flags <= full.flags
    assert set(fast.states) <= set(full.states)
    # 'fast' stops at the first witness, with the same verdict
    first = run_test(str(path), spec, speedcheck="fast")
    assert (first.positive > 0) == (fast.positive > 0) if quant != "forall" else (
        (first.negative > 0) == (fast.negative > 0))


@needs_lkmm
@pytest.mark.parametrize("kinds", ["GR", "GRR", "GGR", "RRG", "GRGR"])
def test_small_chains_agree_with_the_full_run(tmp_path: Path, kinds: str) -> None:
    path = _write(tmp_path, rcu_chain(kinds))
    spec = ModelSpec(conf=str(CFG))
    full = run_test(path, spec)
    fast = run_test(path, spec, speedcheck="true")
    forbidden = kinds.count("G") >= kinds.count("R")
    assert observation(full) == ("Never" if forbidden else "Sometimes")
    assert observation(fast) == observation(full)
    assert fast.positive == full.positive
    assert fast.candidates < full.candidates


@needs_lkmm
@pytest.mark.parametrize(("kinds", "verdict"), [
    ("GR" * 9 + "G", "Never"),  # 10 G, 9 R
    ("GGRR" * 4 + "RRG", "Sometimes"),  # 9 G, 10 R
    ("GGGGGGGGGGGGGGGGGG", "Never"),
])
def test_auto_decides_a_19_thread_chain(tmp_path: Path, kinds: str, verdict: str) -> None:
    path = _write(tmp_path, rcu_chain(kinds))
    res = run_test(path, ModelSpec(conf=str(CFG)), speedcheck="auto")
    assert res.speedcheck == "true"  # 2^19 candidates: far above the bound
    assert 2 ** len(kinds) > AUTO_SPEEDCHECK_CANDIDATES
    assert observation(res) == verdict
    assert res.candidates <= 1  # one candidate can reach every r1=1 (none if it is forbidden early)


@needs_lkmm
def test_auto_keeps_small_tests_whole(tmp_path: Path) -> None:
    path = _write(tmp_path, rcu_chain("GRR"))
    res = run_test(path, ModelSpec(conf=str(CFG)), speedcheck="auto")
    assert res.speedcheck == "false"
    assert res.positive > 0 and res.negative > 0


COUNTERS = r"""C counters
{
  atomic_t x = ATOMIC_INIT(0);
  atomic_t y = ATOMIC_INIT(0);
}

P0(atomic_t *x, atomic_t *y) {
  int r0;
  atomic_inc(x);
  r0 = atomic_read(y);
}

P1(atomic_t *x, atomic_t *y) {
  int r1;
  atomic_inc(y);
  r1 = atomic_read(x);
}

P2(atomic_t *x, atomic_t *y) {
  atomic_inc(y);
  atomic_inc(x);
}

P3(atomic_t *x, atomic_t *y) {
  int r2;
  int r3;
  r2 = atomic_read(x);
  r3 = atomic_read(y);
}

locations [x; y]
exists (0:r0=0 /\ 1:r1=0 /\ 3:r2=2 /\ 3:r3=0)
"""


@needs_lkmm
def test_auto_lists_atomic_counters_in_full_as_herd7_does(tmp_path: Path) -> None:
    # Every read of an atomic counter has a path per value it might read, so the path product
    # is far above the bound, but few combinations have a write of each value read: the
    # candidates are counted, few, and listed in full (herd7 lists them).
    from rmapwalk.litmus.candidates import (
        LocMem,
        candidate_count,
        candidate_estimate,
        observed_locations,
        register_inits,
        shared_locations,
        thread_paths,
        value_domains,
    )
    from rmapwalk.litmus.runner import load_test

    path = _write(tmp_path, COUNTERS)
    spec = ModelSpec(conf=str(CFG))
    test = load_test(path, spec)  # (macros expanded, as run_cat gets it)
    locs, regs = shared_locations(test), register_inits(test)
    domains = value_domains(test, locs, regs)
    paths = [list(thread_paths(test, t, domains, regs.get(t.index, {}))) for t in test.threads]
    mem = sorted(loc.name for loc in observed_locations(test) if isinstance(loc, LocMem))
    assert candidate_estimate(paths, mem) > AUTO_SPEEDCHECK_CANDIDATES
    count = candidate_count(paths, locs, mem, AUTO_SPEEDCHECK_COMBOS)
    assert count is not None and count <= AUTO_SPEEDCHECK_CANDIDATES
    auto = run_test(path, spec, speedcheck="auto")
    full = run_test(path, spec, speedcheck="false")
    assert auto.speedcheck == "false"
    assert (auto.states, auto.positive, auto.negative) == (full.states, full.positive, full.negative)
    assert auto.candidates == full.candidates <= count


@needs_lkmm
def test_memory_values_restrict_the_final_writes(tmp_path: Path) -> None:
    text = ("C W2\n\n{\n}\n\nP0(int *x, int *y)\n{\n\tWRITE_ONCE(*x, 2);\n\tsmp_mb();\n\tWRITE_ONCE(*y, 1);\n}\n\n"
            "P1(int *x, int *y)\n{\n\tWRITE_ONCE(*y, 2);\n\tsmp_mb();\n\tWRITE_ONCE(*x, 1);\n}\n\n"
            "exists (x=2 /\\ y=2)\n")
    path = _write(tmp_path, text)
    spec = ModelSpec(conf=str(CFG))
    full = run_test(path, spec)
    fast = run_test(path, spec, speedcheck="true")
    assert observation(full) == observation(fast) == "Never"  # 2+2W with full barriers
    assert fast.candidates < full.candidates


@needs_lkmm
def test_incompatible_constraint_is_herds_error(tmp_path: Path) -> None:
    text = "C bad\n\n{\n}\n\nP0(int *x)\n{\n\tint r0 = READ_ONCE(*x);\n}\n\nexists (0:r0=1 /\\ 0:r0=2)\n"
    path = _write(tmp_path, text)
    assert observation(run_test(path, ModelSpec(conf=str(CFG)))) == "Never"
    with pytest.raises(LitmusInputError, match="Incompatible constraint on location 0:r0"):
        run_test(path, ModelSpec(conf=str(CFG)), speedcheck="true")


@pytest.mark.parametrize("model", ["sc", "lkmm"])
def test_engine_speedcheck_counts_only_witnesses(tmp_path: Path, model: str) -> None:
    text = ("C MP\n\n{\n}\n\nP0(int *x, int *y)\n{\n\tWRITE_ONCE(*x, 1);\n\tWRITE_ONCE(*y, 1);\n}\n\n"
            "P1(int *x, int *y)\n{\n\tint r0 = READ_ONCE(*y);\n\tint r1 = READ_ONCE(*x);\n}\n\n"
            "exists (1:r0=1 /\\ 1:r1=0)\n")
    path = _write(tmp_path, text)
    spec = ModelSpec(engine=model)
    full = run_test(path, spec)
    fast = run_test(path, spec, speedcheck="true")
    first = run_test(path, spec, speedcheck="fast")
    assert fast.positive == full.positive and fast.negative == 0
    assert observation(fast) == ("Never" if full.positive == 0 else "Sometimes")
    assert first.positive == min(1, full.positive) and first.negative == 0
    assert run_test(path, spec, speedcheck="auto").speedcheck == "false"


@needs_lkmm
def test_cli_says_when_auto_decides_only(tmp_path: Path) -> None:
    path = _write(tmp_path, rcu_chain("GR" * 9 + "G"))
    env = {**os.environ, "RMAPWALK_CACHE_DIR": ""}
    r = subprocess.run([sys.executable, "-m", "rmapwalk.cli", "litmus", "--conf", str(CFG), path],
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0, r.stderr
    assert "Observation chain-GRGRGRGRGRGRGRGRGRG Never 0 0" in r.stdout
    assert "-speedcheck true" in r.stderr and path in r.stderr
    r = subprocess.run([sys.executable, "-m", "rmapwalk.cli", "litmus", "--conf", str(CFG), "--speedcheck", "fast",
                        "--json", _write(tmp_path, rcu_chain("GGRR" * 4 + "RRG"), "u.litmus")],
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0, r.stderr
    assert '"speedcheck": "fast"' in r.stdout and '"verdict": "Sometimes"' in r.stdout
    assert r.stderr == ""
