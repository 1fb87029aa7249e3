"""Checkpoints at 10, 100, 1,000 and 10,000 jobs, so "job 10 against job 10,000" reads directly.

A checkpoint at ``c`` jobs describes the trailing window of ``max(10, c // 10)`` jobs that end
there (capped at ``c``): jobs 0-9 at 10, 90-99 at 100, 900-999 at 1,000, 9,000-9,999 at
10,000. A trailing window shows the worker as it is at that age; a cumulative one would blur
a late slowdown into the early jobs.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Final

from worker_soak.analysis.checkpoint_jobs import BREAKDOWN_PARTS, CHECKPOINT_JOBS
from worker_soak.columns import latest, present
from worker_soak.model import Checkpoint
from worker_soak.samples import Samples

MEMORY_FIELDS: Final = ("py_blocks", "native_heap_bytes", "rss_bytes", "uss_bytes")


def checkpoint_positions(jobs_completed: int) -> list[int]:
    """The standard checkpoints reached, plus the last job when it is not one of them."""
    positions = [c for c in CHECKPOINT_JOBS if c <= jobs_completed]
    if jobs_completed > 0 and jobs_completed not in positions:
        positions.append(jobs_completed)
    return positions


def window_size(jobs: int) -> int:
    """How many trailing jobs a checkpoint at ``jobs`` describes."""
    return min(jobs, max(10, jobs // 10))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0..100, got {q}")
    rank = (len(sorted_values) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def compute_checkpoints(samples: Samples) -> list[Checkpoint]:
    """One checkpoint per position in :func:`checkpoint_positions`."""
    return [_checkpoint(samples, jobs) for jobs in checkpoint_positions(len(samples))]


def _checkpoint(samples: Samples, jobs: int) -> Checkpoint:
    last = jobs - 1
    first = jobs - window_size(jobs)
    latencies_ms = sorted(ns / 1e6 for ns in samples.wall_ns[first:jobs])
    started_ns = samples.end_ns[first - 1] if first > 0 else samples.end_ns[0] - samples.wall_ns[0]
    elapsed_ns = samples.end_ns[last] - started_ns
    throughput = (jobs - first) / (elapsed_ns / 1e9) if elapsed_ns > 0 else None
    return Checkpoint(
        jobs=jobs,
        window_first_job=first,
        window_last_job=last,
        latency_p50_ms=percentile(latencies_ms, 50),
        latency_p95_ms=percentile(latencies_ms, 95),
        latency_p99_ms=percentile(latencies_ms, 99),
        throughput_jobs_per_s=throughput,
        memory=_memory_at(samples, last),
        breakdown=breakdown_at(samples, last),
    )


def _memory_at(samples: Samples, last: int) -> dict[str, int]:
    """Each memory gauge's latest value at or before job ``last`` (sparse probes lag)."""
    memory: dict[str, int] = {}
    for name in MEMORY_FIELDS:
        column = samples.gauges.get(name)
        value = latest(column, last) if column is not None else None
        if value is not None:
            memory[name] = value
    return memory


def breakdown_at(samples: Samples, last: int) -> dict[str, int] | None:
    """Where resident memory went, read at job ``last`` or the nearest job before it that
    has a reading (the worker reads it at each full collection and at the end of each
    standard checkpoint's window): the five parts, the RSS read beside them and the job."""
    column = samples.gauges.get("mem_rss_bytes")
    if column is None:
        return None
    jobs, _ = present(column)
    at = bisect.bisect_right(jobs, last) - 1
    if at < 0:
        return None
    job = jobs[at]
    parts: dict[str, int] = {}
    for part in (*BREAKDOWN_PARTS, "rss"):
        column = samples.gauges.get(f"mem_{part}_bytes")
        value = column[job] if column is not None else None
        if value is None:
            return None
        parts[part] = value
    return {**parts, "job": job}
