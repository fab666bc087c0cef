"""``rmapwalk serve`` and the client in ``rmapwalk.launch``: a served ``rmapwalk litmus`` prints
byte for byte what the command prints on its own, with the same exit status, and a client
that cannot be served runs the command itself."""

from __future__ import annotations

import _socket
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rmapwalk.launch import code_fingerprint, decode_request, encode_reply, encode_request

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "lkmm"
CFG = SHARED / "model" / "linux-kernel.cfg"
KERNEL_TESTS = sorted((SHARED / "tests").glob("*.litmus"))[:6] if SHARED.is_dir() else []
SC_CAT = ROOT / "tests" / "litmus" / "models" / "sc.cat"
TSO_CAT = ROOT / "tests" / "litmus" / "models" / "tso.cat"
SB = """C SB

{}

P0(int *x, int *y)
{
\tWRITE_ONCE(*x, 1);
\tint r0 = READ_ONCE(*y);
}

P1(int *x, int *y)
{
\tWRITE_ONCE(*y, 1);
\tint r0 = READ_ONCE(*x);
}

exists (0:r0=0 /\\ 1:r0=0)
"""
#: the installed console script (its entry point is rmapwalk.launch:main)
SCRIPT = Path(sys.executable).parent / "rmapwalk"
CLIENT = [str(SCRIPT)]
pytestmark = pytest.mark.skipif(not SCRIPT.is_file(), reason=f"no installed rmapwalk script at {SCRIPT}")


def test_requests_and_replies_round_trip() -> None:
    argv = ["litmus", "--conf", "a b.cfg", "t\udcff.litmus", ""]
    assert decode_request(encode_request("fp", "/d", argv)) == ("fp", "/d", argv)
    with pytest.raises(ValueError):
        decode_request(b"fp\0only")
    assert encode_reply(1, "é", "x").startswith(b"ok 1 2 1\n")


def _run(args: list[str], cwd: Path, server: str | None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "RMAPWALK_SERVER"}
    if server is not None:
        env["RMAPWALK_SERVER"] = server
    return subprocess.run([*CLIENT, *args], cwd=cwd, env=env, capture_output=True, check=False)


def _same(args: list[str], cwd: Path, server: str) -> subprocess.CompletedProcess[bytes]:
    here = _run(args, cwd, None)
    served = _run(args, cwd, server)
    assert (served.returncode, served.stdout, served.stderr) == (here.returncode, here.stdout, here.stderr)
    return served


def _raw(sock: str, request: bytes) -> bytes:
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(sock)
        s.sendall(request)
        s.shutdown(_socket.SHUT_WR)
        out = b""
        while data := s.recv(4096):
            out += data
        return out
    finally:
        s.close()


@pytest.mark.skipif(not CFG.is_file(), reason=f"no LKMM model at {CFG}")
def test_served_output_is_the_commands_own(server: str, tmp_path: Path) -> None:
    for t in KERNEL_TESTS:
        for model in (["--conf", str(CFG)], ["--model", "lkmm"]):
            r = _same(["litmus", "--no-time", *model, str(t)], tmp_path, server)
            assert r.returncode == 0 and b"Observation" in r.stdout
            assert _raw(server, encode_request(code_fingerprint(), str(tmp_path),
                                               ["litmus", "--no-time", *model, str(t)])).startswith(b"ok 0 ")
    # paths relative to the client's directory, and --json
    (tmp_path / "sb.litmus").write_text(SB)
    args = ["litmus", "--json", "--conf", str(CFG), "sb.litmus"]
    here, served = _run(args, tmp_path, None), _run(args, tmp_path, server)
    records = [json.loads(r.stdout) for r in (here, served)]
    for rec in records:
        del rec["seconds"]  # the one field that differs from run to run
    assert records[0] == records[1] and records[0]["verdict"] == "Sometimes"
    assert here.returncode == served.returncode == 0


def test_bad_input_gives_the_same_error_and_status(server: str, tmp_path: Path) -> None:
    (tmp_path / "bad.litmus").write_text("C bad\n\n{}\n\nP0(int *x)\n{\n\tWRITE_ONCE(*x, );\n}\n\nexists (x=1)\n")
    r = _same(["litmus", "bad.litmus"], tmp_path, server)
    assert r.returncode == 2 and r.stderr.startswith(b"rmapwalk: ") and b"Traceback" not in r.stderr
    r = _same(["litmus", "missing.litmus"], tmp_path, server)
    assert r.returncode == 2
    r = _same(["litmus", "--model", "nosuch", "x.litmus"], tmp_path, server)
    assert r.returncode == 2


