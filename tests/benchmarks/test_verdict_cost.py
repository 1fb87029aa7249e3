"""What the verdicts cost: the bare loop, ``soak run --light`` and ``soak run`` side by side
on 10,000 real jobs (compose a MIME email with a PDF attachment, JSON body, an SQLite
round-trip, a SHA-256: ``tests/zoo/clean_real_libraries.py``, ~1.5 ms each).

Targets: ``--light`` <= 1.03x the bare loop; everything (memray window, aged against fresh)
<= 1.25x. Each is the wall time of a whole command, as a user waits for it: the bare loop is
a Python process running the same jobs with nothing around them. The HTML report (a fixed
~1 s, whatever the run's length) is left out with ``--no-report``; ``full+report`` shows it.
Run with ``nox -s bench``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, soak_command

JOBS = 10_000
WORKER = "tests/zoo/clean_real_libraries.py:handle"
BARE = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from tests.zoo.clean_real_libraries import handle
for index in range({JOBS}):
    handle({{"id": index}})
"""
MEDIANS: dict[str, float] = {}


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - start


@pytest.mark.parametrize("mode", ["bare", "light", "full", "full+report"])
def test_cost_of_verdicts(benchmark: Any, mode: str, tmp_path: Path) -> None:
    """Wall time of 10,000 email jobs: bare, --light, full."""
    runs = iter(range(1000))

    def once() -> float:
        if mode == "bare":
            return _timed([sys.executable, "-c", BARE])
        out = tmp_path / f"run-{next(runs)}"
        extra = {"light": ["--light", "--no-report"], "full": ["--no-report"]}.get(mode, [])
        return _timed(
            soak_command("run", "--worker", WORKER, "--jobs", str(JOBS), "--out", str(out), *extra)
        )

    benchmark.pedantic(once, rounds=3, iterations=1)
    MEDIANS[mode] = benchmark.stats.stats.median
    if "bare" in MEDIANS and mode != "bare":
        ratio = MEDIANS[mode] / MEDIANS["bare"]
        benchmark.extra_info.update(
            ratio_to_bare=round(ratio, 3), target=1.03 if mode == "light" else 1.25
        )
        print(f"\n{mode}: {ratio:.3f}x the bare loop")
