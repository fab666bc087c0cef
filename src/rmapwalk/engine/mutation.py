"""Mutations: one ordering or synchronisation site of a model, weakened at run time.

A *site* is a source line of model code and the primitive called there: ``smp_wmb`` at
``pte_list.py:123`` in ``pte_list_add``, ``spin_lock`` at ``vcpu.py:350``, the check a model
declares with :func:`mutation_point`.  It is the same location a trace names (the first frame
outside ``rmapwalk.engine`` and ``rmapwalk.kernel``: a library function called by the model,
``hlist_nulls_add_head_rcu`` say, makes its primitives sites of the model's calling line).

The primitives consult this module only while it is *armed* (one module attribute test
otherwise):

* :func:`recording` collects every site the running exploration reaches (and, for a lock or an
  RCU read-side section, the lines that closed it);
* :func:`applied` weakens one site: the primitive called there asks :func:`at` and gets the
  weakening to apply (``None`` everywhere else).

Weakenings (:data:`WEAKENINGS` gives them per site kind):

* ``removed``: a barrier does nothing; a ``spin_lock``/``spin_trylock`` takes no lock (and the
  ``spin_unlock`` that releases that acquisition does nothing); an ``rcu_read_lock`` opens no
  section (nor does its ``rcu_read_unlock`` close one); ``synchronize_rcu`` waits for nothing
  and ``call_rcu`` runs its callback at once;
* ``once``: an acquire, release or consume access (``smp_load_acquire``,
  ``smp_store_release``, ``rcu_dereference``, ``rcu_assign_pointer``) becomes
  ``READ_ONCE``/``WRITE_ONCE``;
* ``plain``: a marked access becomes a plain C access (only a data-race check can tell);
* ``relaxed``: a fully ordered, acquire or release RMW becomes its ``_relaxed`` form;
* ``non-atomic``: an RMW becomes a marked load and, if it writes, a marked store;
* ``always-pass``: a declared check (:func:`mutation_point`) always lets the code go ahead.

The mutation is keyed by source location only, so it is deterministic, and it is plain data
(:class:`Mutation`), so worker processes and replays apply the same one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from rmapwalk.engine import runtime as _rt

# -- site kinds ------------------------------------------------------------------------------------
BARRIER = "barrier"
ACCESS = "access"
RMW = "rmw"
LOCK = "lock"
RCU = "rcu"
GRACE = "grace period"
CHECK = "check"

# -- weakenings --------------------------------------------------------------------------------------
REMOVED = "removed"
TO_ONCE = "once"
TO_PLAIN = "plain"
TO_RELAXED = "relaxed"
NON_ATOMIC = "non-atomic"
ALWAYS_PASS = "always-pass"

#: the access modes that order something (weakened to ``once``)
_ORDERED_ACCESS = frozenset({"acquire", "release", "consume"})


def weakenings(kind: str, mode: str) -> list[str]:
    """The mutants of a site of ``kind`` whose primitive has ``mode`` (an access or RMW mode, a
    fence kind), in the order they are tried."""
    if kind == BARRIER:
        return [REMOVED]
    if kind == ACCESS:
        return [TO_ONCE] if mode in _ORDERED_ACCESS else [TO_PLAIN] if mode == "once" else []
    if kind == RMW:
        return ([TO_RELAXED] if mode != "relaxed" else []) + [NON_ATOMIC]
    if kind in (LOCK, RCU, GRACE):
        return [REMOVED]
    if kind == CHECK:
        return [ALWAYS_PASS]
    return []


#: the weakenings of each kind, for documentation
WEAKENINGS: dict[str, str] = {
    BARRIER: "removed",
    ACCESS: "acquire/release/consume -> once; once -> plain",
    RMW: "fully ordered, acquire or release -> relaxed; any RMW -> a marked load + store (non-atomic)",
    LOCK: "the acquisition and its release removed",
    RCU: "the read-side section removed (lock and unlock)",
    GRACE: "synchronize_rcu waits for nothing; call_rcu runs its callback at once",
    CHECK: "the check always passes",
}


# -- sites -------------------------------------------------------------------------------------------
SiteKey = tuple[str, int, str, str]
"""(file, line, function, primitive): where a site is and what is called there."""


@dataclass(frozen=True)
class Site:
    """One site: its location, the primitive, its kind and the primitive's mode (an access or
    RMW mode, a fence kind; for a check, empty)."""

    file: str
    line: int
    func: str
    primitive: str
    kind: str
    mode: str = ""

    @property
    def key(self) -> SiteKey:
        return (self.file, self.line, self.func, self.primitive)

    def weakenings(self) -> list[str]:
        return weakenings(self.kind, self.mode)

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "function": self.func, "primitive": self.primitive,
                "kind": self.kind, "mode": self.mode}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Site:
        return cls(str(d["file"]), int(d["line"]), str(d["function"]), str(d["primitive"]), str(d["kind"]),
                   str(d.get("mode", "")))


@dataclass(frozen=True)
class Mutation:
    """One mutant: ``site`` weakened by ``weakening``."""

    site: Site
    weakening: str

    def as_json(self) -> dict[str, Any]:
        return {"site": self.site.as_json(), "weakening": self.weakening}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Mutation:
        return cls(Site.from_json(d["site"]), str(d["weakening"]))


class Recording:
    """What :func:`recording` collected: the sites reached and, for locks and RCU sections, the
    (file, line, function) of the calls that closed them."""

    def __init__(self) -> None:
        self.sites: dict[SiteKey, Site] = {}
        self.closers: dict[SiteKey, set[tuple[str, int, str]]] = {}

    def as_json(self) -> dict[str, Any]:
        return {"sites": [s.as_json() for s in self.sites.values()],
                "closers": [[list(k), sorted(list(c) for c in v)] for k, v in self.closers.items()]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Recording:
        r = cls()
        for s in d["sites"]:
            site = Site.from_json(s)
            r.sites[site.key] = site
        for k, v in d["closers"]:
            r.closers[(str(k[0]), int(k[1]), str(k[2]), str(k[3]))] = {(str(c[0]), int(c[1]), str(c[2])) for c in v}
        return r


# -- the state the primitives consult ---------------------------------------------------------------
#: whether a recording or a mutation is active (the primitives test only this when it is not)
armed = False
_recording: Recording | None = None
_active: Mutation | None = None
_active_key: SiteKey | None = None
_active_primitive = ""
#: > 0 while code outside the review (:func:`not_a_site`) runs
_ghost = 0


def _rearm() -> None:
    global armed
    armed = _recording is not None or _active is not None


@contextmanager
def recording() -> Iterator[Recording]:
    """Collect the sites reached by what runs inside (an exploration)."""
    global _recording
    prev = _recording
    rec = _recording = Recording()
    _rearm()
    try:
        yield rec
    finally:
        _recording = prev
        _rearm()


@contextmanager
def applied(mutation: Mutation | None) -> Iterator[None]:
    """Weaken ``mutation``'s site in what runs inside (``None``: nothing)."""
    global _active, _active_key, _active_primitive
    prev = (_active, _active_key, _active_primitive)
    _active = mutation
    _active_key = mutation.site.key if mutation is not None else None
    _active_primitive = mutation.site.primitive if mutation is not None else ""
    _rearm()
    try:
        yield
    finally:
        _active, _active_key, _active_primitive = prev
        _rearm()


