"""The in-run cost per job, read in one process (``tests/benchmarks/interleaved.py``), on two
real jobs of the standard library: a MIME email (``tests/zoo/clean_stdlib_email.py``, ~1 ms
on a fast day) and email + JSON + SQLite + hashing (``tests/zoo/clean_real_libraries.py``).
Target: 15 us a job.

Printed, each as a median over blocks with a 95 % distribution-free interval (order
statistics): the job's own time in the worker over the same job timed alike in the least
loop (what the harness's work between jobs adds to the job it measures); the worker's whole
loop over the bare jobs (that, plus the work between jobs); the least loop measuring wall
and CPU time per job over the bare jobs (the floor of any per-job measurement); the job.

Run with ``nox -s bench -- tests/benchmarks/test_in_run_cost.py -s`` (``SOAK_IN_RUN_BLOCKS``:
600 blocks of 10 jobs per worker; ~2.5 min).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import pytest

from tests.conftest import REPO

BLOCKS = int(os.environ.get("SOAK_IN_RUN_BLOCKS", "600"))
PER_BLOCK = 10
TARGET_US = 15
WORKERS = ("tests/zoo/clean_stdlib_email.py:handle", "tests/zoo/clean_real_libraries.py:handle")
#: What each figure of the driver is, as printed.
READINGS = {
    "worker_job_wall": "the job itself in the worker, over the least loop (wall)",
    "worker_job_cpu": "the job itself in the worker, over the least loop (CPU)",
    "worker": "the worker's whole loop, over the bare jobs",
    "floor": "the least loop timing wall and CPU, over the bare jobs",
    "floor_job_wall": "the job, timed in the least loop",
}


def median_interval(values: Sequence[float], z: float = 1.96) -> tuple[float, float, float]:
    """The median and a distribution-free ~95 % interval for it (ranks n/2 -+ z sqrt(n)/2)."""
    ordered = sorted(values)
    n = len(ordered)
    half = z * math.sqrt(n) / 2
    low = ordered[max(0, math.floor(n / 2 - half))]
    high = ordered[min(n - 1, math.ceil(n / 2 + half))]
    middle = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    return middle, low, high


@pytest.mark.parametrize("worker", WORKERS)
def test_in_run_cost(benchmark: Any, worker: str) -> None:
    figures: dict[str, list[float]] = {}

    def measure() -> None:
        command = ["-m", "tests.benchmarks.interleaved", str(BLOCKS), str(PER_BLOCK), worker]
        done = subprocess.run(
            [sys.executable, *command],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        figures.update(json.loads(done.stdout))

    benchmark.pedantic(measure, rounds=1, iterations=1)
    print(f"\nIn-run cost per job of {worker}, {BLOCKS} shuffled blocks of {PER_BLOCK} jobs:")
    for name, label in READINGS.items():
        middle, low, high = median_interval(figures[name])
        benchmark.extra_info[f"{name}_us"] = round(middle, 1)
        print(f"  {label}: {middle:.1f} us (95 %: {low:.1f}-{high:.1f})")
    print(f"  target: {TARGET_US} us a job")
    assert set(figures) == set(READINGS)
    assert len(figures["floor_job_wall"]) == BLOCKS * PER_BLOCK
    assert all(len(figures[name]) == BLOCKS for name in READINGS if name != "floor_job_wall")
