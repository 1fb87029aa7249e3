"""One worker process of the supervised pool, as the supervisor keeps it, and the recycle
limits each of its lives is started with."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Final, Literal

from worker_soak.model import PoolConfig, RecycleReason
from worker_soak.runners.ledger import Job
from worker_soak.runners.link import WorkerLink
from worker_soak.runners.pool_metrics import ProcessMemory, WorkerMetrics, unique_set_size
from worker_soak.runners.pool_report import Restart
from worker_soak.runners.spawn import WorkerProcess

#: Jobs a worker holds at least: the one it runs and the next, already in its pipe.
MIN_JOBS_AHEAD: Final = 2
#: ... and at most, for jobs of microseconds, where a round trip per job would halve the
#: throughput: as many as fill ``AHEAD_S`` of work.
MAX_JOBS_AHEAD: Final = 64
AHEAD_S: Final = 0.005


#: Where a worker process is in its life: ``running`` (starting, standing by, or taking
#: jobs), ``retiring`` (it announced its recycle: it takes no new job, finishes, tears down
#: and exits), ``ending`` (the supervisor ends it: SIGTERM, then SIGKILL at ``kill_at``).
Phase = Literal["running", "retiring", "ending"]


@dataclass(slots=True, eq=False)
class PoolWorker:
    """One worker process's life in the pool: its phase (with the reason it is leaving),
    whether it is ready (its ``ready`` event came), and whom it stands by for."""

    slot: int
    lifetime: int
    process: WorkerProcess
    memory: ProcessMemory
    spawned_at: float
    #: The restart this worker fills (None: one of the first workers).
    restart: Restart | None
    #: Its two pipes, fed and heard.
    link: WorkerLink
    queue: deque[tuple[int, Job]] = field(default_factory=deque)
    phase: Phase = "running"
    #: Why it is retiring or being ended (None while running).
    leaving_for: RecycleReason | None = None
    #: When its ``ready`` event came (None: still starting).
    ready_at: float | None = None
    #: This lifetime's recycle limits after jitter (the worker process applies them).
    limit_jobs: int | None = None
    limit_age_s: float | None = None
    #: A standby waits, started but fed nothing, to take over from this worker.
    standby_for: PoolWorker | None = None
    standby: PoolWorker | None = None
    jobs_done: int = 0
    job_started: float | None = None
    last_finish: float | None = None
    last_rss: int | None = None
    #: Growth of its RSS, bytes per second, between the last two ticks.
    rss_rate: float = 0.0
    #: Moving average of a job's time in this worker, as the supervisor sees it (start: 10
    #: ms, so a worker begins with the fewest jobs ahead).
    job_seconds: float = 0.01
    #: Its replacement was started before it exited (``--prestart``).
    restart_started: bool = False
    #: When a worker being ended gets SIGKILL, if still alive.
    kill_at: float | None = None
    #: The memory cgroup's OOM-kill count when it started (None: not readable here).
    oom_before: int | None = None

    @property
    def pid(self) -> int:
        return self.process.popen.pid

    @property
    def ready(self) -> bool:
        return self.ready_at is not None

    @property
    def retiring(self) -> RecycleReason | None:
        """Why it announced its recycle, while it retires."""
        return self.leaving_for if self.phase == "retiring" else None

    @property
    def killed_for(self) -> RecycleReason | None:
        """Why the supervisor ends it, once it does."""
        return self.leaving_for if self.phase == "ending" else None

    def retire(self, reason: RecycleReason) -> None:
        """It announced its recycle (``reason``): it takes no new job."""
        self.phase, self.leaving_for = "retiring", reason

    def end(self, reason: RecycleReason, kill_at: float) -> None:
        """The supervisor ends it (SIGTERM sent); SIGKILL follows at ``kill_at``."""
        self.phase, self.leaving_for, self.kill_at = "ending", reason, kill_at

    def jobs_ahead(self) -> int:
        """How many jobs to keep queued for it: enough to cover ``AHEAD_S`` of its work."""
        ahead = int(AHEAD_S / max(self.job_seconds, 1e-7))
        return min(MAX_JOBS_AHEAD, max(MIN_JOBS_AHEAD, ahead))

    def finished(self, job_index: int, now: float) -> None:
        """Its sample of job ``job_index`` arrived at ``now`` (monotonic)."""
        for position, (index, _) in enumerate(self.queue):
            if index == job_index:
                del self.queue[position]
                break
        self.jobs_done += 1
        if self.last_finish is not None and self.job_started is not None:
            # Jobs finish in bursts (one read brings several samples): a slow average.
            self.job_seconds += 0.05 * (now - self.job_started - self.job_seconds)
        self.last_finish = now
        self.job_started = now if self.queue else None

    def metrics(self, now: float) -> WorkerMetrics:
        """This worker at ``now`` (monotonic), for the heartbeat."""
        running = self.queue[0][0] if self.queue and self.ready else None
        return WorkerMetrics(
            worker=self.slot,
            pid=self.pid,
            lifetime=self.lifetime,
            rss_bytes=self.memory.rss(),
            uss_bytes=unique_set_size(self.pid),
            jobs_done=self.jobs_done,
            job_index=running,
            job_running_s=(
                round(now - self.job_started, 4)
                if running is not None and self.job_started is not None
                else None
            ),
        )

    @property
    def occupies_slot(self) -> bool:
        """Whether this process still counts against ``--workers`` (its memory does)."""
        return self.standby_for is None and not (self.retiring and self.restart_started)


def recycle_limits(
    pool: PoolConfig, seed: int, lifetime: int
) -> tuple[list[str], int | None, float | None]:
    """Worker-process arguments with lifetime number ``lifetime``'s recycle limits (job and
    age limits plus up to ``jitter`` more, seeded by the run's seed: reproducible), and the
    job and age limits themselves."""
    rng = random.Random(seed * 1_000_003 + lifetime)
    args = ["--pool"]
    jobs = age = None
    if pool.max_memory is not None:
        args += ["--recycle-memory", str(pool.max_memory)]
    if pool.max_jobs_per_worker is not None:
        jobs = pool.max_jobs_per_worker + int(rng.random() * pool.jitter * pool.max_jobs_per_worker)
        args += ["--recycle-jobs", str(jobs)]
    if pool.max_worker_age_s is not None:
        age = pool.max_worker_age_s * (1 + rng.random() * pool.jitter)
        args += ["--recycle-age", repr(age)]
    return args, jobs, age
