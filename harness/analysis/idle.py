"""Where a worker's processes all stood idle, and what the framework costs around each job.

A recycle stops one process; a pool stands idle only when every process of the worker is
between jobs at once (Celery children recycling in lockstep). Measured from the jobs' own
start and end times (``end_ns - wall_ns`` .. ``end_ns``), grouped by worker node.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Final

from worker_soak.samples import Samples

#: Idle stretches shorter than this are the ordinary hand-over between two jobs.
MIN_IDLE_NS: Final = 50_000_000
MAX_LISTED: Final = 20


def idle_stretches(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The gaps (start, end) of at least MIN_IDLE_NS where no interval was running, between
    the first interval's start and the last one's end."""
    gaps: list[tuple[int, int]] = []
    busy_until: int | None = None
    for start, end in sorted(intervals):
        if busy_until is not None and start - busy_until >= MIN_IDLE_NS:
            gaps.append((busy_until, start))
        busy_until = end if busy_until is None else max(busy_until, end)
    return gaps


def node_idle(
    starts_ends: Sequence[tuple[int, int]],
    processes: Sequence[Hashable | None],
    node_of: Mapping[Hashable, str],
) -> dict[str, dict[str, Any]]:
    """Per worker node: its longest stretch with every process idle, and all of them over
    MIN_IDLE_NS (seconds since the run's start). ``processes``: each job's process (a pid,
    or (machine node, pid)), as ``node_of`` names them."""
    by_node: dict[str, list[tuple[int, int]]] = {}
    for interval, process in zip(starts_ends, processes, strict=True):
        if process is not None and process in node_of:
            by_node.setdefault(node_of[process], []).append(interval)
    found: dict[str, dict[str, Any]] = {}
    for node, intervals in by_node.items():
        gaps = idle_stretches(intervals)
        longest = max((end - start for start, end in gaps), default=0)
        found[node] = {
            "idle_stretches": len(gaps),
            "idle_seconds": round(sum(end - start for start, end in gaps) / 1e9, 4),
            "longest_idle_seconds": round(longest / 1e9, 4),
            "stretches": [
                {"from_s": round(start / 1e9, 4), "seconds": round((end - start) / 1e9, 4)}
                for start, end in sorted(gaps, key=lambda g: g[0] - g[1])[:MAX_LISTED]
            ],
        }
    return found


def framework_cost(
    wall_ns: Sequence[int], starts_ends: Sequence[tuple[int, int]], processes: int
) -> dict[str, float] | None:
    """Jobs per second, and the time per job a process spent outside the job itself (the
    framework's dequeue, bookkeeping, a fork per job), assuming ``processes`` were busy."""
    if len(wall_ns) < 2 or processes < 1:
        return None
    span = max(end for _, end in starts_ends) - min(start for start, _ in starts_ends)
    if span <= 0:
        return None
    jobs = len(wall_ns)
    outside = max(0, span * processes - sum(wall_ns)) / jobs
    return {
        "jobs_per_second": round(jobs / (span / 1e9), 2),
        "task_ms_per_job": round(sum(wall_ns) / jobs / 1e6, 4),
        "outside_task_ms_per_job": round(outside / 1e6, 4),
        "outside_task_share": round(outside / (outside + sum(wall_ns) / jobs), 4),
    }


def queue_timing(
    samples: Samples, queue: Mapping[str, Any], lifetimes: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Idle stretches per worker node and the framework's cost per job, for a queue run's
    samples (``lifetimes``: the worker processes, each with its node as ``worker``)."""
    if len(samples) < 2:
        return {}
    starts_ends = [
        (end - wall, end) for end, wall in zip(samples.end_ns, samples.wall_ns, strict=True)
    ]
    keys = samples.process_keys() or [None] * len(samples)
    node_of: dict[Hashable, str] = {
        (life.get("node"), int(life["pid"])): str(life["worker"]) for life in lifetimes
    }
    nodes = max(1, len(set(node_of.values())))
    processes = int(queue.get("processes_per_node") or 1) * nodes
    return {
        "idle": node_idle(starts_ends, keys, node_of),
        "cost": framework_cost(samples.wall_ns, starts_ends, processes),
    }
