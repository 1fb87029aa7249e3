"""A job queue's own warm-up: Celery and RQ worker processes keep filling state of their own
for their first hundreds of tasks, which a short run cannot tell from a leak.

Measured here, a clean task (``tests/queues``: builds and drops a little text) through a real
worker over Redis, 300 tasks: Celery's child kept 70-77 B/task (2.2-2.4 Python objects per
task, in every round: "fail" in 2 of 2 runs); RQ's worker 58 B/task (1.8 objects, "fail"),
and 85-97 B/task over 300 and 600 tasks in an earlier measurement.
The same task at 1,000 tasks: RQ flat from task ~360 on ("pass"); Celery still filling but
slowing (36 B/task, then 11 B/task: "inconclusive"), flat from task ~710 on in a 4,000-task
run. Neither comes from the harness's hooks: the same hooks driven in a loop, with or
without their Redis channel, keep nothing.

So a queued run judged on fewer than ``FRAMEWORK_WARMUP_TASKS`` tasks does not fail memory
on growth the framework's own warm-up could explain — up to ``EXPLAINED_BYTES_PER_JOB``,
2.6x the most it was seen to keep — but says ``inconclusive`` and how many tasks would
settle it. A leak of 1 object per task reads the same as that warm-up there, so it is
``inconclusive`` too, never ``pass``; a larger one still fails.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from worker_soak.model import Verdict

FRAMEWORK_WARMUP_TASKS: Final = 1_000
EXPLAINED_BYTES_PER_JOB: Final = 256.0


def within_framework_warmup(memory: Verdict, runner: str, judged_jobs: int) -> Verdict:
    """``memory`` as judged, or ``inconclusive`` when it failed on a queued run too short
    to see past the framework's own warm-up, by growth that warm-up could explain."""
    if memory.verdict != "fail" or judged_jobs >= FRAMEWORK_WARMUP_TASKS:
        return memory
    rate = memory.figures.get("bytes_per_job")
    if not isinstance(rate, int | float) or rate > EXPLAINED_BYTES_PER_JOB:
        return memory
    name = {"celery": "Celery", "rq": "RQ"}.get(runner, runner)
    return replace(
        memory,
        verdict="inconclusive",
        summary=(
            f"{memory.summary}; but a {name} worker fills state of its own for its first "
            f"hundreds of tasks (a clean task kept 58-97 B/task over 300-600 tasks here), and "
            f"{rate:.0f} B/task over {judged_jobs:,} tasks cannot be told from that: run "
            f"{FRAMEWORK_WARMUP_TASKS:,} tasks or more"
        ),
        figures={**memory.figures, "framework_warmup_tasks": FRAMEWORK_WARMUP_TASKS},
    )
