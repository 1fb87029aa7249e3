"""Workers that misbehave on purpose, one way each, for the runner and CLI tests."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from typing import Any

Job = dict[str, Any]


def ok(job: Job) -> int:
    """Does nothing wrong."""
    return int(job["id"])


def raises(job: Job) -> int:
    """Reads a field the counter workload's jobs do not have: every job raises KeyError."""
    return int(job["number"])


def exit_at_150(job: Job) -> None:
    """The process exits (as os._exit does in a C extension) when job 150 starts."""
    if job["id"] == 150:
        os._exit(7)


def segfault_at_150(job: Job) -> None:
    """Dereferences NULL at job 150."""
    if job["id"] == 150:
        ctypes.string_at(0)


def killed_at_150(job: Job) -> None:
    """Something outside sends SIGKILL at job 150."""
    if job["id"] == 150:
        os.kill(os.getpid(), signal.SIGKILL)


def sys_exit_at_150(job: Job) -> None:
    """Calls sys.exit(5) at job 150."""
    if job["id"] == 150:
        sys.exit(5)


def hang_at_20(job: Job) -> None:
    """Sleeps far past any timeout at job 20."""
    if job["id"] == 20:
        time.sleep(3600)


def hang_ignoring_term_at_20(job: Job) -> None:
    """Ignores SIGTERM, then hangs at job 20: only SIGKILL ends it."""
    if job["id"] == 20:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(3600)


def spawn_then_hang_at_5(job: Job) -> None:
    """Starts a long-lived child process, then hangs: both must be gone after the run."""
    if job["id"] == 5:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        with open(os.environ["SOAK_TEST_PIDFILE"], "w") as handle:
            handle.write(str(child.pid))
        time.sleep(3600)


def raise_on_odd(job: Job) -> None:
    """Every odd job raises ValueError; even ones succeed."""
    if job["id"] % 2:
        raise ValueError(f"odd job {job['id']}")


def slow(job: Job) -> None:
    """Each job takes 2 ms, so a run can be interrupted midway."""
    time.sleep(0.002)


def slower(job: Job) -> None:
    """Each job takes 20 ms: 0.5 % of it (the probes' budget, 100 us) affords every probe
    more reads than its calibration in an idle process gave it, on any machine."""
    time.sleep(0.02)


class Lifecycle:
    """Object worker whose setup and teardown leave marks in a file."""

    def __init__(self) -> None:
        self.path = os.environ.get("SOAK_TEST_MARKS", os.devnull)
        self.seen = 0

    def setup(self) -> None:
        with open(self.path, "a") as handle:
            handle.write(f"setup {os.getpid()}\n")

    def handle(self, job: Job) -> None:
        self.seen += 1

    def teardown(self) -> None:
        with open(self.path, "a") as handle:
            handle.write(f"teardown {self.seen}\n")


class BrokenSetup:
    """setup() raises."""

    def setup(self) -> None:
        raise RuntimeError("database unreachable")

    def handle(self, job: Job) -> None:
        return None


class BrokenTeardown:
    """teardown() raises; every job succeeds."""

    def handle(self, job: Job) -> None:
        return None

    def teardown(self) -> None:
        raise RuntimeError("could not flush")


async def async_handle(job: Job) -> int:
    """A coroutine handler."""
    return int(job["id"])


not_callable = 42


def hostile_errors(job: Job) -> None:
    """Every 3rd job fails with an error message that is hostile HTML."""
    if job["id"] % 3 == 0:
        raise ValueError(
            f"<script>window.pwned = {job['id']}</script><img src=x onerror=alert(1)> job"
        )


def hang_at_5(job: Job) -> None:
    """Sleeps far past any timeout on the job with id 5: among the first payloads, which the
    aged-against-fresh comparison also runs before the soak."""
    if job["id"] == 5:
        time.sleep(3600)


def close_fds_at_50(job: Job) -> None:
    """Closes every file descriptor above stderr on the job with id 50 (a daemonising
    library does), the harness's pipes with them."""
    if job["id"] == 50:
        os.closerange(3, 65536)


def returns_20_mib(job: Job) -> bytes:
    """Returns a 20 MiB object: the kept results for the isolation check must stay small."""
    return bytes([job["id"] % 256]) * (20 << 20)
