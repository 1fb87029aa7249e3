"""Workers for the supervised pool's tests. Each writes every job's start and end to the file
named by ``POOL_JOB_LOG`` (``S <job id> <pid>`` / ``E <job id> <pid>``, one O_APPEND write
each, whole lines even from several processes), so the tests can check what really ran
independently of what the supervisor says."""

from __future__ import annotations

import ctypes
import os
import time
from typing import Any


class _JobLog:
    def __init__(self) -> None:
        self._fd = os.open(os.environ["POOL_JOB_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        self._pid = os.getpid()

    def start(self, job: dict[str, Any]) -> None:
        os.write(self._fd, b"S %d %d\n" % (job["id"], self._pid))

    def end(self, job: dict[str, Any]) -> None:
        os.write(self._fd, b"E %d %d\n" % (job["id"], self._pid))


class Leaky:
    """Keeps 64 KiB of every job forever."""

    def setup(self) -> None:
        self.log = _JobLog()
        self.kept: list[bytearray] = []

    def handle(self, job: dict[str, Any]) -> None:
        self.log.start(job)
        self.kept.append(bytearray(64 * 1024))  # LEAK
        self.log.end(job)

    def teardown(self) -> None:
        self.kept.clear()


leaky = Leaky()


class OneHugeJob:
    """Job 40 alone needs 400 MB (and holds it a while); the others are small."""

    def setup(self) -> None:
        self.log = _JobLog()

    def handle(self, job: dict[str, Any]) -> int:
        self.log.start(job)
        size = 0
        if job["id"] == 40:
            huge = bytearray(400 * 1024 * 1024)
            huge[::4096] = b"x" * len(range(0, len(huge), 4096))  # touch every page
            time.sleep(5)  # long enough for the supervisor to see it
            size = len(huge)
        self.log.end(job)
        return size


one_huge_job = OneHugeJob()


class Segfaulting:
    """Crashes the whole process (SIGSEGV) on its 1,000th job, mid-job."""

    def setup(self) -> None:
        self.log = _JobLog()
        self.done = 0

    def handle(self, job: dict[str, Any]) -> None:
        self.log.start(job)
        self.done += 1
        if self.done == 1000:
            ctypes.string_at(0)  # reads address 0: SIGSEGV
        self.log.end(job)


segfaulting = Segfaulting()


class Steady:
    """A clean worker: ~1 ms of CPU per job."""

    def setup(self) -> None:
        self.log = _JobLog()

    def handle(self, job: dict[str, Any]) -> int:
        self.log.start(job)
        total = 0
        deadline = time.process_time() + 0.001
        while time.process_time() < deadline:
            total += 1
        self.log.end(job)
        return total


steady = Steady()


def read_job_log(path: str) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """(job id -> pids that started it, job id -> pids that ended it)."""
    starts: dict[int, list[int]] = {}
    ends: dict[int, list[int]] = {}
    with open(path, encoding="ascii") as handle:
        for line in handle:
            kind, job, pid = line.split()
            (starts if kind == "S" else ends).setdefault(int(job), []).append(int(pid))
    return starts, ends


class HangsOnJob7:
    """Job 7 never ends; the others take no time."""

    def setup(self) -> None:
        self.log = _JobLog()

    def handle(self, job: dict[str, Any]) -> None:
        self.log.start(job)
        if job["id"] == 7:
            time.sleep(3600)
        self.log.end(job)


hangs_on_job_7 = HangsOnJob7()


class SlowLeaky:
    """Keeps 64 KiB of every job, at about 2,000 jobs a second."""

    def setup(self) -> None:
        self.log = _JobLog()
        self.kept: list[bytearray] = []

    def handle(self, job: dict[str, Any]) -> None:
        self.log.start(job)
        self.kept.append(bytearray(64 * 1024))
        time.sleep(0.0005)
        self.log.end(job)


slow_leaky = SlowLeaky()
