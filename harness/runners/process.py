"""The process runner: the worker runs in a child process, fed and heard over two pipes.

The harness keeps up to ``max_ahead`` jobs queued in the child's input pipe, so the child
never waits for a round trip between jobs; the child writes each sample as its job ends, so
whatever happens to it, every finished job is on disk. A job is "in flight" from the moment
the previous job's sample arrives: that is when its ``--job-timeout`` clock starts.

Ending a worker: SIGTERM to its whole process group (it leads a session of its own, so the
terminal's Ctrl-C reaches only the harness), a grace period, then SIGKILL; afterwards the
group is killed again so no process the worker started is left behind.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import harness
from harness.errors import SpecError
from harness.model import Crash, CrashReason, RunOutcome
from harness.oom import oom_kill_count
from harness.runners import ProgressCallback, protocol
from harness.store import WORKER_LOG, SampleLog
from workloads.base import Job

DEFAULT_GRACE_S: Final = 2.0
DEFAULT_MAX_AHEAD: Final = 64
_PIPE_CHUNK: Final = 1 << 16
_STARTUP_TIMEOUT_FLOOR_S: Final = 60.0


@dataclass(slots=True)
class _Progress:
    sent: int = 0
    completed: int = 0
    ready: bool = False
    done: bool = False
    kind: str = ""
    probes: tuple[dict[str, object], ...] = ()
    attribution: dict[str, object] | None = None
    spec_error: str | None = None
    setup_error: str | None = None
    teardown_error: str | None = None


class ProcessRunner:
    """Runs the worker named by ``spec`` in a child process, one at a time."""

    def __init__(
        self,
        spec: str,
        run_dir: Path,
        origin_ns: int,
        job_timeout: float | None = None,
        grace_s: float = DEFAULT_GRACE_S,
        max_ahead: int = DEFAULT_MAX_AHEAD,
        trace_window: tuple[int, int] | None = None,
    ) -> None:
        self._spec = spec
        self._run_dir = run_dir
        self._origin_ns = origin_ns
        self._job_timeout = job_timeout
        self._grace_s = grace_s
        self._max_ahead = max_ahead
        self._trace_window = trace_window

    def run(
        self, jobs: Iterator[Job], count: int, log: SampleLog, on_progress: ProgressCallback
    ) -> RunOutcome:
        jobs_r, jobs_w = os.pipe()
        samples_r, samples_w = os.pipe()
        oom_before = oom_kill_count()
        with open(self._run_dir / WORKER_LOG, "ab") as worker_log:
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "harness.runners.child",
                    "--spec",
                    self._spec,
                    "--origin-ns",
                    str(self._origin_ns),
                    "--jobs-fd",
                    str(jobs_r),
                    "--samples-fd",
                    str(samples_w),
                    "--parent-pid",
                    str(os.getpid()),
                    "--run-dir",
                    str(self._run_dir),
                    *self._trace_args(),
                ],
                pass_fds=(jobs_r, samples_w),
                stdin=subprocess.DEVNULL,
                stdout=worker_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=_child_env(),
            )
        os.close(jobs_r)
        os.close(samples_w)
        os.set_blocking(jobs_w, False)
        session = _Session(self, child, jobs, count, log, on_progress, jobs_w, samples_r)
        try:
            outcome = session.drive()
        finally:
            session.close()
        if session.state.spec_error is not None:
            raise SpecError(self._spec, session.state.spec_error)
        if outcome.crash is not None and outcome.crash.reason == "signal":
            outcome = _maybe_oom(outcome, oom_before)
        return outcome

    def _trace_args(self) -> list[str]:
        if self._trace_window is None:
            return []
        start, first = self._trace_window
        return ["--trace-from", str(start), "--trace-first", str(first)]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The child must import this very harness, even when it is not installed (a source tree).
    source_root = str(Path(harness.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"  # the worker's prints reach worker.log before a crash
    return env


def _maybe_oom(outcome: RunOutcome, oom_before: int | None) -> RunOutcome:
    crash = outcome.crash
    oom_after = oom_kill_count()
    if crash is None or crash.signal != signal.SIGKILL or oom_before is None or oom_after is None:
        return outcome
    if oom_after <= oom_before:
        return outcome
    oom = Crash(
        crash.job_index,
        "oom",
        crash.exitcode,
        crash.signal,
        "killed by the kernel's out-of-memory killer (the cgroup's oom_kill count rose)",
    )
    return replace(outcome, crash=oom)


class _Session:
    """One child's life: feed it, hear it, end it. Not reusable."""

    def __init__(
        self,
        runner: ProcessRunner,
        child: subprocess.Popen[bytes],
        jobs: Iterator[Job],
        count: int,
        log: SampleLog,
        on_progress: ProgressCallback,
        jobs_fd: int,
        samples_fd: int,
    ) -> None:
        self.runner = runner
        self.child = child
        self.jobs = jobs
        self.count = count
        self.log = log
        self.on_progress = on_progress
        self.jobs_fd: int | None = jobs_fd
        self.samples_fd = samples_fd
        self.state = _Progress()
        self.pending = bytearray()
        self.partial = b""
        self.killed_for: CrashReason | None = None

    def drive(self) -> RunOutcome:
        try:
            self._pump()
        except KeyboardInterrupt:
            self._end_child()
            self._drain()
            return self._outcome(interrupted=True)
        self._drain()
        return self._outcome(interrupted=False)

    def _pump(self) -> None:
        timeout = self.runner._job_timeout
        # Setup and teardown are bounded too, but loosely: importing a big app takes a while.
        slow_limit = max(_STARTUP_TIMEOUT_FLOOR_S, timeout) if timeout else None
        deadline = time.monotonic() + slow_limit if slow_limit else None
        selector = selectors.DefaultSelector()
        selector.register(self.samples_fd, selectors.EVENT_READ)
        writing = False
        try:
            while True:
                if self.state.ready and self.jobs_fd is not None:
                    self._refill()
                    want_write = bool(self.pending)
                    if want_write != writing:
                        if want_write:
                            selector.register(self.jobs_fd, selectors.EVENT_WRITE)
                        else:
                            selector.unregister(self.jobs_fd)
                        writing = want_write
                    if self.state.sent >= self.count and not self.pending:
                        os.close(self.jobs_fd)  # end of input: the child tears down and exits
                        self.jobs_fd = None
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                for key, _ in selector.select(wait):
                    if key.fd == self.samples_fd:
                        was = (self.state.ready, self.state.completed)
                        if not self._receive():
                            return  # the child closed its end: it exited or is exiting
                        if timeout and was != (self.state.ready, self.state.completed):
                            in_job = self.state.completed < self.count
                            limit = timeout if in_job else slow_limit
                            deadline = time.monotonic() + (limit or timeout)
                    elif not self._send():
                        selector.unregister(key.fd)
                        writing = False
                        os.close(key.fd)
                        self.jobs_fd = None
                if deadline is not None and time.monotonic() >= deadline:
                    self.killed_for = "timeout"
                    self._end_child()
                    return
        finally:
            selector.close()

    def _refill(self) -> None:
        state = self.state
        while (
            state.sent < self.count
            and state.sent - state.completed < self.runner._max_ahead
            and len(self.pending) < _PIPE_CHUNK
        ):
            try:
                job = next(self.jobs)
            except StopIteration:
                self.count = state.sent
                break
            self.pending += protocol.encode_job(state.sent, job)
            state.sent += 1

    def _send(self) -> bool:
        assert self.jobs_fd is not None
        try:
            written = os.write(self.jobs_fd, self.pending)
        except BlockingIOError:
            return True
        except BrokenPipeError:  # the child is gone; its exit shows on the samples pipe
            self.pending.clear()
            return False
        del self.pending[:written]
        return True

    def _receive(self) -> bool:
        data = os.read(self.samples_fd, _PIPE_CHUNK)
        if not data:
            return False
        data = self.partial + data
        cut = data.rfind(b"\n") + 1
        self.partial = data[cut:]
        complete = data[:cut]
        if not complete:
            return True
        if protocol.EVENT_PREFIX in complete:
            self._receive_mixed(complete)
        else:
            self.log.write(complete)
            self.state.completed += complete.count(b"\n")
        self.on_progress(self.state.completed)
        return True

    def _receive_mixed(self, complete: bytes) -> None:
        samples = []
        for line in complete.splitlines(keepends=True):
            if line.startswith(protocol.EVENT_PREFIX):
                self._on_event(protocol.decode_event(line))
            else:
                samples.append(line)
        if samples:
            self.log.write(b"".join(samples))
            self.state.completed += len(samples)

    def _on_event(self, event: dict[str, object]) -> None:
        name = event["event"]
        state = self.state
        if name == protocol.READY:
            state.ready = True
            state.kind = str(event.get("kind", ""))
            state.probes = tuple(event.get("probes", ()))  # type: ignore[arg-type]
        elif name == protocol.LEAK_SITES:
            state.attribution = {k: v for k, v in event.items() if k != "event"}
        elif name == protocol.DONE:
            state.done = True
        elif name == protocol.SPEC_ERROR:
            state.spec_error = str(event["message"])
        elif name == protocol.SETUP_ERROR:
            state.setup_error = str(event["message"])
        elif name == protocol.TEARDOWN_ERROR:
            state.teardown_error = str(event["message"])

    def _drain(self) -> None:
        """Read what the child wrote before it ended; the pipe holds it after its death."""
        while self._receive():
            pass

    def _end_child(self) -> None:
        """SIGTERM the child's group, wait ``grace_s``, then SIGKILL it."""
        if self.child.poll() is not None:
            return
        _signal_group(self.child.pid, signal.SIGTERM)
        try:
            self.child.wait(self.runner._grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(self.child.pid, signal.SIGKILL)
            self.child.wait()

    def _outcome(self, interrupted: bool) -> RunOutcome:
        state = self.state
        try:
            returncode = self.child.wait(self.runner._grace_s)
        except subprocess.TimeoutExpired:  # closed its pipe but lingers: end it
            self._end_child()
            returncode = self.child.wait()
        base = RunOutcome(
            state.completed,
            "completed",
            worker_kind=state.kind,
            probes=state.probes,
            attribution=state.attribution,
        )
        if interrupted:
            return replace(base, stop_reason="interrupted")
        if state.setup_error is not None:
            return replace(
                base, jobs_completed=0, stop_reason="error", setup_error=state.setup_error
            )
        if self.killed_for is None and state.done and returncode == 0:
            return replace(base, teardown_error=state.teardown_error)
        crash = _crash(
            state.completed,
            returncode,
            self.killed_for,
            self.runner._job_timeout,
            after_last=state.completed >= self.count,
        )
        return replace(base, stop_reason="crashed", crash=crash)

    def close(self) -> None:
        if self.child.poll() is None:
            self._end_child()
        _signal_group(self.child.pid, signal.SIGKILL)  # whatever the worker left running
        for fd in (self.jobs_fd, self.samples_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.jobs_fd = None


def _crash(
    job_index: int,
    returncode: int,
    killed_for: CrashReason | None,
    job_timeout: float | None,
    after_last: bool,
) -> Crash:
    signal_number = -returncode if returncode < 0 else None
    exitcode = returncode if returncode >= 0 else None
    when = "after its last job (in teardown)" if after_last else f"in job {job_index}"
    if killed_for == "timeout":
        message = (
            f"job {job_index} ran longer than --job-timeout {job_timeout:g}s; ended"
            if not after_last
            else f"teardown ran too long {when}; ended"
        )
        return Crash(job_index, "timeout", exitcode, signal_number, message)
    if signal_number is not None:
        name = signal.Signals(signal_number).name if signal_number in _SIGNALS else "?"
        return Crash(
            job_index,
            "signal",
            None,
            signal_number,
            f"worker process ended by signal {signal_number} ({name}) {when}",
        )
    return Crash(
        job_index, "exit", exitcode, None, f"worker process exited with code {exitcode} {when}"
    )


_SIGNALS: Final = frozenset(int(s) for s in signal.Signals)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
