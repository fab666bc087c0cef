"""``make demo``: the tutorial's examples under SC, x86-TSO and PSO, with one counterexample.

(The KVM review replaces this once the shadow-MMU model exists.)
"""

from __future__ import annotations

import sys

from rmapwalk.engine import Options, Program, explore
from rmapwalk.engine.explore import Explorer
from rmapwalk.engine.replay import rebuild
from rmapwalk.engine.trace import render
from rmapwalk.examples import broken_lock, mp, sb, spinlock


def main() -> int:
    progs: list[tuple[Program, str]] = [
        (sb.sb, "store buffering, no fence"),
        (sb.sb_mb, "store buffering with smp_mb()"),
        (mp.mp_no_wmb, "message passing without smp_wmb()"),
        (mp.mp, "message passing with smp_wmb()/smp_rmb()"),
        (spinlock.make(3), "three CPUs, one spinlock, one counter"),
        (broken_lock.broken_lock, "test-then-set 'lock'"),
    ]
    print(f"{'program':14} {'what':42} {'model':5} {'verdict':9} {'complete':>8} {'blocked':>7} {'seconds':>8}")
    first = None
    for prog, what in progs:
        for model in ("sc", "tso", "pso"):
            res = explore(prog, model)
            print(
                f"{prog.name:14} {what:42} {model:5} {res.verdict:9} {res.stats.complete:8} "
                f"{res.stats.blocked:7} {res.stats.seconds:8.3f}"
            )
            if first is None and res.violations and model == "pso":
                first = (prog, model, res)
    if first is not None:
        prog, model, res = first
        v = res.violations[0]
        print()
        print(f"Counterexample: {prog.name} under {model.upper()}: {v.kind}: {v.message}")
        print(render(rebuild(prog, v.replay), model))
    # the same search, bounded: the verdict says how far it got
    res = Explorer(spinlock.make(3), "sc", Options(max_executions=5)).run()
    print()
    print(f"bounded run of {res.program}: {res.verdict} ({res.incomplete_reason})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
