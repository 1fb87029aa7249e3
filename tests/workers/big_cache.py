"""A clean worker whose bounded cache fills to a million small objects over its first 100
jobs, each job ~1 ms of CPU: the heap probe (``sys.getallocatedblocks`` walks every pymalloc
pool) costs ~1.5 us when the worker starts and tens of microseconds once the cache is full."""

from __future__ import annotations

import time
from typing import Any

CACHE_SIZE = 1_000_000
_FILL_PER_JOB = 10_000
_cache: dict[int, str] = {}


def handle(job: dict[str, Any]) -> str:
    if len(_cache) < CACHE_SIZE:
        start = len(_cache)
        for key in range(start, start + _FILL_PER_JOB):
            _cache[key] = str(key) * 2
    end = time.perf_counter_ns() + 1_000_000
    while time.perf_counter_ns() < end:
        pass
    return _cache[int(job["id"]) % 1000]
