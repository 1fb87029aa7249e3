"""The heap's floor over ranges of jobs: the per-job heap estimate, each range's minimum (its
floor: temporaries and garbage waiting for the collector sit above it), the trend of those
floors, and the job from which a flat-then-rising floor rises."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from worker_soak.analysis.series import Points, count_in, gauge_points, range_blocks
from worker_soak.analysis.trend import MAX_BLOCKS, Trend, block_minimum, theil_sen, trend_test
from worker_soak.columns import present
from worker_soak.samples import Samples

#: Fewer ranges than this give a trend test no power worth reporting.
MIN_BLOCKS: Final = 8


def heap_points(samples: Samples, block_bytes: float) -> Points:
    """Estimated heap bytes at every job where either heap probe ran; the other probe's
    latest value stands in where it did not (their cadences may differ)."""
    py = samples.gauges.get("py_blocks", ())
    native = samples.gauges.get("native_heap_bytes", ())
    readings = sorted(
        [(job, 0, value) for job, value in zip(*present(py), strict=True)]
        + [(job, 1, value) for job, value in zip(*present(native), strict=True)]
    )
    xs: list[float] = []
    ys: list[float] = []
    last: list[float | None] = [None if py else 0.0, None if native else 0.0]
    for position, (job, which, value) in enumerate(readings):
        last[which] = value
        if position + 1 < len(readings) and readings[position + 1][0] == job:
            continue  # the other probe read at this job too: one point, with both
        if last[0] is not None and last[1] is not None:
            xs.append(job)
            ys.append(last[1] + block_bytes * last[0])
    return xs, ys


def floor_trend(points: Points, start: float, stop: float, alpha: float) -> Trend | None:
    count = min(MAX_BLOCKS, count_in(points[0], start, stop))
    if count < MIN_BLOCKS:
        return None
    cx, cy = range_blocks(points, start, stop, count, block_minimum)
    if len(cx) < MIN_BLOCKS:
        return None
    return trend_test(cx, cy, alpha)


def growth_onset(
    points: Points,
    start: float,
    stop: float,
    reduce: Callable[[Sequence[float]], float] = block_minimum,
) -> int:
    """The job from which a flat-then-rising series rises: the best flat+linear breakpoint
    over block floors (or medians, for latency)."""
    cx, cy = range_blocks(points, start, stop, min(MAX_BLOCKS, max(1, len(points[0]))), reduce)
    if len(cx) < 3:
        return int(start)
    best_sse, best = float("inf"), cx[0]
    for split in cx[:-2]:
        hinge = [max(0.0, x - split) for x in cx]
        mean_h = sum(hinge) / len(hinge)
        mean_y = sum(cy) / len(cy)
        sxx = sum((h - mean_h) ** 2 for h in hinge)
        slope = sum((h - mean_h) * (y - mean_y) for h, y in zip(hinge, cy, strict=True)) / sxx
        sse = sum((y - mean_y - slope * (h - mean_h)) ** 2 for h, y in zip(hinge, cy, strict=True))
        if sse < best_sse - 1e-9:
            best_sse, best = sse, split
    width = (stop - start) / len(cx)
    return max(int(start), int(best - width / 2))


def slope_of_quarter(points: Points, start: float, stop: float) -> float:
    cx, cy = range_blocks(points, start, stop, min(12, max(3, len(points[0]) // 4)), block_minimum)
    if len(cx) < 3:
        return 0.0
    return theil_sen(cx, cy)[0]


def floor_trends(
    points: Points, jobs: int, alpha: float, warmup_fractions: Sequence[float], min_jobs: int
) -> list[tuple[float, Trend]]:
    """The floor trend after each warm-up candidate (a fraction of the run, at least 5
    jobs) that leaves enough ranges: (warm-up jobs, trend) pairs."""
    tried: list[tuple[float, Trend]] = []
    if jobs >= min_jobs:
        for fraction in warmup_fractions:
            warmup = max(5.0, fraction * jobs)
            trend = floor_trend(points, warmup, jobs, alpha)
            if trend is not None:
                tried.append((warmup, trend))
    return tried


def trend_figures(
    samples: Samples, tried: tuple[float, Trend], jobs: int, alpha: float
) -> dict[str, object]:
    """The floor trend's figures in a memory verdict, with each heap signal's own slope."""
    warmup, trend = tried
    figures: dict[str, object] = {
        "warmup_jobs": int(warmup),
        "bytes_per_job": trend.slope,
        "bytes_per_job_interval": [trend.slope_low, trend.slope_high],
        "projected_growth_bytes": trend.slope * jobs,
        "p_value": trend.p_increasing,
        "blocks": trend.n,
    }
    for field, name in (
        ("py_blocks", "py_blocks_per_job"),
        ("native_heap_bytes", "native_bytes_per_job"),
        ("rss_bytes", "rss_bytes_per_job"),
    ):
        trend_of = floor_trend(gauge_points(samples, field), warmup, jobs, alpha)
        if trend_of is not None:
            figures[name] = trend_of.slope
    return figures