F = TypeVar("F", bound=Callable[..., Any])


def not_a_site(fn: F) -> F:
    """Mark ``fn`` as code outside the review: the checker's own instrumentation (an invariant
    check, ghost state) or modelled hardware (a CPU's page walker, its TLB).  The primitives it
    calls, directly or not, are no sites, and no mutation applies to them."""

    @wraps(fn)
    def wrapper(*args: Any, **kw: Any) -> Any:
        global _ghost
        _ghost += 1
        try:
            return fn(*args, **kw)
        finally:
            _ghost -= 1

    return wrapper  # type: ignore[return-value]


def _where() -> tuple[str, int, str] | None:
    """The model line the running primitive was called from (as ``runtime._caller_src``: the
    first frame outside the engine and kernel layers), or ``None`` outside a thread, inside
    code marked :func:`not_a_site`, or in library code run as a thread of its own (RCU callbacks)."""
    if _ghost or _rt._current is None:
        return None
    f: Any = sys._getframe(1)
    internal = _rt.INTERNAL_DIRS
    run_code = _rt._RUN_CODE
    while f is not None and f.f_code.co_filename.startswith(internal):
        if f.f_code is run_code:
            return None
        f = f.f_back
    if f is None:
        return None
    return (f.f_code.co_filename, f.f_lineno, f.f_code.co_name)


