"""Synthetic per-job series for the verdict tests: noise models measured on real workers."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from worker_soak.samples import Samples

HeapModel = Callable[[int, random.Random], tuple[float, float]]


def ar1(count: int, phi: float, sd: float, rng: random.Random) -> list[float]:
    """An AR(1) series: each value phi times the last plus Gaussian noise."""
    value, out = 0.0, []
    for _ in range(count):
        value = phi * value + rng.gauss(0.0, sd)
        out.append(value)
    return out


def latency_samples(
    count: int,
    rng: random.Random,
    base_ms: float = 1.0,
    phi: float = 0.7,
    jitter: float = 0.2,
    drift: float = 0.0,
    spike_rate: float = 0.01,
) -> Samples:
    """Per-job latency: lognormal AR(1) jitter, GC-like spikes, optional linear drift."""
    noise = ar1(count, phi, jitter * math.sqrt(1 - phi**2), rng)
    wall = []
    for job, e in enumerate(noise):
        ms = base_ms * math.exp(e) * (1 + drift * job / count)
        if rng.random() < spike_rate:
            ms += base_ms * 20
        wall.append(max(1, int(ms * 1e6)))
    return _samples(wall, {})


#: What the heap keeps after a full collection at a job: (blocks, native bytes, bounded
#: cache entries, bounded cache blocks).
KeptModel = Callable[[int], tuple[int, int, int, int]]


def heap_samples(
    count: int,
    model: HeapModel,
    rng: random.Random,
    every: int = 5,
    kept: KeptModel | None = None,
    native_every: int | None = None,
) -> Samples:
    """Heap probes sampled every ``every`` jobs (the native heap every ``native_every``, if
    given) from ``model(job) -> (blocks, native bytes)``; with ``kept``, the heap after full
    collections at the rounds' ends, as a worker reports it (``worker_soak.worker.census``)."""
    from worker_soak.analysis.rounds import collection_points

    py: list[int | None] = []
    native: list[int | None] = []
    for job in range(count):
        blocks, native_bytes = model(job, rng)
        py.append(int(blocks) if job % every == 0 else None)
        native.append(int(native_bytes) if job % (native_every or every) == 0 else None)
    gauges: dict[str, tuple[int | None, ...]] = {
        "py_blocks": tuple(py),
        "native_heap_bytes": tuple(native),
    }
    if kept is not None:
        points = set(collection_points(count, count))
        names = (
            "py_blocks_collected",
            "native_heap_collected_bytes",
            "cache_bounded_entries",
            "cache_bounded_blocks",
        )
        for position, name in enumerate(names):
            gauges[name] = tuple(kept(j)[position] if j in points else None for j in range(count))
    return _samples([1_000_000] * count, gauges)


def counter_samples(values: list[int], every: int = 10) -> Samples:
    """A resource counter (fds) sampled every ``every`` jobs."""
    column = tuple(v if i % every == 0 else None for i, v in enumerate(values))
    return _samples([1_000_000] * len(values), {"fds": column})


def _samples(wall: list[int], gauges: dict[str, tuple[int | None, ...]]) -> Samples:
    end, now = [], 0
    for ns in wall:
        now += ns
        end.append(now)
    return Samples(
        wall_ns=tuple(wall), cpu_ns=tuple(wall), end_ns=tuple(end), gauges=gauges, errors=()
    )
