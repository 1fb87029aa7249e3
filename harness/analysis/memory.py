"""The memory verdict: does the worker keep memory from job to job, and how much per job?

The budget is per job, the rate that matters in production (a worker that runs a million
jobs): 4 B/job by default, below one retained Python object per job (a block is 32 B), above
the 0.5-2 B/job that allocator and interpreter noise leave on clean workers' collected heaps
here. A per-run budget (``--max-growth 48KiB``) is the user's choice, never the default: one
turns every short run's leak into a pass.

Two signals, both from cheap probes, so ``--light`` reaches the same verdict as a full run:

- **Rounds** (:mod:`worker_soak.analysis.rounds`): at the end of each of ~10 rounds the worker
  collects garbage and measures its heap; the deltas are exact. A leak grows in every round
  after warm-up (CPython's ``regrtest -R`` rule); growth a bounded cache explains is a cache
  filling. The net bytes kept from the baseline to the last collection bound steady growth.
- **The floor trend**: the per-job heap (native bytes + 32 B x blocks), cut into <= 50 ranges
  after a warm-up candidate (5, 10, 20, 30, 50 % of the run), each range's minimum;
  Mann-Kendall with the Hamed-Rao correction (one-sided, ``alpha``) and the Theil-Sen slope.

Verdicts:

1. ``fail`` -- every judged round kept more Python objects, not only while a bounded cache
   filled, at >= the budget; or growth that survives full collections at >= the budget,
   significant after every warm-up candidate and not slowing down.
2. ``pass`` -- every round grew only while bounded caches filled (said, with how full they
   are); or the heap kept under the budget per job between full collections, over the judged
   rounds and over their second half; or, without rounds, the floor's upper bound under it.
3. ``inconclusive`` -- anything else, with the smallest growth the run could see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from worker_soak.analysis.allocator_cache import allow_allocator_cache, unseen_threads
from worker_soak.analysis.heap_floor import (
    floor_trends,
    growth_onset,
    heap_points,
    slope_of_quarter,
    trend_figures,
)
from worker_soak.analysis.rounds import RoundsReading, read_rounds
from worker_soak.analysis.series import Points
from worker_soak.analysis.trend import (
    Trend,
    check_alpha,
)
from worker_soak.model import Verdict
from worker_soak.samples import Samples
from worker_soak.units import format_bytes as _bytes

WARMUP_FRACTIONS: Final = (0.05, 0.1, 0.2, 0.3, 0.5)
#: Fewer jobs than this give the floor trend too few ranges to read.
MIN_JOBS: Final = 50
#: A heap whose rounds keep less than this share per job in their second half than in their
#: first is slowing down: a cache or pool filling (measured leaks kept the same, +-10 %).
SLOWING: Final = 0.5
#: The default budget, bytes kept per job (see the module's docstring).
BUDGET_PER_JOB: Final = 4.0


@dataclass(frozen=True, slots=True)
class MemoryPolicy:
    """How strict the memory verdict is."""

    alpha: float = 0.01
    #: Bytes per job the worker may keep.
    budget_per_job: float = BUDGET_PER_JOB
    #: A budget over the whole run instead (the user's choice): budget_per_job = this / jobs.
    max_growth_total: float | None = None
    #: Bytes one CPython block stands for in every decision (most small objects are 32-64
    #: bytes), so a run with memray and one without reach the same verdict.
    block_bytes: float = 32.0
    #: What one kept object stands for in the reported bytes/job: memray's measure of the
    #: objects the leak sites keep, when the window ran; else ``block_bytes``.
    object_bytes: float = 32.0
    #: Native bytes the C allocator may hold in caches it counts as in use: 0 where the
    #: native heap probe subtracts what glibc's per-thread caches park (or they are off);
    #: ``TCACHE_BYTES`` for the inline runner where they cannot be read.
    allocator_cache_bytes: float = 0.0

    def __post_init__(self) -> None:
        check_alpha(self.alpha)
        if not self.budget_per_job > 0:
            raise ValueError(f"budget_per_job must be > 0 bytes, got {self.budget_per_job}")
        if self.max_growth_total is not None and not self.max_growth_total > 0:
            raise ValueError(f"max_growth_total must be > 0 bytes, got {self.max_growth_total}")
        if not self.block_bytes > 0:
            raise ValueError(f"block_bytes must be > 0, got {self.block_bytes}")

    def budget(self, jobs: int) -> float:
        """Bytes per job a run of ``jobs`` may keep."""
        if self.max_growth_total is not None:
            return self.max_growth_total / max(1, jobs)
        return self.budget_per_job

    def describe(self) -> str:
        if self.max_growth_total is not None:
            return f"{_bytes(self.max_growth_total)} over the run"
        return f"{_bytes(self.budget_per_job)}/job"


def memory_verdict(samples: Samples, policy: MemoryPolicy | None = None) -> Verdict:
    """Judge claim 1, flat memory, from the rounds and the heap probes (see the module)."""
    policy = policy or MemoryPolicy()
    jobs = len(samples)
    budget = policy.budget(jobs)
    points = heap_points(samples, policy.block_bytes)
    rounds = read_rounds(samples, policy.block_bytes)
    unseen = unseen_threads(samples)
    figures = _base_figures(policy, jobs, budget, rounds)
    tried = floor_trends(points, jobs, policy.alpha, WARMUP_FRACTIONS, MIN_JOBS)
    if tried:
        figures.update(trend_figures(samples, tried[-1], jobs, policy.alpha))
    if rounds is not None and rounds.judged:
        verdict = _by_rounds(samples, points, rounds, tried, jobs, budget, policy, figures)
        if verdict is not None:
            return allow_allocator_cache(
                verdict, rounds, budget, policy.allocator_cache_bytes, policy.block_bytes, unseen
            )
    if not tried:
        return Verdict(
            "inconclusive",
            f"{jobs:,} jobs with {len(points[0])} heap samples and "
            f"{0 if rounds is None else len(rounds.rounds)} judged rounds are too few to judge "
            f"memory growth; run at least {max(MIN_JOBS, 2 * jobs):,} jobs",
            figures,
        )
    verdict = _by_trend(samples, points, tried, jobs, budget, policy, figures, rounds)
    return allow_allocator_cache(
        verdict, rounds, budget, policy.allocator_cache_bytes, policy.block_bytes, unseen
    )


def _by_rounds(
    samples: Samples,
    points: Points,
    rounds: RoundsReading,
    tried: list[tuple[float, Trend]],
    jobs: int,
    budget: float,
    policy: MemoryPolicy,
    figures: dict[str, object],
) -> Verdict | None:
    """The verdict the exact rounds decide, or None to leave it to the floor trend."""
    count = len(rounds.rounds)
    span = f"{count} rounds from job {rounds.baseline_job + 1:,} to {rounds.last_job + 1:,}"
    if rounds.leak:
        return _leaking(points, rounds, jobs, budget, policy, figures, span)
    settled = rounds.settled(budget)
    if rounds.cache_filling and settled is not None:
        return Verdict(
            "pass",
            f"grew in every one of {span} only while bounded caches filled: "
            f"{_caches_text(rounds)}; the rest of the heap stayed flat (a leak that grows "
            "with a filling cache shows once the cache is full)",
            figures,
        )
    figures["bytes_per_job_collected"] = rounds.net_bytes_per_job()
    floor = rounds.floor_rate()
    if settled is None and floor is not None and floor < budget and not rounds.grew_every_round:
        figures.update(bytes_per_job=floor, bytes_per_job_collected_floor=floor)
        return Verdict(
            "pass",
            f"flat at its floor: after full collections the heap went up and came back down "
            f"over {span}, and its lowest level "
            f"{'rose' if floor >= 0 else 'fell'} by {_bytes(abs(floor))}/job from the first "
            f"half to the second (budget {policy.describe()})",
            figures,
        )
    if settled is not None:
        baseline, net, late = settled
        figures.update(
            bytes_per_job=net,
            bytes_per_job_collected=net,
            bytes_per_job_collected_second_half=late,
            warmup_jobs=baseline + 1,
        )
        return Verdict(
            "pass",
            f"flat: after full collections the heap kept {_bytes(net)}/job from job "
            f"{baseline + 1:,} to {rounds.last_job + 1:,} ({_bytes(late)}/job over the second "
            f"half); budget {policy.describe()}",
            figures,
        )
    return None


def _leaking(
    points: Points,
    rounds: RoundsReading,
    jobs: int,
    budget: float,
    policy: MemoryPolicy,
    figures: dict[str, object],
    span: str,
) -> Verdict:
    """Every judged round kept more, evenly: a leak at or above the budget fails, unless its
    rounds slow down (a pool or cache of the framework's filling); one under it passes.
    Slowing is read on the objects the rule counts: a dict of delivered ids kept one object a
    job in every round, and its table's doubling (3 KiB of native heap in one early round)
    read as 68 then 33 B/job in bytes: "slowing", inconclusive, over 300 jobs."""
    early, late = rounds.block_halves()
    if late < SLOWING * early:
        block = policy.block_bytes
        figures.update(slope_third_quarter=early * block, slope_last_quarter=late * block)
        return Verdict(
            "inconclusive",
            f"kept more Python objects in every one of {span}, but slowing "
            f"({_objects(early)}/job, then {_objects(late)}/job): a cache or pool may still "
            f"be filling; run {_more(jobs)} jobs to see it level off",
            figures,
        )
    rate = rounds.unexplained_bytes_per_job()
    objects = rounds.unexplained_blocks_per_job()
    # The decision weighs a block as 32 B in every mode; what is reported uses the size
    # memray measured for the objects this worker keeps, where it ran.
    shown = rate + (policy.object_bytes - policy.block_bytes) * objects
    figures.update(
        bytes_per_job=shown, projected_growth_bytes=shown * jobs, signal_bytes_per_job=rate
    )
    if rate >= budget:
        onset = growth_onset(points, max(5.0, 0.05 * jobs), jobs)
        figures["growth_started_at_job"] = onset
        return Verdict(
            "fail",
            f"grows {_bytes(shown)}/job from job {onset:,} on ({_objects(objects)}/job"
            f"{_kept_in(rounds)}): it kept more Python objects after a full collection "
            f"in every one of {span}",
            figures,
        )
    return Verdict(
        "pass",
        f"keeps {_bytes(rate)}/job in every round ({span}): under the budget of "
        f"{policy.describe()}",
        figures,
    )


def _by_trend(
    samples: Samples,
    points: Points,
    tried: list[tuple[float, Trend]],
    jobs: int,
    budget: float,
    policy: MemoryPolicy,
    figures: dict[str, object],
    rounds: RoundsReading | None,
) -> Verdict:
    """The floor trend decides: no rounds, or rounds that grew past the budget in some
    rounds only (a structure growing in steps, a pool filling, a leak with gaps)."""
    warmup, trend = tried[-1]
    collected = rounds is not None and rounds.judged
    if not collected:
        for candidate, candidate_trend in tried:
            if candidate_trend.p_increasing >= policy.alpha and candidate_trend.slope_high < budget:
                return Verdict(
                    "pass",
                    f"flat after a warm-up of {int(candidate):,} jobs: "
                    f"{_bytes(candidate_trend.slope)}/job (upper bound "
                    f"{_bytes(candidate_trend.slope_high)}/job, budget {policy.describe()})",
                    figures,
                )
    steady = all(t.p_increasing < policy.alpha for _, t in tried)
    rate = highest = net = trend.slope
    if collected:
        assert rounds is not None
        # Both readings must agree: a failure needs both at or over the budget, a pass both
        # under it (the trend's slope alone passed a C leak the collections showed).
        net = rounds.net_bytes_per_job()
        rate, highest = (min(rate, net), max(rate, net)) if steady else (net, net)
        # A heap that wanders (a ring of random-sized blobs replaced at random: a random
        # walk) reads as a trend; growth that is real is kept in most rounds, evenly.
        steady = steady and rounds.steady()
    if steady and rate >= budget:
        third = slope_of_quarter(points, jobs * 0.5, jobs * 0.75)
        fourth = slope_of_quarter(points, jobs * 0.75, jobs)
        if rounds is not None and rounds.judged:
            # Exact rounds say it better than the floor's quarters: a Celery child kept
            # 1.2, 1.0, 0.5, 0.8, 0.8, 0.2, 0.2 blocks/job in its rounds (something of the
            # framework's filling), a leak keeps the same in every round.
            third, fourth = rounds.halves()
            slowing = third > 0 and fourth < SLOWING * third
        else:
            slowing = third > 0 and fourth < 0.25 * third
        figures.update(slope_third_quarter=third, slope_last_quarter=fourth)
        if slowing:
            return Verdict(
                "inconclusive",
                f"still growing at job {jobs:,} but slowing ({_bytes(third)}/job, then "
                f"{_bytes(fourth)}/job): a cache or pool may still be filling; run "
                f"{_more(jobs)} jobs to see it level off",
                figures,
            )
        onset = growth_onset(points, max(5.0, 0.05 * jobs), jobs)
        figures.update(bytes_per_job=rate, projected_growth_bytes=rate * jobs)
        figures["growth_started_at_job"] = onset
        return Verdict(
            "fail",
            f"grows {_bytes(rate)}/job from job {onset:,} on ({_bytes(rate * jobs)} over "
            f"{jobs:,} jobs; p = {trend.p_increasing:.2g}"
            f"{', kept after full collections' if collected else ''})",
            figures,
        )
    if steady and highest < budget:
        return Verdict(
            "pass",
            f"grows {_bytes(highest)}/job: under the budget of {policy.describe()}",
            figures,
        )
    seen = max(trend.slope_high, budget)
    if steady:
        seen = max(seen, highest)
        what = (
            f"grew steadily, {_bytes(trend.slope)}/job by the floor of its samples but "
            f"{_bytes(net)}/job between full collections: one under the budget, one over"
        )
    elif all(t.p_increasing < policy.alpha for _, t in tried):
        what = f"grew {_bytes(trend.slope)}/job, but not steadily"
    else:
        what = f"no steady growth after {int(warmup):,} jobs"
    return Verdict(
        "inconclusive",
        f"{what}: the run cannot rule out up to "
        f"{_bytes(seen)}/job (budget {policy.describe()})"
        f"{_rounds_note(rounds)}; run {_jobs_to_settle(jobs, seen, budget):,} jobs",
        figures,
    )


def _rounds_note(rounds: RoundsReading | None) -> str:
    if rounds is None or not rounds.judged:
        return ""
    net = rounds.net_bytes_per_job()
    grew = sum(r.blocks > 0 or r.native_bytes > 0 for r in rounds.rounds)
    return (
        f"; after full collections it kept {_bytes(net)}/job, growing in {grew} of "
        f"{len(rounds.rounds)} rounds"
    )


def _jobs_to_settle(jobs: int, seen: float, budget: float) -> int:
    """Jobs for the upper bound to reach the budget: the bound of a Theil-Sen slope over
    a fixed number of ranges shrinks about as 1/jobs^1.5 (wider span, same noise)."""
    factor = max(2.0, (seen / budget) ** (2 / 3))
    return int(math.ceil(jobs * min(factor, 20.0) / 100.0) * 100)


def _kept_in(rounds: RoundsReading) -> str:
    parts = []
    if rounds.grown_types:
        parts.append(f"growing: {rounds.describe_types()}")
    unbounded = rounds.growing(bounded=False)
    if unbounded:
        parts.append(
            "unbounded: "
            + ", ".join(f"{c.name} +{c.entries - c.entries_before:,} entries" for c in unbounded)
        )
    return "; " + "; ".join(parts) if parts else ""


def _caches_text(rounds: RoundsReading) -> str:
    caches = rounds.growing(bounded=True)
    if not caches:
        return "bounded caches (unnamed)"
    texts = []
    for cache in caches[:4]:
        full = cache.full_at_job(rounds.baseline_job, rounds.last_job)
        size = (
            f"{cache.entries:,}/{cache.capacity:,}" if cache.capacity > 0 else f"{cache.entries:,}"
        )
        texts.append(f"{cache.name} {size}" + (f", full at ~job {full:,}" if full else ""))
    return "; ".join(texts)


def _base_figures(
    policy: MemoryPolicy, jobs: int, budget: float, rounds: RoundsReading | None
) -> dict[str, object]:
    figures: dict[str, object] = {
        "signal": f"heap: native bytes + {policy.block_bytes:g} B x Python blocks; exact "
        "rounds after full collections, and the floor of each range of jobs",
        "jobs": jobs,
        "budget_bytes_per_job": budget,
        "max_growth_total": policy.max_growth_total,
        "alpha": policy.alpha,
        "block_bytes": policy.block_bytes,
    }
    if rounds is not None:
        figures["rounds"] = rounds.to_json()
    return figures


def _more(jobs: int) -> str:
    return f"{jobs * 10:,}"


def _objects(count: float) -> str:
    return f"{count:.2g} object{'' if count == 1 else 's'}"
