"""What a check returns: verdict, outcomes, statistics and violations with their replay data."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

HOLDS = "holds"
VIOLATED = "violated"
INCOMPLETE = "incomplete"

#: how many distinct final outcomes an exploration tables unless asked for all of them
DEFAULT_MAX_OUTCOMES = 1000


@dataclass
class Violation:
    """One property that failed in one execution.

    ``kind`` names the property (``assertion``, ``forbidden outcome``, ``event limit``, ...);
    ``replay`` is the plain-data description of the execution from which
    :func:`rmapwalk.engine.replay.rebuild` recreates it exactly.
    """

    kind: str
    message: str
    thread: str | None
    where: str | None
    replay: dict[str, Any]
    trace: str = ""
    replay_file: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "property": self.kind,
            "message": self.message,
            "thread": self.thread,
            "where": self.where,
            "trace": self.trace,
            "replay": self.replay_file,
        }


@dataclass
class Stats:
    complete: int = 0
    blocked: int = 0
    errors: int = 0
    bounded: int = 0
    redundant: int = 0
    inconsistent: int = 0
    #: load-buffering graphs dropped: a thread did not make again an event a revisit kept
    lb_dropped: int = 0
    #: executions a load-buffering revisit made again and that were not counted twice
    lb_duplicates: int = 0
    #: graphs dropped because a thread blocked on a read that a later write supersedes (see
    #: ``Explorer._moot``): neither complete nor blocked executions
    moot: int = 0
    events: int = 0
    thread_runs: int = 0
    seconds: float = 0.0

    @property
    def executions(self) -> int:
        return self.complete + self.blocked + self.errors + self.bounded


class _Desc:
    """An outcome in the heap of the largest tabled ones (ordered by ``repr``, largest first)."""

    __slots__ = ("r", "key")

    def __init__(self, r: str, key: tuple[tuple[str, Any], ...]) -> None:
        self.r = r
        self.key = key

    def __lt__(self, other: _Desc) -> bool:
        return self.r > other.r


@dataclass
class Result:
    program: str
    model: str
    verdict: str
    outcomes: dict[tuple[tuple[str, Any], ...], int] = field(default_factory=dict)
    stats: Stats = field(default_factory=Stats)
    violations: list[Violation] = field(default_factory=list)
    violation_count: int = 0
    #: property -> how many times it fired (all of them, also those whose trace was not kept)
    property_counts: dict[str, int] = field(default_factory=dict)
    #: name -> whether some complete execution satisfied it (herd's ``exists``)
    exists: dict[str, bool] = field(default_factory=dict)
    incomplete_reason: str | None = None
    #: how load buffering was searched (``Options.lb_search``); None for models without it
    lb_search: str | None = None
    #: at most this many distinct outcomes are tabled in ``outcomes`` (None: every one)
    max_outcomes: int | None = None
    #: complete executions whose outcome is not in ``outcomes`` (the table was full)
    untabled: int = 0
    #: the tabled outcomes, largest first (a heap), when the table is bounded
    _largest: list[_Desc] = field(default_factory=list, repr=False, compare=False)

    def outcome_set(self) -> set[tuple[tuple[str, Any], ...]]:
        return set(self.outcomes)

    def uncount_outcome(self, key: tuple[tuple[str, Any], ...]) -> None:
        """Take back one complete execution counted with outcome ``key`` (counted twice by two
        parts of a split search)."""
        table = self.outcomes
        if key in table:
            table[key] -= 1
            if not table[key]:
                del table[key]
        else:
            self.untabled -= 1

    def count_outcome(self, key: tuple[tuple[str, Any], ...], n: int = 1) -> None:
        """Count ``n`` complete executions ending in outcome ``key``.

        Guarantees: ``outcomes`` never holds more than ``max_outcomes`` distinct outcomes, so its
        memory is bounded; it holds the ``max_outcomes`` least distinct outcomes counted (least
        by ``repr``), each with its exact count, whatever the order the executions are counted in
        (a search split across workers, or resumed from a checkpoint, tables the same ones with
        the same counts); the executions of the outcomes left out are counted in ``untabled``,
        so the tabled counts and ``untabled`` add up to every complete execution counted."""
        table = self.outcomes
        if key in table:
            table[key] += n
            return
        limit = self.max_outcomes
        if limit is None:
            table[key] = n
            return
        heap = self._largest
        if len(heap) != len(table):  # the table was set from outside (a resumed checkpoint)
            heap[:] = [_Desc(repr(k), k) for k in table]
            heapq.heapify(heap)
        entry = _Desc(repr(key), key)
        if len(table) < limit:
            table[key] = n
            heapq.heappush(heap, entry)
        elif heap and entry.r < heap[0].r:  # less than the largest tabled outcome: it takes its place
            out = heapq.heapreplace(heap, entry)
            self.untabled += table.pop(out.key)
            table[key] = n
        else:
            self.untabled += n

    def as_json(self) -> dict[str, Any]:
        return {
            "program": self.program,
            "verdict": self.verdict,
            "model": self.model,
            "outcomes": [dict(o) for o in sorted(self.outcomes, key=repr)],
            "outcomes_untabled": self.untabled,
            "executions": self.stats.complete,
            "blocked": self.stats.blocked,
            "errors": self.stats.errors,
            "bounded": self.stats.bounded,
            "redundant": self.stats.redundant,
            "lb_dropped": self.stats.lb_dropped,
            "lb_duplicates": self.stats.lb_duplicates,
            "moot": self.stats.moot,
            "lb_search": self.lb_search,
            "events": self.stats.events,
            "seconds": round(self.stats.seconds, 6),
            "incomplete_reason": self.incomplete_reason,
            "violation_count": self.violation_count,
            "property_counts": dict(sorted(self.property_counts.items())),
            "violations": [v.as_json() for v in self.violations],
            "exists": self.exists,
        }
