"""The latency verdict on synthetic latencies with the autocorrelation and spikes of real
workers: how often it cries wolf, and what it catches."""

from __future__ import annotations

import random

import pytest

from tests.series import latency_samples
from worker_soak.analysis.drift import QUEUED_MIN_CHANGE_S, LatencyPolicy, minimum_detectable_drift
from worker_soak.analysis.latency import latency_verdict
from worker_soak.analysis.paired import PairedComparison
from worker_soak.samples import Samples


@pytest.mark.parametrize(("jobs", "phi"), [(1_000, 0.5), (1_000, 0.8), (5_000, 0.8)])
def test_false_alarm_rate_stays_under_two_percent(jobs: int, phi: float) -> None:
    """No drift, lag-1 up to 0.8, 20 % jitter, 1 % GC spikes: at most 2 of 100 runs fail.

    Measured with these seeds: 0-1 of 100; the budget alpha = 0.01 plus the 10 % tolerance
    gate leaves the false-alarm rate under alpha."""
    alarms = sum(
        latency_verdict(latency_samples(jobs, random.Random(seed), phi=phi)).verdict == "fail"
        for seed in range(100)
    )
    assert alarms <= 2


@pytest.mark.parametrize(("jobs", "drift", "at_least"), [(2_000, 0.3, 90), (5_000, 0.2, 70)])
def test_a_slowdown_fails_and_never_passes(jobs: int, drift: float, at_least: int) -> None:
    """A drift past the tolerance by more than the run's detectable drift fails; one nearer
    the tolerance is inconclusive, never a pass. Measured with these seeds: 30 % over 2,000
    jobs fails 94 of 100, 20 % over 5,000 fails 76 (the rest inconclusive); 20 % over 2,000
    fails 35 (its interval reaches under 10 %)."""
    verdicts = [
        latency_verdict(latency_samples(jobs, random.Random(seed), drift=drift)).verdict
        for seed in range(100)
    ]
    assert verdicts.count("fail") >= at_least
    assert "pass" not in verdicts


def test_a_drift_whose_interval_reaches_the_tolerance_is_inconclusive() -> None:
    """12 % over 3,000 jobs at 20 % jitter: past 10 % but not surely; never a pass or fail
    on its own, and the summary says how many jobs would tell."""
    verdict = latency_verdict(latency_samples(3_000, random.Random(3), drift=0.12))
    assert verdict.verdict == "inconclusive", verdict.summary
    interval = verdict.figures["drift_interval"]
    assert isinstance(interval, list)
    assert interval[0] < 0.1 <= interval[1]
    assert "run about" in verdict.summary


def test_a_suggested_drift_fails_when_the_aged_worker_is_slower_too() -> None:
    """The same uncertain drift fails when the aged worker ran the probe jobs 1.15x as long
    as a fresh one (significantly, beyond the control); with an aged worker as fast as a
    fresh one it stays inconclusive."""
    samples = latency_samples(3_000, random.Random(3), drift=0.12)
    control = _paired(1.0, 0.97, 1.03, p=0.5)
    slower = latency_verdict(
        samples, aged_vs_fresh=_paired(1.08, 1.04, 1.12), fresh_vs_fresh=control
    )
    alike = latency_verdict(
        samples, aged_vs_fresh=_paired(1.0, 0.96, 1.04, p=0.5), fresh_vs_fresh=control
    )
    assert latency_verdict(samples).figures["suggests_drift"] is True
    assert slower.verdict == "fail", slower.summary
    assert alike.verdict == "inconclusive", alike.summary


