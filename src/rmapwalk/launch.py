"""The ``rmapwalk`` executable: hand ``rmapwalk litmus`` to a running ``rmapwalk serve``, or run
the command here.

The kernel's scripts start one process per litmus test, as they do herd7, so start-up is paid
per test: importing the front end and loading the model costs several times what exploring a
small test does.  When ``$RMAPWALK_SERVER`` names the socket of a running ``rmapwalk serve``
(which has everything imported and each model loaded once), ``rmapwalk litmus ...`` sends its
arguments and directory there and prints what comes back, byte for byte what it would have
printed itself, with the same exit status.  This module imports nothing of rmapwalk, no
third-party package and not even ``os`` on that path (only ``sys``, ``posix`` and ``_socket``,
which a Python started without ``site`` has loaded or loads in microseconds), so such a process
costs little more than Python's own start; :mod:`rmapwalk.fastclient` writes the ``rmapwalk``
script that starts Python without ``site`` and calls :func:`fast_main`.

The protocol is bytes, no serialiser to import: the request is the fingerprint, the directory
and the arguments, each followed by a NUL (no argument can hold one); the reply is ``ok STATUS
NOUT NERR`` and a newline, then the NOUT bytes of stdout and the NERR bytes of stderr (UTF-8), or
``no REASON``.

Whenever the server cannot answer -- no such socket, not listening, a server started from
other code (its :func:`code_fingerprint` differs), or any protocol error -- the command runs here
as if ``$RMAPWALK_SERVER`` were unset.  Other commands always run here.

``RMAPWALK_SERVER=auto`` needs no server started by hand: the socket is :func:`default_socket`,
and a process that finds no server there starts one (``rmapwalk serve --auto``, detached) and
runs its own command here; the processes after it are served.  Such a server exits after
``$RMAPWALK_SERVER_IDLE`` seconds without a request (default 900), or at once when a client of
other code asks (the sources changed: the next client starts a server of the new code).
"""

# ``_socket``, not ``socket``: the wrapper module's imports (enum, selectors) cost more than the
# rest of this process, and the client needs only connect, send and receive.  ``posix``, not
# ``os``: ``os`` (with ``posixpath``, ``stat`` and ``_collections_abc``) costs a millisecond and
# a half in a process started without ``site``, and everything used here is ``posix``'s own.
import _socket
import posix
import sys

TYPE_CHECKING = False  # (``typing`` is not imported either: mypy reads the block below)
if TYPE_CHECKING:
    from collections.abc import Callable

ENV = "RMAPWALK_SERVER"
#: the commands a server runs (one test after another, output captured whole)
SERVED = ("litmus",)
#: ``$RMAPWALK_SERVER`` value asking for a server at the default socket, started when needed
AUTO = "auto"
#: seconds an automatically started server waits for a request before it exits
IDLE_ENV = "RMAPWALK_SERVER_IDLE"
IDLE_DEFAULT = 900


def _getenv(name: str) -> str | None:
    """``os.environ.get(name)``, without importing ``os``: once ``os`` is loaded its
    ``environ`` is asked (it reflects changes made through it); before, the process's
    environment as it started, decoded as ``os.environ`` decodes it."""
    os_module = sys.modules.get("os")
    if os_module is not None:
        value: str | None = os_module.environ.get(name)
        return value
    raw = posix.environ.get(name.encode())
    return None if raw is None else raw.decode(sys.getfilesystemencoding(), "surrogateescape")


def default_socket() -> str:
    """The socket of ``rmapwalk serve`` when none is named: in a directory of this user's own
    under ``$XDG_RUNTIME_DIR``, else under ``$TMPDIR`` or ``/tmp``."""
    base = _getenv("XDG_RUNTIME_DIR") or _getenv("TMPDIR") or "/tmp"
    # os.path.join(base, ...) for these relative parts
    return f"{base}{'' if base.endswith('/') else '/'}rmapwalk-{posix.getuid()}/server.sock"


def start_server(path: str) -> None:
    """Start ``rmapwalk serve --auto`` at ``path`` in its own session, detached from this
    process's terminal and output, without waiting for it."""
    idle = _getenv(IDLE_ENV) or str(IDLE_DEFAULT)
    os_module = sys.modules.get("os")
    env = os_module.environ if os_module is not None else posix.environ
    try:
        posix.posix_spawn(sys.executable,
                          [sys.executable, "-m", "rmapwalk.cli", "serve", "--auto", "--idle-exit", idle,
                           "--socket", path],
                          env,
                          file_actions=[(posix.POSIX_SPAWN_OPEN, 0, "/dev/null", posix.O_RDONLY, 0),
                                        (posix.POSIX_SPAWN_OPEN, 1, "/dev/null", posix.O_WRONLY, 0),
                                        (posix.POSIX_SPAWN_OPEN, 2, "/dev/null", posix.O_WRONLY, 0)],
                          setsid=True)
    except OSError:
        pass  # (the command still runs here; so will the next one)


def code_fingerprint() -> str:
    """What identifies the code a process runs: the Python, where rmapwalk lives, and the newest
    modification time and total size of its source files (an edited model checker is not
    served by a server started before the edit).  Client and server compute it alike wherever
    this file was loaded from; a path spelled differently only makes them differ (the command
    then runs in the client), never makes different code look alike."""
    here = __file__ if __file__.startswith("/") else f"{posix.getcwd()}/{__file__}"
    root = here.rpartition("/")[0]
    newest = total = count = 0
    stack = [root]
    while stack:
        with posix.scandir(stack.pop()) as it:
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
    try:
        request = encode_request(code_fingerprint(), posix.getcwd(), argv)
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


def listening(path: str) -> bool:
    """Does a server accept connections at ``path``?  (One that refused a request is there: it
    exits by itself if it is of other code.)"""
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def served(argv: list[str]) -> int | None:
    """If ``$RMAPWALK_SERVER`` answers ``rmapwalk ARGV``: its output written to this process's
    stdout and stderr, and its exit status returned.  None when the command is to run here
    (nothing written then, except the note ``$RMAPWALK_DEBUG`` asks for); with
    ``RMAPWALK_SERVER=auto``, a server is started first if none listens."""
    server = _getenv(ENV)
    if not (server and argv and argv[0] in SERVED):
        return None
    auto = server == AUTO
    if auto:
        server = default_socket()
    answer = forward(server, argv)
    if answer is None:
        if auto and not listening(server):
            start_server(server)
        if _getenv("RMAPWALK_DEBUG"):
            sys.stderr.write(f"rmapwalk: no answer from the server at {server}; running here\n")
        return None
    status, out, err = answer
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    sys.stderr.buffer.write(err)
    sys.stderr.flush()
    return status


def fast_main(setup: "Callable[[], object]") -> None:
    """The entry point of the script :mod:`rmapwalk.fastclient` writes, in a Python started
    without ``site``: a served command exits here with the server's status; otherwise
    ``setup()`` (which runs ``site`` as a normal start would) and then :func:`main`'s command
    here.  Never returns."""
    status = served(sys.argv[1:])
    if status is not None:
        raise SystemExit(status)
    setup()
    from rmapwalk.cli import main as cli

    cli()


def main() -> None:
    """The console entry point (pip's ``rmapwalk`` script)."""
    status = served(sys.argv[1:])
    if status is not None:
        raise SystemExit(status)
    from rmapwalk.cli import main as cli

    cli()


__all__ = ["AUTO", "ENV", "IDLE_DEFAULT", "IDLE_ENV", "SERVED", "code_fingerprint", "decode_request", "default_socket",
           "encode_reply", "encode_request", "fast_main", "forward", "listening", "main", "served", "start_server"]
