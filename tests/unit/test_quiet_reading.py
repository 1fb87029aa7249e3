"""The process runner reads a worker's output on a tick: when it may leave it unread, and
that the pipe holds the samples meanwhile."""

from __future__ import annotations

import fcntl
import os
import sys

import pytest

from worker_soak.runners.link import MIN_QUIET_S, TICK_S, QuietReading
from worker_soak.runners.spawn import PIPE_BYTES, widen_pipe


def test_no_quiet_spell_before_jobs_finish() -> None:
    """A read that brought no finished job (the ready event) starts no spell."""
    quiet = QuietReading(64)
    assert not quiet.start(1.0, 0)
    assert quiet.wait(1.0, None) is None


def test_a_spell_lasts_a_tick_for_slow_jobs_and_ends_once() -> None:
    """1-ms jobs: a spell of one tick; watched again exactly once when it is over."""
    quiet = QuietReading(64)
    quiet.start(0.0, 0)
    assert quiet.start(0.1, 100)  # 1 ms a job
    assert quiet.wait(0.1, None) == pytest.approx(TICK_S)
    assert quiet.wait(0.1, 0.002) == 0.002  # a job's deadline comes first
    assert not quiet.over(0.1 + TICK_S / 2)
    assert quiet.over(0.1 + TICK_S)
    assert not quiet.over(0.2)


def test_fast_jobs_shorten_the_spell_so_the_worker_never_runs_dry() -> None:
    """10-us jobs: 64 jobs ahead last 0.64 ms; a quarter of that is below the floor: no
    spell (the harness keeps feeding); 100-us jobs: a spell of a quarter of the queue."""
    quiet = QuietReading(64)
    quiet.start(0.0, 0)
    assert not quiet.start(0.001, 100)
    quiet = QuietReading(64)
    quiet.start(0.0, 0)
    assert quiet.start(0.01, 100)
    assert quiet.wait(0.01, None) == pytest.approx(100e-6 * 64 / 4)
    assert MIN_QUIET_S < 100e-6 * 64 / 4


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
