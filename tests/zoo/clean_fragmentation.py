"""Allocates many objects of mixed sizes and keeps a bounded, shuffling subset."""

import random

_ring: list[bytes] = [b""] * 2_000
_rng = random.Random(7)


def handle(job: dict[str, int]) -> None:
    blobs = [bytes(_rng.randint(16, 4096)) for _ in range(40)]
    for blob in blobs[:5]:
        _ring[_rng.randrange(len(_ring))] = blob
