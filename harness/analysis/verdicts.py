"""All verdicts of a run, from its samples, under one policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from harness.analysis.latency import LatencyPolicy, latency_verdict
from harness.analysis.memory import MemoryPolicy, memory_verdict
from harness.analysis.paired import PairedComparison
from harness.analysis.resources import resource_verdict
from harness.model import Samples, Verdict


@dataclass(frozen=True, slots=True)
class Policy:
    """Thresholds for every verdict."""

    memory: MemoryPolicy = field(default_factory=MemoryPolicy)
    latency: LatencyPolicy = field(default_factory=LatencyPolicy)


def judge(
    samples: Samples,
    policy: Policy | None = None,
    leak_sites: Sequence[Mapping[str, Any]] = (),
    aged_vs_fresh: PairedComparison | None = None,
    fresh_vs_fresh: PairedComparison | None = None,
    now_vs_then: PairedComparison | None = None,
) -> dict[str, Verdict]:
    """Memory, resources and latency verdicts; a failing memory verdict names the top
    per-job leak site found by the memray window."""
    policy = policy or Policy()
    per_job = [site for site in leak_sites if site.get("kind") == "per_job"]
    traced = sum(float(site["bytes_per_job"]) for site in per_job) if per_job else None
    memory = memory_verdict(samples, policy.memory, traced)
    top = per_job[0] if per_job else None
    if memory.verdict == "fail" and top is not None:
        where = f"{top['file']}:{top['line']} ({top['function']})"
        memory = replace(
            memory,
            summary=f"{memory.summary}; top leak: {where} keeps {top['bytes_per_job']:.0f} B/job",
            figures={**memory.figures, "top_leak_site": where},
        )
    return {
        "memory": memory,
        "resources": resource_verdict(samples),
        "latency": latency_verdict(
            samples, policy.latency, aged_vs_fresh, fresh_vs_fresh, now_vs_then
        ),
    }
