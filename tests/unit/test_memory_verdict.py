"""The memory verdict on synthetic heaps: leaks fail, warm-ups and caches pass, and how often
it is wrong on clean workers."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis.memory import MemoryPolicy, heap_points, memory_verdict
from tests.series import HeapModel, heap_samples

BASE_BLOCKS = 75_000
BASE_NATIVE = 4_000_000


def clean(job: int, rng: random.Random) -> tuple[float, float]:
    return BASE_BLOCKS + rng.randint(0, 30), BASE_NATIVE + rng.randint(0, 20_000)


def native_leak(bytes_per_job: float) -> HeapModel:
    def model(job: int, rng: random.Random) -> tuple[float, float]:
        blocks, native = clean(job, rng)
        return blocks, native + bytes_per_job * job

    return model


def cache_filling_until(last_job: int, blocks_per_job: int = 20) -> HeapModel:
    def model(job: int, rng: random.Random) -> tuple[float, float]:
        blocks, native = clean(job, rng)
        return blocks + blocks_per_job * min(job, last_job), native

    return model


def leak_starting_at(first_job: int) -> HeapModel:
    def model(job: int, rng: random.Random) -> tuple[float, float]:
        blocks, native = clean(job, rng)
        return blocks, native + 200 * max(0, job - first_job)

    return model


def temporaries(job: int, rng: random.Random) -> tuple[float, float]:
    blocks, native = clean(job, rng)
    return blocks + (50_000 if rng.random() < 0.3 else 0), native + (
        20 << 20 if rng.random() < 0.2 else 0
    )


def garbage_sawtooth(job: int, rng: random.Random) -> tuple[float, float]:
    blocks, native = clean(job, rng)
    return blocks + (job % 700) * 3, native + (job % 333) * 1000


def _verdict(jobs: int, model: HeapModel, seed: int = 1) -> tuple[str, str]:
    verdict = memory_verdict(heap_samples(jobs, model, random.Random(seed)))
    return verdict.verdict, verdict.summary


@pytest.mark.parametrize(
    ("jobs", "model"),
    [(10_000, native_leak(8)), (1_000, native_leak(64))],
    ids=["8B-per-job-over-10000", "64B-per-job-over-1000"],
)
def test_sensitivity_targets_fail(jobs: int, model: HeapModel) -> None:
    """8 B/job over 10,000 jobs and 64 B/job over 1,000 jobs both fail."""
    verdict, summary = _verdict(jobs, model)
    assert verdict == "fail", summary


def test_fail_says_how_much_and_from_which_job() -> None:
    """A leak that starts at job 4,000 is reported with its rate and its onset."""
    verdict = memory_verdict(heap_samples(10_000, leak_starting_at(4_000), random.Random(2)))
    assert verdict.verdict == "fail", verdict.summary
    assert verdict.figures["bytes_per_job"] == pytest.approx(200, rel=0.1)
    interval = verdict.figures["bytes_per_job_interval"]
    assert isinstance(interval, list)
    assert interval[0] <= 200 <= interval[1]
    assert 3_500 <= verdict.figures["growth_started_at_job"] <= 4_500  # type: ignore[operator]


@pytest.mark.parametrize(
    ("jobs", "model"),
    [
        (10_000, clean),
        (10_000, cache_filling_until(3_000)),
        (1_000, cache_filling_until(40)),
        (10_000, temporaries),
        (10_000, garbage_sawtooth),
        (1_000, clean),
    ],
    ids=[
        "clean",
        "cache-full-at-30%",
        "warm-up-4%",
        "20MiB-temporaries",
        "gc-sawtooth",
        "clean-1000",
    ],
)
def test_clean_but_tricky_heaps_pass(jobs: int, model: HeapModel) -> None:
    """Warm-ups, bounded caches, temporaries and garbage sawtooths are not leaks."""
    verdict, summary = _verdict(jobs, model)
    assert verdict == "pass", summary


def test_cache_still_filling_at_the_end_is_inconclusive() -> None:
    """A cache that levels off at 80 % of the run: too early to tell, says run longer."""
    verdict, summary = _verdict(10_000, cache_filling_until(8_000))
    assert verdict == "inconclusive"
    assert "run 100,000 jobs" in summary


def test_too_few_jobs_is_inconclusive() -> None:
    """50 jobs say nothing about growth, whatever the numbers."""
    verdict, summary = _verdict(50, clean)
    assert verdict == "inconclusive"
    assert "too few" in summary


def test_growth_below_the_floor_passes_and_says_so() -> None:
    """8 B/job over 1,000 jobs is 8 KB: real but under the 48 KiB floor."""
    verdict, summary = _verdict(1_000, native_leak(8))
    assert verdict == "pass"
    assert "below the floor" in summary


def test_per_job_limit_replaces_the_floor() -> None:
    """40 B/job over 1,000 jobs is under the 48 KiB floor, but over a 32 B/job limit."""
    samples = heap_samples(1_000, native_leak(40), random.Random(1))
    assert memory_verdict(samples).verdict == "pass"
    policy = MemoryPolicy(max_growth_per_job=32, min_growth_bytes=0)
    assert memory_verdict(samples, policy).verdict == "fail"


def test_false_alarm_rate_on_clean_heaps() -> None:
    """Over 100 clean 2,000-job runs with noisy heaps, at most 2 fail (alpha 0.01)."""
    alarms = sum(
        memory_verdict(heap_samples(2_000, clean, random.Random(seed))).verdict == "fail"
        for seed in range(100)
    )
    assert alarms <= 2


@settings(max_examples=25)
@given(st.integers(0, 10**9), st.integers(0, 2**32))
def test_a_bigger_baseline_heap_changes_no_verdict(extra_native: int, seed: int) -> None:
    """Shifting the whole heap by a constant leaves the verdict and the rate unchanged."""

    def shifted(job: int, rng: random.Random) -> tuple[float, float]:
        blocks, native = native_leak(30)(job, rng)
        return blocks, native + extra_native

    before = memory_verdict(heap_samples(1_000, native_leak(30), random.Random(seed)))
    after = memory_verdict(heap_samples(1_000, shifted, random.Random(seed)))
    assert after.verdict == before.verdict
    assert after.figures["bytes_per_job"] == pytest.approx(before.figures["bytes_per_job"])


def test_heap_points_carry_the_other_probe_forward() -> None:
    """Probes on different cadences combine: native every 2, blocks every 3 jobs."""
    from tests.series import _samples

    samples = _samples(
        [1] * 6,
        {
            "py_blocks": (10, None, None, 11, None, None),
            "native_heap_bytes": (100, None, 102, None, 104, None),
        },
    )
    xs, ys = heap_points(samples, block_bytes=1)
    assert xs == [0, 2, 3, 4]
    assert ys == [110, 112, 113, 115]
