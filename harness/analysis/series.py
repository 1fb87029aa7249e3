"""Getting series out of samples, and cutting them by job ranges."""

from __future__ import annotations

import bisect
import itertools
import operator
import statistics
from collections.abc import Callable, Sequence
from typing import Final

from worker_soak.columns import present
from worker_soak.samples import Samples

Points = tuple[list[float], list[float]]
#: Machine-speed readings (the ``speed_ns`` probe) a series needs before it is scaled by them.
MIN_SPEED_READINGS: Final = 3


def gauge_points(samples: Samples, field: str, start_job: int = 0) -> Points:
    """(job indexes, values) of a probe field from ``start_job`` on, skipping unsampled jobs."""
    jobs, values = present(samples.gauges.get(field, ()), start_job)
    return [float(job) for job in jobs], list(values)


def latency_points(samples: Samples, start_job: int = 0) -> Points:
    """(job indexes, wall time in seconds) from ``start_job`` on."""
    xs = [float(job) for job in range(start_job, len(samples))]
    ys = [ns / 1e9 for ns in samples.wall_ns[start_job:]]
    return xs, ys


def range_blocks(
    points: Points,
    start: float,
    stop: float,
    count: int,
    reduce: Callable[[Sequence[float]], float],
) -> Points:
    """Cut [start, stop) of the job axis into ``count`` equal ranges; reduce each non-empty
    range's values. Ranges (not point counts) keep signals of different cadences aligned."""
    xs, ys = points
    width = (stop - start) / count
    if ascending(xs):  # every series here is in job order: cut it by bisection
        edges = [bisect.bisect_left(xs, start + i * width) for i in range(count)]
        edges.append(bisect.bisect_left(xs, stop))
        buckets = [ys[a:b] for a, b in itertools.pairwise(edges)]
    else:
        buckets = [[] for _ in range(count)]
        for x, y in zip(xs, ys, strict=True):
            if start <= x < stop:
                buckets[min(count - 1, int((x - start) / width))].append(y)
    centres = [start + (i + 0.5) * width for i, bucket in enumerate(buckets) if bucket]
    values = [reduce(bucket) for bucket in buckets if bucket]
    return centres, values


def ascending(xs: Sequence[float]) -> bool:
    """Whether ``xs`` never decreases."""
    return all(map(operator.le, xs, itertools.islice(xs, 1, None)))


def count_in(xs: Sequence[float], start: float, stop: float) -> int:
    """How many of ``xs`` lie in [start, stop)."""
    if ascending(xs):
        return bisect.bisect_left(xs, stop) - bisect.bisect_left(xs, start)
    return sum(1 for x in xs if start <= x < stop)


def speed_blocks(speed_ns: Sequence[float | None], count: int) -> list[float] | None:
    """The machine's speed over each of ``count`` blocks of a run's jobs: the median of the
    readings inside the block, else the nearest block's. None unless there are at least 3
    readings and one for every four blocks: the probe repeats its last reading between new
    ones (at most every 20 ms), and a run of fast jobs that got one or two readings would be
    scaled by their noise (it turned latency passes into inconclusives on the zoo), while a
    0.3-s run of 1,000 import jobs gets ~15 and needs them (a machine phase change inside it
    read as "55 % slower")."""
    values = [s for s in speed_ns if s]
    distinct = 1 + sum(1 for a, b in itertools.pairwise(values) if a != b) if values else 0
    if distinct < max(MIN_SPEED_READINGS, count // 4):
        return None
    edges = [block * len(speed_ns) // count for block in range(count + 1)]
    inside: list[float | None] = []
    for start, stop in itertools.pairwise(edges):
        readings = [float(s) for s in speed_ns[start:stop] if s]
        inside.append(statistics.median(readings) if readings else None)
    known = [i for i, value in enumerate(inside) if value is not None]
    return [
        value if value is not None else inside[min(known, key=lambda k: abs(k - i))] or 0.0
        for i, value in enumerate(inside)
    ]


def speed_at(samples: Samples, start_job: int = 0) -> list[float | None]:
    """The machine-speed reading at each job from ``start_job`` on (None where not read)."""
    column = samples.gauges.get("speed_ns", ())
    return [None if v is None else float(v) for v in column[start_job:]]
