"""Getting series out of samples, and cutting them by job ranges."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from harness.model import Samples

Points = tuple[list[float], list[float]]


def gauge_points(samples: Samples, field: str, start_job: int = 0) -> Points:
    """(job indexes, values) of a probe field from ``start_job`` on, skipping unsampled jobs."""
    column = samples.gauges.get(field, ())
    xs: list[float] = []
    ys: list[float] = []
    for job in range(start_job, len(column)):
        value = column[job]
        if value is not None:
            xs.append(job)
            ys.append(value)
    return xs, ys


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
    buckets: list[list[float]] = [[] for _ in range(count)]
    for x, y in zip(xs, ys, strict=True):
        if start <= x < stop:
            buckets[min(count - 1, int((x - start) / width))].append(y)
    centres = [start + (i + 0.5) * width for i, bucket in enumerate(buckets) if bucket]
    values = [reduce(bucket) for bucket in buckets if bucket]
    return centres, values
