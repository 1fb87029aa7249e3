"""The process runner: the worker runs in a child process, fed and heard over two pipes.

The harness keeps up to ``max_ahead`` jobs queued in the child's input pipe, so the child
never waits for a round trip between jobs; the child writes each sample as its job ends, so
whatever happens to it, every finished job is on disk. A job is "in flight" from the moment
the previous job's sample arrives: that is when its ``--job-timeout`` clock starts.

After the last job, when asked, the same worker answers probe jobs against a fresh worker
(:mod:`worker_soak.runners.aged_vs_fresh`) before its input is closed and it tears down.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from worker_soak.errors import SpecError
from worker_soak.model import AgedTimes, CrashReason, RunOutcome
from worker_soak.oom import oom_kill_count
from worker_soak.runners import ProgressCallback
from worker_soak.runners.aged_vs_fresh import (
    AgedProbe,
    BaselineTimes,
    ProbeError,
    aged_times,
    baseline_times,
    close_workers,
    compare_with_fresh,
    harness_cores,
    pin,
)
from worker_soak.runners.crashes import crash_of, with_oom
from worker_soak.runners.link import PIPE_CHUNK, QuietReading, WorkerLink
from worker_soak.runners.spawn import WorkerProcess, end_process, spawn_worker
from worker_soak.store import WORKER_LOG, SampleLog
from worker_soak.worker import protocol
from worker_soak.workloads.base import Job

DEFAULT_GRACE_S: Final = 2.0
DEFAULT_MAX_AHEAD: Final = 64
FRESH_LOG: Final = "worker-fresh.log"
_STARTUP_TIMEOUT_FLOOR_S: Final = 60.0
_PROBE_TIMEOUT_S: Final = 300.0


@dataclass(slots=True)
class _Progress:
    sent: int = 0
    completed: int = 0
    ready: bool = False
    done: bool = False
    kind: str = ""
    probes: tuple[dict[str, object], ...] = ()
    attribution: dict[str, object] | None = None
    aged_vs_fresh: AgedTimes | None = None
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
        aged_probe: AgedProbe | None = None,
        collect_after: Collection[int] = (),
        import_paths: tuple[str, ...] = (),
        isolation_plan: tuple[tuple[int, ...], tuple[int, ...]] = ((), ()),
    ) -> None:
        self._isolation_plan = isolation_plan
        self._spec = spec
        self._import_paths = import_paths
        self._run_dir = run_dir
        self._origin_ns = origin_ns
        self._job_timeout = job_timeout
        self._grace_s = grace_s
        self._max_ahead = max_ahead
        self._trace_window = trace_window
        self._aged_probe = aged_probe
        self._collect_after = sorted(collect_after)
        #: Called with the jobs completed and the harness's cores once the jobs kept for the
        #: isolation check are done (as the memray window opens, else after the last job).
        self.after_kept: Callable[[int, Collection[int] | None], None] | None = None

    def run(
        self, jobs: Iterator[Job], count: int, log: SampleLog, on_progress: ProgressCallback
    ) -> RunOutcome:
        oom_before = oom_kill_count()
        worker = self.start(WORKER_LOG, self._trace_args())
        session = _Session(self, worker, jobs, count, log, on_progress)
        try:
            outcome = session.drive()
        finally:
            worker.close(self._grace_s)
        if session.state.spec_error is not None:
            raise SpecError(self._spec, session.state.spec_error)
        if outcome.crash is not None and outcome.crash.reason == "signal":
            outcome = with_oom(outcome, oom_before)
        return outcome

    def start(self, log_name: str, extra_args: list[str]) -> WorkerProcess:
        return spawn_worker(
            self._spec, self._run_dir, self._origin_ns, log_name, extra_args, self._import_paths
        )

    def _trace_args(self) -> list[str]:
        keep, state_after = self._isolation_plan
        args = [
            "--collect-after",
            ",".join(map(str, self._collect_after)),
            "--keep-results",
            ",".join(map(str, keep)),
            "--state-after",
            ",".join(map(str, state_after)),
        ]
        if self._trace_window is None:
            return args
        start, first = self._trace_window
        return [*args, "--trace-from", str(start), "--trace-first", str(first)]


class _Session:
    """One child's life: feed it, hear it, end it. Not reusable."""

    def __init__(
        self,
        runner: ProcessRunner,
        worker: WorkerProcess,
        jobs: Iterator[Job],
        count: int,
        log: SampleLog,
        on_progress: ProgressCallback,
    ) -> None:
        self.runner = runner
        self.worker = worker
        self.link = WorkerLink(worker)
        self.child = worker.popen
        self.jobs = jobs
        self.count = count
        self.log = log
        self.on_progress = on_progress
        self.state = _Progress()
        self.last_job_ns: int | None = None  # of the last job the last read brought
        self.killed_for: CrashReason | None = None
        self.baseline_due = runner._aged_probe is not None
        self.baseline: BaselineTimes | None = None
        #: The worker hung or died in a probe job of the comparison (not in a run's job).
        self.probe_fault: tuple[str, ProbeError] | None = None
        #: The isolation check starts as the window's jobs (left out of every verdict) run.
        #: Not the comparison's fresh workers: started then, they moved its ratios (docs).
        self.early_from: int | None = runner._trace_window[0] if runner._trace_window else count

    def drive(self) -> RunOutcome:
        try:
            if self._pump(hold_input=self.runner._aged_probe is not None):
                fresh: list[WorkerProcess] = []  # they end beside the aged worker's last work
                try:
                    self._compare_with_fresh(fresh)
                    self.worker.close_input()
                    self._pump(hold_input=False)
                finally:
                    close_workers(fresh, self.runner._grace_s)
        except KeyboardInterrupt:
            self._end_child()
            self._drain()
            return self._outcome(interrupted=True)
        self._drain()
        return self._outcome(interrupted=False)

    def _pump(self, hold_input: bool) -> bool:
        """Feed and hear the child until it closes its end (False), or, with ``hold_input``,
        until every job's sample arrived with its input still open (True)."""
        timeout = self.runner._job_timeout
        # Setup and teardown are bounded too, but loosely: importing a big app takes a while.
        slow_limit = max(_STARTUP_TIMEOUT_FLOOR_S, timeout) if timeout else None
        deadline = time.monotonic() + slow_limit if slow_limit else None
        selector = selectors.DefaultSelector()
        selector.register(self.link.samples_fd, selectors.EVENT_READ)
        quiet = QuietReading(self.runner._max_ahead)
        self.link.writing = False
        try:
            while True:
                jobs_fd = self.worker.jobs_fd
                if self.state.ready and self.baseline_due and jobs_fd is not None:
                    self.baseline_due = False
                    self._run_baseline()
                    if self.probe_fault is not None:
                        return False
                    if timeout:
                        deadline = time.monotonic() + timeout
                if self.state.ready and jobs_fd is not None:
                    self._refill()
                    self.link.watch_room(selector)
                    if self.state.sent >= self.count and not self.link.pending:
                        if not hold_input:
                            self.worker.close_input()  # the child tears down and exits
                        elif self.state.completed >= self.count:
                            return True
                now = time.monotonic()
                if quiet.over(now):
                    selector.register(self.link.samples_fd, selectors.EVENT_READ)
                wait = None if deadline is None else max(0.0, deadline - now)
                for key, _ in selector.select(quiet.wait(now, wait)):
                    if key.fd == self.link.samples_fd:
                        was = (self.state.ready, self.state.completed)
                        if not self._receive():
                            return False  # the child closed its end: it exited or is exiting
                        if quiet.start(time.monotonic(), self.last_job_ns):
                            selector.unregister(self.link.samples_fd)
                        self._start_early()
                        if timeout and was != (self.state.ready, self.state.completed):
                            in_job = self.state.completed < self.count
                            limit = timeout if in_job else slow_limit
                            deadline = time.monotonic() + (limit or timeout)
                    elif not self.link.send():
                        self.link.close_input(selector)
                if deadline is not None and time.monotonic() >= deadline:
                    self.killed_for = "timeout"
                    self._end_child()
                    return False
        finally:
            selector.close()

    def _run_baseline(self) -> None:
        probe = self.runner._aged_probe
        assert probe is not None
        assert self.worker.jobs_fd is not None
        try:
            self.baseline = baseline_times(
                self.worker, probe, self.runner._job_timeout or _PROBE_TIMEOUT_S, self._on_event
            )
        except ProbeError as exc:
            self._probe_failed("probe jobs before the run", exc)
        if self.worker.jobs_fd is not None:
            os.set_blocking(self.worker.jobs_fd, False)

    def _start_early(self) -> None:
        if self.early_from is None or self.state.completed < self.early_from:
            return
        self.early_from = None
        cores = harness_cores()
        if cores is not None:  # the aged worker keeps a core of its own meanwhile
            pin(self.child.pid, {max(os.sched_getaffinity(0))})
        if self.runner.after_kept is not None:
            self.runner.after_kept(self.state.completed, cores)

    def _compare_with_fresh(self, leftover: list[WorkerProcess]) -> None:
        probe = self.runner._aged_probe
        assert probe is not None
        timeout = self.runner._job_timeout or _PROBE_TIMEOUT_S
        try:
            times = compare_with_fresh(
                self.worker,
                lambda: self.runner.start(FRESH_LOG, []),
                probe,
                timeout,
                self.runner._grace_s,
                self._on_event,
                leftover,
            )
        except ProbeError as exc:
            self.state.aged_vs_fresh = AgedTimes(note=f"no comparison: {exc}")
            if exc.who == "aged":
                self._probe_failed("probe jobs after the run", exc)
            return
        self.state.aged_vs_fresh = aged_times(times, self.baseline, probe.warmup)
        if self.worker.jobs_fd is not None:
            os.set_blocking(self.worker.jobs_fd, False)

    def _probe_failed(self, phase: str, exc: ProbeError) -> None:
        """The soaked worker itself hung or died in a probe job: a crash of that phase, named
        by the probe job and its payload, not by the run's next job."""
        if exc.job_index is None:
            return  # its pipes were closed: the run's own bookkeeping says why
        self.probe_fault = (phase, exc)
        if exc.timed_out:
            self.killed_for = "timeout"
        self._end_child()

    def _refill(self) -> None:
        state = self.state
        while (
            state.sent < self.count
            and state.sent - state.completed < self.runner._max_ahead
            and len(self.link.pending) < PIPE_CHUNK
        ):
            try:
                job = next(self.jobs)
            except StopIteration:
                self.count = state.sent
                break
            self.link.pending += protocol.encode_job(state.sent, job)
            state.sent += 1

    def _receive(self) -> bool:
        complete = self.link.read_lines()
        if complete is None:
            return False
        self.last_job_ns = self.link.last_job_ns(complete)
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
        elif name == protocol.CADENCES:
            state.probes = tuple(event["probes"])  # type: ignore[arg-type]
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
        end_process(self.child, self.runner._grace_s)

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
            aged_vs_fresh=state.aged_vs_fresh,
        )
        if interrupted:
            return replace(base, stop_reason="interrupted")
        if state.setup_error is not None:
            return replace(
                base, jobs_completed=0, stop_reason="error", setup_error=state.setup_error
            )
        if self.killed_for is None and state.done and returncode == 0:
            return replace(base, teardown_error=state.teardown_error)
        crash = crash_of(
            state.completed,
            returncode,
            self.killed_for,
            self.runner._job_timeout,
            after_last=state.completed >= self.count,
        )
        if self.probe_fault is not None:
            phase, fault = self.probe_fault
            crash = replace(crash, phase=phase, message=f"{fault}; ended")
        return replace(base, stop_reason="crashed", crash=crash)
