"""The memory verdict: does the worker's heap keep growing after warm-up, and by how much?

Signal: the heap in use, from the cheap probes: glibc's native heap in bytes plus CPython's
allocated blocks times ``block_bytes``. Not RSS: CPython reuses freed arenas (a 2 KB/job leak
can show no RSS growth) and fragmentation keeps RSS up with no leak; RSS is reported beside.

Method, per run of N jobs:

1. Cut the jobs after a candidate warm-up into at most 50 equal ranges and take each range's
   minimum (its floor: temporaries and not-yet-collected garbage sit above it).
2. Warm-up is found, not guessed: candidates end at 5, 10, 20, 30 and 50 % of the run. The
   first candidate after which the floor shows no significant upward trend (Mann-Kendall with
   the Hamed-Rao correction, one-sided, ``alpha``) *and* a slope whose upper bound, projected
   over the run, stays under the floor, ends the warm-up: pass. A worker fails only if
   *every* candidate shows significant growth, so the false-alarm rate stays at or below
   ``alpha``.
3. Growth that persists must also matter: the Theil-Sen slope projected over the run must
   reach ``min_growth_bytes`` (default 48 KiB: the sensitivity targets, 8 B/job over 10,000
   jobs and 64 B/job over 1,000, both grow >= 64,000 bytes; 48 KiB leaves a quarter for
   estimation error), and ``max_growth_per_job`` when one is set.
4. Growth that is slowing down (the last quarter's slope under a quarter of the third's) is a
   cache still filling, not yet a leak: ``inconclusive``, run longer.
5. Neither a pass nor steady growth: the run could not rule growth out: ``inconclusive``.
6. Runs under ``MIN_JOBS_TO_FAIL`` (500) jobs never fail: growth that short may still be a
   cache filling.
7. Growth must survive a full garbage collection: the worker collects and measures its heap
   at a few points (``collection_points``); when the second half's collected heap does not
   grow past the floor, the growth was garbage waiting for CPython's rare full collections.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from harness.analysis.series import Points, gauge_points, range_blocks
from harness.analysis.trend import (
    MAX_BLOCKS,
    Trend,
    block_minimum,
    check_alpha,
    theil_sen,
    trend_test,
)
from harness.model import Samples, Verdict

WARMUP_FRACTIONS: Final = (0.05, 0.1, 0.2, 0.3, 0.5)
MIN_JOBS: Final = 100
MIN_BLOCKS: Final = 8
#: A heap still growing in a shorter run is as likely a pool or cache still filling as a
#: leak (SQLite's write-ahead-log index took ~190 jobs to fill here), so such a run can only
#: be inconclusive. 500 is half the smallest run the sensitivity targets name (64 B/job over
#: 1,000 jobs).
MIN_JOBS_TO_FAIL: Final = 500


@dataclass(frozen=True, slots=True)
class MemoryPolicy:
    """How strict the memory verdict is."""

    alpha: float = 0.01
    min_growth_bytes: float = 48 * 1024
    max_growth_per_job: float | None = None
    #: Bytes one CPython block stands for (most small objects are 32-64 bytes).
    block_bytes: float = 32.0

    def __post_init__(self) -> None:
        check_alpha(self.alpha)
        if self.min_growth_bytes < 0:
            raise ValueError(f"min_growth_bytes must be >= 0, got {self.min_growth_bytes}")
        if self.max_growth_per_job is not None and self.max_growth_per_job < 0:
            raise ValueError(f"max_growth_per_job must be >= 0, got {self.max_growth_per_job}")


def heap_points(samples: Samples, block_bytes: float) -> Points:
    """Estimated heap bytes at every job where either heap probe ran; the other probe's
    latest value stands in where it did not (their cadences may differ)."""
    py = samples.gauges.get("py_blocks", ())
    native = samples.gauges.get("native_heap_bytes", ())
    xs: list[float] = []
    ys: list[float] = []
    last_py: float | None = None if py else 0.0
    last_native: float | None = None if native else 0.0
    for job in range(len(samples)):
        fresh = False
        if py and py[job] is not None:
            last_py, fresh = py[job], True
        if native and native[job] is not None:
            last_native, fresh = native[job], True
        if fresh and last_py is not None and last_native is not None:
            xs.append(job)
            ys.append(last_native + block_bytes * last_py)
    return xs, ys


def _floor_trend(points: Points, start: float, stop: float, alpha: float) -> Trend | None:
    xs = [x for x in points[0] if start <= x < stop]
    count = min(MAX_BLOCKS, len(xs))
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


def _slope_of_quarter(points: Points, start: float, stop: float) -> float:
    cx, cy = range_blocks(points, start, stop, min(12, max(3, len(points[0]) // 4)), block_minimum)
    if len(cx) < 3:
        return 0.0
    return theil_sen(cx, cy)[0]


def memory_verdict(samples: Samples, policy: MemoryPolicy | None = None) -> Verdict:
    """Judge claim 1, flat memory, from the heap probes.

    The probes measure *net* growth, which is what a leak is. memray's per-site figures count
    what survived its window, which a bounded structure replacing old entries also does, so
    they size blocks (``block_bytes``, see :func:`harness.analysis.verdicts.judge`) but never
    stand in for the growth itself.
    """
    policy = policy or MemoryPolicy()
    jobs = len(samples)
    points = heap_points(samples, policy.block_bytes)
    tried: list[tuple[float, Trend]] = []
    if jobs >= MIN_JOBS:
        for fraction in WARMUP_FRACTIONS:
            warmup = max(5.0, fraction * jobs)
            trend = _floor_trend(points, warmup, jobs, policy.alpha)
            if trend is None:
                continue
            tried.append((warmup, trend))
            bounded = trend.slope_high <= 0 or trend.slope_high < _limit_per_job(policy, jobs)
            if trend.p_increasing >= policy.alpha and bounded:
                return Verdict(
                    "pass",
                    f"flat after a warm-up of {int(warmup):,} jobs: "
                    f"{_bytes(trend.slope)}/job (upper bound "
                    f"{_bytes(trend.slope_high)}/job)",
                    _figures(samples, trend, warmup, jobs, policy),
                )
    if not tried:
        return Verdict(
            "inconclusive",
            f"{jobs:,} jobs with {len(points[0])} heap samples are "
            f"too few to judge memory growth; run at least {MIN_JOBS} jobs (1,000 "
            "or more to see a 64 B/job leak)",
            {"jobs": jobs, "signal": "heap"},
        )
    warmup, trend = tried[-1]
    figures = _figures(samples, trend, warmup, jobs, policy)
    if any(t.p_increasing >= policy.alpha for _, t in tried):
        return Verdict(
            "inconclusive",
            f"no steady growth after {int(warmup):,} jobs, but the "
            f"run cannot rule out up to {_bytes(trend.slope_high)}/job; "
            f"run {_more(jobs)} jobs",
            figures,
        )
    return _judge_growth(samples, points, trend, jobs, policy, figures)


def _judge_growth(
    samples: Samples,
    points: Points,
    trend: Trend,
    jobs: int,
    policy: MemoryPolicy,
    figures: dict[str, object],
) -> Verdict:
    """Growth was significant after every warm-up candidate: does it matter, and is it steady?"""
    rate = trend.slope
    projected = rate * jobs
    if rate < _limit_per_job(policy, jobs):
        return Verdict(
            "pass",
            f"grows {_bytes(rate)}/job, {_bytes(projected)} over "
            f"the run: below the floor of {_floor(policy)}",
            figures,
        )
    if jobs < MIN_JOBS_TO_FAIL:
        return Verdict(
            "inconclusive",
            f"still growing at job {jobs:,} ({_bytes(rate)}/job): too early to tell a leak "
            f"from a cache or pool still filling; run at least {MIN_JOBS_TO_FAIL:,} jobs",
            figures,
        )
    kept = _collected_rate(samples, policy.block_bytes, jobs)
    if kept is not None:
        figures = {**figures, "bytes_per_job_collected": kept}
        if kept < _limit_per_job(policy, jobs):
            return Verdict(
                "pass",
                f"the heap grew {_bytes(rate)}/job between garbage collections, but a full "
                f"collection brings it back: it keeps {_bytes(kept)}/job (garbage waiting for "
                "the collector, not a leak)",
                figures,
            )
        rate, projected = kept, kept * jobs
        figures["bytes_per_job"] = rate
        figures["projected_growth_bytes"] = projected
    third = _slope_of_quarter(points, jobs * 0.5, jobs * 0.75)
    fourth = _slope_of_quarter(points, jobs * 0.75, jobs)
    figures = {**figures, "slope_third_quarter": third, "slope_last_quarter": fourth}
    if third > 0 and fourth < 0.25 * third:
        return Verdict(
            "inconclusive",
            f"still growing at job {jobs:,} but slowing "
            f"({_bytes(third)}/job, then {_bytes(fourth)}/job): a cache may still "
            f"be filling; run {_more(jobs)} jobs to see it level off",
            figures,
        )
    onset = growth_onset(points, max(5.0, 0.05 * jobs), jobs)
    figures = {**figures, "growth_started_at_job": onset}
    return Verdict(
        "fail",
        f"grows {_bytes(rate)}/job from job {onset:,} on "
        f"({_bytes(projected)} over {jobs:,} jobs; p = {trend.p_increasing:.2g})",
        figures,
    )


COLLECTION_FRACTIONS: Final = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75)


def collection_points(jobs: int, judged_jobs: int) -> list[int]:
    """Jobs after which the worker runs a full garbage collection and measures its heap:
    at the warm-up candidates, three quarters in, and the last judged job."""
    if judged_jobs < 1:
        return []
    points = {int(f * judged_jobs) for f in COLLECTION_FRACTIONS} | {judged_jobs - 1}
    return sorted(p for p in points if 0 <= p < min(jobs, judged_jobs))


def _collected_rate(samples: Samples, block_bytes: float, jobs: int) -> float | None:
    """Bytes per job the heap keeps once garbage is collected, over the second half of the
    run, from the measurements taken right after full collections; None without two."""
    py = dict(zip(*gauge_points(samples, "py_blocks_collected"), strict=True))
    native = dict(zip(*gauge_points(samples, "native_heap_collected_bytes"), strict=True))
    at = sorted(job for job in py if job >= 0.5 * jobs - 1 and (not native or job in native))
    if len(at) < 2 or at[-1] == at[0]:
        return None
    first, last = at[0], at[-1]
    grown = block_bytes * (py[last] - py[first])
    if native:
        grown += native[last] - native[first]
    return grown / (last - first)


def _limit_per_job(policy: MemoryPolicy, jobs: int) -> float:
    """Growth per job that matters: the per-job limit if set, else the run's floor spread."""
    if policy.max_growth_per_job is not None:
        return policy.max_growth_per_job
    return policy.min_growth_bytes / jobs


