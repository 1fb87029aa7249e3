"""Trend statistics for serially correlated series: blocks, Mann-Kendall with the Hamed-Rao
variance correction, and the Theil-Sen slope with its confidence interval.

Per-job series (latency, heap size) are autocorrelated and spiky: a plain trend test on them
cries wolf 8-32 % of the time. So series are first reduced to at most 50 blocks (medians for
latency, minima for memory: a block's minimum is its floor, untouched by temporaries), and the
Mann-Kendall variance is inflated by the autocorrelation left between blocks (Hamed & Rao 1998,
"A modified Mann-Kendall trend test for autocorrelated data", J. Hydrology 204).

Pure functions on sequences of floats; no I/O, no numpy (series here are at most a few
thousand points, reduced to 50).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

MAX_BLOCKS: Final = 50
#: Below this many points a trend test has no power worth reporting.
MIN_POINTS: Final = 8


@dataclass(frozen=True, slots=True)
class Trend:
    """The result of :func:`trend_test` on one series."""

    n: int
    #: Theil-Sen slope, in units of y per unit of x.
    slope: float
    slope_low: float
    slope_high: float
    #: One-sided p-value for an increasing trend (Mann-Kendall, Hamed-Rao corrected).
    p_increasing: float
    #: One-sided p-value for a decreasing trend.
    p_decreasing: float
    #: Variance inflation from autocorrelation (n / n*), >= 1 when positively correlated.
    variance_factor: float
    #: Lag-1 autocorrelation of the detrended series.
    lag1_autocorrelation: float


def check_alpha(alpha: float) -> None:
    """A significance level the tests here can use: a false-alarm rate in (0, 0.5)."""
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be within (0, 0.5), got {alpha}")


def blocks(
    xs: Sequence[float],
    ys: Sequence[float],
    reduce: Callable[[Sequence[float]], float],
    max_blocks: int = MAX_BLOCKS,
) -> tuple[list[float], list[float]]:
    """Split the points into at most ``max_blocks`` consecutive blocks of (nearly) equal size;
    return each block's mean x and ``reduce`` of its ys."""
    if len(xs) != len(ys):
        raise ValueError(f"xs and ys differ in length: {len(xs)} != {len(ys)}")
    count = min(max_blocks, len(xs))
    centres: list[float] = []
    values: list[float] = []
    for block in range(count):
        start = block * len(xs) // count
        stop = (block + 1) * len(xs) // count
        centres.append(statistics.fmean(xs[start:stop]))
        values.append(reduce(ys[start:stop]))
    return centres, values


def block_minimum(values: Sequence[float]) -> float:
    return min(values)


def block_median(values: Sequence[float]) -> float:
    return statistics.median(values)


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def mann_kendall_s(ys: Sequence[float]) -> int:
    """S = sum over i < j of sign(y_j - y_i)."""
    n = len(ys)
    return sum(_sign(ys[j] - ys[i]) for i in range(n - 1) for j in range(i + 1, n))


def mann_kendall_variance(ys: Sequence[float]) -> float:
    """Var(S) under no trend and independence, corrected for ties."""
    n = len(ys)
    counts: dict[float, int] = {}
    for y in ys:
        counts[y] = counts.get(y, 0) + 1
    ties = sum(t * (t - 1) * (2 * t + 5) for t in counts.values() if t > 1)
    return (n * (n - 1) * (2 * n + 5) - ties) / 18


def theil_sen(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, list[float]]:
    """Median of all pairwise slopes, and the sorted slopes (for the interval)."""
    slopes = sorted(
        (ys[j] - ys[i]) / (xs[j] - xs[i])
        for i in range(len(xs) - 1)
        for j in range(i + 1, len(xs))
        if xs[j] != xs[i]
    )
    if not slopes:
        return 0.0, [0.0]
    return statistics.median(slopes), slopes


def average_ranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n, ties given their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def autocorrelation(values: Sequence[float], lag: int) -> float:
    """Sample autocorrelation at ``lag`` (0 for a constant series)."""
    n = len(values)
    mean = statistics.fmean(values)
    denominator = sum((v - mean) ** 2 for v in values)
    if denominator == 0 or lag >= n:
        return 0.0
    numerator = sum((values[i] - mean) * (values[i + lag] - mean) for i in range(n - lag))
    return numerator / denominator


def hamed_rao_factor(xs: Sequence[float], ys: Sequence[float], slope: float) -> tuple[float, float]:
    """n/n*: how much autocorrelation inflates Var(S); and the lag-1 autocorrelation.

    The series is detrended with the Theil-Sen slope, ranked, and only autocorrelations
    significant at the 5 % level (|r_k| > 1.96 / sqrt(n)) contribute, as in the paper.
    """
    n = len(ys)
    if n < 3:
        return 1.0, 0.0
    # The Theil-Sen slope is itself a pairwise slope, so detrending ties that pair exactly;
    # rounding keeps float error from breaking the tie one way or the other.
    scale = max(abs(y) for y in ys) or 1.0
    ranks = average_ranks([round((y - slope * x) / scale, 10) for x, y in zip(xs, ys, strict=True)])
    bound = 1.96 / math.sqrt(n)
    total = 0.0
    lag1 = autocorrelation(ranks, 1)
    for lag in range(1, n - 2):
        r = lag1 if lag == 1 else autocorrelation(ranks, lag)
        if abs(r) > bound:
            total += (n - lag) * (n - lag - 1) * (n - lag - 2) * r
    factor = 1 + 2 * total / (n * (n - 1) * (n - 2))
    # A strongly negative sum would shrink the variance below the independent case and
    # overstate significance: never correct in that direction.
    return max(1.0, factor), lag1


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def normal_quantile(p: float) -> float:
    """z with P(Z <= z) = p."""
    if not 0 < p < 1:
        raise ValueError(f"p must be within (0, 1), got {p}")
    return statistics.NormalDist().inv_cdf(p)


def trend_test(xs: Sequence[float], ys: Sequence[float], alpha: float = 0.01) -> Trend:
    """Mann-Kendall (Hamed-Rao corrected) p-values and the Theil-Sen slope with its
    (1 - 2*alpha) interval, for points already reduced to blocks."""
    n = len(ys)
    if n < 3:
        raise ValueError(f"a trend test needs at least 3 points, got {n}")
    slope, slopes = theil_sen(xs, ys)
    factor, lag1 = hamed_rao_factor(xs, ys, slope)
    s = mann_kendall_s(ys)
    variance = mann_kendall_variance(ys) * factor
    if variance <= 0:  # every value equal: no evidence of any trend
        p_up = p_down = 1.0
    else:
        z = (s - _sign(s)) / math.sqrt(variance)
        p_up, p_down = normal_sf(z), normal_sf(-z)
    # Sen's interval: ranks of the pairwise slopes around the median, from Var(S).
    spread = normal_quantile(1 - alpha) * math.sqrt(max(variance, 0.0))
    count = len(slopes)
    low_rank = max(0, math.floor((count - spread) / 2) - 1)
    high_rank = min(count - 1, math.ceil((count + spread) / 2))
    return Trend(
        n=n,
        slope=slope,
        slope_low=min(slopes[low_rank], slope),
        slope_high=max(slopes[high_rank], slope),
        p_increasing=min(1.0, p_up),
        p_decreasing=min(1.0, p_down),
        variance_factor=factor,
        lag1_autocorrelation=lag1,
    )
