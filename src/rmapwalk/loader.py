"""Loading a model file: import a Python file by path and find the :class:`Program` it defines.

A model file defines one or more :class:`~rmapwalk.engine.Program` objects at module level, or a
zero-argument function named ``program`` that returns one.  Every problem is a :class:`LoadError`
whose text is one line, ``FILE:LINE: problem`` (``FILE: problem`` when no line is known).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import sys
import sysconfig
import traceback
import types
from dataclasses import dataclass
from typing import Any

from rmapwalk.engine.program import Program

_counter = itertools.count(1)

_PKG_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
#: frames under these folders are never the model's fault (rmapwalk itself, Python's library)
_NOT_USER = tuple(
    {_PKG_DIR}
    | {os.path.abspath(p) + os.sep for k in ("stdlib", "platstdlib", "purelib", "platlib")
       if (p := sysconfig.get_paths().get(k))}
)


def show_path(path: str) -> str:
    """``path`` as the user would like to read it: relative to the working directory when it is
    below it, absolute otherwise."""
    ap = os.path.abspath(path)
    try:
        rel = os.path.relpath(ap)
    except ValueError:  # pragma: no cover - another drive on Windows
        return ap
    return ap if rel.startswith(os.pardir) else rel


class LoadError(Exception):
    """A model file could not be loaded; ``str()`` is the one-line message ``FILE:LINE: problem``."""

    def __init__(self, file: str | None, problem: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.problem = problem
        super().__init__(format_location(file, line, problem))


def format_location(file: str | None, line: int | None, problem: str) -> str:
    """``FILE:LINE: problem`` on one line (parts that are unknown are left out)."""
    problem = " ".join(str(problem).split()) or "error"
    if file is None:
        return problem
    where = show_path(file)
    if line:
        where += f":{line}"
    return f"{where}: {problem}"


def exception_text(e: BaseException) -> str:
    """``Type: message`` for an exception, on one line."""
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def user_frame(tb: Any, prefer: str | None = None) -> tuple[str, int] | None:
    """The (file, line) of a traceback to blame: the deepest frame in ``prefer`` (the model file)
    if there is one, else the deepest frame outside rmapwalk and Python's own library."""
    frames = traceback.extract_tb(tb)
    if prefer is not None:
        pref = os.path.abspath(prefer)
        for fr in reversed(frames):
            if os.path.abspath(fr.filename) == pref:
                return fr.filename, fr.lineno or 0
    for fr in reversed(frames):
        fn = os.path.abspath(fr.filename)
        if not fn.startswith(_NOT_USER) and not fr.filename.startswith("<"):
            return fr.filename, fr.lineno or 0
    return None


@dataclass
class LoadedModel:
    """A program found in a model file."""

    program: Program
    #: absolute path of the model file
    path: str
    #: sha256 (hex) of the bytes that were imported
    sha256: str
    #: the module-level name it was found under (``program()`` for the factory function)
    symbol: str


def file_sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _module_name(path: str) -> str:
    stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0]) or "model"
    return f"_rmapwalk_model_{next(_counter)}_{stem}"


