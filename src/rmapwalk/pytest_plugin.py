"""rmapwalk as a pytest plugin: a function that builds a :class:`Program`, decorated with
:func:`model_check`, is a test that explores every execution of the program.

.. code-block:: python

    from rmapwalk.engine import Program, observe
    from rmapwalk.kernel import READ_ONCE, WRITE_ONCE, smp_mb
    from rmapwalk.pytest_plugin import model_check

    @model_check(model="tso", max_executions=100_000)
    def test_store_buffering_with_mb() -> Program:
        p = Program("SB+mb")
        ...
        return p

The test passes when every property of the program holds; it fails with the text report (the
verdict, statistics, outcomes and the trace of the violation) and the path of the saved replay
file (``rmapwalk replay FILE`` shows it again) when one is violated, and also when the exploration
stops before it is complete (a bound was hit) unless ``allow_incomplete=True``, which passes with
a warning instead.  The builder may take pytest fixtures as arguments (a replay of such a test
cannot rebuild the program outside pytest, though).

Command-line options override the decorator: ``--rmapwalk-model``, ``--rmapwalk-max-executions``,
``--rmapwalk-max-events``, ``--rmapwalk-timeout``; ``--rmapwalk-replay-dir`` is where replay files
go (default ``rmapwalk-replays`` under pytest's rootdir).  Every such test carries the
``rmapwalk`` marker (``pytest -m rmapwalk`` runs only them).

The plugin is registered through the ``pytest11`` entry point of the ``rmapwalk`` distribution;
``-p no:rmapwalk`` turns it off (the decorated tests then still run, with the decorator's settings).
"""

from __future__ import annotations

import functools
import json
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar, overload

import pytest

# The engine is imported where it is used: pytest loads this plugin in every session of an
# environment where rmapwalk is installed, and that must stay cheap and independent of it.
if TYPE_CHECKING:
    from rmapwalk.engine.program import Program
    from rmapwalk.engine.result import Result

#: the memory models (as in rmapwalk.engine.models.MODELS; checked against it in the tests)
MODEL_NAMES = ("sc", "tso", "pso", "weak", "lkmm", "lkmm-alpha")

__all__ = ["CheckSettings", "ModelCheckFailed", "RmapwalkIncompleteWarning", "model_check", "program_of_test"]

_ATTR = "__rmapwalk_check__"
DEFAULT_REPLAY_DIR = "rmapwalk-replays"

F = TypeVar("F", bound=Callable[..., Any])


class ModelCheckFailed(AssertionError):
    """A decorated test's program was violated (or its exploration was incomplete)."""


class RmapwalkIncompleteWarning(UserWarning):
    """An exploration stopped before it was complete and ``allow_incomplete=True`` let it pass."""


@dataclass(frozen=True)
class CheckSettings:
    """How a decorated test explores its program."""

    model: str = "sc"
    max_executions: int | None = None
    max_events: int = 1000
    timeout: float | None = None
    allow_incomplete: bool = False
    #: how ``lkmm``/``lkmm-alpha`` search load buffering (``Options.lb_search``): completely, so a
    #: test never passes on an execution the search missed
    lb_search: str = "complete"


def _valid(s: CheckSettings) -> CheckSettings:
    model = s.model.lower()
    if model not in MODEL_NAMES:
        raise ValueError(f"unknown memory model {s.model!r}; valid models: {', '.join(MODEL_NAMES)}")
    if s.max_executions is not None and s.max_executions < 1:
        raise ValueError("max_executions must be at least 1")
    if s.max_events < 1:
        raise ValueError("max_events must be at least 1")
    if s.timeout is not None and s.timeout <= 0:
        raise ValueError("timeout must be positive")
    from rmapwalk.engine.explore import LB_SEARCHES

    if s.lb_search not in LB_SEARCHES:
        raise ValueError(f"lb_search must be one of {', '.join(LB_SEARCHES)}, not {s.lb_search!r}")
    return replace(s, model=model)


@overload
def model_check(fn: F, /) -> F: ...


@overload
def model_check(*, model: str = "sc", max_executions: int | None = None, max_events: int = 1000,
                timeout: float | None = None, allow_incomplete: bool = False,
                lb_search: str = "complete") -> Callable[[F], F]: ...


