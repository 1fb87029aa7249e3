"""The in-run cost per job, read in one process (``tests/benchmarks/interleaved.py``): the
worker's job loop and the least loop measuring wall and CPU time per job, each against the
bare jobs, block by block. Target: the worker's loop within 15 us a job of the bare jobs.

Printed: each loop's median excess over the bare block (us per job) with a 95 %
distribution-free interval for that median (order statistics), and the median job.

Run with ``nox -s bench -- tests/benchmarks/test_in_run_cost.py -s`` (``SOAK_IN_RUN_BLOCKS``:
600 blocks of 10 jobs of ``tests/zoo/clean_real_libraries.py``; ~1 min).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from tests.conftest import REPO

BLOCKS = int(os.environ.get("SOAK_IN_RUN_BLOCKS", "600"))
PER_BLOCK = 10
TARGET_US = 15


def median_interval(values: Sequence[float], z: float = 1.96) -> tuple[float, float, float]:
    """The median and a distribution-free ~95 % interval for it (ranks n/2 -+ z sqrt(n)/2)."""
    ordered = sorted(values)
    n = len(ordered)
    half = z * math.sqrt(n) / 2
    low = ordered[max(0, math.floor(n / 2 - half))]
    high = ordered[min(n - 1, math.ceil(n / 2 + half))]
    middle = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    return middle, low, high


def test_in_run_cost(benchmark: Any) -> None:
    figures: dict[str, list[float]] = {}

    def measure() -> None:
        done = subprocess.run(
            [sys.executable, "-m", "tests.benchmarks.interleaved", str(BLOCKS), str(PER_BLOCK)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        figures.update(json.loads(done.stdout))

    benchmark.pedantic(measure, rounds=1, iterations=1)
    print(f"\nIn-run cost per job, {BLOCKS} shuffled blocks of {PER_BLOCK} jobs in one process:")
    for name, excess in figures.items():
        middle, low, high = median_interval(excess)
        benchmark.extra_info[f"{name}_us_per_job"] = round(middle, 1)
        print(
            f"  {name} loop: {middle:.1f} us a job over the bare jobs (95 %: {low:.1f}-{high:.1f})"
        )
    print(f"  target: the worker's loop <= {TARGET_US} us a job")
    assert set(figures) == {"worker", "floor"}
    assert all(len(excess) == BLOCKS for excess in figures.values())