def _site(primitive: str, kind: str, mode: str) -> SiteKey | None:
    """The key of this call's site (recorded when recording), or ``None`` when it cannot be the
    mutated one and nothing is recorded."""
    if _recording is None and primitive != _active_primitive:
        return None
    w = _where()
    if w is None:
        return None
    key = (w[0], w[1], w[2], primitive)
    if _recording is not None and key not in _recording.sites:
        _recording.sites[key] = Site(w[0], w[1], w[2], primitive, kind, mode)
    return key


def at(primitive: str, kind: str, mode: str = "") -> str | None:
    """Called by a primitive when :data:`armed`: the weakening to apply to this call, or
    ``None``."""
    key = _site(primitive, kind, mode)
    if key is not None and key == _active_key:
        assert _active is not None
        return _active.weakening
    return None


def engine_op(kind: str, mode: str, label: str) -> str | None:
    """Called by the engine's ``load``/``store``/``rmw``/``fence`` when :data:`armed`: a site
    only when the model calls the engine operation itself (the kernel layer's primitives are
    sites of their own; the library's internal operations are none)."""
    f: Any = sys._getframe(1)  # the engine operation
    ops_file = f.f_code.co_filename
    while f is not None and f.f_code.co_filename == ops_file:
        f = f.f_back
    if f is None or f.f_code.co_filename.startswith(_rt.INTERNAL_DIRS):
        return None
    return at(label, kind, mode)


# -- locks and RCU sections: the opening call is the site, its closing call follows it -----------
#: a section (or lock acquisition) that is no site: opened in code that is no site
_NO_SITE = ("", 0, "", "")
_LOCKS_TLS = "mutation.locks"
_RCU_TLS = "mutation.rcu"


def _tls() -> dict[str, Any]:
    return _rt.current().tls


def lock_acquire(primitive: str, lock: int) -> bool:
    """``spin_lock``/``spin_trylock`` of ``lock``: whether this acquisition is removed."""
    key = _site(primitive, LOCK, "acquire")
    opened: dict[int, SiteKey | None] = _tls().setdefault(_LOCKS_TLS, {})
    if key is not None and key == _active_key:
        opened[int(lock)] = None  # removed: its release does nothing either
        return True
    opened[int(lock)] = key or _NO_SITE
    return False


def lock_release(lock: int) -> bool:
    """``spin_unlock`` of ``lock``: whether it releases a removed acquisition (then it does
    nothing)."""
    opened: dict[int, SiteKey | None] = _tls().setdefault(_LOCKS_TLS, {})
    if int(lock) not in opened:
        return False
    key = opened.pop(int(lock))
    if key is None:
        return True
    _closer(key)
    return False


def section_enter(primitive: str) -> bool:
    """``rcu_read_lock``: whether this section is removed."""
    key = _site(primitive, RCU, "")
    stack: list[SiteKey | None] = _tls().setdefault(_RCU_TLS, [])
    if key is not None and key == _active_key:
        stack.append(None)
        return True
    stack.append(key or _NO_SITE)
    return False


def section_exit() -> bool:
    """``rcu_read_unlock``: whether it closes a removed section (then it does nothing)."""
    stack: list[SiteKey | None] = _tls().setdefault(_RCU_TLS, [])
    if not stack:
        return False  # (misuse: the caller reports it)
    key = stack.pop()
    if key is None:
        return True
    _closer(key)
    return False


def _closer(key: SiteKey) -> None:
    if _recording is None or key == _NO_SITE:
        return
    w = _where()
    if w is not None:
        _recording.closers.setdefault(key, set()).add(w)


# -- declared checks ---------------------------------------------------------------------------------
T = TypeVar("T")


def mutation_point(name: str, cond: T) -> T | bool:
    """A check the model relies on, declared as a mutation site: ``cond`` is the condition under
    which the code goes ahead with what the check guards (the walk ended on its own nulls
    marker; the spte is a leaf; the spte may be modified locklessly).  Returns ``cond`` itself
    (a tracked value keeps its dependencies); in the mutant that drops the check, ``True``: the
    code goes ahead whatever the test would have said."""
    if armed and at(name, CHECK) == ALWAYS_PASS:
        return True
    return cond


__all__ = [
    "ACCESS", "ALWAYS_PASS", "BARRIER", "CHECK", "GRACE", "LOCK", "NON_ATOMIC", "RCU", "REMOVED", "RMW",
    "TO_ONCE", "TO_PLAIN", "TO_RELAXED", "WEAKENINGS", "Mutation", "Recording", "Site", "SiteKey", "applied",
    "armed", "at", "engine_op", "not_a_site", "lock_acquire", "lock_release", "mutation_point", "recording",
    "section_enter", "section_exit", "weakenings",
]
