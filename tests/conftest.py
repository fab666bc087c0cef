"""Session set-up shared by every test: the derived-data cache (:mod:`rmapwalk.cache`) lives in a
temporary directory, never in the user's cache, for this process and the subprocesses it starts."""

from __future__ import annotations

import os
import tempfile

from rmapwalk.cache import ENV

os.environ[ENV] = tempfile.mkdtemp(prefix="rmapwalk-test-cache-")
