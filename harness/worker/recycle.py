"""A worker process's own recycle limits, checked after each job it finishes.

The worker decides, not the supervisor: only the worker knows the moment between two jobs,
so a soft recycle can never interrupt one. It decides on its *current* resident size, read
from ``/proc/self/statm`` (~1 us), never on the peak (``ru_maxrss``): a peak check, as
Celery's ``worker_max_memory_per_child`` does, recycles after every job once a single job
used a big temporary.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # the model's dataclasses: 11 ms of every worker process's start
    from worker_soak.model import RecycleReason

#: Exit code of a worker process that recycled itself (EX_TEMPFAIL: "try again").
EXIT_RECYCLE: Final = 75
_PAGE_SIZE: Final = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_memory(statm_fd: int) -> tuple[int, int]:
    """(resident bytes, resident bytes not shared with other processes) of a process, from
    an open ``/proc/PID/statm``. The second is resident minus shared (file-backed and shmem)
    pages: the private anonymous memory, which for a process started by exec, not fork, is
    its unique set size to within its private file mappings."""
    fields = os.pread(statm_fd, 256, 0).split()
    resident = int(fields[1]) * _PAGE_SIZE
    shared = int(fields[2]) * _PAGE_SIZE
    return resident, resident - shared


class Recycler:
    """Says, after a job, whether this worker should take no more jobs, and why."""

    __slots__ = (
        "_deadline",
        "_growth",
        "_jobs_done",
        "_max_jobs",
        "_max_memory",
        "_started",
        "_statm",
        "last_rss",
    )

    def __init__(
        self, max_memory: int | None, max_jobs: int | None, max_age_s: float | None
    ) -> None:
        self._max_memory = max_memory
        self._max_jobs = max_jobs
        self._deadline = time.monotonic() + max_age_s if max_age_s is not None else None
        self._jobs_done = 0
        self._started = time.monotonic()
        #: Moving average of RSS growth per job, in bytes.
        self._growth = 0.0

        self._statm = os.open("/proc/self/statm", os.O_RDONLY) if max_memory else -1
        self.last_rss = 0

    def after_job(self) -> RecycleReason | None:
        self._jobs_done += 1
        if self._max_memory is not None:
            rss = current_memory(self._statm)[0]
            if self.last_rss:
                self._growth += 0.01 * (rss - self.last_rss - self._growth)
            self.last_rss = rss
            if rss > self._max_memory:
                return "memory"
        if self._max_jobs is not None and self._jobs_done >= self._max_jobs:
            return "jobs"
        if self._deadline is not None and time.monotonic() >= self._deadline:
            return "age"
        return None

    def jobs_left(self) -> float | None:
        """About how many jobs this worker has before a limit recycles it (None: no limit
        in sight: memory not growing, no job or age limit)."""
        left: list[float] = []
        if self._max_memory is not None and self._growth > 0:
            left.append((self._max_memory - self.last_rss) / self._growth)
        if self._max_jobs is not None:
            left.append(self._max_jobs - self._jobs_done)
        if self._deadline is not None and self._jobs_done:
            per_job = (time.monotonic() - self._started) / self._jobs_done
            left.append((self._deadline - time.monotonic()) / max(per_job, 1e-9))
        return min(left) if left else None

    @property
    def jobs_done(self) -> int:
        return self._jobs_done

    def close(self) -> None:
        if self._statm >= 0:
            os.close(self._statm)
            self._statm = -1
