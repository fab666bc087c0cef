"""What a check returns: verdict, outcomes, statistics and violations with their replay data."""

from __future__ import annotations

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
    events: int = 0
    thread_runs: int = 0
    seconds: float = 0.0

    @property
    def executions(self) -> int:
        return self.complete + self.blocked + self.errors + self.bounded


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
    #: at most this many distinct outcomes are tabled in ``outcomes`` (None: every one)
    max_outcomes: int | None = None
    #: complete executions whose outcome is not in ``outcomes`` (the table was full)
    untabled: int = 0

    def outcome_set(self) -> set[tuple[tuple[str, Any], ...]]:
        return set(self.outcomes)

    def count_outcome(self, key: tuple[tuple[str, Any], ...], n: int = 1) -> None:
        """Count ``n`` complete executions ending in outcome ``key``.

        Guarantees: ``outcomes`` never holds more than ``max_outcomes`` distinct outcomes, so its
        memory is bounded; the count of every tabled outcome is exact (an outcome enters the
        table at its first execution or never); the executions of the outcomes left out are
        counted in ``untabled``, so the tabled counts and ``untabled`` add up to every complete
        execution counted."""
        table = self.outcomes
        if key in table:
            table[key] += n
        elif self.max_outcomes is None or len(table) < self.max_outcomes:
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
            "events": self.stats.events,
            "seconds": round(self.stats.seconds, 6),
            "incomplete_reason": self.incomplete_reason,
            "violation_count": self.violation_count,
            "property_counts": dict(sorted(self.property_counts.items())),
            "violations": [v.as_json() for v in self.violations],
            "exists": self.exists,
        }
