"""Payloads of random sizes between 40 B and 1 KiB, many per job: malloc's per-thread cache
fills slowly with chunks of every size (the native heap's in-use count grew ~100 B/job for
~2,000 jobs with it on), and nothing is kept."""

import random

_rng = random.Random(11)


def handle(job: dict[str, int]) -> None:
    parts = [bytes(_rng.randint(40, 1_024)) for _ in range(30)]
    b"".join(parts)
