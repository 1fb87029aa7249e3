"""Comparing two runs: what counts as a latency regression."""

from __future__ import annotations

from harness.analysis.compare import compare_runs

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
