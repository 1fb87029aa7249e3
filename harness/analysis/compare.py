"""Comparing two runs: did NEW regress against BASE?

Latency: the judged jobs' latencies of both runs (after warm-up) as at most 50 consecutive
block medians each (per-job latency is autocorrelated and the machine's speed wanders over
seconds: tests on raw jobs give p = 1e-17 between two runs of the same worker), Mann-Whitney U
one-sided (NEW slower) and the Hodges-Lehmann shift as a ratio; a regression needs p < alpha, a
ratio of at least 1 + tolerance *and* a shift of at least ``min_change_s`` (20 us) per job:
two runs of the same 3 us job measured 3.1 and 4.5 us apart (1.47x, p = 1e-40), and a job's
position in its process moves its time 1-11 us (measured for the aged-vs-fresh comparison),
so smaller shifts between separate runs are not the worker's.

Memory: NEW's memory verdict failing where BASE's did not, or NEW's growth interval entirely
above BASE's. Failed jobs and crashes: more in NEW.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from worker_soak.analysis.series import speed_blocks
from worker_soak.analysis.trend import (
    autocorrelation,
    average_ranks,
    block_median,
    blocks,
    normal_sf,
)

#: Runs with less judged work than this may sit in one phase of the machine's speed, which no
#: within-run statistic sees: two 1-s runs of the same PDF job had medians 2.97 and 4.42 ms
#: (1.49x; 6 of 30 ordered pairs of six such runs were >= 1.1x and significant). Between
#: short runs only a 2x shift counts; between runs of >= 10 s the tolerance applies (0 of 20
#: pairs of 3,000-job runs of the same worker regressed).
SHORT_RUN_S: Final = 10.0
SHORT_RUN_MIN_RATIO: Final = 2.0


@dataclass(frozen=True, slots=True)
class Difference:
    """One row of ``soak compare``: a figure in both runs, and whether NEW regressed."""

    name: str
    base: str
    new: str
    change: str
    regressed: bool


def mann_whitney_greater(
    new: Sequence[float], base: Sequence[float], variance_factor: float = 1.0
) -> float:
    """One-sided p-value that NEW's values tend to be larger (normal approximation); the
    variance is multiplied by ``variance_factor`` for serially correlated values."""
    n1, n2 = len(new), len(base)
    if n1 == 0 or n2 == 0:
        return 1.0
    ranks = average_ranks([*new, *base])
    u = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    counts: dict[float, int] = {}
    for r in ranks:
        counts[r] = counts.get(r, 0) + 1
    n = n1 + n2
    ties = sum(t**3 - t for t in counts.values())
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return 0.5
    return normal_sf((u - n1 * n2 / 2 - 0.5) / math.sqrt(variance * variance_factor))


def serial_variance_factor(*series: Sequence[float]) -> float:
    """How much serial correlation inflates a rank statistic's variance: (1 + r) / (1 - r)
    for the mean lag-1 autocorrelation r of the series (clamped to 0..0.9). Block medians of
    one run stay correlated because the machine's speed wanders in phases longer than a
    block (measured: 300-job phases of 2.6 and 4.6 ms for the same PDF job)."""
    usable = [s for s in series if len(s) >= 3]
    if not usable:
        return 1.0
    r = min(0.9, max(0.0, statistics.fmean(autocorrelation(s, 1) for s in usable)))
    return (1 + r) / (1 - r)


def shift_ratio(new: Sequence[float], base: Sequence[float]) -> float:
    """exp of the Hodges-Lehmann shift between log latencies (every pair)."""
    pairs = [math.log(a) - math.log(b) for a in new for b in base]
    return math.exp(statistics.median(pairs))


def _block_medians(values: Sequence[float]) -> list[float]:
    return blocks(range(len(values)), values, block_median)[1]


def compare_runs(
    base: Mapping[str, Any],
    new: Mapping[str, Any],
    base_latencies: Sequence[float],
    new_latencies: Sequence[float],
    alpha: float = 0.01,
    tolerance: float = 0.10,
    min_change_s: float = 20e-6,
    base_speed: Sequence[float | None] = (),
    new_speed: Sequence[float | None] = (),
) -> list[Difference]:
    """The differences between two results; latencies are the judged jobs' wall times,
    speeds the machine-speed readings at the same jobs (None where there was none)."""
    rows: list[Difference] = []
    if base_latencies and new_latencies:
        rows.append(
            _latency_row(
                base_latencies, new_latencies, base_speed, new_speed, alpha, tolerance, min_change_s
            )
        )
    old_mem = base.get("verdicts", {}).get("memory", {})
    new_mem = new.get("verdicts", {}).get("memory", {})
    old_interval = old_mem.get("bytes_per_job_interval") or [None, None]
    new_interval = new_mem.get("bytes_per_job_interval") or [None, None]
    above = (
        new_interval[0] is not None
        and old_interval[1] is not None
        and new_interval[0] > old_interval[1]
    )
    rows.append(
        Difference(
            "memory",
            f"{old_mem.get('verdict', '-')}, {_rate(old_mem.get('bytes_per_job'))}",
            f"{new_mem.get('verdict', '-')}, {_rate(new_mem.get('bytes_per_job'))}",
            "grew" if above else "",
            (new_mem.get("verdict") == "fail" and old_mem.get("verdict") != "fail")
            or (above and new_mem.get("verdict") == "fail"),
        )
    )
    for key, name in (("jobs_failed", "failed jobs"), ("crashes", "crashes")):
        old_count = _count(base.get(key))
        new_count = _count(new.get(key))
        rows.append(
            Difference(
                name,
                str(old_count),
                str(new_count),
                f"{new_count - old_count:+d}",
                new_count > old_count,
            )
        )
    return rows


def _latency_row(
    base_latencies: Sequence[float],
    new_latencies: Sequence[float],
    base_speed: Sequence[float | None],
    new_speed: Sequence[float | None],
    alpha: float,
    tolerance: float,
    min_change_s: float,
) -> Difference:
    """Latency of NEW against BASE, each block scaled to the base run's typical machine speed
    when both runs read it (the speed of CPU-bound work wanders between and within runs)."""
    old_lat, new_lat = _block_medians(base_latencies), _block_medians(new_latencies)
    raw_base, raw_new = statistics.median(old_lat), statistics.median(new_lat)
    old_speed = (
        speed_blocks(base_speed, len(old_lat)) if len(base_speed) == len(base_latencies) else None
    )
    now_speed = (
        speed_blocks(new_speed, len(new_lat)) if len(new_speed) == len(new_latencies) else None
    )
    adjusted = old_speed is not None and now_speed is not None
    if old_speed is not None and now_speed is not None:
        reference = statistics.median(old_speed)
        old_lat = [lat * reference / speed for lat, speed in zip(old_lat, old_speed, strict=True)]
        new_lat = [lat * reference / speed for lat, speed in zip(new_lat, now_speed, strict=True)]
    p = mann_whitney_greater(new_lat, old_lat, serial_variance_factor(old_lat, new_lat))
    ratio = shift_ratio(new_lat, old_lat)
    short = not adjusted and min(sum(base_latencies), sum(new_latencies)) < SHORT_RUN_S
    needed = max(1 + tolerance, SHORT_RUN_MIN_RATIO) if short else 1 + tolerance
    how = ", speed-adjusted" if adjusted else f", short run: needs {needed:.1f}x" if short else ""
    return Difference(
        "latency (median job)",
        f"{raw_base * 1e3:.3g} ms",
        f"{raw_new * 1e3:.3g} ms",
        f"{ratio:.2f}x (p = {p:.2g}{how})",
        p < alpha and ratio >= needed and (ratio - 1) * raw_base >= min_change_s,
    )


def _rate(value: Any) -> str:
    return "-" if value is None else f"{value:.3g} B/job"


def _count(value: Any) -> int:
    if isinstance(value, list):
        return len(value)
    return int(value or 0)
