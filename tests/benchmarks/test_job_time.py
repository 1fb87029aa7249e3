"""The job itself in the worker against the same job in a bare loop: does the harness make
each job slower, beside the time it takes between jobs?

Each round runs the bare loop (one Python process timing every job with ``perf_counter_ns``)
and ``soak run --light --no-report`` on the same jobs (``tests/zoo/clean_real_libraries.py``,
~1.4-2 ms each), one after the other, alternated round by round (this VM's speed wanders in
phases of seconds). Printed, as medians of the rounds' ratios: the median and mean job in
the worker against the bare loop's, the span from the first job's start to the last one's
end, and that span's excess per job in microseconds (the in-run cost: between jobs, and any
slowdown of the jobs themselves). With glibc's per-thread cache off in the worker the mean
job was 1.048x; with it on, 0.99x (docs/costs.md).

Run with ``nox -s bench -- tests/benchmarks/test_job_time.py -s`` (``SOAK_JOB_TIME_JOBS``,
``SOAK_JOB_TIME_ROUNDS``: 3,000 and 5; ~1.5 min).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REPO, soak_command

JOBS = int(os.environ.get("SOAK_JOB_TIME_JOBS", "3000"))
ROUNDS = int(os.environ.get("SOAK_JOB_TIME_ROUNDS", "5"))
WORKER = "tests/zoo/clean_real_libraries.py:handle"

_BARE = f"""
import json, sys, time
sys.path.insert(0, {str(REPO)!r})
from tests.zoo.clean_real_libraries import handle
perf = time.perf_counter_ns
walls = []
began = perf()
for index in range({JOBS}):
    start = perf()
    handle({{"id": index}})
    walls.append(perf() - start)
print(json.dumps({{"span": perf() - began, "walls": walls}}))
"""


def _bare() -> tuple[int, list[int]]:
    done = subprocess.run(
        [sys.executable, "-c", _BARE], cwd=REPO, capture_output=True, text=True, check=True
    )
    figures = json.loads(done.stdout)
    return figures["span"], figures["walls"]


def _soaked(out: Path) -> tuple[int, list[int]]:
    command = soak_command(
        "run", "--worker", WORKER, "--jobs", str(JOBS), "--out", str(out), "--light", "--no-report"
    )
    subprocess.run(command, cwd=REPO, capture_output=True, check=False)
    with open(out / "samples.jsonl", "rb") as samples_file:
        samples = [json.loads(line) for line in samples_file if line.startswith(b'{"job_index"')]
    samples.sort(key=lambda sample: sample["job_index"])
    assert len(samples) == JOBS
    first = samples[0]["end_ns"] - samples[0]["wall_ns"]
    return samples[-1]["end_ns"] - first, [sample["wall_ns"] for sample in samples]


def test_job_time_in_the_worker(benchmark: Any, tmp_path: Path) -> None:
    rounds: list[dict[str, float]] = []

    def measure() -> None:
        for number in range(ROUNDS):
            bare_span, bare_walls = _bare()
            span, walls = _soaked(tmp_path / f"run-{number}")
            rounds.append(
                {
                    "median job": statistics.median(walls) / statistics.median(bare_walls),
                    "mean job": statistics.mean(walls) / statistics.mean(bare_walls),
                    "span": span / bare_span,
                    "in-run us/job": (span - bare_span) / JOBS / 1e3,
                }
            )

    benchmark.pedantic(measure, rounds=1, iterations=1)
    print(f"\n{JOBS:,} jobs of `{WORKER}`, {ROUNDS} alternated rounds, worker / bare loop:")
    for name in rounds[0]:
        values = [figures[name] for figures in rounds]
        median = statistics.median(values)
        benchmark.extra_info[name] = round(median, 4)
        print(f"  {name}: {median:.3f} (rounds {min(values):.3f}-{max(values):.3f})")
    assert len(rounds) == ROUNDS
