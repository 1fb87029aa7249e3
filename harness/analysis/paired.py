"""Aged against fresh: the same jobs, alternately on the worker that ran the whole soak and on
a freshly started one. Paired, so the machine's own drift cancels out.

Each pair gives d = log(aged time / fresh time). The Wilcoxon signed-rank test asks whether
the aged worker is slower (one-sided); the Hodges-Lehmann estimate (median of the Walsh
averages of d) and its interval, exponentiated, give the slowdown ratio.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from worker_soak.analysis.trend import average_ranks, normal_quantile, normal_sf
from worker_soak.model import AgedTimes

MIN_PAIRS: Final = 10


@dataclass(frozen=True, slots=True)
class PairedComparison:
    """How much slower the aged worker ran the same jobs."""

    pairs: int
    ratio: float
    ratio_low: float
    ratio_high: float
    p_slower: float
    fresh_median_ns: float

    def to_json(self) -> dict[str, object]:
        return {
            "pairs": self.pairs,
            "ratio": self.ratio,
            "ratio_interval": [self.ratio_low, self.ratio_high],
            "p_value": self.p_slower,
            "fresh_median_ms": self.fresh_median_ns / 1e6,
        }


def wilcoxon_greater(differences: Sequence[float]) -> float:
    """One-sided p-value that the differences are centred above zero (normal approximation
    with the tie correction; zeros dropped, as Wilcoxon did)."""
    nonzero = [d for d in differences if d != 0]
    n = len(nonzero)
    if n == 0:
        return 1.0
    ranks = average_ranks([abs(d) for d in nonzero])
    w_plus = sum(r for r, d in zip(ranks, nonzero, strict=True) if d > 0)
    mean = n * (n + 1) / 4
    counts: dict[float, int] = {}
    for r in ranks:
        counts[r] = counts.get(r, 0) + 1
    ties = sum(t**3 - t for t in counts.values())
    variance = n * (n + 1) * (2 * n + 1) / 24 - ties / 48
    if variance <= 0:
        return 0.5
    z = (w_plus - mean - 0.5) / math.sqrt(variance)  # continuity correction
    return normal_sf(z)


def hodges_lehmann(differences: Sequence[float], alpha: float) -> tuple[float, float, float]:
    """Estimate and (1 - 2 alpha) interval of the centre of the differences."""
    n = len(differences)
    walsh = sorted((differences[i] + differences[j]) / 2 for i in range(n) for j in range(i, n))
    estimate = statistics.median(walsh)
    spread = normal_quantile(1 - alpha) * math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
    k = max(0, math.floor(n * (n + 1) / 4 - spread))
    low = walsh[min(k, len(walsh) - 1)]
    high = walsh[max(0, len(walsh) - 1 - k)]
    return estimate, min(low, estimate), max(high, estimate)


def compare_aged_fresh(
    aged_ns: Sequence[int], fresh_ns: Sequence[int], alpha: float = 0.01
) -> PairedComparison | None:
    """The paired comparison, or None with fewer than MIN_PAIRS usable pairs."""
    if len(aged_ns) != len(fresh_ns):
        raise ValueError(f"pairs differ in length: {len(aged_ns)} aged, {len(fresh_ns)} fresh")
    differences = [
        math.log(a / f) for a, f in zip(aged_ns, fresh_ns, strict=True) if a > 0 and f > 0
    ]
    if len(differences) < MIN_PAIRS:
        return None
    estimate, low, high = hodges_lehmann(differences, alpha)
    return PairedComparison(
        pairs=len(differences),
        ratio=math.exp(estimate),
        ratio_low=math.exp(low),
        ratio_high=math.exp(high),
        p_slower=wilcoxon_greater(differences),
        fresh_median_ns=statistics.median(fresh_ns),
    )


@dataclass(frozen=True, slots=True)
class PairedComparisons:
    """The paired comparisons of a run: aged against fresh, fresh against fresh (the
    control), a fresh worker now against the new worker's first run of the same jobs; and
    ``shown``, how result.json shows them (or why none ran)."""

    aged_vs_fresh: PairedComparison | None
    fresh_vs_fresh: PairedComparison | None
    fresh_now_vs_then: PairedComparison | None
    shown: dict[str, Any]


def shown_comparisons(measured: AgedTimes | None, alpha: float) -> PairedComparisons:
    """The paired comparisons the runner measured, and how result.json shows them."""
    if measured is None:
        note = "not compared (--light, the inline runner, a short run, or one that stopped)"
        return PairedComparisons(None, None, None, {"note": note})
    if measured.note:
        return PairedComparisons(None, None, None, {"note": measured.note})
    times = {
        "aged_ns": list(measured.aged_ns),
        "fresh_ns": list(measured.fresh_ns),
        "control_ns": list(measured.control_ns),
    }
    aged = compare_aged_fresh(times["aged_ns"], times["fresh_ns"], alpha)
    control = compare_aged_fresh(times["control_ns"], times["fresh_ns"], alpha)
    start = measured.start_ns
    now_vs_then = None
    if start is not None and len(start) == len(times["fresh_ns"]):
        times["start_ns"] = list(start)
        # Across the run the machine's speed may have changed (phases of seconds here): the
        # times after it are put at the speed read before it.
        scale = 1.0
        if measured.start_speed_ns and measured.end_speed_ns:
            scale = measured.start_speed_ns / measured.end_speed_ns
        scaled = [round(t * scale) for t in times["fresh_ns"]]
        now_vs_then = compare_aged_fresh(scaled, times["start_ns"], alpha)
    shown: dict[str, Any] = {**times, "warmup_jobs": measured.warmup_jobs}
    if measured.start_speed_ns and measured.end_speed_ns:
        shown["machine_speed_ns"] = [measured.start_speed_ns, measured.end_speed_ns]
    if aged is not None:
        shown.update(aged.to_json())
    if control is not None:
        shown["fresh_vs_fresh"] = control.to_json()
    if now_vs_then is not None:
        shown["fresh_now_vs_then"] = now_vs_then.to_json()
    return PairedComparisons(aged, control, now_vs_then, shown)
