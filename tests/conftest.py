"""Session set-up shared by every test: the derived-data cache (:mod:`rmapwalk.cache`) lives in a
temporary directory, never in the user's cache, for this process and the subprocesses it starts."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest

from rmapwalk.cache import ENV

os.environ[ENV] = tempfile.mkdtemp(prefix="rmapwalk-test-cache-")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running ``rmapwalk serve`` for a module's tests: its socket's path.  The server writes
    its ``export`` line once the socket listens (no sleep), and removes the socket on SIGTERM."""
    sock = str(tmp_path_factory.mktemp("srv") / "s.sock")
    proc = subprocess.Popen([sys.executable, "-m", "rmapwalk.cli", "serve", "--socket", sock],
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert f"export RMAPWALK_SERVER={sock}" in line, line
    yield sock
    proc.terminate()
    proc.wait()
    assert not os.path.exists(sock)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` (tens of seconds each) run only with ``RMAPWALK_SLOW=1``, as CI's
    slow step runs them (``.ci/run``): the default suite stays within ten minutes."""
    if os.environ.get("RMAPWALK_SLOW"):
        return
    skip = pytest.mark.skip(reason="slow: RMAPWALK_SLOW=1 (run by .ci/run)")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)
