"""Named scenarios of the KVM model: each a tiny program (2-3 threads, 1-2 gfns, small
``PTE_LIST_EXT``) answering one question of the 2013 review, with the verdict expected for each
switch setting and memory model.

``SCENARIOS[name]`` is a :class:`Scenario`: ``scenario.switches(preset, **settings)`` gives the
switches a run uses (the scenario's own ``base`` values over the preset, then the settings),
``scenario.build(switches)`` the program, ``scenario.expected`` the verdicts the tests assert, and
:func:`check` runs one configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rmapwalk.engine import Program, Result, explore
from rmapwalk.kvm.switches import Switches

HOLDS = "holds"
VIOLATED = "violated"


@dataclass(frozen=True)
class Expect:
    """The verdict of a scenario for one setting (switch values over the scenario's base) under
    one memory model; for a violation, exactly the properties that fire."""

    settings: Mapping[str, Any]
    model: str
    verdict: str
    properties: frozenset[str] = frozenset()

    def describe(self) -> str:
        s = " ".join(f"{k}={v}" for k, v in self.settings.items()) or "base"
        return f"{s} @{self.model}"


@dataclass(frozen=True)
class Scenario:
    """One named configuration: its question, the review races it reproduces, the switch values
    it needs (``base``), how to build its program, and its expected verdicts."""

    name: str
    question: str
    races: tuple[str, ...]
    base: Mapping[str, Any]
    build_fn: Callable[[Switches], Program]
    expected: tuple[Expect, ...] = field(default=())
    #: the opt-in model checks turned on in every run (their reads are events): ``"I3"`` (rmap
    #: complete and exact at every release of mmu_lock), ``"I8"`` (the fast path's cmpxchg only
    #: on a present, lockless-modifiable leaf of a direct page, level 1 in a logged slot) and
    #: ``"I11"`` (no writable large spte when a write-protection of a logged slot returns); I5 is
    #: declared by the scenario itself; ``"data race"`` turns on the data-race reports
    #: (``rmapwalk.kernel.races``: plain accesses racing with others are violations)
    checks: tuple[str, ...] = ("I3", "I8", "I11")
    #: the review the question belongs to: ``"2013"`` (Xiao's lockless write-protect) or
    #: ``"2025"`` (the per-rmap lock and lockless aging); ``rmapwalk review`` gives each its section
    review: str = "2013"
    #: what the scenario cuts from the kernel's sizes (``PTE_LIST_EXT``, entries per table, the
    #: number of vCPUs and rounds) and why; the review prints it under the question
    size: str = ""
    #: the models the default review runs each setting under (``None``: every model of the
    #: expected table); ``rmapwalk review --full`` runs the table's other rows too (the LKMM
    #: rows of the older questions, 30-50 s each: docs/review.md has them)
    quick_models: tuple[str, ...] | None = None

    def switches(self, preset: Switches | None = None, **settings: Any) -> Switches:
        """The scenario's base values over ``preset`` (default: the 3.11 defaults), then
        ``settings``."""
        return (preset or Switches()).replace(**{**dict(self.base), **settings})

    def build(self, switches: Switches) -> Program:
        prog = self.build_fn(switches)
        kvm = prog.lib.get("kvm")
        if kvm is not None:
            kvm.check_i3 = "I3" in self.checks
            kvm.check_i11 = "I11" in self.checks
            kvm.check_i8 = "I8" in self.checks
            kvm.check_i12 = "I12" in self.checks
        if "data race" in self.checks:
            from rmapwalk.kernel.races import report_data_races

            report_data_races(prog)
        return prog


def ext_unchanged(most: str) -> str:
    """The size note of a scenario run at the kernel's ``PTE_LIST_EXT`` where the value changes
    nothing (``most``: the most sptes any of its rmaps holds)."""
    return (f"PTE_LIST_EXT=3 as in the kernel: no rmap here holds more than {most}, so the value does not "
            "change what runs (checked: the same verdicts and execution counts at 1 and 3). ")


def expect(settings: Mapping[str, Any], verdicts: Mapping[str, str | frozenset[str]]) -> tuple[Expect, ...]:
    """Rows for one setting: ``{model: "holds"}`` or ``{model: frozenset({property, ...})}``."""
    rows = []
    for model, v in verdicts.items():
        if isinstance(v, str):
            rows.append(Expect(dict(settings), model, v))
        else:
            rows.append(Expect(dict(settings), model, VIOLATED, frozenset(v)))
    return tuple(rows)


def check(scenario: Scenario, switches: Switches, model: str = "sc", **options: Any) -> Result:
    """Explore ``scenario`` with ``switches`` under ``model`` (options as for ``explore``)."""
    options.setdefault("keep_violations", 1)
    return explore(scenario.build(switches), model, **options)


def _registry() -> dict[str, Scenario]:
    from rmapwalk.kvm.scenarios import (
        aging,
        flush,
        indirect,
        large_spte,
        lost_dirty,
        protections,
        seed,
        track_bits,
        zapping,
    )

    out: dict[str, Scenario] = {}
    for sc in (seed.SCENARIOS + lost_dirty.SCENARIOS + large_spte.SCENARIOS + zapping.SCENARIOS + flush.SCENARIOS
               + protections.SCENARIOS + track_bits.SCENARIOS + indirect.SCENARIOS + aging.SCENARIOS):
        if sc.name in out:
            raise AssertionError(f"scenario {sc.name} defined twice")
        out[sc.name] = sc
    # the review asks the seed mail's questions first
    return {**{n: out[n] for n in seed.SEED_QUESTIONS}, **out}


#: name -> scenario
SCENARIOS: dict[str, Scenario] = _registry()


def scenario_program(name: str, switches: Mapping[str, Any]) -> Program:
    """The program of scenario ``name`` with the switch values ``switches`` (every switch, as
    ``Switches.as_dict`` gives them): how worker processes and checkpoints rebuild a KVM run."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; valid scenarios: {', '.join(SCENARIOS)}")
    from rmapwalk.kvm.switches import Switches as _Switches

    return SCENARIOS[name].build(_Switches.from_dict(switches))

__all__ = ["HOLDS", "SCENARIOS", "VIOLATED", "Expect", "Scenario", "check", "expect", "scenario_program"]
