"""Aged against fresh: the paired statistics."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker_soak.analysis.paired import (
    compare_aged_fresh,
    hodges_lehmann,
    shown_comparisons,
    wilcoxon_greater,
)
from worker_soak.model import AgedTimes

times = st.lists(st.integers(1_000, 10**9), min_size=10, max_size=60)


def test_wilcoxon_of_all_positive_differences_is_tiny() -> None:
    """Twenty pairs all slower on the aged side: p far below 0.01."""
    assert wilcoxon_greater([0.1 + i / 100 for i in range(20)]) < 1e-4


def test_wilcoxon_of_symmetric_differences_is_about_a_half() -> None:
    """Balanced differences give no evidence either way."""
    assert wilcoxon_greater([-3, -2, -1, 1, 2, 3]) == pytest.approx(0.5, abs=0.1)


def test_hodges_lehmann_of_a_constant_shift() -> None:
    """Every difference 0.2: the estimate and its interval are 0.2."""
    estimate, low, high = hodges_lehmann([0.2] * 15, 0.01)
    assert (estimate, low, high) == pytest.approx((0.2, 0.2, 0.2))


def test_forty_percent_slower_is_measured_as_1_4() -> None:
    """Aged jobs 1.4x the fresh ones with 10 % noise: ratio ~1.4, interval around it."""
    rng = random.Random(1)
    fresh = [int(1e6 * rng.uniform(0.9, 1.1)) for _ in range(30)]
    aged = [int(f * 1.4 * rng.uniform(0.95, 1.05)) for f in fresh]
    result = compare_aged_fresh(aged, fresh)
    assert result is not None
    assert result.ratio == pytest.approx(1.4, rel=0.03)
    assert result.ratio_low <= 1.4 <= result.ratio_high
    assert result.p_slower < 1e-4


def test_too_few_pairs_give_no_comparison() -> None:
    """Nine pairs are not enough to say anything."""
    assert compare_aged_fresh([1] * 9, [1] * 9) is None


def test_false_alarm_rate_of_the_paired_test() -> None:
    """Same distribution on both sides: p < 0.01 in at most 3 of 200 comparisons."""
    rng = random.Random(5)
    alarms = 0
    for _ in range(200):
        aged = [int(1e6 * rng.lognormvariate(0, 0.3)) for _ in range(30)]
        fresh = [int(1e6 * rng.lognormvariate(0, 0.3)) for _ in range(30)]
        result = compare_aged_fresh(aged, fresh)
        assert result is not None
        alarms += result.p_slower < 0.01
    assert alarms <= 3


@given(times, st.data())
def test_swapping_sides_inverts_the_ratio(fresh: list[int], data: st.DataObject) -> None:
    """aged/fresh and fresh/aged are reciprocal, interval and all."""
    aged = data.draw(st.lists(st.integers(1_000, 10**9), min_size=len(fresh), max_size=len(fresh)))
    forward = compare_aged_fresh(aged, fresh)
    backward = compare_aged_fresh(fresh, aged)
    assert forward is not None
    assert backward is not None
    assert forward.ratio == pytest.approx(1 / backward.ratio, rel=1e-9)
    assert forward.ratio_low == pytest.approx(1 / backward.ratio_high, rel=1e-9)


@given(times, st.floats(0.5, 3.0))
def test_scaling_both_sides_changes_nothing(fresh: list[int], scale: float) -> None:
    """A machine twice as fast runs both workers twice as fast: same ratio."""
    aged = [int(f * 1.2) for f in fresh]
    base = compare_aged_fresh(aged, fresh)
    scaled = compare_aged_fresh(
        [max(1, int(a * scale)) for a in aged], [max(1, int(f * scale)) for f in fresh]
    )
    assert base is not None
    assert scaled is not None
    assert math.log(scaled.ratio) == pytest.approx(math.log(base.ratio), abs=0.01)


def test_the_comparison_across_the_run_is_put_at_one_machine_speed() -> None:
    """A fresh worker after the run 1.3x as slow as the new one before it, while the machine
    itself read 1.3x as slow: no change left; without the speed readings, 1.3x."""
    rng = random.Random(5)
    start = [int(1_000_000 * rng.uniform(0.95, 1.05)) for _ in range(30)]
    fresh = [int(t * 1.3 * rng.uniform(0.99, 1.01)) for t in start]
    times = AgedTimes(tuple(fresh), tuple(fresh), tuple(fresh), tuple(start), 5)
    unscaled = shown_comparisons(times, 0.01).fresh_now_vs_then
    assert unscaled is not None
    assert unscaled.ratio == pytest.approx(1.3, abs=0.03)
    scaled = shown_comparisons(
        replace(times, start_speed_ns=5_000, end_speed_ns=6_500), 0.01
    ).fresh_now_vs_then
    assert scaled is not None
    assert scaled.ratio == pytest.approx(1.0, abs=0.03)
