"""All verdicts of a run, from its samples, under one policy."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.analysis.latency import LatencyPolicy, latency_verdict
from harness.analysis.memory import MemoryPolicy, memory_verdict
from harness.analysis.resources import resource_verdict
from harness.model import Samples, Verdict


@dataclass(frozen=True, slots=True)
class Policy:
    """Thresholds for every verdict."""

    memory: MemoryPolicy = field(default_factory=MemoryPolicy)
    latency: LatencyPolicy = field(default_factory=LatencyPolicy)


def judge(samples: Samples, policy: Policy | None = None) -> dict[str, Verdict]:
    """The verdicts the cheap probes support: memory, resources, latency."""
    policy = policy or Policy()
    return {
        "memory": memory_verdict(samples, policy.memory),
        "resources": resource_verdict(samples),
        "latency": latency_verdict(samples, policy.latency),
    }
