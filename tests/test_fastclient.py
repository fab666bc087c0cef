"""The ``rmapwalk`` command that ``python -m rmapwalk.fastclient`` writes (the Python client, run by
``python -S``, and the native client compiled from ``client.c``): served or not, every command
prints byte for byte what pip's console script prints, with the same exit status; a served
command sends exactly the request :mod:`rmapwalk.launch` sends, fingerprint included, so an
edited source tree is never served by a server started before the edit.

Both clients are written into the test's own directory for this tree's package and this Python,
whatever ``make`` installed.  Servers are real (``rmapwalk serve``) or a socket in this process
that records each request and sends a canned reply; every wait is on a socket or a process, none
on time."""

from __future__ import annotations

import _socket
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import rmapwalk.launch
from rmapwalk import fastclient
from rmapwalk.launch import code_fingerprint, encode_request

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(rmapwalk.launch.__file__).resolve().parent
SHARED = ROOT.parent / "shared" / "lkmm"
CFG = SHARED / "model" / "linux-kernel.cfg"
KERNEL_TESTS = sorted((SHARED / "tests").glob("*.litmus"))[:4] if SHARED.is_dir() else []
SB = "C SB\n\n{}\n\nP0(int *x, int *y)\n{\n\tWRITE_ONCE(*x, 1);\n\tint r0 = READ_ONCE(*y);\n}\n\n" \
     "P1(int *x, int *y)\n{\n\tWRITE_ONCE(*y, 1);\n\tint r0 = READ_ONCE(*x);\n}\n\nexists (0:r0=0 /\\ 1:r0=0)\n"
BAD = "C bad\n\n{}\n\nP0(int *x)\n{\n\tWRITE_ONCE(*x, );\n}\n\nexists (x=1)\n"
CC = fastclient.compiler()
KINDS = ["python", pytest.param("native", marks=pytest.mark.skipif(CC is None, reason="no C compiler (cc)"))]
#: pip's console script for the same entry point (what the command was before the fast client)
PIP_SCRIPT = """#!{python}
import re
import sys
from rmapwalk.launch import main
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(main())
"""


def _write(directory: Path, kind: str, package: Path = PACKAGE) -> Path:
    command = directory / "bin" / "rmapwalk"
    command.parent.mkdir(parents=True)
    got = fastclient.write(str(command), python=sys.executable, package=str(package),
                           cc=CC if kind == "native" else None)
    assert got == kind
    return command


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The commands: pip's script, the Python client and (with a C compiler) the native one."""
    base = tmp_path_factory.mktemp("clients")
    pip = base / "pip" / "rmapwalk"
    pip.parent.mkdir()
    pip.write_text(PIP_SCRIPT.format(python=sys.executable))
    pip.chmod(0o755)
    out = {"pip": pip, "python": _write(base / "py", "python")}
    if CC is not None:
        out["native"] = _write(base / "c", "native")
    return out


def _env(server: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RMAPWALK_SERVER", "RMAPWALK_DEBUG")}
    if server is not None:
        env["RMAPWALK_SERVER"] = server
    env.update(extra)
    return env


def _run(command: Path, args: list[str], cwd: Path, server: str | None, **extra: str
         ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(command), *args], cwd=cwd, env=_env(server, **extra), capture_output=True,
                          check=False)


def _outcome(r: subprocess.CompletedProcess[bytes]) -> tuple[int, bytes, bytes]:
    return r.returncode, r.stdout, r.stderr


class Recorder:
    """A server socket in this process: records every request whole and answers each with
    ``reply``.  Listening before any client starts, so no client can find it absent."""

    def __init__(self, path: Path, reply: bytes) -> None:
        self.path, self.reply = str(path), reply
        self.requests: list[bytes] = []
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                fd, _ = self.sock._accept()
            except OSError:
                return  # closed
            conn = _socket.socket(fileno=fd)
            data = b""
            while chunk := conn.recv(1 << 16):
                data += chunk
            self.requests.append(data)
            conn.sendall(self.reply)
            conn.close()

    def close(self) -> None:
        self.sock.shutdown(_socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join()


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    r = Recorder(tmp_path / "rec.sock", b"ok 3 6 5\nout \xff\nerr\n\x00")
    yield r
    r.close()


def _fingerprint(package_parent: Path) -> str:
    """launch.code_fingerprint() as a process importing rmapwalk from ``package_parent`` sees it."""
    code = "from rmapwalk.launch import code_fingerprint; print(code_fingerprint(), end='')"
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.parametrize("kind", KINDS)
def test_a_served_command_sends_launchs_request_and_prints_the_reply(
        kind: str, clients: dict[str, Path], recorder: Recorder, tmp_path: Path) -> None:
    args = ["litmus", "--conf", "a b.cfg", "t\u00e9.litmus", ""]
    r = _run(clients[kind], args, tmp_path, recorder.path)
    assert _outcome(r) == (3, b"out \xff\n", b"err\n\x00")
    # one request, as the Python client builds it: served at once, not after a fallback
    assert recorder.requests == [encode_request(code_fingerprint(), str(tmp_path), args)]


@pytest.mark.parametrize("kind", KINDS)
def test_the_clients_fingerprint_follows_the_tree_and_the_path(kind: str, tmp_path: Path) -> None:
    """A copy of the package, on $PYTHONPATH or the one the client was written for: the client
    sends that copy's fingerprint, and a changed file changes it as it changes launch's."""
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "rmapwalk", ignore=shutil.ignore_patterns("__pycache__"))
    rec = Recorder(tmp_path / "rec.sock", b"ok 0 0 0\n")
    try:
        written_for_copy = _write(tmp_path / "a", kind, package=copy / "rmapwalk")
        on_path = _write(tmp_path / "b", kind)
        _run(written_for_copy, ["litmus", "x"], tmp_path, rec.path, PYTHONPATH="")
        _run(on_path, ["litmus", "x"], tmp_path, rec.path, PYTHONPATH=f"{tmp_path / 'nothing'}:{copy}")
        before = _fingerprint(copy)
        assert f"|{copy / 'rmapwalk'}|" in before
        edited = copy / "rmapwalk" / "litmus" / "runner.py"
        edited.write_text(edited.read_text() + "\n# edited\n")
        _run(written_for_copy, ["litmus", "x"], tmp_path, rec.path, PYTHONPATH="")
        after = _fingerprint(copy)
        assert after != before
        assert [q.split(b"\0")[0].decode() for q in rec.requests] == [before, before, after]
    finally:
        rec.close()


