"""Each job's temporaries have a random size between 1 KiB and 2 MiB."""

import random

_rng = random.Random(3)


def handle(job: dict[str, int]) -> None:
    chunks = [bytes(_rng.randint(1024, 2 * 1024 * 1024)) for _ in range(3)]
    del chunks
