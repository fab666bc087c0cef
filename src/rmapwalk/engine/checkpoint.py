"""Checkpoints of a search: its state as a JSON file, written atomically, validated on load.

What is saved is the coordinator's state (:meth:`ParallelSearch.state`): the search
configuration (how to load the program, the memory model, the options that change what is
counted), the totals so far (counts, outcomes with their counts, violations with their replay
data) and every work unit not yet done -- queued or running.  A running unit's results are not
in the totals until it finishes, so a run killed at any moment and resumed from its last
checkpoint re-runs those units and ends with exactly the totals of an uninterrupted run.

The file is plain JSON (``format: rmapwalk-checkpoint/1``); loading it never executes anything
from it: the model file it names is imported like any model file given to ``rmapwalk run``, and
only after its sha256 matches the one recorded.  Outcome values that JSON cannot hold (tuples,
locations, ...) are tagged (``{"tuple": [...]}``).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any

from rmapwalk.engine import values as _values
from rmapwalk.engine.parallel import ParallelSearch
from rmapwalk.engine.program import Program
from rmapwalk.engine.result import Violation
from rmapwalk.engine.workunit import COUNTERS, SearchConfig, UnitError

FORMAT = "rmapwalk-checkpoint/1"

__all__ = ["FORMAT", "CheckpointError", "CheckpointWriteError", "load_checkpoint", "resume_search",
           "save_checkpoint", "state_to_json"]


class CheckpointError(Exception):
    """A checkpoint cannot be written or read; ``str()`` is one line."""


class CheckpointWriteError(CheckpointError):
    """Writing a checkpoint failed (full disk, ...); the previous one is intact."""


# -- values --------------------------------------------------------------------------------------
def encode_value(v: Any) -> Any:
    try:
        return _values.encode_value(v)
    except ValueError as e:
        raise CheckpointError(f"{e} in a checkpoint") from None


def decode_value(v: Any) -> Any:
    try:
        return _values.decode_value(v)
    except ValueError as e:
        raise CheckpointError(str(e)) from None


# -- state <-> JSON ------------------------------------------------------------------------------
def state_to_json(state: dict[str, Any]) -> dict[str, Any]:
    from rmapwalk import __version__

    out = dict(state)
    out["outcomes"] = [[[[name, encode_value(val)] for name, val in key], n] for key, n in state["outcomes"]]
    return {"format": FORMAT, "rmapwalk_version": __version__, "saved": time.time(), **out}


def _fail(path: str, what: str) -> CheckpointError:
    return CheckpointError(f"{path}: {what}")


def _int(d: dict[str, Any], key: str, path: str) -> int:
    v = d.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise _fail(path, f"bad checkpoint: {key!r} should be a non-negative integer")
    return v


def load_checkpoint(path: str) -> dict[str, Any]:
    """Read and check a checkpoint file; returns its state (with ``config`` a
    :class:`SearchConfig` and outcomes decoded).  Every problem is a one-line
    :class:`CheckpointError`."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = f.read()
    except FileNotFoundError:
        raise _fail(path, "no such file") from None
    except IsADirectoryError:
        raise _fail(path, "is a directory, not a checkpoint") from None
    except (OSError, UnicodeDecodeError) as e:
        raise _fail(path, f"cannot read: {getattr(e, 'strerror', None) or e}") from None
    try:
        d = json.loads(raw)
    except json.JSONDecodeError as e:
        raise _fail(path, f"not a checkpoint: invalid JSON at line {e.lineno} ({e.msg})") from None
    if not isinstance(d, dict):
        raise _fail(path, "not a checkpoint (expected a JSON object)")
    if d.get("format") != FORMAT:
        raise _fail(path, f"not an rmapwalk checkpoint (format {d.get('format')!r}, expected {FORMAT!r})")
    try:
        config = SearchConfig.from_json(d.get("config"))
    except UnitError as e:
        raise _fail(path, f"bad checkpoint: {e}") from None
    st = d.get("stats")
    if not isinstance(st, dict):
        raise _fail(path, "bad checkpoint: 'stats' should be an object")
    stats = {k: _int(st, k, path) for k in COUNTERS}
    outcomes: list[tuple[Any, int]] = []
    raw_out = d.get("outcomes")
    if not isinstance(raw_out, list):
        raise _fail(path, "bad checkpoint: 'outcomes' should be a list")
    try:
        for key, n in raw_out:
            if not isinstance(n, int) or n < 1 or not isinstance(key, list):
                raise CheckpointError("bad outcome")
            pairs = []
            for name, val in key:
                if not isinstance(name, str):
                    raise CheckpointError("bad outcome")
                pairs.append((name, decode_value(val)))
            outcomes.append((tuple(pairs), n))
    except (CheckpointError, TypeError, ValueError):
        raise _fail(path, "bad checkpoint: malformed 'outcomes'") from None
    pc = d.get("property_counts")
    ex = d.get("exists")
    if not (isinstance(pc, dict) and all(isinstance(v, int) for v in pc.values())):
        raise _fail(path, "bad checkpoint: 'property_counts' should map names to counts")
    if not (isinstance(ex, dict) and all(isinstance(v, bool) for v in ex.values())):
        raise _fail(path, "bad checkpoint: 'exists' should map names to true/false")
    viols = d.get("violations")
    if not isinstance(viols, list) or not all(
            isinstance(v, dict) and isinstance(v.get("kind"), str) and isinstance(v.get("message"), str)
            and isinstance(v.get("replay"), dict) for v in viols):
        raise _fail(path, "bad checkpoint: malformed 'violations'")
    units = d.get("units")
    if not isinstance(units, list) or not all(isinstance(u, list) for u in units):
        raise _fail(path, "bad checkpoint: 'units' should be a list of work units")
    seconds = d.get("seconds")
    if not isinstance(seconds, (int, float)) or seconds < 0:
        raise _fail(path, "bad checkpoint: 'seconds' should be a number")
    lb_seen = d.get("lb_seen", [])
    if not isinstance(lb_seen, list) or not all(isinstance(h, int) and not isinstance(h, bool) for h in lb_seen):
        raise _fail(path, "bad checkpoint: 'lb_seen' should be a list of integers")
    finished = d.get("finished", False)
    if not isinstance(finished, bool):
        raise _fail(path, "bad checkpoint: 'finished' should be true or false")
    return {
        "config": config,
        "program": d.get("program"),
        "stats": stats,
        "outcomes": outcomes,
        "outcomes_untabled": _int(d, "outcomes_untabled", path) if "outcomes_untabled" in d else 0,
        "max_outcomes": _int(d, "max_outcomes", path) if d.get("max_outcomes") is not None else None,
        "violation_count": _int(d, "violation_count", path),
        "property_counts": pc,
        "exists": ex,
        "violations": viols,
        "units": units,
        "seconds": float(seconds),
        "units_done": _int(d, "units_done", path),
        "finished": finished,
        "lb_seen": lb_seen,
    }


