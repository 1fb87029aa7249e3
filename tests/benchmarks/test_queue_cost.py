"""Job queues: what the hooks add to each task inside the worker, and the harness's own
memory over 10,000 tasks through a real Celery worker. Run with ``nox -s bench`` (needs the
machine's Redis).

- The hooks' cost per task (probes, the sample line, two RPUSHes to Redis on loopback) is
  reported against Celery's own cost per task, measured in the same run (target: under 10 %
  of it; Celery's prefork pool spends milliseconds per task on its own).
- The harness's RSS after a 10,000-task run minus after a 1,000-task one must stay under
  1 MiB: its ledger keeps settled tasks as a watermark, its process book one entry per
  worker process.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from worker_soak.model import QueueConfig
from worker_soak.queues import task_meter
from worker_soak.queues.channel import RedisChannel
from worker_soak.runners.queue import QueueRunner
from worker_soak.store import SampleLog
from worker_soak.worker.recycle import current_memory
from worker_soak.workloads import counter

REDIS = "redis://127.0.0.1:6379/0"
TASK = "tests.queues.celery_tasks:clean"


def _celery_run(tmp_path: Path, jobs: int) -> float:
    run_dir = tmp_path / f"celery-{time.perf_counter_ns()}"
    run_dir.mkdir()
    runner = QueueRunner(
        "celery", TASK, run_dir, time.perf_counter_ns(), QueueConfig(broker=REDIS, concurrency=2)
    )
    start = time.perf_counter()
    with SampleLog(run_dir) as log:
        outcome = runner.run(counter.generate(jobs, 0, {}), jobs, log, lambda done: None)
    assert outcome.jobs_completed == jobs
    return time.perf_counter() - start


def test_the_hooks_cost_per_task(benchmark: Any) -> None:
    """begin + end around an empty task, sending to Redis on loopback."""
    token = uuid.uuid4().hex[:8]
    hooks = task_meter.TaskMeter(lambda name: RedisChannel(REDIS, name), kind="bench")
    envelope = {
        task_meter.RUN: token,
        task_meter.CHANNEL: f"bench.{token}",
        task_meter.ORIGIN: time.time_ns(),
    }
    index = iter(range(10**9))

    def one_task() -> None:
        hooks.begin({**envelope, task_meter.INDEX: next(index)})
        hooks.end()

    benchmark.pedantic(one_task, rounds=2000, iterations=1, warmup_rounds=50)
    RedisChannel(REDIS, f"bench.{token}").delete()
    hooks_us = benchmark.stats.stats.median * 1e6
    benchmark.extra_info["hooks_us_per_task"] = hooks_us
    print(f"\nhooks per task: {hooks_us:.0f} us")


def test_the_harness_memory_stays_flat_over_10000_tasks(benchmark: Any, tmp_path: Path) -> None:
    """The harness's own RSS after a 10,000-task Celery run against after a 1,000-task one;
    and Celery's own cost per task, for the hooks' share."""
    statm = os.open("/proc/self/statm", os.O_RDONLY)
    try:
        _celery_run(tmp_path, 1000)
        after_small = current_memory(statm)[0]
        seconds = benchmark.pedantic(_celery_run, args=(tmp_path, 10_000), rounds=1, iterations=1)
        after_large = current_memory(statm)[0]
    finally:
        os.close(statm)
    growth = after_large - after_small
    benchmark.extra_info.update(rss_growth_bytes=growth, within_target=growth < 2**20)
    print(
        f"\nharness RSS growth 1,000 -> 10,000 tasks: {growth / 1024:.0f} KiB; Celery, 2 "
        f"processes: {10_000 / seconds:.0f} tasks/s ({seconds * 1e3 / 10_000 * 2:.2f} ms per "
        "task per process)"
    )
