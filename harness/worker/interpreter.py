"""Which Python runs worker processes: ``--python``, passed down in the environment, else the
harness's own."""

from __future__ import annotations

import os
import sys
from typing import Final

#: The interpreter worker processes run (``--python``), when not the harness's own.
WORKER_PYTHON_ENV: Final = "SOAK_WORKER_PYTHON"


def worker_python() -> str:
    """The Python that runs worker processes: ``--python``, else the harness's own. The
    worker side imports only the standard library, so any CPython >= 3.11 runs it; the
    verdicts then speak of that interpreter's allocator."""
    return os.environ.get(WORKER_PYTHON_ENV) or sys.executable
