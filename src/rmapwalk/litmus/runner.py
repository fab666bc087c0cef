"""Run litmus files: parse, expand the kernel primitives, check under a model, collect results.

A model is either one of the engine's own (``sc``, ``tso``, ``pso``, ``weak``:
the test becomes an engine program and is explored exhaustively) or a cat model
given by a herd configuration file (``--conf linux-kernel.cfg``) or a lone
``.cat`` file, run by candidate-execution enumeration.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from rmapwalk.cat import CatError
from rmapwalk.litmus.ast import LitmusTest
from rmapwalk.litmus.candidates import LitmusResult, run_cat
from rmapwalk.litmus.macros import BUILTIN, MacroTable, expand, parse_def
from rmapwalk.litmus.parser import LitmusError, parse_file
from rmapwalk.litmus.threads import LitmusSemanticsError

if TYPE_CHECKING:
    from rmapwalk.cat import CatModel

ENGINE_MODELS = ("sc", "tso", "pso", "weak", "lkmm", "lkmm-alpha")
#: ``rmapwalk.engine.explore.LB_SEARCHES``, not imported here for the same reason (a test keeps
#: the two equal)
LB_SEARCHES = ("optimal", "complete")


class LitmusInputError(Exception):
    """Bad input for one test; ``str`` is the one-line ``FILE:LINE:COL: message``."""


@dataclass(frozen=True)
class ModelSpec:
    """Which model to run: an engine model name, or a cat model from a cfg or .cat path."""

    engine: str | None = None
    conf: str | None = None
    cat: str | None = None
    #: how an engine model with load buffering searches (``Options.lb_search``): herd's counts
    #: are exact, so completely by default
    lb_search: str = "complete"

    @property
    def name(self) -> str:
        if self.engine:
            return self.engine
        return Path(self.conf or self.cat or "").name


def _cat_setup(conf: str | None, cat: str | None) -> tuple[CatModel, MacroTable]:
    """The cat model and macro table of a ``--conf``/``--cat`` file, loaded once per process for
    as long as the files of its directory (the cfg, the cat and bell files it names, the .def
    table) are unchanged: a long-lived process (``rmapwalk serve``) sees a model edited on disk."""
    main = Path(conf if conf is not None else cat or "").resolve()
    try:
        with os.scandir(main.parent) as it:
            stamp = tuple(sorted((e.name, st.st_mtime_ns, st.st_size) for e in it if e.is_file()
                                 for st in (e.stat(),)))
    except OSError:
        stamp = ()
    return _cat_setup_at(conf, cat, (str(main), stamp))


@lru_cache(maxsize=8)
def _cat_setup_at(conf: str | None, cat: str | None, _key: tuple[object, ...]) -> tuple[CatModel, MacroTable]:
    from rmapwalk.cat import load_config, load_model

    if conf is not None:
        cfg = load_config(conf)
        macros = parse_def(str(cfg.macros)) if cfg.macros is not None else BUILTIN
        return cfg.model, macros
    assert cat is not None
    return load_model(cat), BUILTIN


def model_setup_error(spec: ModelSpec) -> str | None:
    """Load the model once up front; the one-line error if it does not load."""
    if spec.engine:
        return None
    try:
        _cat_setup(spec.conf, spec.cat)
    except (CatError, LitmusError) as e:
        return str(e)
    except OSError as e:
        return f"{e.filename}: {e.strerror}"
    return None


def load_test(path: str, spec: ModelSpec) -> LitmusTest:
    macros = _cat_setup(spec.conf, spec.cat)[1] if not spec.engine else BUILTIN
    try:
        return expand(parse_file(path), macros)
    except LitmusError as e:
        raise LitmusInputError(str(e)) from e
    except OSError as e:
        raise LitmusInputError(f"{path}: {e.strerror}") from e


def run_test(path: str, spec: ModelSpec, *, speedcheck: str = "false") -> LitmusResult:
    """Run one test; ``speedcheck`` as herd7's (see :func:`rmapwalk.litmus.candidates.run_cat`)."""
    test = load_test(path, spec)
    try:
        if spec.engine:
            from rmapwalk.litmus.engine_bridge import run_engine_result

            return run_engine_result(test, spec.engine, speedcheck=speedcheck, lb_search=spec.lb_search)
        model, _ = _cat_setup(spec.conf, spec.cat)
        return run_cat(test, model, spec.name, speedcheck=speedcheck)
    except LitmusSemanticsError as e:
        raise LitmusInputError(str(e) if e.pos is not None else f"{path}: {e}") from e
    except CatError as e:  # the model fails on this test (an unbound name, a type error)
        raise LitmusInputError(f"{path}: model error: {e}") from e


def litmus_files(args: Iterable[str]) -> Iterator[str]:
    """The files named, with directories expanded to their ``*.litmus`` files (sorted, recursive)."""
    for a in args:
        if os.path.isdir(a):
            for root, _dirs, files in sorted(os.walk(a)):
                for f in sorted(files):
                    if f.endswith(".litmus"):
                        yield os.path.join(root, f)
        else:
            yield a
