"""Allocates many objects of mixed sizes and keeps a bounded, shuffling subset: the heap is
fragmented and churning, but holds the same amount from the first job to the last."""

import random

_rng = random.Random(7)
_ring: list[bytes] = [bytes(_rng.randint(16, 4096)) for _ in range(2_000)]


def handle(job: dict[str, int]) -> None:
    blobs = [bytes(_rng.randint(16, 4096)) for _ in range(40)]
    for blob in blobs[:5]:
        _ring[_rng.randrange(len(_ring))] = blob
