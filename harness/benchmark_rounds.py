"""A soak's per-job latencies as the rounds of a pytest-benchmark ``benchmark`` fixture, so
``--benchmark-json``, ``--benchmark-compare`` and ``--benchmark-compare-fail`` work on soak
latency.

pytest-benchmark times the functions it calls itself and has no public way to take timings
measured elsewhere; the fixture's ``_make_stats`` (present from 3.x to 5.x) is the one entry
point that does, and a missing one gets a clear error rather than wrong figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from worker_soak.errors import UsageError


def record_rounds(benchmark: Any, wall_ns: Sequence[int], extra_info: Mapping[str, Any]) -> str:
    """Give ``benchmark`` one round per job (seconds) and ``extra_info`` under the key
    ``soak``; return what was done, in words, for the test's summary."""
    if getattr(benchmark, "_mode", None):
        raise UsageError(
            "this test's benchmark fixture was already used; a soak records its latencies as "
            "the rounds of an unused one: give the soak its own test"
        )
    benchmark.extra_info["soak"] = dict(extra_info)
    benchmark._mode = "soak(...)"  # used: pytest-benchmark warns about a fixture left unused
    if getattr(benchmark, "disabled", False):
        # Disabled (--benchmark-disable, or pytest-xdist): the soak still ran every job.
        return f"benchmark disabled: {len(wall_ns):,} jobs ran, no rounds recorded"
    if not wall_ns:
        return "benchmark: the soak completed no judged job, no rounds recorded"
    make_stats = getattr(benchmark, "_make_stats", None)
    if make_stats is None:
        from importlib.metadata import version

        raise UsageError(
            f"pytest-benchmark {version('pytest-benchmark')} cannot take timings measured "
            "elsewhere (no BenchmarkFixture._make_stats); install pytest-benchmark>=4,<6"
        )
    stats = make_stats(1)
    for ns in wall_ns:
        stats.update(ns / 1e9)
    return f"benchmark: {len(wall_ns):,} rounds recorded"
