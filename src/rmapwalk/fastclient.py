"""Write the ``rmapwalk`` command as a client that starts fast when ``rmapwalk serve`` answers.

pip's console script starts Python the ordinary way: ``site`` processes the environment's
``.pth`` files (the editable install's path, setuptools' ``_distutils_hack``) and imports ``os``
before the script's first line, a third of the start of a process that a running ``rmapwalk
serve`` then answers in a few milliseconds; and Python's start itself (7-8 ms here) is as long
as herd7's whole start.  So ``make`` runs ``python -m rmapwalk.fastclient BIN/rmapwalk`` after pip
(pip cannot do it: its installer drops a shebang's arguments), and this module writes over pip's
script, per :func:`write`:

* the **Python client** (:data:`TEMPLATE`), a script run by ``python -S``: a ``rmapwalk litmus``
  that ``$RMAPWALK_SERVER`` answers loads only ``rmapwalk/launch.py`` (by path, without the
  ``rmapwalk`` package) and calls :func:`rmapwalk.launch.fast_main`; anything else runs
  ``site.main()``, which sets ``sys.path`` up as a normal start does, then the command as pip's
  script runs it;
* and, where a C compiler is found, the **native client** (``client.c``) as the command itself: it
  sends the same request as the Python client would and prints the answer, and in every other
  case execs the Python client (kept under ``BIN/../libexec/rmapwalk/``) with its arguments.

Guarantees: every command prints what pip's script prints, with its exit status.  The
``launch.py`` both clients use is the one an import of ``rmapwalk.launch`` would find: the first
``rmapwalk`` package on ``sys.path`` as Python sets it up before ``site`` (the script's directory,
``$PYTHONPATH``, the standard library: these come first in a normal start too), else the package
the client was written for (where ``site`` found it when it was written).  A package that has
moved, or is too old to have ``fast_main``, gets the ordinary start.

A Python started with ``-S`` keeps ``sys.flags.no_site`` set after ``site.main()``; the only
effect is that ``multiprocessing``'s spawned workers start with ``-S`` too, and they take their
``sys.path`` from the parent, so they import the same modules.  Running pip again (``pip install
-e .``) writes pip's script back, which is correct, only slower; ``make`` writes the client again.
"""

from __future__ import annotations

import errno
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable

#: the Python client; ``{shebang}`` starts ``python -S``, ``{package}`` is the package it was written for
TEMPLATE = '''{shebang}
# The rmapwalk command, written by `python -m rmapwalk.fastclient` (make does it after pip): Python
# starts without `site`, and a `rmapwalk litmus` that $RMAPWALK_SERVER answers loads only
# rmapwalk/launch.py; anything else runs site.main() first and then the command as pip's script does.
import sys

PACKAGE = {package!r}


def _site():
    import site

    site.main()


def _launch():
    # the first rmapwalk package on the path as it is before site (which site only appends to)
    from posix import stat

    for entry in sys.path:
        try:
            stat(f"{{entry or '.'}}/rmapwalk/__init__.py")
        except (OSError, ValueError):
            continue
        return f"{{entry or '.'}}/rmapwalk/launch.py"
    return PACKAGE + "/launch.py"


def _main():
    sys.argv[0] = sys.argv[0].removesuffix(".exe")
    try:
        from _frozen_importlib import module_from_spec
        from _frozen_importlib_external import spec_from_file_location

        spec = spec_from_file_location("rmapwalk.launch", _launch())
        launch = module_from_spec(spec)
        spec.loader.exec_module(launch)
        fast_main = launch.fast_main
    except Exception:  # (whatever it is, the ordinary start below meets it too, or runs)
        fast_main = None
    if fast_main is None:  # moved, or older than fast_main: as pip's script
        _site()
        from rmapwalk.launch import main

        sys.exit(main())
    fast_main(_site)


if __name__ == "__main__":
    _main()
'''

#: the longest ``#!`` line every Linux reads whole (kernels before 5.1 cut it at 127 bytes)
SHEBANG_MAX = 127
#: the native client's source, next to this module
C_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "client.c")


def shebang(python: str) -> str:
    """The first line(s) of a script run by ``python -S``: ``#!PYTHON -S`` where the kernel reads
    that whole, else (a long path, or one with spaces) a ``/bin/sh`` line that execs it, as pip
    writes such scripts."""
    line = f"#!{python} -S"
    if len(line.encode()) <= SHEBANG_MAX and " " not in python and "\t" not in python:
        return line
    quoted = python.replace("'", "'\"'\"'")
    return f"#!/bin/sh\n'''exec' '{quoted}' -S \"$0\" \"$@\"\n' '''"


def script(python: str, package: str) -> str:
    """The text of the Python client for interpreter ``python`` and the ``rmapwalk`` package
    directory ``package``."""
    return TEMPLATE.format(shebang=shebang(python), package=package)


