"""The supervising end of one worker process's two pipes, shared by the process runner and
the pool: jobs written without blocking from a buffer, output read in chunks and cut into
whole lines (a sample or an event line is never split between two reads)."""

from __future__ import annotations

import os
import selectors
from typing import Final

from worker_soak.runners.spawn import WorkerProcess

PIPE_CHUNK: Final = 1 << 16
WALL_FIELD: Final = b'"wall_ns":'
#: Longest time a worker's finished samples wait unread (see :class:`QuietReading`).
TICK_S: Final = 0.01
#: A shorter spell is not worth leaving the output unwatched for.
MIN_QUIET_S: Final = 0.0005


class WorkerLink:
    """Feeds and hears ``process``: call :meth:`send` when its jobs pipe is writable,
    :meth:`read_lines` when its output is readable."""

    __slots__ = ("_partial", "pending", "process", "writing")

    def __init__(self, process: WorkerProcess) -> None:
        assert process.jobs_fd is not None
        assert process.samples_fd is not None
        self.process = process
        #: Encoded jobs not yet taken by the pipe.
        self.pending = bytearray()
        #: Whether a selector watches the jobs pipe for room (see :meth:`watch_room`).
        self.writing = False
        self._partial = b""
        os.set_blocking(process.jobs_fd, False)

    @property
    def samples_fd(self) -> int:
        fd = self.process.samples_fd
        assert fd is not None
        return fd

    def send(self) -> bool:
        """Write what the pipe takes of the pending jobs. False: the pipe is closed or broken
        (the worker is ending; its exit shows on its output), and nothing stays pending."""
        fd = self.process.jobs_fd
        if fd is None:
            self.pending.clear()
            return False
        try:
            written = os.write(fd, self.pending)
        except BlockingIOError:
            return True
        except BrokenPipeError:
            self.pending.clear()
            return False
        del self.pending[:written]
        return True

    @staticmethod
    def last_job_ns(lines: bytes) -> int | None:
        """The wall time of the last sample among ``lines`` (None: none is a sample)."""
        at = lines.rfind(WALL_FIELD)
        if at < 0:
            return None
        start = at + len(WALL_FIELD)
        return int(lines[start : lines.index(b",", start)])

    def read_lines(self) -> bytes | None:
        """The whole lines one read brings (possibly none: b""); None once the output ended."""
        data = os.read(self.samples_fd, PIPE_CHUNK)
        if not data:
            return None
        data = self._partial + data
        cut = data.rfind(b"\n") + 1
        self._partial = data[cut:]
        return data[:cut]

    def watch_room(self, selector: selectors.BaseSelector, data: object = None) -> None:
        """Have ``selector`` report room in the jobs pipe exactly while jobs are pending."""
        fd = self.process.jobs_fd
        want = bool(self.pending) and fd is not None
        if want == self.writing:
            return
        if want:
            selector.register(fd, selectors.EVENT_WRITE, data)  # type: ignore[arg-type]
        elif fd is not None:
            selector.unregister(fd)
        self.writing = want

    def close_input(self, selector: selectors.BaseSelector | None = None) -> None:
        """No more jobs: drop what is pending and close the pipe (the worker tears down)."""
        fd = self.process.jobs_fd
        if self.writing and selector is not None and fd is not None:
            selector.unregister(fd)
        self.writing = False
        self.pending.clear()
        self.process.close_input()


class QuietReading:
    """When the harness leaves a worker's output unread: for up to ``TICK_S`` after each
    read that brought finished jobs, while the jobs queued ahead of the worker keep it busy
    four times as long (priced at the last job's own wall time, never at the time between
    reads: that one includes any wait for the harness, and a spell priced on it starved
    no-op jobs, 48 us a job instead of 9). A worker writing into a pipe nobody waits on
    pays ~1.5 us a sample; one whose every sample woke the harness paid ~30 us more per job
    on this VM. Its samples wait in the pipe (``PIPE_BYTES``), kept if the worker dies."""

    __slots__ = ("_ahead", "_until")

    def __init__(self, ahead: int) -> None:
        self._ahead = ahead
        self._until: float | None = None

    def start(self, now: float, job_ns: int | None) -> bool:
        """After a read whose last job took ``job_ns`` (None: it brought no job): True when
        a quiet spell begins (stop watching the output)."""
        if job_ns is None:
            return False
        spell = min(TICK_S, job_ns / 1e9 * self._ahead / 4)
        if spell < MIN_QUIET_S:
            return False
        self._until = now + spell
        return True

    def over(self, now: float) -> bool:
        """True once, when a quiet spell has ended (watch the output again)."""
        if self._until is None or now < self._until:
            return False
        self._until = None
        return True

    def wait(self, now: float, wait: float | None) -> float | None:
        """How long the selector may sleep: not past the spell's end."""
        if self._until is None:
            return wait
        left = max(0.0, self._until - now)
        return left if wait is None else min(wait, left)
