"""The seed question's answer is written from the verdicts of its runs: change one, the text changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rmapwalk import review_seed
from rmapwalk.kvm.scenarios import SCENARIOS


@dataclass
class FakeRun:
    settings: dict[str, Any]
    model: str
    verdict: str
    properties: list[str] = field(default_factory=list)


I1 = "I1 no dirty page lost"
I5 = "I5 lockless walk visits every entry present throughout"
MODELS = ("sc", "tso", "pso", "lkmm", "lkmm-alpha")
#: a full table of rcu-accessors' verdicts: setting, and the violated properties per model
TABLE: list[tuple[dict[str, str], dict[str, list[str]]]] = [
    ({"publish": "none"}, {"pso": [I5], "lkmm": [I5], "lkmm-alpha": [I5]}),
    ({"publish": "wmb"}, {"lkmm-alpha": [I5]}),
    ({"publish": "rcu_assign_pointer"}, {"lkmm-alpha": [I5]}),
    ({"publish": "wmb", "lockless_deref": "desc_pointers"}, {}),
    ({"publish": "rcu_assign_pointer", "lockless_deref": "rcu_dereference"}, {}),
    ({"publish": "wmb", "rmap_access": "plain"},
     {"sc": ["data race"], "tso": ["data race"], "pso": ["data race"], "lkmm": [I5, "data race"],
      "lkmm-alpha": [I5, "data race"]}),
]


def expected_runs() -> list[FakeRun]:
    """One run per row of :data:`TABLE` and model."""
    return [FakeRun(dict(st), m, "violated" if m in bad else "holds", sorted(bad.get(m, [])))
            for st, bad in TABLE for m in MODELS]


def test_the_scenario_pins_the_table_under_the_models_it_runs() -> None:
    sc = SCENARIOS["rcu-accessors"]
    table = {(tuple(sorted(st.items())), m): sorted(bad.get(m, [])) for st, bad in TABLE for m in MODELS}
    for e in sc.expected:
        assert table[(tuple(sorted(e.settings.items())), e.model)] == sorted(e.properties)


def test_the_answer_of_the_expected_verdicts() -> None:
    text = review_seed.rcu_accessors(expected_runs())
    first = text.split(". ")[0]
    assert first.startswith("Answer: On x86 (TSO) neither the accessors nor the smp_wmb() matter")
    assert "holds under LKMM only because READ_ONCE() now orders dependent loads" in first
    assert "LKMM-alpha) needs rcu_dereference()" in first and "need no smp_rmb()" in first
    assert "The series as posted (smp_wmb() before linking, READ_ONCE() in the walker) holds under SC, " \
           "TSO, PSO, LKMM and violates I5 under LKMM-ALPHA." in text
    assert "violates data race under SC, TSO, PSO and I5, data race under LKMM, LKMM-ALPHA" in text


def test_a_changed_verdict_changes_the_text() -> None:
    runs = expected_runs()
    base = review_seed.rcu_accessors(runs)
    # the slot loads turn out to need ordering too: the "no smp_rmb()" claim goes
    for r in runs:
        if r.settings.get("lockless_deref") == "desc_pointers" and r.model == "lkmm-alpha":
            r.verdict, r.properties = "violated", [I1]
    changed = review_seed.rcu_accessors(runs)
    assert changed != base and "need no smp_rmb()" not in changed and "for the slot loads too" in changed
    assert "only (slots by READ_ONCE()) holds under SC, TSO, PSO, LKMM and violates I1 under LKMM-ALPHA" in changed
    # the posted series breaks under LKMM: no claim that READ_ONCE() suffices
    for r in runs:
        if r.settings == {"publish": "wmb"} and r.model == "lkmm":
            r.verdict = "violated"
    broken = review_seed.rcu_accessors(runs)
    assert "only because READ_ONCE()" not in broken and "broken even under LKMM" in broken
    # an x86 violation removes the x86 sentence
    for r in runs:
        if r.settings == {"publish": "none"} and r.model == "tso":
            r.verdict = "violated"
    assert "On x86" not in review_seed.rcu_accessors(runs)
