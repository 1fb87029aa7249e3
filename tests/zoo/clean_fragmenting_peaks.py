"""Imports batches of heavy-tailed size and keeps a sample row of the 20 largest batches
seen (a bounded "biggest imports" table): the objects it keeps are flat, but each new record
batch leaves its sample row at the top of the C heap, so the freed rows under it stay mapped."""

import heapq
import random

_rng = random.Random(5)
_largest: list[tuple[int, int, bytes]] = []


def handle(job: dict[str, int]) -> None:
    count = min(int(_rng.paretovariate(1.5) * 40), 100_000)
    rows = [bytes(700 + (k * 131) % 1500) for k in range(count)]
    entry = (count, job["id"], rows[-1])
    if len(_largest) < 20:
        heapq.heappush(_largest, entry)
    elif count > _largest[0][0]:
        heapq.heapreplace(_largest, entry)
    del rows, entry
