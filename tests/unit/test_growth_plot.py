"""The report's first plot: the judged heap, drawn for single-process runs only."""

from __future__ import annotations

import random

from tests.series import heap_samples
from worker_soak.analysis.memory import memory_verdict
from worker_soak.report.growth_plot import growth_plot


def _leak(job: int, rng: random.Random) -> tuple[float, float]:
    return 50_000 + rng.randint(0, 30), 4_000_000 + 200 * job


def test_a_judged_run_gets_its_growth_plot_and_a_per_lifetime_one_does_not() -> None:
    """A PNG for a run judged as one heap; nothing where the verdict judged each worker
    process's lifetime apart, or judged no heap."""
    samples = heap_samples(600, _leak, random.Random(1))
    verdict = memory_verdict(samples)
    assert verdict.verdict == "fail"
    result = {"verdicts": {"memory": verdict.to_json()}}
    assert growth_plot(samples, result).startswith("data:image/png;base64,")  # type: ignore[union-attr]
    per_lifetime = {"verdicts": {"memory": {**verdict.to_json(), "lifetimes": []}}}
    assert growth_plot(samples, per_lifetime) is None
    assert growth_plot(samples, {"verdicts": {"memory": {"verdict": "pass"}}}) is None