def test_a_suggested_drift_and_an_aged_worker_within_the_controls_spread_do_not_fail() -> None:
    """The uncertain drift beside aged 1.16x (1.11-1.19) while two fresh workers differ up to
    1.12x (a clean worker's figures in CI): the aged worker's low end is inside what the
    comparison cannot resolve, so they do not agree on a slowdown; a control of 1.03x
    leaves the same ratio resolved, and the verdict fails."""
    samples = latency_samples(3_000, random.Random(3), drift=0.12)
    aged = _paired(1.16, 1.11, 1.19)
    noisy = latency_verdict(
        samples, aged_vs_fresh=aged, fresh_vs_fresh=_paired(1.05, 0.99, 1.12, p=0.2)
    )
    quiet = latency_verdict(
        samples, aged_vs_fresh=aged, fresh_vs_fresh=_paired(1.0, 0.97, 1.03, p=0.5)
    )
    assert latency_verdict(samples).figures["suggests_drift"] is True
    assert noisy.verdict == "inconclusive", noisy.summary
    assert quiet.verdict == "fail", quiet.summary


def test_failure_reports_the_drift_and_levels() -> None:
    """A 50 % slowdown is reported as about 50 %, with start and end levels in ms."""
    verdict = latency_verdict(latency_samples(5_000, random.Random(1), drift=0.5, phi=0.5))
    assert verdict.verdict == "fail"
    assert verdict.figures["drift"] == pytest.approx(0.5, abs=0.1)
    assert verdict.figures["start_ms"] == pytest.approx(1.0, rel=0.15)
    assert "slower" in verdict.summary


def test_drift_under_tolerance_passes() -> None:
    """A real but small 3 % drift is not a failure at the default 10 % tolerance."""
    verdict = latency_verdict(latency_samples(10_000, random.Random(4), drift=0.03, phi=0.3))
    assert verdict.verdict == "pass", verdict.summary


@pytest.mark.parametrize("jobs", [10, 100, 199])
def test_short_runs_are_never_a_pass(jobs: int) -> None:
    """10 to 199 jobs cannot show drift: inconclusive, saying how many would."""
    verdict = latency_verdict(latency_samples(jobs, random.Random(0), jitter=0.01))
    assert verdict.verdict == "inconclusive"
    assert "run at least 200" in verdict.summary


def test_noisy_short_run_is_inconclusive_with_the_jobs_needed() -> None:
    """600 jobs at 60 % jitter cannot see 10 %: inconclusive, and says what would."""
    verdict = latency_verdict(latency_samples(600, random.Random(5), jitter=0.6, phi=0.8))
    assert verdict.verdict == "inconclusive"
    assert verdict.figures["min_detectable_drift"] > 0.1  # type: ignore[operator]
    assert "run about" in verdict.summary


def test_drifting_machine_is_flagged_unstable() -> None:
    """Slow wandering of the level (lag-1 0.999) marks the environment unstable."""
    verdict = latency_verdict(latency_samples(3_000, random.Random(9), phi=0.999, jitter=0.3))
    assert verdict.figures["unstable_environment"] is True
    assert verdict.verdict in ("inconclusive", "fail")


def test_tolerance_is_configurable() -> None:
    """The same 8 % drift passes at 10 % tolerance and fails at 5 %."""
    samples = latency_samples(20_000, random.Random(2), drift=0.08, phi=0.3, jitter=0.1)
    assert latency_verdict(samples).verdict == "pass"
    assert latency_verdict(samples, LatencyPolicy(tolerance=0.05)).verdict == "fail"


def test_minimum_detectable_drift_shrinks_with_less_scatter() -> None:
    """Halving the scatter halves the detectable drift; more blocks detect less."""
    wide = minimum_detectable_drift(0.1, 50, 1.0, 0.01)
    assert minimum_detectable_drift(0.05, 50, 1.0, 0.01) == pytest.approx(wide / 2)
    assert minimum_detectable_drift(0.1, 25, 1.0, 0.01) > wide


def _paired(
    ratio: float, low: float, high: float, p: float = 0.001, fresh_ms: float = 5.0
) -> PairedComparison:
    return PairedComparison(
        pairs=30,
        ratio=ratio,
        ratio_low=low,
        ratio_high=high,
        p_slower=p,
        fresh_median_ns=fresh_ms * 1e6,
    )


