"""The answers to the seed mail's questions, written from the verdicts of their runs.

The other questions of the review have a fixed answer, printed only when every run gave the
verdict its scenario's table expects (:data:`rmapwalk.review.ANSWERS`).  The seed questions are
answered sentence by sentence from the verdicts themselves: each sentence names the settings
and models whose runs support it, so a changed verdict changes the text.

Nothing here runs anything; a run is anything with ``settings``, ``model``, ``verdict`` and
``properties`` (:class:`rmapwalk.review.Run`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from rmapwalk.engine.result import HOLDS, VIOLATED


class RunLike(Protocol):
    settings: dict[str, Any]
    model: str
    verdict: str
    properties: list[str]


def _upper(models: Sequence[str]) -> str:
    return ", ".join(m.upper() for m in models) or "no model"


def _short(props: Sequence[str]) -> str:
    return ", ".join(p.split(" ")[0] if p[:1] == "I" and p[1:2].isdigit() else p for p in props)


def _find(runs: Sequence[RunLike], settings: Mapping[str, str]) -> dict[str, RunLike]:
    return {r.model: r for r in runs if r.settings == dict(settings)}


def _verdicts(rs: Mapping[str, RunLike]) -> tuple[list[str], list[str], list[str]]:
    """The models under which a setting holds, violates, and ... neither (incomplete)."""
    held = [m for m, r in rs.items() if r.verdict == HOLDS]
    broke = [m for m, r in rs.items() if r.verdict == VIOLATED]
    other = [m for m, r in rs.items() if m not in held and m not in broke]
    return held, broke, other


def _setting_sentence(label: str, rs: Mapping[str, RunLike]) -> str:
    held, broke, other = _verdicts(rs)
    groups: dict[tuple[str, ...], list[str]] = {}
    for m in broke:  # models that violate the same properties, together
        groups.setdefault(tuple(sorted(rs[m].properties)), []).append(m)
    parts = []
    if held:
        parts.append(f"holds under {_upper(held)}")
    if groups:
        parts.append("violates " + " and ".join(f"{_short(props)} under {_upper(ms)}" for props, ms in groups.items()))
    if other:
        parts.append(f"is not settled under {_upper(other)} (incomplete)")
    return f"{label} " + " and ".join(parts) if parts else f"{label} was not run"


def rcu_accessors(runs: Sequence[RunLike]) -> str:
    """Seed question 1, from the rows of scenario ``rcu-accessors``."""
    rows: list[tuple[str, dict[str, str]]] = [
        ("With no barrier (publish=none) the walk", {"publish": "none"}),
        ("The series as posted (smp_wmb() before linking, READ_ONCE() in the walker)",
         {"publish": "wmb"}),
        ("rcu_assign_pointer() with READ_ONCE()", {"publish": "rcu_assign_pointer"}),
        ("smp_wmb() with rcu_dereference() of the desc pointers only (slots by READ_ONCE())",
         {"publish": "wmb", "lockless_deref": "desc_pointers"}),
        ("rcu_assign_pointer() with rcu_dereference() (Gleb's request)",
         {"publish": "rcu_assign_pointer", "lockless_deref": "rcu_dereference"}),
        ("Plain C accesses by the lock holders (3.11's, with smp_wmb())",
         {"publish": "wmb", "rmap_access": "plain"}),
    ]
    sentences = []
    for label, settings in rows:
        rs = _find(runs, settings)
        if rs:
            sentences.append(_setting_sentence(label, rs) + ".")
    # the conclusion, one sentence, only as far as the rows support it
    posted = _find(runs, {"publish": "wmb"})
    minimal = _find(runs, {"publish": "wmb", "lockless_deref": "desc_pointers"})
    none = _find(runs, {"publish": "none"})
    verdict = {m: r.verdict for m, r in posted.items()}
    conclusion = []
    marked_tso = [r for r in runs if r.model == "tso" and r.settings.get("rmap_access") != "plain"]
    if marked_tso and all(r.verdict == HOLDS for r in marked_tso) and "tso" in none:
        conclusion.append("on x86 (TSO) neither the accessors nor the smp_wmb() matter")
    if verdict.get("lkmm") == HOLDS and verdict.get("lkmm-alpha") == VIOLATED:
        alpha = "the 2013 kernel (LKMM-alpha) needs rcu_dereference() in the walker"
        low = minimal.get("lkmm-alpha")
        if low is not None and low.verdict == HOLDS:
            alpha += (", for the pointers to descs only: the slot loads, address-dependent on them, "
                      "need no smp_rmb() against a concurrent add (against an entry moved by a removal "
                      "they do: question remove-move, walk_rmb)")
        elif low is not None and low.verdict == VIOLATED:
            alpha += (", for the slot loads too: with it on the desc pointers only, the sptep read from a "
                      f"slot by READ_ONCE() may be followed by a stale spte ({_short(sorted(low.properties))})")
        conclusion.append("portably the writers' smp_wmb() with READ_ONCE() holds under LKMM only "
                          "because READ_ONCE() now orders dependent loads, and " + alpha)
    elif verdict.get("lkmm") == VIOLATED:
        conclusion.append("portably the series as posted is broken even under LKMM")
    if conclusion:
        sentences.insert(0, "; ".join(conclusion) + ".")
        sentences[0] = sentences[0][0].upper() + sentences[0][1:]
    return "Answer: " + " ".join(sentences)


#: scenario name -> its answer, written from its runs
ANSWERS: dict[str, Callable[[Sequence[Any]], str]] = {
    "rcu-accessors": rcu_accessors,
}

__all__ = ["ANSWERS", "rcu_accessors"]
