"""``rmapwalk serve``: keep the litmus front end loaded, for scripts that run one process per test.

A Unix-socket server (see :mod:`rmapwalk.launch` for the client side).  Each request is one
``rmapwalk litmus ...`` command line with its working directory; the server runs it as the
command would run (same code: the ``litmus`` command of this package, in the client's directory),
captures its stdout and stderr whole and returns them with the exit status.  Requests are served
one at a time, in the order they connect.

Guarantees: the answer is what running the command in the client's process would give (the
server refuses a client whose :func:`rmapwalk.launch.code_fingerprint` differs from its own, and
the client then runs the command itself); models are reloaded when their files change (the
litmus runner keys its model cache by the files' modification times); the socket lives in a
directory only its user can enter; only the commands of :data:`rmapwalk.launch.SERVED` are run.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socketserver
import sys
from pathlib import Path
from typing import Any

import click

from rmapwalk.launch import (
    AUTO,
    ENV,
    SERVED,
    code_fingerprint,
    decode_request,
    default_socket,
    encode_reply,
    listening,
)


def run_command(argv: list[str], cwd: str) -> tuple[int, str, str]:
    """Run ``rmapwalk ARGV`` in ``cwd`` here, capturing (exit status, stdout, stderr)."""
    from rmapwalk.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    status: Any = 0
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main.main(args=argv, prog_name="rmapwalk", standalone_mode=True)
            except SystemExit as e:
                status = e.code
            except Exception as e:  # what the command would have printed on its own
                err.write(f"rmapwalk: internal error: {type(e).__name__}: {e}\n")
                status = 2
    except OSError as e:
        err.write(f"rmapwalk: {cwd}: {e.strerror}\n")
        status = 2
    finally:
        os.chdir(old)
    if status is None:
        status = 0
    elif not isinstance(status, int):
        err.write(f"{status}\n")
        status = 1
    return status, out.getvalue(), err.getvalue()


class _Server(socketserver.UnixStreamServer):
    """Serves until stopped; with ``idle`` set, also when that many seconds pass without a
    request, and (``stale_exit``) once a client of other code asks."""

    def __init__(self, path: str, idle: float | None, stale_exit: bool) -> None:
        super().__init__(path, _Handler)
        self.timeout = idle
        self.stale_exit = stale_exit
        self.done = False

    def handle_timeout(self) -> None:
        self.done = True


class _Handler(socketserver.StreamRequestHandler):
    fingerprint = ""
    server: _Server

    def handle(self) -> None:
        try:
            fingerprint, cwd, argv = decode_request(self.rfile.read())
            if fingerprint != self.fingerprint:
                if self.server.stale_exit:
                    self.server.done = True  # (the sources changed: the next client starts a new server)
                raise ValueError("a client of other code")
            if not argv or argv[0] not in SERVED:
                raise ValueError(f"not a served command: {argv[:1]}")
        except ValueError as e:
            self._reply(f"no {e}".encode())
            return
        self._reply(encode_reply(*run_command(argv, cwd)))

    def _reply(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.wfile.write(data)


@click.command("serve")
@click.option("--socket", "path", type=click.Path(dir_okay=False), default=None,
              help="Where to listen (default: $XDG_RUNTIME_DIR/rmapwalk-UID/server.sock, else under $TMPDIR "
                   "or /tmp).")
@click.option("--idle-exit", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Exit after SECONDS without a request.")
@click.option("--auto", is_flag=True,
              help=f"As started by a client with {ENV}={AUTO}: silent, leaves a live server at the socket alone, "
                   "and exits once a client of other code asks.")
def serve_cmd(path: str | None, idle_exit: float | None, auto: bool) -> None:
    """Serve `rmapwalk litmus` to processes whose $RMAPWALK_SERVER names this socket.

    For scripts that start one process per litmus test, as the kernel's do with herd7: with the
    front end and the models loaded once here, such a process costs about a tenth as much.
    Output and exit status are the command's own; a client started from other rmapwalk code, or
    one that cannot reach the server, runs the command itself.  Stops on Ctrl-C or SIGTERM.
    With RMAPWALK_SERVER=auto the clients start one themselves (see docs/litmus.md).
    """
    path = path or default_socket()
    sock = Path(path)
    sock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if sock.exists():
        if auto and listening(path):
            return  # (another client started one first)
        sock.unlink()
    # what every command would import on its first request
    import rmapwalk.cli.litmus  # noqa: F401
    import rmapwalk.litmus.engine_bridge  # noqa: F401

    _Handler.fingerprint = code_fingerprint()
    old_umask = os.umask(0o077)
    try:
        server = _Server(path, idle_exit, auto)
    finally:
        os.umask(old_umask)

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    if not auto:
        click.echo(f"rmapwalk: serving `rmapwalk litmus` at {path}; in the clients' shell: export {ENV}={path}",
                   err=True)
        sys.stderr.flush()
    try:
        while not server.done:
            server.handle_request()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        with contextlib.suppress(OSError):
            sock.unlink()
