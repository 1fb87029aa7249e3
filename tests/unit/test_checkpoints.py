"""Checkpoints: which jobs each describes and the figures it gives, on literal numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import samples
from worker_soak.analysis.checkpoints import (
    checkpoint_positions,
    compute_checkpoints,
    percentile,
    window_size,
)
from worker_soak.samples import Samples


def _samples(wall_ms: list[float], blocks: list[int | None] | None = None) -> Samples:
    wall = tuple(int(ms * 1e6) for ms in wall_ms)
    end, now = [], 0
    for latency in wall:
        now += latency
        end.append(now)
    gauges = {"py_blocks": tuple(blocks)} if blocks is not None else {}
    return Samples(wall_ns=wall, cpu_ns=wall, end_ns=tuple(end), gauges=gauges, errors=())


@pytest.mark.parametrize(
    ("completed", "expected"),
    [
        (1, [1]),
        (10, [10]),
        (11, [10, 11]),
        (250, [10, 100, 250]),
        (10_000, [10, 100, 1_000, 10_000]),
        (12_345, [10, 100, 1_000, 10_000, 12_345]),
        (0, []),
    ],
)
def test_positions_are_the_standard_checkpoints_reached_plus_the_end(
    completed: int, expected: list[int]
) -> None:
    """10, 100, 1,000, 10,000 when reached, and the last job when it is not one of them."""
    assert checkpoint_positions(completed) == expected


@pytest.mark.parametrize(
    ("jobs", "size"),
    [(1, 1), (5, 5), (10, 10), (100, 10), (250, 25), (1_000, 100), (10_000, 1_000)],
)
def test_window_is_the_trailing_tenth_at_least_ten_jobs(jobs: int, size: int) -> None:
    """The window ending at a checkpoint holds max(10, jobs // 10) jobs, capped at jobs."""
    assert window_size(jobs) == size


def test_percentile_interpolates_linearly_between_ranks() -> None:
    """Percentiles of 1..5 match the textbook linear method."""
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 3.0
    assert percentile(values, 95) == pytest.approx(4.8)
    assert percentile(values, 100) == 5.0
    assert percentile([7.0], 99) == 7.0


def test_percentile_refuses_nothing_and_out_of_range() -> None:
    """No values, or q outside 0..100, is a ValueError naming the problem."""
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        percentile([1.0], 101)


def test_checkpoint_figures_on_a_slowing_worker() -> None:
    """A worker going from 1 ms to 2 ms jobs shows it at the 100-job checkpoint."""
    wall = [1.0] * 90 + [2.0] * 10
    first, second = compute_checkpoints(_samples(wall, blocks=list(range(100))))
    assert (first.jobs, first.window_first_job, first.window_last_job) == (10, 0, 9)
    assert first.latency_p50_ms == pytest.approx(1.0)
    assert first.throughput_jobs_per_s == pytest.approx(1000.0)
    assert (second.jobs, second.window_first_job, second.window_last_job) == (100, 90, 99)
    assert second.latency_p50_ms == pytest.approx(2.0)
    assert second.throughput_jobs_per_s == pytest.approx(500.0)
    assert second.memory == {"py_blocks": 99}


def test_memory_at_a_checkpoint_is_the_latest_sparse_value() -> None:
    """A gauge sampled every 10th job reports its value from job 90 at checkpoint 100."""
    blocks: list[int | None] = [i if i % 10 == 0 else None for i in range(100)]
    point = compute_checkpoints(_samples([1.0] * 100, blocks))[-1]
    assert point.memory == {"py_blocks": 90}


@given(samples())
def test_checkpoint_percentiles_are_ordered_and_within_the_window(data: Samples) -> None:
    """p50 <= p95 <= p99, each between the window's fastest and slowest job."""
    for point in compute_checkpoints(data):
        window = [ns / 1e6 for ns in data.wall_ns[point.window_first_job : point.jobs]]
        assert min(window) <= point.latency_p50_ms <= point.latency_p95_ms
        assert point.latency_p95_ms <= point.latency_p99_ms <= max(window) + 1e-9
        assert point.window_last_job == point.jobs - 1


@given(samples(), st.integers(1, 10**6))
def test_slowing_every_job_by_a_constant_shifts_the_percentiles(
    data: Samples, extra_ns: int
) -> None:
    """Adding a constant to every latency adds it to every percentile."""
    slower = Samples(
        wall_ns=tuple(w + extra_ns for w in data.wall_ns),
        cpu_ns=data.cpu_ns,
        end_ns=tuple(e + extra_ns * (i + 1) for i, e in enumerate(data.end_ns)),
        gauges=data.gauges,
        errors=data.errors,
    )
    for before, after in zip(compute_checkpoints(data), compute_checkpoints(slower), strict=True):
        assert after.latency_p50_ms == pytest.approx(before.latency_p50_ms + extra_ns / 1e6)
        assert after.latency_p99_ms == pytest.approx(before.latency_p99_ms + extra_ns / 1e6)
