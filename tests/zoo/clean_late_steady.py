"""Publishes a moving average over the last 60 jobs' readings (a dashboard's gauge) once the
window is full: every job from the 60th on costs about 1.9x what the first 59 did, and no
more after that. Each job's own result depends on its payload only. Interpreter work, as
most workers' is (the machine-speed reading follows it; a sort-bound variant drifted with
this VM's memory bandwidth: "27 % slower" in a CI run here)."""

import random

WINDOW = 60
_recent: list[list[float]] = []
moving_average: float | None = None


def handle(job: dict[str, int]) -> float:
    global moving_average
    draw = random.Random(job["id"]).random
    readings = [draw() for _ in range(1_500)]
    total = 0.0
    for value in readings:
        total += value * value
    _recent.append(readings[::15])
    if len(_recent) > WINDOW:
        del _recent[0]
    if len(_recent) == WINDOW:
        window_total = 0.0
        for kept in _recent:
            for value in kept:
                window_total += value
        moving_average = window_total / (WINDOW * len(_recent[0]))
    return total
