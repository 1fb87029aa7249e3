"""The process runner reads a worker's output on a tick: when it may leave it unread, and
that the pipe holds the samples meanwhile."""

from __future__ import annotations

import fcntl
import os
import sys

import pytest

from worker_soak.runners.link import MIN_QUIET_S, TICK_S, QuietReading, WorkerLink
from worker_soak.runners.spawn import PIPE_BYTES, widen_pipe


def test_no_quiet_spell_after_a_read_without_jobs() -> None:
    """A read that brought no finished job (the ready event) starts no spell."""
    quiet = QuietReading(64)
    assert not quiet.start(1.0, None)
    assert quiet.wait(1.0, None) is None


def test_a_spell_lasts_a_tick_for_slow_jobs_and_ends_once() -> None:
    """1-ms jobs, 64 queued: a spell of one tick; watched again exactly once when over."""
    quiet = QuietReading(64)
    assert quiet.start(0.1, 1_000_000)
    assert quiet.wait(0.1, None) == pytest.approx(TICK_S)
    assert quiet.wait(0.1, 0.002) == 0.002  # a job's deadline comes first
    assert not quiet.over(0.1 + TICK_S / 2)
    assert quiet.over(0.1 + TICK_S)
    assert not quiet.over(0.2)


@pytest.mark.parametrize("job_ns", [1_000, 10_000, 25_000])
def test_fast_jobs_are_never_starved(job_ns: int) -> None:
    """Microsecond jobs: a quarter of what is queued is below the floor, no spell; the
    harness keeps feeding the worker."""
    assert not QuietReading(64).start(0.0, job_ns)


def test_the_spell_is_a_quarter_of_the_queued_work() -> None:
    """100-us jobs, 64 queued: 1.6 ms unread at most."""
    quiet = QuietReading(64)
    assert quiet.start(0.0, 100_000)
    assert quiet.wait(0.0, None) == pytest.approx(100e-6 * 64 / 4)
    assert MIN_QUIET_S < 100e-6 * 64 / 4


def test_the_last_job_time_is_read_from_the_last_sample() -> None:
    lines = (
        b'{"job_index":1,"wall_ns":500,"cpu_ns":4}\n'
        b'{"event":"ready"}\n{"job_index":2,"wall_ns":1234,"cpu_ns":5}\n'
    )
    assert WorkerLink.last_job_ns(lines) == 1234
    assert WorkerLink.last_job_ns(b'{"event":"ready"}\n') is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="F_SETPIPE_SZ is Linux's")
def test_the_output_pipe_holds_a_mebibyte() -> None:
    """~4,000 samples wait in the pipe while the harness is quiet."""
    read_fd, write_fd = os.pipe()
    try:
        widen_pipe(write_fd)
        assert fcntl.fcntl(write_fd, fcntl.F_GETPIPE_SZ) == PIPE_BYTES
    finally:
        os.close(read_fd)
        os.close(write_fd)
