"""The engine: programs of threads over shared memory, explored under a memory model."""

from rmapwalk.engine.events import ACQUIRE, MB, ONCE, PLAIN, RELAXED, RELEASE
from rmapwalk.engine.explore import Explorer, Options, explore
from rmapwalk.engine.models import MODELS, get_model
from rmapwalk.engine.ops import (
    NO_WRITE,
    alloc,
    assume,
    await_value,
    cmpxchg,
    fence,
    fetch_add,
    free,
    load,
    observe,
    relax,
    rmw,
    special,
    store,
    xchg,
)
from rmapwalk.engine.program import Final, Loc, Program
from rmapwalk.engine.result import HOLDS, INCOMPLETE, VIOLATED, Result, Violation
from rmapwalk.engine.runtime import ModelError

__all__ = [
    "ACQUIRE", "HOLDS", "INCOMPLETE", "MB", "MODELS", "NO_WRITE", "ONCE", "PLAIN", "RELAXED",
    "RELEASE", "VIOLATED", "Explorer", "Final", "Loc", "ModelError", "Options", "Program", "Result",
    "Violation", "alloc", "assume", "await_value", "cmpxchg", "explore", "fence", "fetch_add", "free",
    "get_model", "load", "observe", "relax", "rmw", "special", "store", "xchg",
]