def _floor(policy: MemoryPolicy) -> str:
    if policy.max_growth_per_job is not None:
        return f"{_bytes(policy.max_growth_per_job)}/job"
    return f"{_bytes(policy.min_growth_bytes)} over the run"


def _figures(
    samples: Samples, trend: Trend, warmup: float, jobs: int, policy: MemoryPolicy
) -> dict[str, object]:
    figures: dict[str, object] = {
        "signal": f"heap: native bytes + {policy.block_bytes:g} B x Python blocks, "
        "floor of each range of jobs",
        "jobs": jobs,
        "warmup_jobs": int(warmup),
        "bytes_per_job": trend.slope,
        "bytes_per_job_interval": [trend.slope_low, trend.slope_high],
        "projected_growth_bytes": trend.slope * jobs,
        "p_value": trend.p_increasing,
        "alpha": policy.alpha,
        "min_growth_bytes": policy.min_growth_bytes,
        "max_growth_per_job": policy.max_growth_per_job,
        "block_bytes": policy.block_bytes,
        "blocks": trend.n,
    }
    for field, name in (
        ("py_blocks", "py_blocks_per_job"),
        ("native_heap_bytes", "native_bytes_per_job"),
        ("rss_bytes", "rss_bytes_per_job"),
    ):
        series = gauge_points(samples, field)
        trend_of = _floor_trend(series, warmup, jobs, policy.alpha)
        if trend_of is not None:
            figures[name] = trend_of.slope
    return figures


def _bytes(value: float) -> str:
    magnitude = abs(value)
    for unit, size in (("MiB", 2**20), ("KiB", 2**10)):
        if magnitude >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.1f} B"


def _more(jobs: int) -> str:
    return f"{jobs * 10:,}"
