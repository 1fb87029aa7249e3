"""The trivial workload: job *i* is exactly ``{"id": i}``.

It measures the harness itself: with the reference worker below, every cost in the samples
is the runner's, which is how the runner's overhead benchmarks use it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from worker_soak.workloads.base import Job, Workload


def generate(count: int, seed: int, options: Mapping[str, str]) -> Iterator[Job]:
    """Jobs ``{"id": 0}`` .. ``{"id": count - 1}``; the seed changes nothing."""
    for index in range(count):
        yield {"id": index}


def handle(job: Job) -> int:
    """Reference worker: reads the job and keeps nothing."""
    return int(job["id"]) * 2


WORKLOAD = Workload(
    name="counter",
    summary="job i is {'id': i}; the reference worker keeps nothing (measures the harness)",
    generate=generate,
    reference_worker="worker_soak.workloads.counter:handle",
)
