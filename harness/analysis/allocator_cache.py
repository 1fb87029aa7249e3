"""Allocator caches are not growth: what the C allocator parks for reuse and still counts as
in use, and the failures it could explain.

glibc's per-thread cache (tcache) keeps up to 7 freed chunks of each of 64 size classes
(32-1,040 bytes on 64-bit Linux) and ``mallinfo2`` counts them as in use: a worker whose jobs
free chunks of sizes it has not freed before fills it slowly. The native heap probe subtracts
what the caches of Python's threads hold (:mod:`worker_soak.worker.tcache`; a worker process
where they cannot be read runs with the cache off). The inline runner measures the harness's
own process, where other threads' allocations mix with the jobs': the allowance below stays.
Threads whose caches cannot be read (a C library's own: a Kafka client's, a gRPC core's) are
counted by the probe (``native_threads_unseen``), and each is allowed a full cache.
"""

from __future__ import annotations

import itertools
from typing import Final

from worker_soak.analysis.rounds import RoundsReading
from worker_soak.model import Verdict
from worker_soak.samples import Samples
from worker_soak.units import format_bytes

#: The most the cache can park: 7 chunks of each size class, 32 to 1,040 bytes.
TCACHE_BYTES: Final = 7 * sum(32 + 16 * size_class for size_class in range(64))


def unseen_threads(samples: Samples) -> int:
    """The most threads whose per-thread caches the native heap probe could not read in two
    reads running: a C library's threads live on, while a thread caught as it ends (the
    kernel counts it a moment after Python let it go, and its cache is already emptied) is
    in one read."""
    column = samples.gauges.get("native_threads_unseen", ())
    counts = [count for count in column if count is not None]
    return max((min(pair) for pair in itertools.pairwise(counts)), default=0)


def allow_allocator_cache(
    verdict: Verdict,
    rounds: RoundsReading | None,
    budget: float,
    cache_bytes: float,
    block_bytes: float,
    unseen: int = 0,
) -> Verdict:
    """A failure that the allocator's own cache could explain is not one: Python's blocks
    (exact) kept under the budget, and the native heap grew by no more than the cache holds.
    Measured: a worker raising on every job, inline in pytest, "grew" 11-21 KiB of native
    heap over 150 jobs with its blocks exactly flat, slowing to 0 (run to run: pass,
    inconclusive or fail)."""
    cache_bytes += unseen * TCACHE_BYTES
    if verdict.verdict != "fail" or not cache_bytes or rounds is None:
        return verdict
    judged = rounds.rounds
    if not judged:
        return verdict
    span = judged[-1].last_job - judged[0].first_job
    blocks_rate = sum(r.blocks for r in judged) * block_bytes / max(1, span)
    native = sum(r.native_bytes for r in judged)
    if blocks_rate >= budget or native > cache_bytes:
        return verdict
    grew = (
        f"the native heap grew {format_bytes(native)} over {span:,} jobs while Python's objects "
        f"kept {format_bytes(blocks_rate)}/job: "
    )
    if unseen:
        why = (
            f"the C allocator's per-thread caches of {unseen} thread{'s' if unseen > 1 else ''} "
            f"it cannot read (a C library's own) can hold that much (up to "
            f"{format_bytes(cache_bytes)}, counted as in use); run more jobs: a leak outgrows them"
        )
    else:
        why = (
            f"the C allocator's per-thread cache (up to {format_bytes(cache_bytes)}, counted as "
            "in use) can hold that much in this process; run with worker processes (the process "
            "runner) to judge native memory"
        )
    figures = {**verdict.figures, "allocator_cache_bytes": cache_bytes}
    if unseen:
        figures["threads_unseen"] = unseen
    return Verdict("inconclusive", grew + why, figures)