def test_aged_worker_slower_than_fresh_fails_even_without_drift() -> None:
    """1.4x on the same jobs, with a quiet control, fails the verdict."""
    samples = latency_samples(2_000, random.Random(3), phi=0.3)
    verdict = latency_verdict(
        samples,
        aged_vs_fresh=_paired(1.4, 1.3, 1.5),
        fresh_vs_fresh=_paired(1.01, 0.97, 1.05, p=0.4),
    )
    assert verdict.verdict == "fail"
    assert "1.40x as long as a fresh one" in verdict.summary


def test_noisy_control_keeps_a_small_ratio_from_failing() -> None:
    """Aged 1.15x but two fresh workers differ 1.12x: not beyond the noise, no failure."""
    samples = latency_samples(2_000, random.Random(3), phi=0.3)
    verdict = latency_verdict(
        samples, aged_vs_fresh=_paired(1.15, 1.08, 1.22), fresh_vs_fresh=_paired(1.12, 1.05, 1.2)
    )
    assert verdict.verdict != "fail"


def test_paired_comparison_settles_an_unstable_run() -> None:
    """A drifting machine leaves the drift test inconclusive; a tight 1.0x pair passes."""
    samples = latency_samples(3_000, random.Random(9), phi=0.999, jitter=0.3)
    assert latency_verdict(samples).verdict == "inconclusive"
    verdict = latency_verdict(
        samples,
        aged_vs_fresh=_paired(1.0, 0.97, 1.03, p=0.5),
        fresh_vs_fresh=_paired(1.0, 0.98, 1.02, p=0.5),
    )
    assert verdict.verdict == "pass"


def test_sub_microsecond_differences_never_fail_the_pair() -> None:
    """2x of a 1 us job is 1 us: below the 20 us floor of the probe position."""
    samples = latency_samples(2_000, random.Random(3), phi=0.3)
    verdict = latency_verdict(
        samples,
        aged_vs_fresh=_paired(2.0, 1.8, 2.2, fresh_ms=0.001),
        fresh_vs_fresh=_paired(1.0, 0.98, 1.02, p=0.5),
    )
    assert verdict.verdict != "fail"


def test_drift_that_did_not_last_is_inconclusive() -> None:
    """A 50 % drift, but a fresh worker at the end runs the probe jobs as fast as the new
    worker did before the run: the machine slowed for a while; not a failure."""
    samples = latency_samples(5_000, random.Random(1), drift=0.5, phi=0.5)
    assert latency_verdict(samples).verdict == "fail"
    passing = latency_verdict(samples, fresh_now_vs_then=_paired(1.0, 0.95, 1.05, p=0.5))
    assert passing.verdict == "inconclusive"
    assert "not lasting" in passing.summary
    lasting = latency_verdict(samples, fresh_now_vs_then=_paired(1.5, 1.4, 1.6))
    assert lasting.verdict == "fail"


def test_a_run_too_short_to_read_the_machine_speed_needs_a_2x_drift() -> None:
    """With a speed column but too few readings, a 50 % drift is inconclusive and a 3x one
    fails; without the column (older files) the 10 % tolerance applies as before."""
    for drift, expected in ((0.5, "inconclusive"), (2.0, "fail")):
        plain = latency_samples(2_000, random.Random(7), drift=drift, phi=0.3)
        sparse: list[int | None] = [30_000] + [None] * (len(plain) - 1)
        samples = Samples(
            plain.wall_ns, plain.cpu_ns, plain.end_ns, {"speed_ns": tuple(sparse)}, ()
        )
        assert latency_verdict(samples).verdict == expected
        assert latency_verdict(plain).verdict == "fail"


def test_a_ratio_whose_interval_reaches_the_controls_spread_does_not_fail() -> None:
    """Aged 2.42x but its interval reaches down to 1.01 while two fresh workers differ by
    1.15x: the low end is within what the comparison cannot resolve, so no failure; the
    same estimate with an interval clear of the spread fails."""
    samples = latency_samples(2_000, random.Random(3), phi=0.3)
    control = _paired(1.05, 0.95, 1.15, p=0.3)
    wide = latency_verdict(samples, aged_vs_fresh=_paired(2.42, 1.01, 5.76), fresh_vs_fresh=control)
    assert wide.verdict != "fail", wide.summary
    tight = latency_verdict(samples, aged_vs_fresh=_paired(2.42, 1.9, 3.1), fresh_vs_fresh=control)
    assert tight.verdict == "fail", tight.summary