def _c_string(s: str) -> str:
    """``s`` as a C string literal (its UTF-8 bytes; octal escapes for all but plain ASCII, so
    no trigraph, quote or backslash survives)."""
    out = []
    for b in s.encode("utf-8", "surrogateescape"):
        c = chr(b)
        out.append(c if (c.isalnum() or c in " /._-|:+,()[]") and b < 128 else f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def config_header(python: str, script_path: str, package: str) -> str:
    """The native client's ``RW_*`` constants (see ``client.c``), asked of ``python`` itself:
    what ``python -S`` puts on ``sys.path`` after ``$PYTHONPATH``, and the fingerprint's start."""
    probe = "import json, sys; print(json.dumps([sys.executable + '|' + sys.version + '|', sys.path[1:]]))"
    out = subprocess.run([python, "-S", "-E", "-c", probe], capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")})
    head, tail = json.loads(out.stdout)
    lines = [
        f"#define RW_PYTHON {_c_string(python)}",
        f"#define RW_SCRIPT {_c_string(script_path)}",
        f"#define RW_HEAD {_c_string(head)}",
        f"#define RW_PACKAGE {_c_string(package)}",
        f"#define RW_SCRIPT_DIR {_c_string(os.path.dirname(os.path.realpath(script_path)))}",
        "#define RW_PATH_TAIL { " + "".join(f"{_c_string(e)}, " for e in tail) + "NULL }",
    ]
    return "/* written by rmapwalk.fastclient */\n" + "\n".join(lines) + "\n"


def _replace(path: str, write: Callable[[str], object]) -> None:
    """Create ``path`` through a temporary file in its directory (which must exist), renamed over
    it (a process starting meanwhile runs the old file or the new one, whole); ``write(tmp)``
    fills it."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".rmapwalk-")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _write_text(text: str) -> Callable[[str], None]:
    def fill(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    return fill


def compiler() -> str | None:
    """The C compiler to build the native client with: ``$CC`` (empty: none), else ``cc``."""
    cc = os.environ.get("CC", "cc")
    return shutil.which(cc) if cc else None


def write(path: str, python: str | None = None, package: str | None = None, cc: str | None = None) -> str:
    """Write the ``rmapwalk`` command at ``path`` for interpreter ``python`` (default: this one)
    and the package directory ``package`` (default: this module's): the native client if ``cc``
    compiles it, with the Python client at ``libexec/rmapwalk/rmapwalk`` beside ``path``'s
    directory, else the Python client itself.  Byte-compiles ``launch.py`` too, so that no client
    compiles it (Python does not cache what it loads under ``$PYTHONDONTWRITEBYTECODE``).  Returns
    "native" or "python"; raises OSError if ``path`` cannot be written."""
    # absolute, as the clients compare them with launch.py's own (not resolved: a venv's python
    # is a link that must stay one, and an editable install's path is the one site finds)
    python = os.path.abspath(python or sys.executable)
    package = os.path.abspath(package or os.path.dirname(os.path.abspath(__file__)))
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):  # (checked first: nothing is written then)
        raise FileNotFoundError(errno.ENOENT, "no such directory", directory)
    try:
        py_compile.compile(os.path.join(package, "launch.py"), doraise=True)
    except (OSError, py_compile.PyCompileError):
        pass  # (a read-only install: launch.py is compiled in each process)
    text = script(python, package)
    if cc is not None:
        libexec = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(path))), "libexec", "rmapwalk")
        script_path = os.path.join(libexec, "rmapwalk")
        with tempfile.TemporaryDirectory(prefix="rmapwalk-cc-") as tmp:
            header = os.path.join(tmp, "config.h")
            binary = os.path.join(tmp, "rmapwalk")
            try:
                with open(header, "w", encoding="utf-8") as f:
                    f.write(config_header(python, script_path, package))
                built = subprocess.run([cc, "-O2", "-Wall", "-o", binary, f'-DRMAPWALK_CLIENT_CONFIG="{header}"',
                                        C_SOURCE], capture_output=True, text=True, check=False)
            except (OSError, subprocess.CalledProcessError, ValueError):
                built = None
            if built is not None and built.returncode == 0:
                os.makedirs(libexec, exist_ok=True)
                _replace(script_path, _write_text(text))
                _replace(path, lambda t: shutil.copyfile(binary, t))
                return "native"
            print(f"rmapwalk.fastclient: {cc} did not build the native client; the command is the Python client"
                  + (f":\n{built.stderr.strip()}" if built is not None and built.stderr.strip() else ""),
                  file=sys.stderr)
    _replace(path, _write_text(text))
    return "python"


def main(argv: list[str] | None = None) -> int:
    """``python -m rmapwalk.fastclient [--python-only] PATH``: write the command at PATH (see
    :func:`write`; the C compiler is ``$CC`` or ``cc``); 2 with a one-line error if it cannot."""
    args = sys.argv[1:] if argv is None else argv
    python_only = "--python-only" in args
    paths = [a for a in args if a != "--python-only"]
    if len(paths) != 1 or paths[0].startswith("-"):
        print("usage: python -m rmapwalk.fastclient [--python-only] PATH   (writes the rmapwalk command at PATH)",
              file=sys.stderr)
        return 2
    try:
        write(paths[0], cc=None if python_only else compiler())
    except OSError as e:
        where = e.filename if e.filename and not os.path.basename(e.filename).startswith(".rmapwalk-") else None
        print(f"rmapwalk.fastclient: cannot write {paths[0]}: {where + ': ' if where else ''}{e.strerror}",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