def save_checkpoint(path: str, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically: a temporary file in the same folder, flushed to
    disk, then renamed over ``path``.  On failure (a full disk, ...) the previous checkpoint is
    left as it was and a one-line :class:`CheckpointError` says why."""
    text = json.dumps(state_to_json(state), separators=(",", ":"))
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".ckpt-", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise CheckpointWriteError(f"cannot write the checkpoint {path}: {e.strerror or e}"
                              + ("; the previous checkpoint is intact" if os.path.exists(path) else "")) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def resume_search(state: dict[str, Any], prog: Program, **kw: Any) -> ParallelSearch:
    """A :class:`ParallelSearch` that continues the one ``state`` (from :func:`load_checkpoint`)
    saved; ``kw`` as for :class:`ParallelSearch` (jobs, cluster, checkpoint, ...)."""
    config: SearchConfig = state["config"]
    if len(prog.threads) == 0:
        raise CheckpointError("the program has no threads")
    search = ParallelSearch(config, prog, **kw)
    st = search.stats
    for k in COUNTERS:
        setattr(st, k, state["stats"][k])
    res = search.result
    res.outcomes = dict(state["outcomes"])
    res.untabled = state.get("outcomes_untabled", 0)
    # the resumed search tables outcomes as the saved one did: bounded, or every one (--all-outcomes,
    # and checkpoints written before the bound existed, which hold every outcome)
    if "max_outcomes" in state:
        res.max_outcomes = state["max_outcomes"]
    res.violation_count = state["violation_count"]
    res.property_counts = dict(state["property_counts"])
    res.exists.update(state["exists"])
    res.violations = [Violation(v["kind"], v["message"], v.get("thread"), v.get("where"), v["replay"])
                      for v in state["violations"]]
    search.pending.clear()
    if not state["finished"]:
        search.pending.extend(state["units"])
    search.seconds_before = state["seconds"]
    search.units_done = state["units_done"]
    search.lb_seen = set(state.get("lb_seen", ()))
    return search
