"""The ``rmapwalk`` executable: hand ``rmapwalk litmus`` to a running ``rmapwalk serve``, or run
the command here.

The kernel's scripts start one process per litmus test, as they do herd7, so start-up is paid
per test: importing the front end and loading the model costs several times what exploring a
small test does.  When ``$RMAPWALK_SERVER`` names the socket of a running ``rmapwalk serve``
(which has everything imported and each model loaded once), ``rmapwalk litmus ...`` sends its
arguments and directory there and prints what comes back, byte for byte what it would have
printed itself, with the same exit status.  This module imports nothing of rmapwalk and no
third-party package on that path, so such a process costs little more than Python's own start.

The protocol is bytes, no serialiser to import: the request is the fingerprint, the directory
and the arguments, each followed by a NUL (no argument can hold one); the reply is ``ok STATUS
NOUT NERR`` and a newline, then the NOUT bytes of stdout and the NERR bytes of stderr (UTF-8), or
``no REASON``.

Whenever the server cannot answer -- no such socket, not listening, a server started from
other code (its :func:`code_fingerprint` differs), or any protocol error -- the command runs here
as if ``$RMAPWALK_SERVER`` were unset.  Other commands always run here.
"""

from __future__ import annotations

# ``_socket``, not ``socket``: the wrapper module's imports (enum, selectors) cost more than the
# rest of this process, and the client needs only connect, send and receive.
import _socket
import os
import sys

ENV = "RMAPWALK_SERVER"
#: the commands a server runs (one test after another, output captured whole)
SERVED = ("litmus",)


def code_fingerprint() -> str:
    """What identifies the code a process runs: the Python, where rmapwalk lives, and the newest
    modification time and total size of its source files (an edited model checker is not
    served by a server started before the edit)."""
    root = os.path.dirname(os.path.abspath(__file__))
    newest = total = count = 0
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        stack.append(entry.path)
                elif entry.name.endswith(".py"):
                    st = entry.stat()
                    newest = max(newest, st.st_mtime_ns)
                    total += st.st_size
                    count += 1
    return f"{sys.executable}|{sys.version}|{root}|{count}|{total}|{newest}"


def encode_request(fingerprint: str, cwd: str, argv: list[str]) -> bytes:
    return b"".join(x.encode("utf-8", "surrogateescape") + b"\0" for x in (fingerprint, cwd, *argv))


def decode_request(data: bytes) -> tuple[str, str, list[str]]:
    """(fingerprint, directory, arguments); ValueError if it is not a request."""
    parts = [p.decode("utf-8", "surrogateescape") for p in data.split(b"\0")]
    if len(parts) < 3 or parts[-1] != "":
        raise ValueError("not a request")
    return parts[0], parts[1], parts[2:-1]


def encode_reply(status: int, out: str, err: str) -> bytes:
    o, e = out.encode("utf-8", "surrogateescape"), err.encode("utf-8", "surrogateescape")
    return f"ok {status} {len(o)} {len(e)}\n".encode() + o + e


def forward(path: str, argv: list[str]) -> tuple[int, bytes, bytes] | None:
    """Run ``rmapwalk ARGV`` in the server at ``path``: (exit status, stdout, stderr), or None
    if it cannot (the caller then runs the command itself)."""
    request = encode_request(code_fingerprint(), os.getcwd(), argv)
    try:
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            s.connect(path)
            s.sendall(request)
            s.shutdown(_socket.SHUT_WR)
            chunks = []
            while True:
                data = s.recv(1 << 16)
                if not data:
                    break
                chunks.append(data)
        finally:
            s.close()
        reply = b"".join(chunks)
        head, _, body = reply.partition(b"\n")
        word, status, n_out, n_err = head.split(b" ")
        if word != b"ok" or len(body) != int(n_out) + int(n_err):
            return None
        return int(status), body[: int(n_out)], body[int(n_out):]
    except (OSError, ValueError):
        return None


def main() -> None:
    """The console entry point."""
    argv = sys.argv[1:]
    server = os.environ.get(ENV)
    if server and argv and argv[0] in SERVED:
        answer = forward(server, argv)
        if answer is not None:
            status, out, err = answer
            sys.stdout.buffer.write(out)
            sys.stdout.flush()
            sys.stderr.buffer.write(err)
            sys.stderr.flush()
            raise SystemExit(status)
        if os.environ.get("RMAPWALK_DEBUG"):
            sys.stderr.write(f"rmapwalk: no answer from the server at {server}; running here\n")
    from rmapwalk.cli import main as cli

    cli()


__all__ = ["ENV", "SERVED", "code_fingerprint", "decode_request", "encode_reply", "encode_request", "forward", "main"]
