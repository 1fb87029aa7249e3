"""Harness overhead per job on a no-op worker: budget 10 us inline, 50 us in a child process.

Overhead = (runner time - start-up - bare loop time) / jobs, where the bare loop calls the
same ``handle`` on the same jobs with nothing around it, and start-up is the runner's time for
a 1-job run (loading the worker, calibrating the probes, fsync of the samples file; for the
process runner also spawning an interpreter): it is paid once per run, not per job, and is
reported on its own. Run with ``nox -s bench``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from worker_soak.runners.inline import InlineRunner
from worker_soak.runners.process import ProcessRunner
from worker_soak.store import SampleLog
from worker_soak.worker.spec import load_worker
from worker_soak.workloads import counter

JOBS = 10_000
SPEC = "worker_soak.workloads.counter:handle"
INLINE_BUDGET_US = 10.0
PROCESS_BUDGET_US = 50.0


def _median_seconds(action: Callable[[], object], rounds: int = 7) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _bare_loop() -> None:
    handle = load_worker(SPEC).handle
    for job in counter.generate(JOBS, 0, {}):
        handle(job)


@pytest.fixture(scope="module")
def bare_seconds() -> float:
    return _median_seconds(_bare_loop)


def _run(tmp_path: Path, runner_kind: str, jobs: int) -> None:
    run_dir = Path(tmp_path) / f"{runner_kind}-{time.perf_counter_ns()}"
    run_dir.mkdir()
    origin = time.perf_counter_ns()
    runner: Any = (
        InlineRunner(SPEC, origin)
        if runner_kind == "inline"
        else ProcessRunner(SPEC, run_dir, origin)
    )
    with SampleLog(run_dir) as log:
        outcome = runner.run(counter.generate(jobs, 0, {}), jobs, log, lambda done: None)
    assert outcome.jobs_completed == jobs


def test_bare_loop(benchmark: Any) -> None:
    """The reference: 10,000 no-op jobs with no harness at all."""
    benchmark.pedantic(_bare_loop, rounds=7, iterations=1)


def test_inline_runner_overhead(benchmark: Any, tmp_path: Path, bare_seconds: float) -> None:
    """10,000 no-op jobs through the inline runner, every probe on."""
    _measure(benchmark, tmp_path, "inline", bare_seconds, INLINE_BUDGET_US)


def test_process_runner_overhead(benchmark: Any, tmp_path: Path, bare_seconds: float) -> None:
    """10,000 no-op jobs through the process runner, every probe on."""
    _measure(benchmark, tmp_path, "process", bare_seconds, PROCESS_BUDGET_US)


def _measure(
    benchmark: Any, tmp_path: Path, runner_kind: str, bare_seconds: float, budget_us: float
) -> None:
    startup = _median_seconds(lambda: _run(tmp_path, runner_kind, 1), rounds=5)
    benchmark.pedantic(_run, args=(tmp_path, runner_kind, JOBS), rounds=7, iterations=1)
    overhead_us = (benchmark.stats.stats.median - startup - bare_seconds) / JOBS * 1e6
    benchmark.extra_info.update(
        startup_ms=round(startup * 1e3, 1),
        overhead_us_per_job=round(overhead_us, 2),
        budget_us_per_job=budget_us,
        within_budget=overhead_us <= budget_us,
    )
    print(
        f"\n{runner_kind} runner: {overhead_us:.2f} us/job overhead (budget {budget_us}), "
        f"start-up {startup * 1e3:.0f} ms"
    )