def import_file(path: str) -> tuple[types.ModuleType, str]:
    """Import the Python file ``path`` as a fresh module; returns it and the sha256 of its bytes."""
    ap = os.path.abspath(path)
    if not os.path.exists(ap):
        raise LoadError(path, "no such file")
    if os.path.isdir(ap):
        raise LoadError(path, "is a directory, not a model file")
    try:
        with open(ap, "rb") as f:
            source = f.read()
    except OSError as e:
        raise LoadError(path, f"cannot read: {e.strerror or e}") from None
    digest = hashlib.sha256(source).hexdigest()
    try:
        code = compile(source, ap, "exec", dont_inherit=True)
    except SyntaxError as e:
        raise LoadError(e.filename or ap, f"{type(e).__name__}: {e.msg}", e.lineno) from None
    except ValueError as e:  # e.g. null bytes in the source
        raise LoadError(ap, f"cannot compile: {e}") from None
    name = _module_name(ap)
    mod = types.ModuleType(name)
    mod.__file__ = ap
    sys.modules[name] = mod
    folder = os.path.dirname(ap)
    added = folder not in sys.path
    if added:  # let a model import helper modules next to it
        sys.path.insert(0, folder)
    try:
        exec(code, mod.__dict__)
    except SyntaxError as e:  # in a module the model imports
        sys.modules.pop(name, None)
        raise LoadError(e.filename or ap, f"{type(e).__name__}: {e.msg}", e.lineno) from None
    except (Exception, SystemExit) as e:
        sys.modules.pop(name, None)
        where = user_frame(e.__traceback__, prefer=ap)
        file, line = where if where is not None else (ap, None)
        raise LoadError(file, f"error while importing the model: {exception_text(e)}", line) from None
    finally:
        if added:
            try:
                sys.path.remove(folder)
            except ValueError:  # pragma: no cover - the model removed it itself
                pass
    return mod, digest


def find_programs(mod: types.ModuleType, path: str) -> list[tuple[str, Program]]:
    """The programs a model module defines, as (module-level name, program)."""
    found: list[tuple[str, Program]] = []
    seen: set[int] = set()
    for sym, val in list(vars(mod).items()):
        if isinstance(val, Program) and id(val) not in seen:
            seen.add(id(val))
            found.append((sym, val))
    factory = vars(mod).get("program")
    if callable(factory) and not isinstance(factory, Program):
        try:
            prog = factory()
        except (Exception, SystemExit) as e:
            where = user_frame(e.__traceback__, prefer=path)
            file, line = where if where is not None else (path, None)
            raise LoadError(file, f"program() raised {exception_text(e)}", line) from None
        if not isinstance(prog, Program):
            raise LoadError(path, f"program() returned {type(prog).__name__}, not a rmapwalk Program")
        if id(prog) not in seen:
            found.append(("program()", prog))
    return found


def _label(sym: str, prog: Program, dup_names: set[str]) -> str:
    return f"{sym} ({prog.name})" if prog.name in dup_names else prog.name


def select_program(found: list[tuple[str, Program]], path: str, name: str | None,
                   symbol: str | None = None) -> tuple[str, Program]:
    """Pick the program named ``name`` (a ``Program.name``, else a variable name), or the one
    bound to variable ``symbol`` when that exists and is called ``name``; with neither, the
    only one."""
    if symbol is not None:
        for s, p in found:
            if s == symbol and (name is None or p.name == name):
                return s, p
    if not found:
        raise LoadError(path, "no rmapwalk Program found (define one at module level, or a "
                              "function program() that returns one)")
    names = [p.name for _, p in found]
    dups = {n for n in names if names.count(n) > 1}
    listing = ", ".join(_label(s, p, dups) for s, p in found)
    if name is None:
        if len(found) == 1:
            return found[0]
        raise LoadError(path, f"{len(found)} programs defined ({listing}); choose one with --program NAME")
    matches = [(s, p) for s, p in found if p.name == name]
    if not matches:
        matches = [(s, p) for s, p in found if s == name or s == name + "()"]
    if not matches:
        raise LoadError(path, f"no program named {name!r} (found: {listing})")
    if len(matches) > 1:
        syms = ", ".join(s for s, _ in matches)
        raise LoadError(path, f"{len(matches)} programs are named {name!r} (variables {syms}); "
                              "choose one by its variable name")
    return matches[0]


def load_model(path: str, name: str | None = None, symbol: str | None = None) -> LoadedModel:
    """Import ``path`` and pick its program (see :func:`select_program`)."""
    mod, digest = import_file(path)
    ap = os.path.abspath(path)
    sym, prog = select_program(find_programs(mod, ap), ap, name, symbol)
    return LoadedModel(prog, ap, digest, sym)


def load_program(path: str, name: str | None = None) -> tuple[Program, str]:
    """Import ``path`` and return its program and the absolute path of the module."""
    m = load_model(path, name)
    return m.program, m.path
