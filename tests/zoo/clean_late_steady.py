"""Publishes a moving median over the last 60 jobs' readings (a dashboard's gauge) once the
window is full: every job from the 60th on costs about 1.6x what the first 59 did, and no
more after that. Each job's own result depends on its payload only."""

import random
import statistics

WINDOW = 60
_recent: list[list[float]] = []
moving_median: float | None = None


def handle(job: dict[str, int]) -> float:
    global moving_median
    draw = random.Random(job["id"]).random
    readings = sorted(draw() for _ in range(6_000))
    _recent.append(readings[::25])
    if len(_recent) > WINDOW:
        del _recent[0]
    if len(_recent) == WINDOW:
        moving_median = statistics.median(value for kept in _recent for value in kept)
    return readings[len(readings) // 2]
