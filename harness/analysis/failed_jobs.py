"""The failed-jobs verdict: a soak whose jobs raise has not shown that the worker works.

Every failed job fails the soak unless the user allows some (``--max-failed-jobs N`` or a
percentage) or the workload declares the error as one it provokes on purpose (a malformed
row in an import, a bounced address): those are counted apart and named, never hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

from worker_soak.analysis.failures import group_failures
from worker_soak.model import Verdict
from worker_soak.samples import Samples


@dataclass(frozen=True, slots=True)
class FailedJobsPolicy:
    """How many failed jobs a soak may have."""

    #: Failed jobs allowed, as a count; None: see ``max_failed_share``.
    max_failed: int | None = None
    #: ... or as a share of the jobs run (0.01 is 1 %); both None: none allowed.
    max_failed_share: float | None = None
    #: Exception types (``ValueError``, ``smtplib.SMTPRecipientsRefused``) the workload
    #: provokes on purpose; they do not count.
    expected: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_failed is not None and self.max_failed < 0:
            raise ValueError(f"max_failed must be an int >= 0, got {self.max_failed}")
        if self.max_failed_share is not None and not 0 <= self.max_failed_share <= 1:
            raise ValueError(f"max_failed_share must be within 0..1, got {self.max_failed_share}")

    def allowed(self, jobs: int) -> int:
        if self.max_failed is not None:
            return self.max_failed
        if self.max_failed_share is not None:
            return int(self.max_failed_share * jobs)
        return 0

    def describe(self, jobs: int) -> str:
        if self.max_failed_share is not None and self.max_failed is None:
            return f"{self.max_failed_share:.2%} of {jobs:,} jobs: {self.allowed(jobs):,}"
        return f"{self.allowed(jobs):,}"


def failed_jobs_verdict(samples: Samples, policy: FailedJobsPolicy | None = None) -> Verdict:
    """Fail when more jobs raised than the policy allows, naming the commonest error."""
    policy = policy or FailedJobsPolicy()
    jobs = len(samples)
    expected = [e for e in samples.errors if _matches(e.type, policy.expected)]
    counted = [e for e in samples.errors if not _matches(e.type, policy.expected)]
    allowed = policy.allowed(jobs)
    figures: dict[str, object] = {
        "jobs": jobs,
        "jobs_failed": len(counted),
        "jobs_failed_expected": len(expected),
        "max_failed_jobs": allowed,
        "expected_errors": list(policy.expected),
    }
    also = f" ({len(expected):,} more raised errors the workload provokes)" if expected else ""
    if not counted:
        return Verdict("pass", f"no job failed of {jobs:,}{also}", figures)
    top = group_failures(counted)[0]
    first = min(e.job_index for e in counted)
    figures["first_failed_job"] = first
    what = (
        f"{len(counted):,} of {jobs:,} jobs failed, from job {first:,} on; most: "
        f"{top.type}: {_short(top.message)} at {top.where or 'an unknown line'} "
        f"({top.count:,} jobs){also}"
    )
    if len(counted) > allowed:
        return Verdict("fail", f"{what}; allowed: {policy.describe(jobs)}", figures)
    return Verdict("pass", f"{what}: within the {policy.describe(jobs)} allowed", figures)


def _matches(kind: str, expected: tuple[str, ...]) -> bool:
    return any(kind == name or kind.endswith("." + name) for name in expected)


def _short(message: str) -> str:
    line = message.splitlines()[0] if message else ""
    return line if len(line) <= 80 else line[:77] + "..."
