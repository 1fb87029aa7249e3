"""Comparing two runs: what counts as a latency regression."""

from __future__ import annotations

from worker_soak.analysis.compare import compare_runs
from worker_soak.analysis.series import speed_blocks

RESULT = {"verdicts": {}, "jobs_failed": 0, "crashes": []}


def _latencies(median_s: float, seconds: float) -> list[float]:
    """Jobs spread +-1 % around ``median_s``, in a fixed order, ``seconds`` of them."""
    count = max(100, round(seconds / median_s))
    return [median_s * (0.99 + 0.02 * ((i * 37) % count) / count) for i in range(count)]


def _latency_row(base_s: float, new_s: float, seconds: float = 12.0) -> bool:
    rows = compare_runs(RESULT, RESULT, _latencies(base_s, seconds), _latencies(new_s, seconds))
    return next(row.regressed for row in rows if row.name.startswith("latency"))


def test_a_slower_run_regresses_by_ratio_and_absolute_shift() -> None:
    """1 ms -> 1.2 ms regresses (20 %, 200 us); 1 ms -> 1.05 ms is within the 10 % tolerance."""
    assert _latency_row(1e-3, 1.2e-3)
    assert not _latency_row(1e-3, 1.05e-3)


def test_shifts_under_20_us_never_regress() -> None:
    """A 3 us job measured at 4.5 us (1.5x) is not a regression; the 20 us floor is the
    boundary: 100 -> 119 us passes, 100 -> 121 us fails."""
    assert not _latency_row(3e-6, 4.5e-6)
    assert not _latency_row(100e-6, 119e-6)
    assert _latency_row(100e-6, 121e-6)


def test_runs_under_10_s_need_a_2x_shift() -> None:
    """Short runs may each sit in one phase of the machine's speed: 1 -> 1.5 ms over 0.5 s
    runs is not a regression, 1 -> 2.1 ms is."""
    assert not _latency_row(1e-3, 1.5e-3, seconds=0.5)
    assert _latency_row(1e-3, 2.1e-3, seconds=0.5)
    assert _latency_row(1e-3, 1.5e-3, seconds=12.0)


def test_latencies_are_scaled_by_the_machine_speed_read_in_each_run() -> None:
    """A run made while the machine ran 30 % slower (its speed readings 30 % longer) is not a
    regression; the same slowdown without slower readings is."""
    base = _latencies(1e-3, 12.0)
    slower = [lat * 1.3 for lat in base]
    steady: list[float | None] = [
        10_000.0 + i % 7 if i % 200 == 0 else None for i in range(len(base))
    ]
    slow_machine = [None if s is None else s * 1.3 for s in steady]

    def regressed(new_speed: list[float | None]) -> bool:
        rows = compare_runs(RESULT, RESULT, base, slower, base_speed=steady, new_speed=new_speed)
        return rows[0].regressed

    assert not regressed(slow_machine)
    assert regressed(steady)


def test_speed_blocks_fill_gaps_from_the_nearest_reading() -> None:
    """Blocks without a reading take the nearest block's; under 3 readings there is none."""
    readings: list[float | None] = [None] * 100
    readings[5], readings[55], readings[95] = 1.0, 2.0, 3.0
    assert speed_blocks(readings, 6) == [1.0, 1.0, 2.0, 2.0, 2.0, 3.0]
    assert speed_blocks([1.0, None, 2.0], 3) is None
    assert speed_blocks(readings, 16) is None  # 3 readings for 16 blocks: too sparse
    repeated: list[float | None] = [1.0 if i < 50 else 2.0 for i in range(100)]
    assert speed_blocks(repeated, 4) is None  # one reading repeated, then a second