@pytest.mark.parametrize("kind", KINDS)
def test_unserved_commands_are_pips(kind: str, clients: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "sb.litmus").write_text(SB)
    (tmp_path / "bad.litmus").write_text(BAD)
    for server in (None, str(tmp_path / "no.sock")):
        for args in (["litmus", "--no-time", "sb.litmus"], ["litmus", "bad.litmus"], ["litmus", "--nosuch"],
                     ["--version"], ["scenarios"], []):
            want = _outcome(_run(clients["pip"], args, tmp_path, server))
            assert _outcome(_run(clients[kind], args, tmp_path, server)) == want, (args, server)
    usage = _run(clients[kind], ["litmus", "--nosuch"], tmp_path, None).stderr
    assert usage.startswith(b"Usage: rmapwalk litmus")  # (click's program name: the command's own)


@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_request_runs_the_command_here(kind: str, clients: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "sb.litmus").write_text(SB)
    rec = Recorder(tmp_path / "rec.sock", b"no a client of other code")
    try:
        args = ["litmus", "--no-time", "sb.litmus"]
        r = _run(clients[kind], args, tmp_path, rec.path, RMAPWALK_DEBUG="1")
        here = _run(clients["pip"], args, tmp_path, None)
        assert (r.returncode, r.stdout) == (here.returncode, here.stdout)
        assert r.stderr == f"rmapwalk: no answer from the server at {rec.path}; running here\n".encode() + here.stderr
        assert rec.requests  # (asked, refused)
    finally:
        rec.close()


@pytest.mark.skipif(not CFG.is_file(), reason=f"no LKMM model at {CFG}")
@pytest.mark.parametrize("kind", KINDS)
def test_served_output_is_pips(kind: str, clients: dict[str, Path], server: str, tmp_path: Path) -> None:
    (tmp_path / "bad.litmus").write_text(BAD)
    cases = [["litmus", "--no-time", *model, str(t)] for t in KERNEL_TESTS
             for model in (["--conf", str(CFG)], ["--model", "lkmm"])]
    cases += [["litmus", "bad.litmus"], ["litmus", "missing.litmus"], ["litmus", "--model", "nosuch", "x.litmus"]]
    for args in cases:
        here = _run(clients["pip"], args, tmp_path, None)
        served = _run(clients[kind], args, tmp_path, server, RMAPWALK_DEBUG="1")
        assert _outcome(served) == _outcome(here), args
    assert served.returncode == 2


def test_the_python_client_without_fast_main_starts_as_pip(tmp_path: Path) -> None:
    """A client written for a package older than fast_main (or moved away) is pip's script."""
    old = tmp_path / "src" / "rmapwalk"
    shutil.copytree(PACKAGE, old, ignore=shutil.ignore_patterns("__pycache__"))
    launch = old / "launch.py"
    launch.write_text(launch.read_text().replace("def fast_main(", "def _no_fast_main("))
    command = _write(tmp_path / "old", "python", package=old)
    r = _run(command, ["--version"], tmp_path, None, PYTHONPATH=str(tmp_path / "src"))
    assert (r.returncode, r.stdout, r.stderr) == (0, b"rmapwalk, version 0.1.0\n", b"")
    gone = _write(tmp_path / "gone", "python", package=tmp_path / "nowhere" / "rmapwalk")
    here = _run(gone, ["--version"], tmp_path, None, PYTHONPATH="")
    assert (here.returncode, here.stdout) == (0, b"rmapwalk, version 0.1.0\n")


def test_the_writer_reports_bad_use_in_one_line(tmp_path: Path) -> None:
    for args in ([], ["a", "b"], ["--python-only"], [str(tmp_path / "file" / "x")]):
        if args and args[0].endswith("x"):
            (tmp_path / "file").write_text("")
        r = subprocess.run([sys.executable, "-m", "rmapwalk.fastclient", *args], capture_output=True, text=True,
                           check=False)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, (args, r.stderr)


def test_a_compiler_that_fails_leaves_the_python_client(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    command = tmp_path / "bin" / "rmapwalk"
    assert fastclient.write(str(command), python=sys.executable, package=str(PACKAGE), cc="/bin/false") == "python"
    assert command.read_text().startswith(f"#!{sys.executable} -S\n")
    r = _run(command, ["--version"], tmp_path, None)
    assert (r.returncode, r.stdout) == (0, b"rmapwalk, version 0.1.0\n")


def test_long_interpreter_paths_get_a_sh_trampoline() -> None:
    assert fastclient.shebang("/usr/bin/python3") == "#!/usr/bin/python3 -S"
    long = "/" + "x" * 200 + "/py thon"
    head = fastclient.shebang(long)
    assert head.startswith("#!/bin/sh\n") and f"'{long}' -S" in head