def model_check(fn: Any = None, /, *, model: str = "sc", max_executions: int | None = None, max_events: int = 1000,
                timeout: float | None = None, allow_incomplete: bool = False, lb_search: str = "complete") -> Any:
    """Turn a function returning a :class:`Program` into a test that model-checks it.

    ``model``: ``sc``, ``tso``, ``pso`` or ``weak``; ``max_executions``, ``max_events`` (per
    thread) and ``timeout`` (seconds) bound the exploration; with ``allow_incomplete`` a bounded
    (incomplete) exploration without a violation passes with a warning instead of failing;
    ``lb_search``: how ``lkmm``/``lkmm-alpha`` search load buffering (``"complete"``, or the
    faster ``"optimal"``, which can miss executions).
    Usable bare (``@model_check``) or with arguments.
    """
    settings = _valid(CheckSettings(model, max_executions, max_events, timeout, allow_incomplete, lb_search))

    def decorate(builder: F) -> F:
        @functools.wraps(builder)
        def test(*args: Any, **kwargs: Any) -> None:
            # pytest without the plugin (or a direct call): the decorator's settings only
            run_check(builder(*args, **kwargs), settings, name=builder.__qualname__)

        setattr(test, _ATTR, (builder, settings))
        return pytest.mark.rmapwalk(test)

    if fn is not None:
        if not callable(fn):
            raise TypeError("model_check: use @model_check or @model_check(model=..., ...)")
        return decorate(fn)
    return decorate


# -- running a check ---------------------------------------------------------------------------------
def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("._") or "test"


@dataclass
class Outcome:
    result: Result
    report: str
    replay_files: list[str]


def run_check(prog: Any, settings: CheckSettings, *, name: str = "", replay_dir: str | None = None,
              test_file: str | None = None, test_name: str | None = None) -> Outcome:
    """Explore ``prog`` with ``settings``; raise :class:`ModelCheckFailed` (with the report) when
    it is violated or incomplete (unless allowed).  With ``replay_dir``, each violation shown is
    saved there for ``rmapwalk replay``; ``test_file``/``test_name`` say where the builder is."""
    from rmapwalk.engine.explore import Explorer, Options
    from rmapwalk.engine.program import Program
    from rmapwalk.engine.result import HOLDS, INCOMPLETE
    from rmapwalk.report import text

    if not isinstance(prog, Program):
        raise TypeError(f"{name or 'the test'} must return a rmapwalk Program, not {type(prog).__name__}")
    opts = Options(max_executions=settings.max_executions, max_events=settings.max_events, timeout=settings.timeout,
                   lb_search=settings.lb_search)
    result = Explorer(prog, settings.model, opts).run()
    files: list[str] = []
    for n, v in enumerate(result.violations, 1):
        v.trace, saved = _trace_and_save(prog, v, settings, n, replay_dir, test_file, test_name)
        v.replay_file = saved
        if saved is not None:
            files.append(saved)
    where = f"test {name}" if name else "pytest"
    report = text.run_text(result, source=where, prog=prog, shown=result.violations)
    out = Outcome(result, report, files)
    if result.verdict == HOLDS:
        return out
    if result.verdict == INCOMPLETE and settings.allow_incomplete:
        warnings.warn(RmapwalkIncompleteWarning(f"{name or prog.name}: exploration incomplete: "
                                                f"{result.incomplete_reason}"), stacklevel=2)
        return out
    raise ModelCheckFailed(report)


def _trace_and_save(prog: Program, v: Any, settings: CheckSettings, n: int, replay_dir: str | None,
                    test_file: str | None, test_name: str | None) -> tuple[str, str | None]:
    from rmapwalk.cli.common import replay_record, trace_of, write_atomic
    from rmapwalk.engine.replay import ReplayError
    from rmapwalk.engine.runtime import ModelError
    from rmapwalk.loader import file_sha256, show_path

    data = dict(v.replay)
    try:
        trace = trace_of(prog, data, settings.max_events)
    except (ReplayError, ModelError) as e:
        trace = f"(no trace: the execution could not be rebuilt: {e})"
    if replay_dir is None or test_file is None or test_name is None:
        return trace, None
    base = f"{_safe(os.path.splitext(os.path.basename(test_file))[0])}-{_safe(test_name)}-{settings.model}-{n}"
    shim = os.path.join(replay_dir, f"model-{base}.py")
    fname = os.path.join(replay_dir, f"{base}.json")
    try:
        write_atomic(shim, _shim_text(test_file, test_name))
        record = replay_record(v, prog, os.path.abspath(shim), file_sha256(shim), "program()", settings.max_events)
        write_atomic(fname, json.dumps(record, indent=1) + "\n")
    except OSError as e:
        return trace + f"\n(cannot save the replay file {fname}: {e.strerror or e})", None
    return trace, show_path(fname)


