"""JSON reports: one object per command, for scripts and CI."""

from __future__ import annotations

import json
from typing import Any

from rmapwalk.engine.result import Result
from rmapwalk.report.text import executions_per_second, sorted_outcomes


def _jsonable(v: Any) -> Any:
    """Values a model stores need not be JSON types: show anything else by its repr."""
    return repr(v)


def dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, indent=2, default=_jsonable)


def run_json(result: Result, *, source: str, program_symbol: str | None = None,
             max_events: int | None = None) -> dict[str, Any]:
    """The object ``rmapwalk run --json`` prints: :meth:`Result.as_json` plus the model file,
    per-outcome counts and the rate.  Violations carry ``trace`` and ``replay`` (the replay
    file's path) as filled in on the :class:`~rmapwalk.engine.result.Violation` objects."""
    d = result.as_json()
    outs = sorted_outcomes(result.outcomes)
    d["outcomes"] = [dict(o) for o in outs]
    d["outcome_counts"] = [{"outcome": dict(o), "count": result.outcomes[o]} for o in outs]
    d["source"] = source
    if program_symbol is not None:
        d["program_symbol"] = program_symbol
    if max_events is not None:
        d["max_events"] = max_events
    d["executions_per_second"] = round(executions_per_second(result), 1)
    return d


def replay_json(data: dict[str, Any], *, trace: str, replay_file: str, source: str,
                changed: bool) -> dict[str, Any]:
    """The object ``rmapwalk replay --json`` prints."""
    v = data.get("violation") or {}
    return {
        "program": data.get("program"),
        "model": data.get("model"),
        "source": source,
        "source_changed": changed,
        "property": v.get("kind"),
        "message": v.get("message"),
        "thread": v.get("thread"),
        "where": v.get("where"),
        "trace": trace,
        "replay": replay_file,
    }
