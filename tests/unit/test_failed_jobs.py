"""The failed-jobs verdict: failed jobs fail a soak unless allowed or provoked on purpose."""

from __future__ import annotations

from worker_soak.analysis.failed_jobs import FailedJobsPolicy, failed_jobs_verdict
from worker_soak.samples import JobError, Samples


def _samples(jobs: int, errors: list[tuple[int, str]]) -> Samples:
    return Samples(
        wall_ns=(1,) * jobs,
        cpu_ns=(1,) * jobs,
        end_ns=tuple(range(1, jobs + 1)),
        gauges={},
        errors=tuple(JobError(i, kind, "order 7 not found", "billing.py:12") for i, kind in errors),
    )


def test_every_job_raising_fails_and_names_the_error() -> None:
    """1,000 of 1,000 jobs raising KeyError fails, naming the error, its line and first job."""
    verdict = failed_jobs_verdict(_samples(1_000, [(i, "KeyError") for i in range(1_000)]))
    assert verdict.verdict == "fail"
    assert verdict.summary.startswith("1,000 of 1,000 jobs failed, from job 0 on; most: KeyError")
    assert "billing.py:12" in verdict.summary


def test_one_failed_job_fails_by_default_and_passes_when_allowed() -> None:
    """The default allows none; a count or a share allows that many (the boundary is exact)."""
    samples = _samples(100, [(40, "ValueError")])
    assert failed_jobs_verdict(samples).verdict == "fail"
    assert failed_jobs_verdict(samples, FailedJobsPolicy(max_failed=1)).verdict == "pass"
    assert failed_jobs_verdict(samples, FailedJobsPolicy(max_failed_share=0.01)).verdict == "pass"
    assert failed_jobs_verdict(samples, FailedJobsPolicy(max_failed_share=0.009)).verdict == "fail"


def test_errors_the_workload_provokes_are_counted_apart() -> None:
    """Expected errors (by name, module-qualified or not) do not fail, and are said."""
    samples = _samples(10, [(1, "smtplib.SMTPRecipientsRefused"), (2, "ValueError")])
    verdict = failed_jobs_verdict(samples, FailedJobsPolicy(expected=("SMTPRecipientsRefused",)))
    assert verdict.verdict == "fail"
    assert "1 more raised errors the workload provokes" in verdict.summary
    policy = FailedJobsPolicy(expected=("SMTPRecipientsRefused", "ValueError"))
    assert failed_jobs_verdict(samples, policy).verdict == "pass"


def test_no_failed_job_passes() -> None:
    """A run without errors passes with the job count."""
    assert failed_jobs_verdict(_samples(5, [])).summary == "no job failed of 5"
