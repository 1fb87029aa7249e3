"""The drift test behind the latency verdict (``analysis.latency``): does a job take longer
after thousands of jobs than at the start?

Per-job latency is autocorrelated (lag-1 0.55-0.83 measured on real workers) and spiky (GC,
page faults), so raw-series trend tests raise 8-32 % false alarms. Method:

1. Drop the warm-up: max(5 jobs, 5 %).
2. Reduce to at most 50 block medians.
3. One-sided Mann-Kendall with the Hamed-Rao correction at ``alpha``; Theil-Sen slope gives
   the relative drift over the run (fitted end level / fitted start level - 1).
4. The drift's one-sided (1 - alpha) interval, from the block medians' scatter around the
   fitted line (autocorrelation-corrected), is read against ``tolerance`` (default 10 %),
   three ways: ``fail`` when the trend is significant and the interval's *low* end is at
   the tolerance or beyond (and the change is at least ``min_change_s``, 1 us, per job: a
   10 % drift of a 0.5 us job is timer noise; 50 us for tasks a job queue runs, see
   ``QUEUED_MIN_CHANGE_S``); ``pass`` when its *high* end is under the tolerance or, in time
   per job, under that floor; otherwise ``inconclusive``. Measured why the low end: a clean
   worker of real libraries (MIME, SQLite; its aged worker 3-5 % slower than a fresh one)
   drifted +12 % and +14 % over 2,840-3,000 jobs in 2 of 15 runs here (standard error ~2.2 %), and a
   point estimate past 10 % failed them. The price: a drift D fails reliably (power 0.8)
   from D = tolerance + the minimum detectable drift (~17 % at 3,000 jobs of these jobs);
   between 10 % and that it is ``inconclusive``, never ``pass``.
5. A pass also needs the run to be able to see a drift of ``tolerance``: the minimum
   detectable drift (alpha, power 0.8, from the block medians' scatter) must be under it.
   Otherwise ``inconclusive``, saying how many jobs would do. Runs under ``MIN_JOBS`` are
   always inconclusive: 10-100 jobs cannot show drift.
6. ``unstable_environment`` when the detrended block medians' lag-1 autocorrelation exceeds
   0.5 (the machine, not the worker, is drifting); such a run cannot pass.

Measured by simulation (``tests/unit/test_latency_verdict.py``): false alarms on AR(1) noise
with lag-1 up to 0.8 and 1 % GC spikes stay under 2 % at 1,000-5,000 jobs.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Final

from worker_soak.analysis.series import latency_points, speed_at, speed_blocks
from worker_soak.analysis.trend import (
    MAX_BLOCKS,
    block_median,
    blocks,
    check_alpha,
    normal_quantile,
    trend_test,
)
from worker_soak.model import Verdict
from worker_soak.samples import Samples

#: The per-job floor for tasks run by a job queue (Celery, RQ): each task starts right after
#: its process wakes from a socket or pipe read, beside the framework's own milliseconds of
#: work per task. Measured here, 6 runs of 1,000 tasks of one ~60-us Celery task: the medians
#: of 45-task blocks wandered over 33-82 us within a run (median 49 us), and the run's level
#: over 53-83 us between runs; 4 runs of one ~50-us RQ job: 31-42 us within a run, 41-63 us
#: between runs. A clean Celery run drifted "+22 %" (23 us, p = 0.0009) once in CI, and two
#: of those six runs drifted "significantly" the other way (-28 %, -37 %).
#: So a task must slow by 50 us or more (and by the tolerance) before its slowdown fails.
QUEUED_MIN_CHANGE_S: Final = 50e-6
UNSTABLE_LAG1: Final = 0.5
POWER: Final = 0.8


@dataclass(frozen=True, slots=True)
class LatencyPolicy:
    """How strict the latency verdict is."""

    alpha: float = 0.01
    tolerance: float = 0.10
    #: Changes smaller than this, per job, are below what per-job timing resolves: the clock
    #: reads and the probes around a job jitter by ~0.5 us on the reference machine.
    min_change_s: float = 1e-6
    #: Queue runners use ``QUEUED_MIN_CHANGE_S`` (a task starts right after its process
    #: wakes for it).
    #: The same floor for aged against fresh, where each probe job runs right after its
    #: process wakes from a pipe read (cold caches, a descheduled core): measured here, a
    #: 0.5 us job takes 1-11 us in that position, so differences under 20 us are noise.
    paired_min_change_s: float = 20e-6

    def __post_init__(self) -> None:
        check_alpha(self.alpha)
        if not self.tolerance > 0:
            raise ValueError(
                f"tolerance must be > 0 (a fraction, 0.1 = 10 %), got {self.tolerance}"
            )


def warmup_jobs(jobs: int) -> int:
    return max(5, jobs // 20)


def minimum_detectable_drift(
    relative_scatter: float, blocks_count: int, variance_factor: float, alpha: float
) -> float:
    """Smallest drift over the run a trend test detects with power 0.8.

    For a linear trend over n evenly spaced blocks with residual scatter s (relative to the
    level), the fitted drift has standard error s * sqrt(12 / n); autocorrelation inflates
    the variance by ``variance_factor``.
    """
    if blocks_count < 3:
        return math.inf
    z = normal_quantile(1 - alpha) + normal_quantile(POWER)
    return z * relative_scatter * math.sqrt(12 / blocks_count * variance_factor)


def drift_margin(
    relative_scatter: float, blocks_count: int, variance_factor: float, alpha: float
) -> float:
    """Half-width of the drift's one-sided (1 - alpha) interval: the fitted drift's standard
    error (as in ``minimum_detectable_drift``) times the normal quantile."""
    if blocks_count < 3:
        return math.inf
    return (
        normal_quantile(1 - alpha)
        * relative_scatter
        * math.sqrt(12 / blocks_count * variance_factor)
    )


def drift_verdict(samples: Samples, policy: LatencyPolicy) -> Verdict:
    """The trend part: block medians, corrected Mann-Kendall, Theil-Sen drift."""
    jobs = len(samples)
    warmup = warmup_jobs(jobs)
    xs, ys = latency_points(samples, warmup)
    cx, cy = blocks(xs, ys, block_median, MAX_BLOCKS)
    speeds = speed_blocks(speed_at(samples, warmup), len(cy))
    if speeds is not None:
        # The machine's speed wanders in phases of seconds on shared hosts (clean workers
        # "slowed" 25-54 % over a run); each block is scaled to the run's typical speed.
        typical = statistics.median(speeds)
        cy = [y * typical / speed for y, speed in zip(cy, speeds, strict=True)]
    trend = trend_test(cx, cy, policy.alpha)
    intercept = statistics.median(y - trend.slope * x for x, y in zip(cx, cy, strict=True))
    start_level = intercept + trend.slope * cx[0]
    end_level = intercept + trend.slope * cx[-1]
    drift = end_level / start_level - 1 if start_level > 0 else 0.0
    residuals = [y - (intercept + trend.slope * x) for x, y in zip(cx, cy, strict=True)]
    scatter = 1.4826 * statistics.median(abs(r) for r in residuals)
    level = statistics.median(cy)
    relative_scatter = scatter / level if level > 0 else 0.0
    mdd = minimum_detectable_drift(relative_scatter, len(cy), trend.variance_factor, policy.alpha)
    margin = drift_margin(relative_scatter, len(cy), trend.variance_factor, policy.alpha)
    low, high = drift - margin, drift + margin
    unstable = trend.lag1_autocorrelation > UNSTABLE_LAG1
    figures: dict[str, object] = {
        "jobs": jobs,
        "warmup_jobs": warmup,
        "drift": drift,
        "start_ms": start_level * 1e3,
        "end_ms": end_level * 1e3,
        "p_value": trend.p_increasing,
        "alpha": policy.alpha,
        "tolerance": policy.tolerance,
        "min_detectable_drift": mdd,
        "drift_interval": [low, high],
        "unstable_environment": unstable,
        "block_lag1_autocorrelation": trend.lag1_autocorrelation,
        "blocks": trend.n,
        "speed_adjusted": speeds is not None,
    }
    resolvable = end_level - start_level >= policy.min_change_s
    figures["min_change_ms"] = policy.min_change_s * 1e3
    # The probe read the machine's speed, but too rarely to scale by: the run was shorter
    # than the machine's speed phases (seconds), and one phase change inside it moves
    # CPU-bound work by up to 1.75x here (2.6 vs 4.6 ms). Only a 2x drift fails such a run.
    unreadable = "speed_ns" in samples.gauges and speeds is None
    figures["speed_unreadable"] = unreadable
    if unreadable and trend.p_increasing < policy.alpha and policy.tolerance <= drift < 1.0:
        return Verdict(
            "inconclusive",
            f"jobs got {drift:.0%} slower over {jobs:,} jobs, but the run was too short to "
            "read the machine's speed, whose phases move jobs by up to 1.75x here: only a 2x "
            "drift fails a run this short; run longer",
            figures,
        )
    if trend.p_increasing < policy.alpha and low >= policy.tolerance and resolvable:
        return Verdict(
            "fail",
            f"jobs got {drift:.0%} slower over {jobs:,} jobs "
            f"({start_level * 1e3:.3g} ms to {end_level * 1e3:.3g} ms; at least "
            f"{low:.0%}; p = {trend.p_increasing:.2g})",
            figures,
        )
    # Past the tolerance but not surely: a fail only where the aged worker itself ran the
    # same jobs slower than a fresh one (``latency_verdict``).
    figures["suggests_drift"] = (
        trend.p_increasing < policy.alpha and drift >= policy.tolerance and resolvable
    )
    if not resolvable and drift >= policy.tolerance and not unstable:
        return _under_floor(drift, start_level, high, jobs, policy, figures)
    if high >= policy.tolerance and drift >= 0 and resolvable and not unstable:
        half = policy.tolerance / 2
        needed = max(jobs + 1, int(jobs * (margin / half) ** 2) + 1)
        return Verdict(
            "inconclusive",
            f"jobs got {drift:.0%} slower over {jobs:,} jobs ({low:.0%} to {high:.0%}): "
            f"cannot tell whether they slowed by the {policy.tolerance:.0%} tolerance or "
            f"more; run about {needed:,} jobs to narrow it to +-{half:.0%}",
            figures,
        )
    return _no_drift(drift, mdd, jobs, trend.lag1_autocorrelation, policy, figures)


def _no_drift(
    drift: float,
    mdd: float,
    jobs: int,
    lag1: float,
    policy: LatencyPolicy,
    figures: dict[str, object],
) -> Verdict:
    """No drift past the tolerance: a pass when the run could have seen one."""
    if lag1 > UNSTABLE_LAG1:
        return Verdict(
            "inconclusive",
            "the environment was unstable (block lag-1 "
            f"autocorrelation {lag1:.2f} > {UNSTABLE_LAG1}): "
            "rerun on a quieter machine or with more jobs",
            figures,
        )
    if mdd > policy.tolerance:
        needed = int(jobs * (mdd / policy.tolerance) ** 2) + 1
        return Verdict(
            "inconclusive",
            f"{jobs:,} jobs can only detect a drift of {mdd:.0%} "
            f"or more (tolerance {policy.tolerance:.0%}); run about {needed:,} jobs",
            figures,
        )
    return Verdict(
        "pass",
        f"no drift of {policy.tolerance:.0%} or more: {drift:+.1%} over "
        f"{jobs:,} jobs (could detect {mdd:.1%})",
        figures,
    )


def _under_floor(
    drift: float,
    start_level: float,
    high: float,
    jobs: int,
    policy: LatencyPolicy,
    figures: dict[str, object],
) -> Verdict:
    """A drift past the tolerance that is less time per job than per-job timing resolves:
    a pass when even the interval's high end is under that floor."""
    change_us = drift * start_level * 1e6
    ceiling_us = high * start_level * 1e6
    floor_us = policy.min_change_s * 1e6
    said = (
        f"jobs got {drift:.0%} slower over {jobs:,} jobs, {change_us:.3g} us per job (at most "
        f"{ceiling_us:.3g} us)"
    )
    if ceiling_us < floor_us:
        return Verdict(
            "pass", f"{said}: under the {floor_us:.3g} us per job that timing resolves", figures
        )
    # The interval narrows as 1/sqrt(jobs): the jobs that bring its high end under the floor.
    needed = int(jobs * ((ceiling_us - change_us) / (floor_us - change_us)) ** 2) + 1
    return Verdict(
        "inconclusive",
        f"{said}: cannot tell whether by the {floor_us:.3g} us per job that timing resolves "
        f"or more; run about {min(needed, 100 * jobs):,} jobs",
        figures,
    )