def _shim_text(test_file: str, test_name: str) -> str:
    return (
        f'"""Written by rmapwalk\'s pytest plugin so that `rmapwalk replay` can rebuild the program of\n'
        f"{os.path.basename(test_file)}::{test_name}; the replay file next to it names this file.\"\"\"\n\n"
        "from rmapwalk.pytest_plugin import program_of_test\n\n\n"
        "def program():\n"
        f"    return program_of_test({os.path.abspath(test_file)!r}, {test_name!r})\n"
    )


def program_of_test(test_file: str, test_name: str) -> Program:
    """Import ``test_file`` and build the program of its :func:`model_check` test ``test_name``
    (``Class.method`` for a test in a class); used by replay files the plugin saves."""
    from rmapwalk.engine.program import Program
    from rmapwalk.loader import import_file

    mod, _ = import_file(test_file)
    obj: Any = mod
    owner: Any = None
    for part in test_name.split("."):
        owner, obj = obj, getattr(obj, part)
    marked = getattr(obj, _ATTR, None)
    if marked is None:
        raise TypeError(f"{test_name} in {test_file} is not a @model_check test")
    builder = marked[0]
    if isinstance(owner, type):
        prog = builder(owner())
    else:
        prog = builder()
    if not isinstance(prog, Program):
        raise TypeError(f"{test_name} returned {type(prog).__name__}, not a rmapwalk Program")
    return prog


# -- the pytest hooks ----------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("rmapwalk", "rmapwalk model checking (@model_check tests)")
    g.addoption("--rmapwalk-model", choices=list(MODEL_NAMES), default=None,
                help="memory model for every @model_check test (overrides the decorator)")
    g.addoption("--rmapwalk-max-executions", type=int, default=None, metavar="N",
                help="stop each exploration after N executions (overrides the decorator)")
    g.addoption("--rmapwalk-max-events", type=int, default=None, metavar="N",
                help="per-thread event bound (overrides the decorator)")
    g.addoption("--rmapwalk-timeout", type=float, default=None, metavar="SECONDS",
                help="stop each exploration after this many seconds (overrides the decorator)")
    g.addoption("--rmapwalk-replay-dir", default=None, metavar="DIR",
                help=f"where replay files of violations go (default: {DEFAULT_REPLAY_DIR} under the rootdir)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rmapwalk: a @model_check test (explores every execution of a program)")


def settings_for(config: pytest.Config, settings: CheckSettings) -> CheckSettings:
    """The decorator's settings with the command line's overrides."""
    s = settings
    model = config.getoption("--rmapwalk-model", None)
    if model:
        s = replace(s, model=model)
    n = config.getoption("--rmapwalk-max-executions", None)
    if n is not None:
        s = replace(s, max_executions=n)
    ev = config.getoption("--rmapwalk-max-events", None)
    if ev is not None:
        s = replace(s, max_events=ev)
    t = config.getoption("--rmapwalk-timeout", None)
    if t is not None:
        s = replace(s, timeout=t)
    try:
        return _valid(s)
    except ValueError as e:
        raise pytest.UsageError(f"rmapwalk: {e}") from None


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    marked = getattr(pyfuncitem.obj, _ATTR, None)
    if marked is None:
        return None
    builder, settings = marked
    config = pyfuncitem.config
    s = settings_for(config, settings)
    argnames = pyfuncitem._fixtureinfo.argnames
    kwargs = {a: pyfuncitem.funcargs[a] for a in argnames}
    if getattr(pyfuncitem, "instance", None) is not None:
        prog = builder(pyfuncitem.instance, **kwargs)
    else:
        prog = builder(**kwargs)
    replay_dir = config.getoption("--rmapwalk-replay-dir", None) or os.path.join(str(config.rootpath),
                                                                               DEFAULT_REPLAY_DIR)
    test_name = builder.__qualname__ if "<locals>" not in builder.__qualname__ else builder.__name__
    failed: str | None = None
    try:
        out = run_check(prog, s, name=pyfuncitem.name, replay_dir=replay_dir, test_file=str(pyfuncitem.path),
                        test_name=test_name)
    except ModelCheckFailed as e:
        failed = str(e)
    if failed is not None:
        pyfuncitem.user_properties += [("rmapwalk_model", s.model), ("rmapwalk_verdict", "failed")]
        pytest.fail(f"rmapwalk: {pyfuncitem.name}: model check failed under {s.model}\n{failed}", pytrace=False)
    r = out.result
    pyfuncitem.user_properties += [("rmapwalk_model", s.model), ("rmapwalk_verdict", r.verdict),
                                   ("rmapwalk_executions", r.stats.executions)]
    return True