def test_an_edited_model_is_reloaded(server: str, tmp_path: Path) -> None:
    (tmp_path / "sb.litmus").write_text(SB)
    shutil.copy(SC_CAT, tmp_path / "m.cat")
    first = _same(["litmus", "--no-time", "--cat", "m.cat", "sb.litmus"], tmp_path, server)
    assert b"Observation SB Never" in first.stdout
    time.sleep(0.01)  # a later modification time, on file systems with coarse stamps
    shutil.copy(TSO_CAT, tmp_path / "m.cat")
    os.utime(tmp_path / "m.cat", ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    second = _same(["litmus", "--no-time", "--cat", "m.cat", "sb.litmus"], tmp_path, server)
    assert b"Observation SB Sometimes" in second.stdout


def test_the_server_refuses_what_it_must_not_run(server: str, tmp_path: Path) -> None:
    assert _raw(server, encode_request("other code", str(tmp_path), ["litmus", "x"])).startswith(b"no ")
    assert _raw(server, encode_request(code_fingerprint(), str(tmp_path), ["run", "x.py"])).startswith(b"no ")
    assert _raw(server, b"garbage").startswith(b"no ")


def test_without_a_server_the_command_runs_here(tmp_path: Path) -> None:
    (tmp_path / "sb.litmus").write_text(SB)
    here = _run(["litmus", "--no-time", "sb.litmus"], tmp_path, None)
    away = _run(["litmus", "--no-time", "sb.litmus"], tmp_path, str(tmp_path / "no.sock"))
    assert here.returncode == away.returncode == 0
    assert here.stdout == away.stdout and b"Observation SB Never" in here.stdout  # SC by default


def _wait_for(cond: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    """Poll ``cond`` until it holds (an event the test waits for, not a time it assumes); fail
    after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _answers(sock: Path) -> bool:
    try:
        _raw(str(sock), b"garbage")
        return True
    except OSError:
        return False


def test_auto_starts_a_server_that_serves_the_next_processes_and_exits_when_idle(tmp_path: Path) -> None:
    (tmp_path / "sb.litmus").write_text(SB)
    runtime = tmp_path / "run"
    runtime.mkdir()
    sock = runtime / f"rmapwalk-{os.getuid()}" / "server.sock"
    env = {k: v for k, v in os.environ.items() if k not in ("RMAPWALK_SERVER", "RMAPWALK_DEBUG")}
    env.update(XDG_RUNTIME_DIR=str(runtime), RMAPWALK_SERVER="auto", RMAPWALK_SERVER_IDLE="3", RMAPWALK_DEBUG="1")
    args = [*CLIENT, "litmus", "--no-time", "sb.litmus"]
    here = _run(args[1:], tmp_path, None)
    first = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, check=False)
    assert (first.returncode, first.stdout) == (here.returncode, here.stdout)
    assert b"running here" in first.stderr  # nobody listened yet: it ran its command itself
    _wait_for(lambda: _answers(sock), "the server the first client started")
    second = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, check=False)
    assert (second.returncode, second.stdout, second.stderr) == (here.returncode, here.stdout, here.stderr)
    # idle for RMAPWALK_SERVER_IDLE seconds: it exits and removes its socket
    _wait_for(lambda: not sock.exists(), "the idle server to exit")


def test_an_auto_server_exits_when_code_it_does_not_run_asks(tmp_path: Path) -> None:
    sock = tmp_path / "s.sock"
    proc = subprocess.Popen([sys.executable, "-m", "rmapwalk.cli", "serve", "--auto", "--socket", str(sock)])
    try:
        _wait_for(lambda: _answers(sock), "the server to listen")
        assert _raw(str(sock), encode_request("other code", str(tmp_path), ["litmus", "x"])).startswith(b"no ")
        assert proc.wait(timeout=60) == 0
        assert not sock.exists()
    finally:
        proc.kill()
        proc.wait()
