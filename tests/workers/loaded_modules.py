"""A clean worker that writes, after each job, which of the harness's modules its process
has loaded: one file per process under ``SOAK_TEST_MODULES``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any


def handle(job: dict[str, Any]) -> int:
    out = Path(os.environ["SOAK_TEST_MODULES"]) / f"{os.getpid()}.txt"
    loaded = sorted(name for name in sys.modules if name.split(".")[0] == "worker_soak")
    out.write_bytes("\n".join(loaded).encode())  # binary: see tests/zoo/clean_growing_file.py
    return int(job["id"]) * 2
