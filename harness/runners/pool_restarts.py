"""The pool's restarts: the record of every worker that ended before the jobs did, what each
restart cost, when to start a replacement early, and when restarting is no use.

A restart's cost is the gap from the old worker's last finished job to its replacement's
readiness. With ``--prestart`` a standby is started when a worker reaches ``PRESTART_AT`` of
a limit, or is projected to reach one sooner than twice the time a worker takes to start
(plus two ticks): it takes over the moment the old one stops taking jobs.
"""

from __future__ import annotations

import signal
import time
from collections import Counter, deque
from collections.abc import Collection
from typing import Any, Final

from worker_soak.model import PoolConfig, RecycleReason
from worker_soak.runners.pool_report import Restart
from worker_soak.runners.pool_worker import PoolWorker

PRESTART_AT: Final = 0.9
#: Lifetimes in a row that end this early mean the limits, not the worker, are at fault.
FLAPPING_LIFETIMES: Final = 3


class Restarts:
    """Recycle records (as ``result.json`` shows them) and the rules around restarting."""

    def __init__(self, pool: PoolConfig, tick_s: float) -> None:
        self.pool = pool
        self.tick_s = tick_s
        self.records: list[Restart] = []
        self.started = time.monotonic()
        #: How long a worker takes from spawn to ready (moving average; first guess 0.5 s).
        self.startup_s = 0.5
        self._early_ends: deque[str] = deque(maxlen=FLAPPING_LIFETIMES)

    def clock(self) -> float:
        """Seconds since the pool started, as the records give times."""
        return round(time.monotonic() - self.started, 4)

    def record(
        self, worker: PoolWorker, reason: RecycleReason, job_index: int | None, rss: object
    ) -> Restart:
        """A worker ends (or announces it will) before the jobs do."""
        rss_bytes = int(rss) if isinstance(rss, int) and rss else worker.last_rss
        record = Restart(
            worker.slot,
            worker.pid,
            job_index,
            reason,
            rss_bytes,
            worker.jobs_done,
            self.clock(),
            gap_from=worker.last_finish or time.monotonic(),
        )
        self.records.append(record)
        return record

    def ready(self, worker: PoolWorker, now: float) -> None:
        """A worker is ready: learn the start-up time; close the gap it fills, if any."""
        self.startup_s += 0.5 * (now - worker.spawned_at - self.startup_s)
        if worker.restart is not None:
            worker.restart.replaced_at(now)

    def take_over(self, worker: PoolWorker, record: Restart, live: Collection[PoolWorker]) -> bool:
        """Let the worker's standby, if it has one, take its place; True if it did."""
        standby = worker.standby
        worker.standby = None
        if standby is None or standby not in live or standby.killed_for:
            return False
        standby.standby_for = None
        standby.restart = record
        record.prestarted = True
        if standby.ready_at is not None:  # ready before it was needed: no gap but the swap
            record.replaced_at(standby.ready_at)
        return True

    def near_a_limit(self, worker: PoolWorker, now: float) -> bool:
        """Whether a worker without a standby has reached ``PRESTART_AT`` of a recycle limit,
        or will reach one sooner than a standby could start."""
        if worker.standby is not None or worker.standby_for is not None or not worker.ready:
            return False
        lead_s = 2 * self.startup_s + 2 * self.tick_s
        near = False
        memory = self.pool.max_memory
        if memory is not None:
            rss = worker.last_rss or 0
            soon = worker.rss_rate > 0 and (memory - rss) / worker.rss_rate <= lead_s
            near = rss >= PRESTART_AT * memory or soon
        jobs = worker.limit_jobs
        if jobs is not None:
            left = jobs - worker.jobs_done
            near = (
                near
                or worker.jobs_done >= PRESTART_AT * jobs
                or left * worker.job_seconds <= lead_s
            )
        age = worker.limit_age_s
        if age is not None:
            near = near or now - worker.spawned_at >= min(PRESTART_AT * age, age - lead_s)
        return near

    def memory_flapping(self, worker: PoolWorker, reason: RecycleReason) -> str | None:
        """Why the run must stop, when workers keep recycling for memory after one job."""
        if reason != "memory" or worker.jobs_done > 1:
            self._early_ends.clear()
            return None
        self._early_ends.append(reason)
        if len(self._early_ends) < FLAPPING_LIFETIMES:
            return None
        limit = self.pool.max_memory or 0
        return (
            f"--max-memory {limit / 1e6:g}MB is below what a fresh worker uses after one "
            f"job ({(worker.last_rss or limit) / 1e6:.1f} MB RSS): {FLAPPING_LIFETIMES} "
            "workers in a row recycled after their first job. Raise --max-memory above "
            "the worker's size after warm-up."
        )

    def died_before_ready(self, returncode: int, log_name: str) -> str | None:
        """Why the run must stop, when workers keep dying before their first job."""
        self._early_ends.append("startup")
        if len(self._early_ends) < FLAPPING_LIFETIMES:
            return None
        if any(end != "startup" for end in self._early_ends):
            return None
        return (
            f"{FLAPPING_LIFETIMES} worker processes in a row ended before their first job "
            f"(last: {exit_text(returncode)}); see {log_name}"
        )

    def by_reason(self) -> Counter[str]:
        return Counter(str(record.reason) for record in self.records)

    def final(self) -> list[dict[str, Any]]:
        """The records as result.json shows them."""
        return [record.to_json() for record in self.records]


def exit_text(returncode: int) -> str:
    """How a worker process ended, in words: ``exit code 1``, ``signal 11 (SIGSEGV)``."""
    if returncode < 0:
        try:
            return f"signal {-returncode} ({signal.Signals(-returncode).name})"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"
