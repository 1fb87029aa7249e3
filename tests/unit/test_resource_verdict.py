"""The resource verdict: counters must return to their post-warm-up level."""

from __future__ import annotations

from tests.series import counter_samples
from worker_soak.analysis.resources import counter_growth, resource_verdict


def test_flat_counter_passes() -> None:
    """Seven open files from start to end is a pass."""
    assert resource_verdict(counter_samples([7] * 2_000)).verdict == "pass"


def test_pool_that_fills_during_warm_up_passes() -> None:
    """A connection pool opening 10 sockets over the first 300 jobs, then steady."""
    values = [7 + min(10, job // 30) for job in range(3_000)]
    assert resource_verdict(counter_samples(values)).verdict == "pass"


def test_one_fd_per_hundred_jobs_fails_with_rate_and_onset() -> None:
    """A descriptor leaked every 100 jobs fails, about 0.01/job, starting early."""
    values = [7 + job // 100 for job in range(5_000)]
    verdict = resource_verdict(counter_samples(values))
    assert verdict.verdict == "fail"
    assert "open files grew" in verdict.summary
    growth = counter_growth(([float(j) for j in range(5_000)], [float(v) for v in values]), 5_000)
    assert growth is not None
    assert 0.009 < growth.per_job < 0.011
    assert growth.started_at_job <= 600


def test_transient_descriptors_are_not_growth() -> None:
    """A job-scoped file sometimes still open when sampled does not fail."""
    values = [7 + (1 if job % 7 == 0 else 0) for job in range(3_000)]
    assert resource_verdict(counter_samples(values, every=1)).verdict == "pass"


def test_leak_that_starts_late_fails_from_where_it_starts() -> None:
    """Growth from job 6,000 on is reported as starting there."""
    values = [7 + max(0, job - 6_000) // 50 for job in range(10_000)]
    verdict = resource_verdict(counter_samples(values))
    assert verdict.verdict == "fail"
    assert "from job 6,0" in verdict.summary


def test_short_run_is_inconclusive() -> None:
    """Fewer than 100 jobs cannot say."""
    assert resource_verdict(counter_samples([7] * 50)).verdict == "inconclusive"
