"""The supervised pool: throughput of 1 against 2 workers, its per-job cost against the
plain process runner, and the supervisor's own memory over 10,000 jobs. Run with
``nox -s bench``.

- ``--workers 2`` must process CPU-bound jobs faster than 1 on a 2-core machine (target:
  at least 1.3x: the supervisor and the kernel need some of the second core too).
- The pool's per-job overhead on no-op jobs (two jobs in flight per worker, one more Python
  dispatch per job) is reported against the process runner's.
- The supervisor's RSS after 10,000 jobs minus after 1,000 must stay under 1 MiB: the
  harness passes its own flat-memory check.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from pathlib import Path
from typing import Any

from worker_soak.model import PoolConfig
from worker_soak.runners.pool import PoolRunner
from worker_soak.runners.process import ProcessRunner
from worker_soak.store import SampleLog
from worker_soak.worker.recycle import current_memory
from worker_soak.workloads import counter

CPU_SPEC = "tests.pool.workers:steady"
NOOP_SPEC = "worker_soak.workloads.counter:handle"
SPEEDUP_TARGET = 1.3


def _pool_run(tmp_path: Path, spec: str, jobs: int, workers: int) -> float:
    run_dir = tmp_path / f"pool-{time.perf_counter_ns()}"
    run_dir.mkdir()
    origin = time.perf_counter_ns()
    runner = PoolRunner(spec, run_dir, origin, PoolConfig(workers=workers))
    start = time.perf_counter()
    with SampleLog(run_dir) as log:
        outcome = runner.run(counter.generate(jobs, 0, {}), jobs, log, lambda done: None)
    assert outcome.jobs_completed == jobs
    return time.perf_counter() - start


def _process_run(tmp_path: Path, jobs: int) -> float:
    run_dir = tmp_path / f"process-{time.perf_counter_ns()}"
    run_dir.mkdir()
    origin = time.perf_counter_ns()
    start = time.perf_counter()
    with SampleLog(run_dir) as log:
        ProcessRunner(NOOP_SPEC, run_dir, origin).run(
            counter.generate(jobs, 0, {}), jobs, log, lambda done: None
        )
    return time.perf_counter() - start


def test_two_workers_process_cpu_bound_jobs_faster_than_one(benchmark: Any, tmp_path: Path) -> None:
    """2,000 jobs of ~1 ms CPU: wall time with --workers 1 over --workers 2."""
    os.environ.setdefault("POOL_JOB_LOG", str(tmp_path / "jobs.log"))
    one = statistics.median(_pool_run(tmp_path, CPU_SPEC, 2000, 1) for _ in range(3))
    two = benchmark.pedantic(_pool_run, args=(tmp_path, CPU_SPEC, 2000, 2), rounds=3, iterations=1)
    two = benchmark.stats.stats.median
    speedup = one / two
    benchmark.extra_info.update(
        one_worker_s=round(one, 3),
        two_workers_s=round(two, 3),
        speedup=round(speedup, 2),
        target=SPEEDUP_TARGET,
        within_target=speedup >= SPEEDUP_TARGET,
    )
    print(f"\n2,000 CPU jobs: 1 worker {one:.2f} s, 2 workers {two:.2f} s ({speedup:.2f}x)")


def test_pool_overhead_per_job_against_the_process_runner(benchmark: Any, tmp_path: Path) -> None:
    """10,000 no-op jobs: pool of one worker against the process runner, per job."""
    jobs = 10_000
    plain = statistics.median(_process_run(tmp_path, jobs) for _ in range(3))
    benchmark.pedantic(_pool_run, args=(tmp_path, NOOP_SPEC, jobs, 1), rounds=3, iterations=1)
    pooled = benchmark.stats.stats.median
    extra_us = (pooled - plain) / jobs * 1e6
    benchmark.extra_info.update(
        process_runner_s=round(plain, 3), pool_s=round(pooled, 3), extra_us_per_job=extra_us
    )
    print(f"\n10,000 no-op jobs: process runner {plain:.2f} s, pool {pooled:.2f} s "
          f"({extra_us:+.1f} us/job)")  # fmt: skip


def test_the_supervisor_memory_stays_flat_over_10000_jobs(benchmark: Any, tmp_path: Path) -> None:
    """The harness's own RSS after a 10,000-job pool run against after a 1,000-job one."""
    statm = os.open("/proc/self/statm", os.O_RDONLY)
    try:
        _pool_run(tmp_path, NOOP_SPEC, 1000, 2)
        after_small = current_memory(statm)[0]
        benchmark.pedantic(_pool_run, args=(tmp_path, NOOP_SPEC, 10_000, 2), rounds=1, iterations=1)
        after_large = current_memory(statm)[0]
    finally:
        os.close(statm)
    growth = after_large - after_small
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    benchmark.extra_info.update(
        rss_growth_bytes=growth, within_target=growth < 2**20, peak_rss_bytes=peak
    )
    print(f"\nsupervisor RSS growth 1,000 -> 10,000 jobs: {growth / 1024:.0f} KiB")
