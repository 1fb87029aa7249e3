"""Comparing two runs: did NEW regress against BASE?

Latency: the judged jobs' latencies of both runs (after warm-up), Mann-Whitney U one-sided
(NEW slower) and the Hodges-Lehmann shift as a ratio; a regression needs p < alpha *and* a
ratio of at least 1 + tolerance. Memory: NEW's memory verdict failing where BASE's did not, or
NEW's growth interval entirely above BASE's. Failed jobs and crashes: more in NEW.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from harness.analysis.trend import average_ranks, normal_sf

MAX_POINTS: Final = 2_000


@dataclass(frozen=True, slots=True)
class Difference:
    """One row of ``soak compare``: a figure in both runs, and whether NEW regressed."""

    name: str
    base: str
    new: str
    change: str
    regressed: bool


def mann_whitney_greater(new: Sequence[float], base: Sequence[float]) -> float:
    """One-sided p-value that NEW's values tend to be larger (normal approximation)."""
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
    return normal_sf((u - n1 * n2 / 2 - 0.5) / math.sqrt(variance))


def shift_ratio(new: Sequence[float], base: Sequence[float], seed: int = 0) -> float:
    """exp of the Hodges-Lehmann shift between log latencies (a 1,000-pair sample)."""
    rng = random.Random(seed)
    pairs = [math.log(rng.choice(new)) - math.log(rng.choice(base)) for _ in range(1_000)]
    return math.exp(statistics.median(pairs))


def _thin(values: Sequence[float]) -> list[float]:
    step = max(1, len(values) // MAX_POINTS)
    return [v for v in values[::step] if v > 0]


def compare_runs(
    base: Mapping[str, Any],
    new: Mapping[str, Any],
    base_latencies: Sequence[float],
    new_latencies: Sequence[float],
    alpha: float = 0.01,
    tolerance: float = 0.10,
) -> list[Difference]:
    """The differences between two results; latencies are the judged jobs' wall times."""
    rows: list[Difference] = []
    old_lat, new_lat = _thin(base_latencies), _thin(new_latencies)
    if old_lat and new_lat:
        p = mann_whitney_greater(new_lat, old_lat)
        ratio = shift_ratio(new_lat, old_lat)
        rows.append(
            Difference(
                "latency (median job)",
                f"{statistics.median(old_lat) * 1e3:.3g} ms",
                f"{statistics.median(new_lat) * 1e3:.3g} ms",
                f"{ratio:.2f}x (p = {p:.2g})",
                p < alpha and ratio >= 1 + tolerance,
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


def _rate(value: Any) -> str:
    return "-" if value is None else f"{value:.3g} B/job"


def _count(value: Any) -> int:
    if isinstance(value, list):
        return len(value)
    return int(value or 0)