QUEUED = LatencyPolicy(min_change_s=QUEUED_MIN_CHANGE_S)


def test_a_queued_tasks_drift_under_the_floor_is_not_a_failure() -> None:
    """A 60-us task that gets 30 % slower (18 us) over 2,000 tasks: a fail under the
    default 1-us floor; with a queue's 50-us floor a pass when even the interval's high end
    is under 50 us, and never a fail."""
    samples = latency_samples(2_000, random.Random(1), base_ms=0.06, drift=0.3)
    assert latency_verdict(samples).verdict == "fail"
    verdict = latency_verdict(samples, QUEUED)
    assert verdict.verdict == "pass", verdict.summary
    assert "under the 50 us per job that timing resolves" in verdict.summary


def test_a_queued_task_slower_by_more_than_the_floor_fails() -> None:
    """A 0.4-ms task that gets 30 % slower (120 us) fails whatever the floor."""
    verdicts = [
        latency_verdict(
            latency_samples(2_000, random.Random(seed), base_ms=0.4, drift=0.3), QUEUED
        ).verdict
        for seed in range(20)
    ]
    assert verdicts.count("fail") >= 17
    assert "pass" not in verdicts


def test_a_drift_reaching_past_the_floor_is_inconclusive_with_the_jobs_needed() -> None:
    """A 0.2-ms task 20 % slower (40 us): under the floor, but its interval reaches past
    it; inconclusive, saying how many tasks would settle it."""
    samples = latency_samples(1_000, random.Random(2), base_ms=0.2, drift=0.2)
    verdict = latency_verdict(samples, QUEUED)
    assert verdict.verdict == "inconclusive", verdict.summary
    assert "run about" in verdict.summary


def test_a_drift_a_fresh_worker_shares_is_not_the_workers_own() -> None:
    """A 50 % drift in wall time while the aged worker runs the same jobs 0.99x (0.93-1.05)
    as long as a fresh one beside it, two fresh ones 1.11x apart: a new worker would be as
    slow now. With CPU time per job flat the jobs wait longer on something shared (the
    machine, a service): inconclusive, never a pass. With CPU time grown as much, the jobs
    do more work (a table or file they scan grew): a failure. An aged worker 1.5x slower
    than a fresh one fails either way."""
    scanning = latency_samples(5_000, random.Random(1), drift=0.5, phi=0.5)
    rng = random.Random(2)
    flat_cpu = tuple(round(900_000 * rng.uniform(0.95, 1.05)) for _ in scanning.wall_ns)
    waiting = Samples(scanning.wall_ns, flat_cpu, scanning.end_ns, scanning.gauges, ())
    control = _paired(1.04, 0.97, 1.11, p=0.2)
    alike = _paired(0.99, 0.93, 1.05, p=0.6)
    shared = latency_verdict(waiting, aged_vs_fresh=alike, fresh_vs_fresh=control)
    assert shared.verdict == "inconclusive", shared.summary
    assert shared.figures["shared_slowdown"] is True
    assert "a new worker is as slow now" in shared.summary
    grown = latency_verdict(scanning, aged_vs_fresh=alike, fresh_vs_fresh=control)
    assert grown.verdict == "fail", grown.summary
    assert "CPU time per job grew too" in grown.summary
    own = latency_verdict(waiting, aged_vs_fresh=_paired(1.5, 1.4, 1.6), fresh_vs_fresh=control)
    assert own.verdict == "fail", own.summary
    # A comparison too wide to rule the drift out leaves the drift's failure standing.
    wide = latency_verdict(
        waiting, aged_vs_fresh=_paired(1.1, 0.9, 1.45, p=0.2), fresh_vs_fresh=control
    )
    assert wide.verdict == "fail", wide.summary
