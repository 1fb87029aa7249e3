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


def heap_points(samples: Samples, block_bytes: float, collected: bool = True) -> Points:
    """Estimated heap bytes (native bytes + ``block_bytes`` x Python blocks) at the jobs where
    it was read afresh: wherever the sparser of the two heap probes read, with the other's
    latest value beside it, and (``collected``) at every full collection, where both were
    read after it.

    A point is never made of a stale reading of the sparser probe. Carried forward between
    its reads, a native heap read every 50th job turned a 4-KiB/job C leak into a staircase
    of 6 steps in 300 jobs: its Theil-Sen slope over the last half read 3.2 B/job (most pairs
    of ranges share a step) and its Mann-Kendall test, with ranges so alike that the
    Hamed-Rao correction reads them as one, lost significance (measured: a pass and an
    inconclusive, where every collection showed 4 KiB/job kept)."""
    py = present(samples.gauges.get("py_blocks", ()))
    native = present(samples.gauges.get("native_heap_bytes", ()))
    # The probe read less often paces the points; a missing probe counts as 0 bytes.
    pacing = 1 if native[0] and (not py[0] or len(native[0]) < len(py[0])) else 0
    readings = sorted(
        [(job, 0, value) for job, value in zip(*py, strict=True)]
        + [(job, 1, value) for job, value in zip(*native, strict=True)]
    )
    points: dict[int, float] = {}
    last: list[float | None] = [None if py[0] else 0.0, None if native[0] else 0.0]
    for position, (job, which, value) in enumerate(readings):
        last[which] = value
        if position + 1 < len(readings) and readings[position + 1][0] == job:
            continue  # the other probe read at this job too: one point, with both
        fresh = which == pacing or (position > 0 and readings[position - 1][:2] == (job, pacing))
        if fresh and last[0] is not None and last[1] is not None:
            points[job] = last[1] + block_bytes * last[0]
    if collected:
        points.update(_collected_points(samples, block_bytes))
    jobs = sorted(points)
    return [float(job) for job in jobs], [points[job] for job in jobs]


def _collected_points(samples: Samples, block_bytes: float) -> dict[int, float]:
    """The heap after each full collection: both probes read right after it."""
    blocks = present(samples.gauges.get("py_blocks_collected", ()))
    native = dict(zip(*present(samples.gauges.get("native_heap_collected_bytes", ())), strict=True))
    if not native and present(samples.gauges.get("native_heap_bytes", ()))[0]:
        return {}  # a heap probe read natively elsewhere: blocks alone would not compare
    return {
        job: native.get(job, 0) + block_bytes * value for job, value in zip(*blocks, strict=True)
    }


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
