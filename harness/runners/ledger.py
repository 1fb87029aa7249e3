"""The supervisor's account of every job: handed out, finished, interrupted, retried, failed.

A job is interrupted when the worker running it was killed or crashed. It runs again on a
fresh worker at most ``max_retries`` times, then is recorded as failed: never silently lost,
never retried forever. Jobs a worker had queued but not started when it ended (it recycled,
or died on the job before them) go back to the front of the queue without counting as a
retry: the worker reads jobs in order, so a job after the one in flight never began.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Job = dict[str, Any]


@dataclass(slots=True)
class Settled:
    """A set of job indexes that mostly grows in order, in bounded memory: a watermark
    (every index below it is in the set) plus the few members above it."""

    below: int = 0
    above: set[int] = field(default_factory=set)

    def __contains__(self, job_index: int) -> bool:
        return job_index < self.below or job_index in self.above

    def add(self, job_index: int) -> None:
        self.above.add(job_index)
        while self.below in self.above:
            self.above.remove(self.below)
            self.below += 1


@dataclass(slots=True)
class Ledger:
    """Job accounting for one pool run; the single source of ``jobs_lost`` and its peers.

    Its memory does not grow with the run: jobs are handed out in index order and mostly
    settle in order, so settled jobs are kept as a watermark (every index below it is
    settled) plus the few settled above it."""

    max_retries: int
    #: Jobs to hand out before new ones: returned unstarted, or to be retried.
    again: deque[tuple[int, Job]] = field(default_factory=deque)
    handed_out: int = 0
    finished_count: int = 0
    failed: dict[int, str] = field(default_factory=dict)
    interruptions: dict[int, int] = field(default_factory=dict)
    #: Sample lines that arrived for a job already settled (dropped, counted).
    duplicates: int = 0
    _settled: Settled = field(default_factory=Settled)

    def next_job(self, source: Iterator[Job]) -> tuple[int, Job] | None:
        """The next job to hand to a worker: a returned or retried one first, else a new one
        (its index is its position in ``source``); None when there is none."""
        if self.again:
            return self.again.popleft()
        try:
            job = next(source)
        except StopIteration:
            return None
        index = self.handed_out
        self.handed_out += 1
        return index, job

    def settled(self, job_index: int) -> bool:
        """Whether the job finished or was recorded as failed."""
        return job_index in self._settled

    def _settle(self, job_index: int) -> None:
        self._settled.add(job_index)

    def finish(self, job_index: int) -> bool:
        """A sample arrived for ``job_index``; False if the job had already settled."""
        if self.settled(job_index):
            self.duplicates += 1
            return False
        self._settle(job_index)
        self.finished_count += 1
        return True

    def give_back(self, jobs: list[tuple[int, Job]]) -> None:
        """Jobs a worker held but never started, in order, to the front of the queue."""
        self.again.extendleft(reversed(jobs))

    def interrupt(self, job_index: int, job: Job, why: str) -> bool:
        """The job in flight when its worker was ended; True if it will run again, False
        if it is now recorded as failed."""
        count = self.interruptions.get(job_index, 0) + 1
        self.interruptions[job_index] = count
        if count > self.max_retries:
            self.failed[job_index] = why
            self._settle(job_index)
            return False
        self.again.appendleft((job_index, job))
        return True

    @property
    def retried(self) -> int:
        """Jobs handed out again after an interruption (each counted once)."""
        return len(self.interruptions) if self.max_retries else 0

    @property
    def lost(self) -> int:
        """Jobs handed out that neither finished nor were recorded as failed, nor wait to
        be handed out again."""
        return self.handed_out - self.finished_count - len(self.failed) - len(self.again)

    def summary(self) -> dict[str, int]:
        return {
            "jobs_handed_out": self.handed_out,
            "jobs_finished": self.finished_count,
            "jobs_lost": self.lost,
            "jobs_retried": self.retried,
            "jobs_run_twice": self.duplicates,
            "jobs_failed_by_interruption": len(self.failed),
        }
