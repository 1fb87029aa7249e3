"""The resource verdict: open files, threads and child processes must return to their
post-warm-up level; steady growth fails (CPython's refleak hunter is as strict about fds).

For each counter, warm-up candidates end at 5, 10, 20, 30 and 50 % of the run. After a
candidate, the *ceiling* is the highest count in the next 5 % of the run (transient threads
and files of a job in flight sit there) and the *floor of the end* is the lowest count in the
last 10 %. If the end's floor rises above a candidate's ceiling for every candidate, the
counter kept growing after half the run: fail, with the growth per job and the first job
above the post-warm-up ceiling. Counts are exact integers, so the decision needs no
statistics; the growth per job is the Theil-Sen slope of the block medians after warm-up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Final

from worker_soak.analysis.series import Points, gauge_points, range_blocks
from worker_soak.analysis.trend import MAX_BLOCKS, block_median, theil_sen
from worker_soak.model import Verdict
from worker_soak.samples import Samples

COUNTERS: Final = (("fds", "open files"), ("threads", "threads"), ("children", "child processes"))
WARMUP_FRACTIONS: Final = (0.05, 0.1, 0.2, 0.3, 0.5)
MIN_JOBS: Final = 100
MIN_POINTS: Final = 10


@dataclass(frozen=True, slots=True)
class CounterGrowth:
    """A counter that kept rising after every warm-up candidate."""

    warmup_jobs: int
    warmup_level: float
    final_level: float
    started_at_job: int
    per_job: float


def counter_growth(points: Points, jobs: int) -> CounterGrowth | None:
    """None when the counter levels off after some warm-up candidate."""
    xs, ys = points
    end = [y for x, y in zip(xs, ys, strict=True) if x >= 0.9 * jobs]
    if not end:
        return None
    end_floor = min(end)
    first: tuple[float, float] | None = None
    for fraction in WARMUP_FRACTIONS:
        start = max(5.0, fraction * jobs)
        window = [y for x, y in zip(xs, ys, strict=True) if start <= x < start + 0.05 * jobs]
        if not window:
            continue
        ceiling = max(window)
        if end_floor <= ceiling:
            return None
        first = first or (start, ceiling)
    if first is None:
        return None
    start, ceiling = first
    began = next(
        (int(x) for x, y in zip(xs, ys, strict=True) if x >= start and y > ceiling), int(start)
    )
    cx, cy = range_blocks(points, start, jobs, MAX_BLOCKS, block_median)
    per_job = theil_sen(cx, cy)[0] if len(cx) >= 2 else (end_floor - ceiling) / (jobs - start)
    return CounterGrowth(int(start), ceiling, end_floor, began, per_job)


def resource_verdict(samples: Samples) -> Verdict:
    """Judge the resource part of claim 1 from the fds, threads and children probes."""
    jobs = len(samples)
    available = {field: gauge_points(samples, field) for field, _ in COUNTERS}
    available = {f: p for f, p in available.items() if len(p[0]) >= MIN_POINTS}
    if jobs < MIN_JOBS or not available:
        return Verdict(
            "inconclusive",
            f"{jobs:,} jobs gave fewer than {MIN_POINTS} samples of each resource counter "
            "(they are sampled every few jobs to keep the cost down); run at least "
            f"{10 * MIN_JOBS:,} jobs",
            {"jobs": jobs},
        )
    figures: dict[str, object] = {"jobs": jobs}
    failures = []
    for field, label in COUNTERS:
        if field not in available:
            continue
        growth = counter_growth(available[field], jobs)
        ys = available[field][1]
        figures[field] = {
            "first": ys[0],
            "last": ys[-1],
            "max": max(ys),
            "growing": growth is not None,
            **(asdict(growth) if growth is not None else {}),
        }
        if growth is not None:
            failures.append(
                f"{label} grew from {growth.warmup_level:g} to {growth.final_level:g} "
                f"from job {growth.started_at_job:,} on ({growth.per_job:.3g}/job)"
            )
    if failures:
        return Verdict("fail", "; ".join(failures), figures)
    checked = ", ".join(label for field, label in COUNTERS if field in available)
    return Verdict("pass", f"{checked} returned to their post-warm-up level", figures)
