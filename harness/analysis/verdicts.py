"""All verdicts of a run, from its samples, under one policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from worker_soak.analysis.attribution import bounded_roots, settle_sites
from worker_soak.analysis.drift import LatencyPolicy
from worker_soak.analysis.failed_jobs import FailedJobsPolicy, failed_jobs_verdict
from worker_soak.analysis.latency import confirm_by_cpu_time, latency_verdict
from worker_soak.analysis.lifetimes import lifetimes, per_lifetime
from worker_soak.analysis.memory import MemoryPolicy, memory_verdict
from worker_soak.analysis.paired import PairedComparison
from worker_soak.analysis.resources import resource_verdict
from worker_soak.model import Verdict
from worker_soak.samples import Samples


@dataclass(frozen=True, slots=True)
class Policy:
    """Thresholds for every verdict."""

    memory: MemoryPolicy = field(default_factory=MemoryPolicy)
    latency: LatencyPolicy = field(default_factory=LatencyPolicy)
    failed_jobs: FailedJobsPolicy = field(default_factory=FailedJobsPolicy)

    def expecting(self, errors: tuple[str, ...]) -> Policy:
        """This policy, with errors a workload provokes on purpose not counted as failed."""
        if not errors:
            return self
        expected = (*self.failed_jobs.expected, *errors)
        return replace(self, failed_jobs=replace(self.failed_jobs, expected=expected))


#: CPython's small-object allocator serves requests up to this size; bigger go to malloc.
SMALL_OBJECT_BYTES: Final = 512


def measured_block_bytes(per_job_sites: Sequence[Mapping[str, Any]]) -> float | None:
    """Mean size of the small Python objects the per-job leak sites keep, by memray: what
    one kept object weighs in this worker, for the bytes/job reported (never the verdict).

    Only objects of up to 512 B count: bigger ones come from malloc, so the native-heap probe
    already has their bytes."""
    python = [
        s
        for s in per_job_sites
        if s.get("allocator") == "python"
        and float(s["allocations_per_job"]) > 0
        and float(s["bytes_per_job"]) / float(s["allocations_per_job"]) <= SMALL_OBJECT_BYTES
    ]
    allocations = sum(float(s["allocations_per_job"]) for s in python)
    if allocations <= 0:
        return None
    return sum(float(s["bytes_per_job"]) for s in python) / allocations


def judge(
    samples: Samples,
    policy: Policy | None = None,
    leak_sites: Sequence[Mapping[str, Any]] = (),
    aged_vs_fresh: PairedComparison | None = None,
    fresh_vs_fresh: PairedComparison | None = None,
    fresh_now_vs_then: PairedComparison | None = None,
) -> dict[str, Verdict]:
    """Failed jobs, memory, resources and latency verdicts; a failing memory verdict names
    the top per-job leak site found by the memray window.

    memray's sites only name and size what the probes found: the verdict itself comes from
    the probes, so ``--light`` (no memray) judges the same jobs the same way."""
    policy = policy or Policy()
    memory_policy = policy.memory
    sized = measured_block_bytes([s for s in leak_sites if s.get("kind") == "per_job"])
    if sized is not None:
        memory_policy = replace(memory_policy, object_bytes=sized)
    memory = per_lifetime(
        samples,
        lambda lifetime, tests: memory_verdict(
            lifetime, replace(memory_policy, alpha=memory_policy.alpha / tests)
        ),
    )
    settled = settle_sites(leak_sites, memory.verdict, census_bounded(samples))
    top = next((site for site in settled if site["kind"] == "per_job"), None)
    if memory.verdict == "fail" and top is not None:
        where = f"{top['file']}:{top['line']} ({top['function']})"
        memory = replace(
            memory,
            summary=f"{memory.summary}; top leak: {where} keeps {top['bytes_per_job']:.0f} B/job",
            figures={**memory.figures, "top_leak_site": where},
        )
    pooled = bool(lifetimes(samples))

    def judge_latency(lifetime: Samples, tests: int) -> Verdict:
        latency = replace(policy.latency, alpha=policy.latency.alpha / tests)
        verdict = latency_verdict(
            lifetime, latency, aged_vs_fresh, fresh_vs_fresh, fresh_now_vs_then
        )
        return confirm_by_cpu_time(verdict, lifetime, latency) if pooled else verdict

    return {
        "failed_jobs": failed_jobs_verdict(samples, policy.failed_jobs),
        "memory": memory,
        "resources": per_lifetime(samples, lambda lifetime, _: resource_verdict(lifetime)),
        # A worker's slowdown is a matter of its age: under a pool, judged within each
        # worker process's life (a recycle starts the clock again).
        "latency": per_lifetime(samples, judge_latency),
    }


def census_bounded(samples: Samples) -> set[str]:
    """The bounded caches the worker's census listed, as retention paths name them."""
    listed = [c for c in samples.gauges.get("caches", ()) if c is not None]
    return bounded_roots(c for caches in listed for c in caches)  # type: ignore[attr-defined]
